//! The console's fleet streams: `WatchUnits` (the live map's units) and
//! `WatchAlarms` (crews in danger). Each sends the current state at once,
//! then every change as the database announces it, and ends with a status
//! that tells the client to subscribe again when it may have missed one.

use std::future::Future;

use ngalam112_proto::v1 as proto;
use ngalam112_store::{ChangeFeed, FleetEvent, Store, StoreError};
use tokio::sync::{broadcast, mpsc};
use tonic::Status;

use crate::convert::{alarm_to_proto, unit_to_proto};
use crate::error::ApiError;

pub type FleetStream<T> = tokio_stream::wrappers::ReceiverStream<Result<T, Status>>;

/// Starts a stream: `initial` first, then `load` for each fleet event it
/// cares about (`None`: not this stream's).
async fn follow<T, Load, Fut>(
    feed: &ChangeFeed,
    end: impl Future<Output = Status> + Send + 'static,
    buffer: usize,
    initial: impl Future<Output = Result<Vec<T>, StoreError>>,
    load: Load,
) -> Result<FleetStream<T>, Status>
where
    T: Send + 'static,
    Load: Fn(FleetEvent) -> Option<Fut> + Send + 'static,
    Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
{
    // Subscribed before reading the current state: nothing falls between.
    let changes = feed.subscribe_fleet();
    let current = initial
        .await
        .map_err(|error| Status::from(ApiError::from(error)))?;
    let (sender, receiver) = mpsc::channel(buffer.max(current.len() + 1));
    for item in current {
        let _ = sender.try_send(Ok(item));
    }
    tokio::spawn(forward(changes, sender, end, load));
    Ok(tokio_stream::wrappers::ReceiverStream::new(receiver))
}

async fn forward<T, Load, Fut>(
    mut changes: broadcast::Receiver<FleetEvent>,
    watcher: mpsc::Sender<Result<T, Status>>,
    end: impl Future<Output = Status>,
    load: Load,
) where
    Load: Fn(FleetEvent) -> Option<Fut>,
    Fut: Future<Output = Result<T, StoreError>>,
{
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
            Ok(FleetEvent::Lost) => Err(Status::unavailable(
                "lost the database connection; watch again shortly",
            )),
            Ok(FleetEvent::Resync) => Err(Status::unavailable(
                "the change feed reconnected and may have missed changes; watch again",
            )),
            Ok(event) => match load(event) {
                Some(loading) => loading
                    .await
                    .map_err(|error| Status::from(ApiError::from(error))),
                None => continue,
            },
            Err(RecvError::Lagged(missed)) => Err(Status::resource_exhausted(format!(
                "this watcher fell behind by {missed} changes; watch again"
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
    feed: &ChangeFeed,
    end: impl Future<Output = Status> + Send + 'static,
) -> Result<FleetStream<proto::Unit>, Status> {
    let initial_store = store.clone();
    follow(
        feed,
        end,
        256,
        async move {
            let units = initial_store.list_units(&[], &[]).await?;
            Ok(units.iter().map(unit_to_proto).collect())
        },
        move |event| match event {
            FleetEvent::Unit(unit_id) => {
                let store = store.clone();
                Some(async move { Ok(unit_to_proto(&store.unit(unit_id).await?)) })
            }
            _ => None,
        },
    )
    .await
}

/// Every open alarm, then each new or acknowledged one.
pub async fn watch_alarms(
    store: Store,
    feed: &ChangeFeed,
    end: impl Future<Output = Status> + Send + 'static,
) -> Result<FleetStream<proto::Alarm>, Status> {
    let initial_store = store.clone();
    follow(
        feed,
        end,
        64,
        async move {
            let alarms = initial_store.alarms(true).await?;
            Ok(alarms.iter().map(alarm_to_proto).collect())
        },
        move |event| match event {
            FleetEvent::Alarm(alarm_id) => {
                let store = store.clone();
                Some(async move { Ok(alarm_to_proto(&store.alarm(alarm_id).await?)) })
            }
            _ => None,
        },
    )
    .await
}
