//! The live board's fan-out: each incident change is loaded once per
//! server process and the same loaded event goes to every `WatchIncidents`
//! stream, so the database work per change does not grow with the number
//! of boards watching.

use std::sync::Arc;

use ngalam112_proto::v1 as proto;
use ngalam112_store::{ChangeFeed, FeedEvent, Store};
use tokio::sync::broadcast;
use tonic::{Code, Status};

use crate::convert::incident_to_proto;
use crate::error::ApiError;

/// What every watcher receives: a loaded change, or why all streams must
/// end (the client lists and watches again).
#[derive(Clone, Debug)]
pub enum Loaded {
    Event(Arc<proto::IncidentEvent>),
    End(Code, String),
}

impl Loaded {
    pub fn into_result(self) -> Result<proto::IncidentEvent, Status> {
        match self {
            Loaded::Event(event) => Ok((*event).clone()),
            Loaded::End(code, message) => Err(Status::new(code, message)),
        }
    }
}

/// Cheap to clone.
#[derive(Clone)]
pub struct Fanout {
    loaded: broadcast::Sender<Loaded>,
}

impl Fanout {
    /// Starts the one loader of this process. `buffer`: how many changes a
    /// slow watcher may fall behind before it is told to resubscribe.
    pub fn start(
        store: Store,
        feed: &ChangeFeed,
        buffer: usize,
    ) -> (Fanout, tokio::task::JoinHandle<()>) {
        let (loaded, _) = broadcast::channel(buffer.max(1));
        let fanout = Fanout { loaded };
        let task = tokio::spawn(load_changes(store, feed.subscribe(), fanout.clone()));
        (fanout, task)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Loaded> {
        self.loaded.subscribe()
    }
}

async fn load_changes(store: Store, mut changes: broadcast::Receiver<FeedEvent>, fanout: Fanout) {
    use broadcast::error::RecvError;
    loop {
        let loaded = match changes.recv().await {
            Ok(FeedEvent::Incident(change)) => {
                if fanout.loaded.receiver_count() == 0 {
                    // Nobody watches here: nothing to load.
                    continue;
                }
                match store.incident(change.incident_id).await {
                    Ok(incident) => Loaded::Event(Arc::new(proto::IncidentEvent {
                        incident: Some(incident_to_proto(&incident)),
                        kind: change.kind,
                    })),
                    Err(error) => {
                        let status = Status::from(ApiError::from(error));
                        Loaded::End(status.code(), status.message().to_owned())
                    }
                }
            }
            Ok(FeedEvent::Lost) => Loaded::End(
                Code::Unavailable,
                "lost the database connection; changes cannot be followed now; watch again shortly"
                    .to_owned(),
            ),
            Ok(FeedEvent::Resync) => Loaded::End(
                Code::Unavailable,
                "the change feed reconnected and may have missed changes; \
                 list incidents and watch again"
                    .to_owned(),
            ),
            // Every watcher here missed them: each is told it fell behind.
            Err(RecvError::Lagged(missed)) => Loaded::End(
                Code::ResourceExhausted,
                format!(
                    "this server fell behind the changes by {missed}; list incidents and watch again"
                ),
            ),
            Err(RecvError::Closed) => return,
        };
        // No receivers is fine: nobody is watching.
        let _ = fanout.loaded.send(loaded);
    }
}
