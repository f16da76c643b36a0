//! Rule 4's clock: wakes at the next offer deadline (not on a coarse
//! periodic scan), times out what is due, and sleeps again. Every server
//! process runs one; the store makes each timeout happen exactly once.

use std::time::Duration;

use ngalam112_store::{ChangeFeed, Store};

/// Longest sleep without re-reading the deadlines: a safety net only (a
/// deadline set by a process with a shorter --offer-timeout than ours).
const LONGEST_SLEEP: Duration = Duration::from_secs(30);
/// Fired this much after the deadline, so the database agrees it passed.
const MARGIN: Duration = Duration::from_millis(5);

pub async fn run(store: Store, feed: ChangeFeed) {
    // Not before the schema is there (a first start migrates meanwhile).
    while !store.is_ready().await {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    loop {
        if let Err(error) = store.expire_due_offers().await {
            tracing::warn!(%error, "cannot time out offers now; retrying in 1 s");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        match store.seconds_to_next_offer_deadline().await {
            // The next deadline is known: any offer made meanwhile expires
            // later, so sleep straight to it.
            Ok(Some(seconds)) => {
                let wait = Duration::from_secs_f64(seconds.max(0.0)) + MARGIN;
                tokio::time::sleep(wait.min(LONGEST_SLEEP)).await;
            }
            // No open offer: wait for the next one to be made (anywhere).
            Ok(None) => {
                let _ = tokio::time::timeout(LONGEST_SLEEP, feed.offers_made().notified()).await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot read offer deadlines; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
