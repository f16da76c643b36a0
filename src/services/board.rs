//! The live streams' fan-out: each change (an incident, a unit, an alarm)
//! is loaded once per server process and the same loaded value goes to
//! every stream watching it, so the database work per change does not grow
//! with the number of boards and consoles open.

use std::future::Future;
use std::sync::Arc;

use ngalam112_proto::v1 as proto;
use ngalam112_store::{ChangeFeed, FeedEvent, FleetEvent, Store, StoreError};
use tokio::sync::broadcast;
use tonic::{Code, Status};

use crate::convert::{alarm_to_proto, call_to_proto, incident_to_proto, unit_to_proto};
use crate::error::ApiError;
use ngalam112_core::CallId;

/// What every watcher receives: a loaded change, or why all streams must
/// end (the client lists and watches again).
#[derive(Clone, Debug)]
pub enum Loaded<T> {
    Item(Arc<T>),
    End(Code, String),
}

impl<T: Clone> Loaded<T> {
    pub fn into_result(self) -> Result<T, Status> {
        match self {
            Loaded::Item(item) => Ok((*item).clone()),
            Loaded::End(code, message) => Err(Status::new(code, message)),
        }
    }

    fn from_load(loaded: Result<T, StoreError>) -> Self {
        match loaded {
            Ok(item) => Loaded::Item(Arc::new(item)),
            Err(error) => {
                let status = Status::from(ApiError::from(error));
                Loaded::End(status.code(), status.message().to_owned())
            }
        }
    }
}

const LOST: &str =
    "lost the database connection; changes cannot be followed now; watch again shortly";
const RESYNC: &str =
    "the change feed reconnected and may have missed changes; list and watch again";

/// Every watcher here missed them: each is told it fell behind.
fn behind(missed: u64) -> String {
    format!("this server fell behind the changes by {missed}; list and watch again")
}

/// Cheap to clone.
#[derive(Clone)]
pub struct Fanout {
    incidents: broadcast::Sender<Loaded<proto::IncidentEvent>>,
    units: broadcast::Sender<Loaded<proto::Unit>>,
    alarms: broadcast::Sender<Loaded<proto::Alarm>>,
    calls: broadcast::Sender<Loaded<proto::Call>>,
}

impl Fanout {
    /// Starts this process's loaders. `buffer`: how many changes a slow
    /// watcher may fall behind before it is told to resubscribe.
    pub fn start(
        store: Store,
        feed: &ChangeFeed,
        buffer: usize,
    ) -> (Fanout, tokio::task::JoinHandle<()>) {
        let fanout = Fanout {
            incidents: broadcast::channel(buffer.max(1)).0,
            units: broadcast::channel(buffer.max(1)).0,
            alarms: broadcast::channel(buffer.max(1)).0,
            calls: broadcast::channel(buffer.max(1)).0,
        };
        let incidents = load_incidents(store.clone(), feed.subscribe(), fanout.clone());
        let fleet = load_fleet(store, feed.subscribe_fleet(), fanout.clone());
        let task = tokio::spawn(async move {
            tokio::join!(incidents, fleet);
        });
        (fanout, task)
    }

    pub fn incidents(&self) -> broadcast::Receiver<Loaded<proto::IncidentEvent>> {
        self.incidents.subscribe()
    }

    pub fn units(&self) -> broadcast::Receiver<Loaded<proto::Unit>> {
        self.units.subscribe()
    }

    pub fn alarms(&self) -> broadcast::Receiver<Loaded<proto::Alarm>> {
        self.alarms.subscribe()
    }

    pub fn calls(&self) -> broadcast::Receiver<Loaded<proto::Call>> {
        self.calls.subscribe()
    }

    /// Ends every fleet stream (units, alarms, calls) with this status.
    fn end_fleet(&self, code: Code, message: &str) {
        let _ = (self.units).send(Loaded::End(code, message.to_owned()));
        let _ = (self.alarms).send(Loaded::End(code, message.to_owned()));
        let _ = (self.calls).send(Loaded::End(code, message.to_owned()));
    }
}

/// Loads `load` only when someone watches `sender`, and sends the result.
async fn load_for<T, Fut>(sender: &broadcast::Sender<Loaded<T>>, load: Fut)
where
    T: Clone,
    Fut: Future<Output = Result<T, StoreError>>,
{
    if sender.receiver_count() == 0 {
        return;
    }
    // No receivers left by now is fine: nobody is watching.
    let _ = sender.send(Loaded::from_load(load.await));
}

async fn load_incidents(store: Store, mut changes: broadcast::Receiver<FeedEvent>, fanout: Fanout) {
    use broadcast::error::RecvError;
    let sender = &fanout.incidents;
    loop {
        let end = match changes.recv().await {
            Ok(FeedEvent::Incident(change)) => {
                let store = &store;
                load_for(sender, async move {
                    let incident = store.incident(change.incident_id).await?;
                    Ok(proto::IncidentEvent {
                        incident: Some(incident_to_proto(&incident)),
                        kind: change.kind,
                    })
                })
                .await;
                continue;
            }
            Ok(FeedEvent::Lost) => Loaded::End(Code::Unavailable, LOST.to_owned()),
            Ok(FeedEvent::Resync) => Loaded::End(Code::Unavailable, RESYNC.to_owned()),
            Err(RecvError::Lagged(missed)) => Loaded::End(Code::ResourceExhausted, behind(missed)),
            Err(RecvError::Closed) => return,
        };
        let _ = sender.send(end);
    }
}

async fn load_fleet(store: Store, mut changes: broadcast::Receiver<FleetEvent>, fanout: Fanout) {
    use broadcast::error::RecvError;
    loop {
        match changes.recv().await {
            Ok(FleetEvent::Unit(unit_id)) => {
                let store = &store;
                load_for(&fanout.units, async move {
                    Ok(unit_to_proto(&store.unit(unit_id).await?))
                })
                .await;
            }
            Ok(FleetEvent::Alarm(alarm_id)) => {
                let store = &store;
                load_for(&fanout.alarms, async move {
                    Ok(alarm_to_proto(&store.alarm(alarm_id).await?))
                })
                .await;
            }
            Ok(FleetEvent::Call(call_id)) => {
                let store = &store;
                load_for(&fanout.calls, async move {
                    let call_id = CallId::parse("call_id", &call_id)
                        .map_err(|error| StoreError::Internal(error.to_string()))?;
                    Ok(call_to_proto(&store.call(&call_id).await?))
                })
                .await;
            }
            Ok(FleetEvent::Lost) => fanout.end_fleet(Code::Unavailable, LOST),
            Ok(FleetEvent::Resync) => fanout.end_fleet(Code::Unavailable, RESYNC),
            Err(RecvError::Lagged(missed)) => {
                fanout.end_fleet(Code::ResourceExhausted, &behind(missed));
            }
            Err(RecvError::Closed) => return,
        }
    }
}
