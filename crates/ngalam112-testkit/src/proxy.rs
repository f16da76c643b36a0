//! A TCP proxy between a server and PostgreSQL that cuts the connection at
//! the worst moment: when a transaction that stores calls (it noted its
//! transaction id with `pg_current_xact_id`) commits. `Cut::AfterCommit`
//! passes the COMMIT on and then cuts before its answer comes back (the
//! transaction committed, the server does not know); `Cut::BeforeCommit`
//! cuts instead of passing it on (nothing committed). Each arming cuts
//! once; every other byte passes untouched.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Where the next cut happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The COMMIT reaches PostgreSQL; its answer never reaches the server.
    AfterCommit,
    /// The COMMIT never reaches PostgreSQL.
    BeforeCommit,
}

#[derive(Default)]
struct Shared {
    /// The cut, and how many commits in a row it applies to.
    armed: Mutex<Option<(Cut, usize)>>,
    cuts: AtomicUsize,
}

pub struct CuttingProxy {
    pub address: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl CuttingProxy {
    /// Listens on 127.0.0.1 and forwards every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let address = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared::default());
        let accepting = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let shared = accepting.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        relay(client, server, shared).await;
                    }
                });
            }
        });
        CuttingProxy {
            address,
            shared,
            task,
        }
    }

    /// The next commit of a call-storing transaction is cut so.
    pub fn arm(&self, cut: Cut) {
        self.arm_times(cut, 1);
    }

    /// The next `times` commits of call-storing transactions are cut so.
    pub fn arm_times(&self, cut: Cut, times: usize) {
        *self.shared.armed.lock().expect("not poisoned") = (times > 0).then_some((cut, times));
    }

    /// How many connections were cut so far.
    pub fn cuts(&self) -> usize {
        self.shared.cuts.load(Ordering::SeqCst)
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

async fn relay(client: TcpStream, server: TcpStream, shared: Arc<Shared>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    // Once silenced, nothing more goes back to the server process; the
    // connection stays open (no FIN) until the cut is complete.
    let silenced = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let released = Arc::new(tokio::sync::Notify::new());
    let answers = {
        let (silenced, released) = (silenced.clone(), released.clone());
        tokio::spawn(async move {
            let mut buffer = vec![0u8; 64 * 1024];
            loop {
                let read = match server_read.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(read) => read,
                };
                if silenced.load(Ordering::SeqCst) {
                    break;
                }
                if client_write.write_all(&buffer[..read]).await.is_err() {
                    return;
                }
            }
            if silenced.load(Ordering::SeqCst) {
                released.notified().await;
            }
        })
    };
    let mut buffer = vec![0u8; 64 * 1024];
    let mut storing = false;
    loop {
        let read = match client_read.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let chunk = &buffer[..read];
        storing |= contains(chunk, b"pg_current_xact_id");
        let commit = contains(chunk, b"COMMIT");
        if storing && commit {
            let cut = {
                let mut armed = shared.armed.lock().expect("not poisoned");
                let cut = armed.map(|(cut, _)| cut);
                *armed = armed.and_then(|(cut, times)| (times > 1).then_some((cut, times - 1)));
                cut
            };
            if let Some(cut) = cut {
                silenced.store(true, Ordering::SeqCst);
                shared.cuts.fetch_add(1, Ordering::SeqCst);
                if cut == Cut::AfterCommit {
                    let _ = server_write.write_all(chunk).await;
                    // Time for PostgreSQL to commit before the cut.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                break;
            }
        }
        if commit || contains(chunk, b"ROLLBACK") {
            storing = false;
        }
        if server_write.write_all(chunk).await.is_err() {
            break;
        }
    }
    drop(server_write);
    released.notify_one();
    answers.abort();
}
