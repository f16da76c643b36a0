//! What every server process does in the background besides rule 4's
//! clock: the dispatch safety net, the retention of callers' data, and
//! failed logins past their window (a flood of made-up usernames must not
//! grow the table without bound).
//! Each step is safe to run in any number of processes at once.

use std::time::{Duration, Instant};

use ngalam112_store::Store;

/// How often waiting needs and available units are matched again, in case
/// a process stopped between a commit and its follow-up settling.
const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// How often kept handset fixes and callers' data past retention go.
const RETENTION_EVERY: Duration = Duration::from_secs(60);

pub async fn run(store: Store, caller_retention: Option<Duration>) {
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_retention: Option<Instant> = None;
    while !store.is_ready().await {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    loop {
        sweep.tick().await;
        match store.settle_waiting().await {
            Ok(0) => {}
            Ok(offers) => tracing::warn!(offers, "the dispatch sweep matched waiting calls"),
            Err(error) => tracing::warn!(%error, "dispatch sweep failed; next in 5 s"),
        }
        if last_retention.is_some_and(|at| at.elapsed() < RETENTION_EVERY) {
            continue;
        }
        last_retention = Some(Instant::now());
        match store.purge_login_failures().await {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(purged, "failed logins past their window deleted"),
            Err(error) => tracing::warn!(%error, "cannot delete old failed logins now"),
        }
        match store.purge_kept_fixes().await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "unclaimed handset fixes deleted"),
            Err(error) => tracing::warn!(%error, "cannot delete old handset fixes now"),
        }
        if let Some(keep) = caller_retention {
            match store.redact_old_callers(keep).await {
                Ok(0) => {}
                Ok(redacted) => tracing::info!(redacted, "callers' data past retention blanked"),
                Err(error) => tracing::warn!(%error, "cannot redact callers' data now"),
            }
            match store.redact_old_calls(keep).await {
                Ok(0) => {}
                Ok(redacted) => {
                    tracing::info!(redacted, "112 calls' numbers past retention blanked")
                }
                Err(error) => tracing::warn!(%error, "cannot redact calls' numbers now"),
            }
        }
    }
}
