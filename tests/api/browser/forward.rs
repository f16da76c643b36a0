//! A TCP forwarder between a browser and the server that the test can cut
//! (every open connection dropped, new ones refused) and restore: the
//! console or the phone page loses the network and gets it back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

pub(super) struct Forwarder {
    pub(super) address: SocketAddr,
    open: Arc<AtomicBool>,
    cuts: broadcast::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Forwarder {
    pub(super) async fn start(upstream: SocketAddr) -> Forwarder {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let open = Arc::new(AtomicBool::new(true));
        let (cuts, _) = broadcast::channel(4);
        let task = tokio::spawn(accept(listener, upstream, open.clone(), cuts.clone()));
        Forwarder {
            address,
            open,
            cuts,
            task,
        }
    }

    /// The network is gone: open connections drop, new ones are refused.
    pub(super) fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        let _ = self.cuts.send(());
    }

    pub(super) fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(
    listener: TcpListener,
    upstream: SocketAddr,
    open: Arc<AtomicBool>,
    cuts: broadcast::Sender<()>,
) {
    while let Ok((mut client, _)) = listener.accept().await {
        if !open.load(Ordering::SeqCst) {
            continue; // dropped: the connection is refused
        }
        let mut cut = cuts.subscribe();
        tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(upstream).await else {
                return;
            };
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                _ = cut.recv() => {}
            }
        });
    }
}
