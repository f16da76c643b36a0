//! The console's fleet streams: `WatchUnits` (the live map's units),
//! `WatchAlarms` (crews in danger) and `WatchCalls` (the ringing strip). Each sends the current state at once,
//! then every change, loaded once per process (`board::Fanout`), and ends
//! with a status that tells the client to subscribe again when it may have
//! missed one.

use std::future::Future;

use ngalam112_proto::v1 as proto;
use ngalam112_store::{Store, StoreError};
use tokio::sync::{broadcast, mpsc};
use tonic::Status;

use super::board::{Fanout, Loaded};
use crate::convert::{alarm_to_proto, call_to_proto, unit_to_proto};
use crate::error::ApiError;

pub type FleetStream<T> = tokio_stream::wrappers::ReceiverStream<Result<T, Status>>;

/// Starts a stream: `initial` first, then every loaded change.
async fn follow<T>(
    changes: broadcast::Receiver<Loaded<T>>,
    end: impl Future<Output = Status> + Send + 'static,
    buffer: usize,
    initial: impl Future<Output = Result<Vec<T>, StoreError>>,
) -> Result<FleetStream<T>, Status>
where
    T: Clone + Send + Sync + 'static,
{
    // Subscribed (by the caller) before reading the current state: nothing
    // falls between.
    let current = initial
        .await
        .map_err(|error| Status::from(ApiError::from(error)))?;
    let (sender, receiver) = mpsc::channel(buffer.max(current.len() + 1));
    for item in current {
        let _ = sender.try_send(Ok(item));
    }
    tokio::spawn(forward(changes, sender, end));
    Ok(tokio_stream::wrappers::ReceiverStream::new(receiver))
}

/// Forwards loaded changes to one watcher until it goes away, falls
/// behind, the feed had to resynchronise, or `end` fires (shutdown,
/// revoked token); all but the first end the stream with a status.
pub(crate) async fn forward<T: Clone>(
    mut changes: broadcast::Receiver<Loaded<T>>,
    watcher: mpsc::Sender<Result<T, Status>>,
    end: impl Future<Output = Status>,
) {
    use broadcast::error::RecvError;
    let mut end = std::pin::pin!(end);
    loop {
        let received = tokio::select! {
            received = changes.recv() => received,
            status = &mut end => {
                let _ = watcher.send(Err(status)).await;
                return;
            }
            // The client left: nothing more to send.
            () = watcher.closed() => return,
        };
        let item = match received {
            Ok(loaded) => loaded.into_result(),
            Err(RecvError::Lagged(missed)) => Err(Status::resource_exhausted(format!(
                "this watcher fell behind by {missed} changes; list and watch again"
            ))),
            Err(RecvError::Closed) => Err(Status::unavailable(
                "the change feed stopped; watch again (another server will answer)",
            )),
        };
        let last = item.is_err();
        if watcher.send(item).await.is_err() || last {
            return;
        }
    }
}

/// Every unit, then each as it changes.
pub async fn watch_units(
    store: Store,
    fanout: &Fanout,
    end: impl Future<Output = Status> + Send + 'static,
) -> Result<FleetStream<proto::Unit>, Status> {
    follow(fanout.units(), end, 256, async move {
        let units = store.list_units(&[], &[]).await?;
        Ok(units.iter().map(unit_to_proto).collect())
    })
    .await
}

/// Every open alarm, then each new or acknowledged one.
pub async fn watch_alarms(
    store: Store,
    fanout: &Fanout,
    end: impl Future<Output = Status> + Send + 'static,
) -> Result<FleetStream<proto::Alarm>, Status> {
    follow(fanout.alarms(), end, 64, async move {
        let alarms = store.alarms(true).await?;
        Ok(alarms.iter().map(alarm_to_proto).collect())
    })
    .await
}

/// Every ringing or answered call, then each change.
pub async fn watch_calls(
    store: Store,
    fanout: &Fanout,
    end: impl Future<Output = Status> + Send + 'static,
) -> Result<FleetStream<proto::Call>, Status> {
    follow(fanout.calls(), end, 64, async move {
        let calls = store.open_calls().await?;
        Ok(calls.iter().map(call_to_proto).collect())
    })
    .await
}
