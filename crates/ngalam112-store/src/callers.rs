//! Callers' numbers: their history and flags. A flag only warns the
//! call-taker; nothing here touches dispatch.

use chrono::{DateTime, Utc};
use ngalam112_core::{PhoneNumber, ResolutionCode};
use sqlx::PgConnection;

use crate::{Actor, IncidentRecord, Store, StoreError};

/// PRANK closings of one number within [`AUTOMATIC_FLAG_DAYS`] that flag it.
pub const AUTOMATIC_FLAG_PRANKS: i64 = 3;
pub const AUTOMATIC_FLAG_DAYS: i32 = 30;
/// How many of a caller's incidents the history shows.
const RECENT_LIMIT: i64 = 20;

/// A flagged number.
#[derive(Debug, Clone, PartialEq)]
pub struct CallerFlag {
    pub caller_phone: String,
    pub reason: String,
    pub flagged_by: String,
    pub flagged_at: DateTime<Utc>,
    /// Set by the server after repeated prank calls.
    pub automatic: bool,
}

/// A number's calls over a period.
#[derive(Debug, Clone)]
pub struct CallerHistory {
    pub caller_phone: String,
    pub incident_count: i64,
    pub prank_count: i64,
    pub flag: Option<CallerFlag>,
    /// Newest first, at most 20.
    pub recent: Vec<IncidentRecord>,
}

struct FlagRow {
    caller_phone: String,
    reason: String,
    flagged_by: String,
    flagged_at: DateTime<Utc>,
    automatic: bool,
}

impl From<FlagRow> for CallerFlag {
    fn from(row: FlagRow) -> Self {
        CallerFlag {
            caller_phone: row.caller_phone,
            reason: row.reason,
            flagged_by: row.flagged_by,
            flagged_at: row.flagged_at,
            automatic: row.automatic,
        }
    }
}

impl Store {
    /// The incidents of a normalised number created in the last `days`.
    pub async fn caller_history(
        &self,
        caller: &PhoneNumber,
        days: i32,
    ) -> Result<CallerHistory, StoreError> {
        let caller_phone = caller.as_str();
        let counts = sqlx::query!(
            r#"SELECT count(*) AS "incidents!", count(*) FILTER (WHERE resolution_code = $3) AS "pranks!"
               FROM incidents
               WHERE caller_phone = $1 AND created_at > now() - make_interval(days => $2)"#,
            caller_phone,
            days,
            ResolutionCode::Prank.as_str(),
        )
        .fetch_one(&self.pool)
        .await?;
        let (incident_count, prank_count) = (counts.incidents, counts.pranks);
        let rows = select_incidents!(
            "FROM incidents WHERE caller_phone = $1 \
             AND created_at > now() - make_interval(days => $2) \
             ORDER BY created_at DESC, id DESC LIMIT $3",
            caller_phone,
            days,
            RECENT_LIMIT,
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(CallerHistory {
            caller_phone: caller_phone.to_owned(),
            incident_count,
            prank_count,
            flag: self.caller_flag(caller_phone).await?,
            recent: self.with_assignments(rows).await?,
        })
    }

    async fn caller_flag(&self, caller_phone: &str) -> Result<Option<CallerFlag>, StoreError> {
        let row: Option<FlagRow> = sqlx::query_as!(
            FlagRow,
            "SELECT caller_phone, reason, flagged_by, flagged_at, automatic FROM flagged_callers \
             WHERE caller_phone = $1",
            caller_phone
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(CallerFlag::from))
    }

    /// Flags a number. Flagging a flagged number keeps the first flag.
    pub async fn flag_caller(
        &self,
        caller: &PhoneNumber,
        reason: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let caller_phone = caller.as_str();
        sqlx::query!(
            "INSERT INTO flagged_callers (caller_phone, reason, flagged_by, automatic) \
             VALUES ($1, $2, $3, false) ON CONFLICT (caller_phone) DO NOTHING",
            caller_phone,
            reason,
            &actor.0,
        )
        .execute(&self.pool)
        .await?;
        tracing::info!(flagged_by = %actor.0, "caller flagged");
        Ok(())
    }

    /// Removes a number's flag (if any).
    pub async fn unflag_caller(
        &self,
        caller: &PhoneNumber,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let caller_phone = caller.as_str();
        sqlx::query!(
            "DELETE FROM flagged_callers WHERE caller_phone = $1",
            caller_phone,
        )
        .execute(&self.pool)
        .await?;
        tracing::info!(unflagged_by = %actor.0, "caller unflagged");
        Ok(())
    }

    /// Every flagged number, most recently flagged first.
    pub async fn flagged_callers(&self) -> Result<Vec<CallerFlag>, StoreError> {
        let rows: Vec<FlagRow> = sqlx::query_as!(
            FlagRow,
            "SELECT caller_phone, reason, flagged_by, flagged_at, automatic FROM flagged_callers \
             ORDER BY flagged_at DESC, caller_phone"
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(CallerFlag::from).collect())
    }
}

/// After an incident is closed as PRANK: flags its number once it has
/// [`AUTOMATIC_FLAG_PRANKS`] such closings within [`AUTOMATIC_FLAG_DAYS`]
/// (in the closing's transaction).
pub(crate) async fn flag_after_pranks(
    connection: &mut PgConnection,
    caller_phone: &str,
) -> Result<(), StoreError> {
    if caller_phone.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "INSERT INTO flagged_callers (caller_phone, reason, flagged_by, automatic) \
         SELECT $1, format('%s incidents closed as prank within %s days', count(*), $3::int), \
                'system', true \
         FROM incidents WHERE caller_phone = $1 AND resolution_code = $2 \
           AND resolved_at > now() - make_interval(days => $3) \
         HAVING count(*) >= $4 \
         ON CONFLICT (caller_phone) DO NOTHING",
        caller_phone,
        ResolutionCode::Prank.as_str(),
        AUTOMATIC_FLAG_DAYS,
        AUTOMATIC_FLAG_PRANKS,
    )
    .execute(&mut *connection)
    .await?;
    Ok(())
}
