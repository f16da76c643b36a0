//! How long callers' personal data is kept. Handset fixes that found no
//! incident go after 10 minutes; callers' names and numbers of closed
//! incidents are blanked once the retention period has passed (the
//! incident, its timeline and its figures stay), and so are the numbers of
//! 112 calls that ended that long ago. The timeline never holds
//! a caller's name or number, so nothing append-only needs redacting.

use std::time::Duration;

use crate::{Store, StoreError};

/// How long a handset fix waits for its call to be recorded.
pub const KEPT_FIX_MINUTES: i32 = 10;

/// Incidents redacted per statement, so one pass never holds many rows.
const REDACTION_BATCH: i64 = 500;

impl Store {
    /// Deletes handset fixes kept longer than [`KEPT_FIX_MINUTES`].
    pub async fn purge_kept_fixes(&self) -> Result<u64, StoreError> {
        let done = sqlx::query!(
            "DELETE FROM device_fixes WHERE received_at < now() - make_interval(mins => $1)",
            KEPT_FIX_MINUTES,
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Blanks the callers' names and numbers (the incident's own and its
    /// further callers') of incidents closed more than `keep` ago. Returns
    /// how many incidents were redacted.
    pub async fn redact_old_callers(&self, keep: Duration) -> Result<u64, StoreError> {
        let mut redacted = 0;
        loop {
            let mut transaction = self.pool.begin().await?;
            let ids: Vec<uuid::Uuid> = sqlx::query_scalar!(
                "UPDATE incidents SET caller_phone = '', caller_name = '', \
                   callers_redacted_at = now() \
                 WHERE id IN (SELECT id FROM incidents \
                   WHERE callers_redacted_at IS NULL AND resolved_at IS NOT NULL \
                     AND resolved_at < now() - make_interval(secs => $1) \
                   ORDER BY resolved_at LIMIT $2 FOR NO KEY UPDATE SKIP LOCKED) \
                 RETURNING id",
                keep.as_secs_f64(),
                REDACTION_BATCH,
            )
            .fetch_all(&mut *transaction)
            .await?;
            sqlx::query!(
                "UPDATE incident_callers SET caller_phone = '', caller_name = '' \
                 WHERE incident_id = ANY($1)",
                &ids,
            )
            .execute(&mut *transaction)
            .await?;
            transaction.commit().await?;
            redacted += ids.len() as u64;
            if (ids.len() as i64) < REDACTION_BATCH {
                return Ok(redacted);
            }
        }
    }

    /// Blanks the numbers of 112 calls that ended (or rang, if never
    /// ended) more than `keep` ago; the call, its times and its link stay
    /// for the figures. Returns how many calls were redacted.
    pub async fn redact_old_calls(&self, keep: Duration) -> Result<u64, StoreError> {
        let mut redacted = 0;
        loop {
            let done = sqlx::query!(
                "UPDATE calls SET caller_phone = '' WHERE call_id IN (SELECT call_id FROM calls \
                   WHERE caller_phone <> '' \
                     AND coalesce(ended_at, rang_at) < now() - make_interval(secs => $1) \
                   LIMIT $2 FOR NO KEY UPDATE SKIP LOCKED)",
                keep.as_secs_f64(),
                REDACTION_BATCH,
            )
            .execute(&self.pool)
            .await?;
            redacted += done.rows_affected();
            if (done.rows_affected() as i64) < REDACTION_BATCH {
                return Ok(redacted);
            }
        }
    }
}
