//! Answers never in doubt. When the connection to PostgreSQL breaks while
//! a call's transaction commits, the commit may or may not have happened:
//! the server must not answer UNAVAILABLE for a call that was stored (the
//! operator would record it again and a second crew would go), nor OK for
//! one that was not. So a transaction that stores calls notes its
//! transaction id and backend before it writes; if the commit's answer is
//! lost, another connection waits until PostgreSQL has settled that
//! transaction (`pg_xact_status` no longer "in progress"; a backend that
//! has not noticed its client is gone is ended), then looks the calls'
//! request ids up: what is there was stored, what is not was not. The
//! look-up, not the transaction status alone, is the answer: after a
//! failover the new primary may have given the same transaction id to
//! another transaction.

use std::time::Duration;

use ngalam112_core::IncidentId;
use sqlx::{PgConnection, PgPool, Row};

use crate::StoreError;

/// How long the server tries to find out before it gives up and answers
/// UNAVAILABLE with the outcome unknown (the database stayed away that
/// long; a retry with the same request id stores the call at most once).
const FIND_OUT_FOR: Duration = Duration::from_secs(30);

/// A backend still "in progress" this long after its client's connection
/// broke has not noticed (a network cut, not a closed socket): it is ended,
/// which settles its transaction.
const END_ORPHAN_AFTER: Duration = Duration::from_secs(2);

/// The transaction a connection is in, to ask about later from another.
#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    /// `pg_current_xact_id()` as text (xid8).
    transaction_id: String,
    backend_pid: i32,
}

impl InFlight {
    /// Gives the open transaction on `connection` an id now (one round
    /// trip) and notes it.
    pub(crate) async fn note(connection: &mut PgConnection) -> Result<InFlight, StoreError> {
        // Sent as text every time (simple protocol, not a prepared
        // statement): one message, and a proxy in the fault tests can see
        // which transactions store calls.
        let row = sqlx::raw_sql("SELECT pg_current_xact_id()::text, pg_backend_pid()")
            .fetch_one(&mut *connection)
            .await?;
        Ok(InFlight {
            transaction_id: row.try_get(0)?,
            backend_pid: row.try_get(1)?,
        })
    }

    /// After `error` from the commit (or any statement) of this
    /// transaction: for a lost connection, which of `request_ids` were
    /// stored (each with its incident), once that is known; any other
    /// error is returned as it is (PostgreSQL answered, so nothing was
    /// committed).
    pub(crate) async fn find_out(
        &self,
        pool: &PgPool,
        error: StoreError,
        request_ids: &[String],
    ) -> Result<Vec<Option<IncidentId>>, StoreError> {
        if !matches!(error, StoreError::Unavailable(_)) {
            return Err(error);
        }
        tracing::warn!(%error, transaction = %self.transaction_id,
            "connection lost during a commit; finding out whether it committed");
        let started = tokio::time::Instant::now();
        let mut last_error = error;
        while started.elapsed() < FIND_OUT_FOR {
            match self
                .settled(pool, started.elapsed() > END_ORPHAN_AFTER)
                .await
            {
                Ok(true) => match stored_requests(pool, request_ids).await {
                    Ok(found) => {
                        metrics::counter!("ngalam112_commits_found_out_total").increment(1);
                        return Ok(found);
                    }
                    Err(error) => last_error = error,
                },
                Ok(false) => {}
                Err(error) => last_error = error,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tracing::error!(%last_error, transaction = %self.transaction_id,
            "cannot find out whether a commit happened");
        Err(StoreError::OutcomeUnknown(
            "the database did not come back in time to say whether this call was stored; \
             retry with the same request id, which never stores a call twice"
                .to_owned(),
        ))
    }

    /// Whether PostgreSQL has settled the transaction (committed or
    /// aborted, or it never existed on this server). With `end_orphan`, a
    /// backend still running it is ended first.
    async fn settled(&self, pool: &PgPool, end_orphan: bool) -> Result<bool, StoreError> {
        let mut connection = pool.acquire().await?;
        if end_orphan {
            // Only that backend, and only while it still runs this
            // transaction (a pid is reused by later connections).
            sqlx::query!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE pid = $1 \
                   AND backend_xid::text = ($2::text::numeric % 4294967296)::text",
                self.backend_pid,
                self.transaction_id,
            )
            .fetch_all(&mut *connection)
            .await?;
        }
        let status =
            sqlx::query_scalar!("SELECT pg_xact_status($1::text::xid8)", self.transaction_id)
                .fetch_one(&mut *connection)
                .await;
        match status {
            Ok(Some(status)) => Ok(status != "in progress"),
            // Too old to be known: long settled.
            Ok(None) => Ok(true),
            // "transaction ID … is in the future": this server (a newly
            // promoted standby) never saw it, so it is settled here.
            Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("22023") => {
                Ok(true)
            }
            Err(error) => Err(error.into()),
        }
    }
}

/// The incidents stored under these request ids (None: not stored).
async fn stored_requests(
    pool: &PgPool,
    request_ids: &[String],
) -> Result<Vec<Option<IncidentId>>, StoreError> {
    let found = sqlx::query!(
        "SELECT request_id, incident_id FROM intake_requests WHERE request_id = ANY($1)",
        request_ids,
    )
    .fetch_all(pool)
    .await?;
    Ok(request_ids
        .iter()
        .map(|wanted| {
            found
                .iter()
                .find(|row| &row.request_id == wanted)
                .map(|row| IncidentId::from_uuid(row.incident_id))
        })
        .collect())
}
