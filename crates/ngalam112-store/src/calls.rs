//! 112 calls as the phone system signals them (CTI), and their link to the
//! incident recorded from each. Every change is pushed (a trigger notifies
//! `ngalam112_calls`) to every console's ringing strip.

use chrono::{DateTime, Utc};
use ngalam112_core::calls::{CallId, CallSignal, CallState, Signalled, Transition};
use ngalam112_core::{EventKind, IncidentId};
use sqlx::PgConnection;

use crate::records::{DeviceLocation, FixColumns};
use crate::timeline::{self, Event};
use crate::{Actor, Store, StoreError};

/// Most calls one ListCalls answers.
pub const LIST_LIMIT: i64 = 500;

/// A number's last 30 days, as the strip shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallerSummary {
    pub calls: i64,
    pub incidents: i64,
    pub pranks: i64,
    /// The flag's reason, when the number is flagged.
    pub flag_reason: Option<String>,
}

/// One call, with what the call-taker needs beside it.
#[derive(Debug, Clone)]
pub struct CallRecord {
    pub call_id: String,
    pub line: String,
    /// E.164; empty when withheld.
    pub caller_phone: String,
    pub caller_id_withheld: bool,
    pub state: CallState,
    pub position: String,
    pub rang_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub incident_id: Option<IncidentId>,
    /// None when the number was withheld.
    pub caller: Option<CallerSummary>,
    /// The newest handset fix for the number (kept, or on an incident of
    /// the last hour).
    pub device_location: Option<DeviceLocation>,
}

/// `SELECT` a call with its caller's summary and newest handset fix,
/// then `$sql` (`WHERE …`), checked at build time.
macro_rules! select_calls {
    ($sql:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            CallRow,
            r#"SELECT c.call_id, c.line, c.caller_phone, c.caller_id_withheld, c.position,
                 c.rang_at, c.answered_at, c.ended_at, c.incident_id,
                 h.calls AS "calls?", h.incidents AS "incidents?", h.pranks AS "pranks?",
                 f.reason AS "flag_reason?",
                 x.lat AS "fix_lat?", x.lon AS "fix_lon?", x.radius_m AS "fix_radius_m?",
                 x.confidence_pct AS "fix_confidence_pct?", x.method AS "fix_method?",
                 x.fix_time AS "fix_time?", x.received_at AS "fix_received_at?"
               FROM calls c
               LEFT JOIN LATERAL (SELECT
                   (SELECT count(*) FROM calls o WHERE o.caller_phone = c.caller_phone
                      AND o.rang_at > now() - make_interval(days => 30)) AS calls,
                   (SELECT count(*) FROM incidents i WHERE i.caller_phone = c.caller_phone
                      AND i.created_at > now() - make_interval(days => 30)) AS incidents,
                   (SELECT count(*) FROM incidents i WHERE i.caller_phone = c.caller_phone
                      AND i.created_at > now() - make_interval(days => 30)
                      AND i.resolution_code = 'prank') AS pranks) h ON c.caller_phone <> ''
               LEFT JOIN flagged_callers f ON c.caller_phone <> '' AND f.caller_phone = c.caller_phone
               LEFT JOIN LATERAL (
                   SELECT * FROM (
                     SELECT d.lat, d.lon, d.radius_m, d.confidence_pct, d.method, d.fix_time,
                       d.received_at FROM device_fixes d WHERE d.caller_phone = c.caller_phone
                     UNION ALL
                     SELECT i.device_lat, i.device_lon, i.device_radius_m, i.device_confidence_pct,
                       i.device_method, i.device_fix_time, i.device_received_at
                     FROM incidents i WHERE i.caller_phone = c.caller_phone
                       AND i.device_received_at IS NOT NULL
                       AND i.created_at > c.rang_at - interval '1 hour') fixes
                   ORDER BY received_at DESC LIMIT 1) x ON c.caller_phone <> ''
               "# + $sql
            $(, $arg)*
        )
    };
}

struct CallRow {
    call_id: String,
    line: String,
    caller_phone: String,
    caller_id_withheld: bool,
    position: String,
    rang_at: DateTime<Utc>,
    answered_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    incident_id: Option<uuid::Uuid>,
    calls: Option<i64>,
    incidents: Option<i64>,
    pranks: Option<i64>,
    flag_reason: Option<String>,
    fix_lat: Option<f64>,
    fix_lon: Option<f64>,
    fix_radius_m: Option<f64>,
    fix_confidence_pct: Option<i16>,
    fix_method: Option<String>,
    fix_time: Option<DateTime<Utc>>,
    fix_received_at: Option<DateTime<Utc>>,
}

impl CallRow {
    fn into_record(self) -> Result<CallRecord, StoreError> {
        let device_location = FixColumns {
            lat: self.fix_lat,
            lon: self.fix_lon,
            radius_m: self.fix_radius_m,
            confidence_pct: self.fix_confidence_pct,
            method: self.fix_method.as_deref(),
            fix_time: self.fix_time,
            received_at: self.fix_received_at,
        }
        .decode()?;
        let caller = (!self.caller_phone.is_empty()).then(|| CallerSummary {
            calls: self.calls.unwrap_or_default(),
            incidents: self.incidents.unwrap_or_default(),
            pranks: self.pranks.unwrap_or_default(),
            flag_reason: self.flag_reason,
        });
        Ok(CallRecord {
            state: CallState::of(self.answered_at.is_some(), self.ended_at.is_some()),
            call_id: self.call_id,
            line: self.line,
            caller_phone: self.caller_phone,
            caller_id_withheld: self.caller_id_withheld,
            position: self.position,
            rang_at: self.rang_at,
            answered_at: self.answered_at,
            ended_at: self.ended_at,
            incident_id: self.incident_id.map(IncidentId::from_uuid),
            caller,
            device_location,
        })
    }
}

impl Store {
    /// Applies a signal from the phone system. RINGING makes the call (a
    /// repeat returns it as it is); ANSWERED and ENDED stamp their time
    /// once; ANSWERED after ENDED is refused.
    pub async fn signal_call(&self, signal: &Signalled) -> Result<CallRecord, StoreError> {
        let id = signal.call_id.as_str();
        if signal.signal == CallSignal::Ringing {
            sqlx::query!(
                "INSERT INTO calls (call_id, line, caller_phone, caller_id_withheld) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (call_id) DO NOTHING",
                id,
                &signal.line,
                signal.caller.as_str(),
                signal.caller.is_withheld(),
            )
            .execute(&self.pool)
            .await?;
            return self.call(&signal.call_id).await;
        }
        let mut transaction = self.pool.begin().await?;
        let state = sqlx::query!(
            "SELECT answered_at IS NOT NULL AS \"answered!\", ended_at IS NOT NULL AS \"ended!\" \
             FROM calls WHERE call_id = $1 FOR UPDATE",
            id,
        )
        .fetch_optional(&mut *transaction)
        .await?
        .map(|row| CallState::of(row.answered, row.ended))
        .ok_or_else(|| StoreError::not_found("call", id))?;
        match state.after(signal.signal) {
            Transition::Repeat => {}
            Transition::OutOfOrder => {
                return Err(StoreError::FailedPrecondition(format!(
                    "call {id} is {}; it cannot be {} now",
                    state.as_str(),
                    signal.signal.as_str()
                )));
            }
            Transition::Apply if signal.signal == CallSignal::Answered => {
                sqlx::query!(
                    "UPDATE calls SET answered_at = greatest(now(), rang_at), position = $2 \
                     WHERE call_id = $1",
                    id,
                    &signal.position,
                )
                .execute(&mut *transaction)
                .await?;
            }
            Transition::Apply => {
                sqlx::query!(
                    "UPDATE calls SET ended_at = greatest(now(), rang_at) WHERE call_id = $1",
                    id
                )
                .execute(&mut *transaction)
                .await?;
            }
        }
        transaction.commit().await?;
        self.call(&signal.call_id).await
    }

    pub async fn call(&self, call_id: &CallId) -> Result<CallRecord, StoreError> {
        select_calls!("WHERE c.call_id = $1", call_id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("call", call_id))?
            .into_record()
    }

    /// Calls not yet ended (the strip), oldest first.
    pub async fn open_calls(&self) -> Result<Vec<CallRecord>, StoreError> {
        select_calls!("WHERE c.ended_at IS NULL ORDER BY c.rang_at, c.call_id")
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(CallRow::into_record)
            .collect()
    }

    /// Calls that rang since `since`, newest first, at most [`LIST_LIMIT`].
    pub async fn calls_since(&self, since: DateTime<Utc>) -> Result<Vec<CallRecord>, StoreError> {
        select_calls!(
            "WHERE c.rang_at >= $1 ORDER BY c.rang_at DESC, c.call_id LIMIT $2",
            since,
            LIST_LIMIT,
        )
        .fetch_all(&self.side_pool)
        .await?
        .into_iter()
        .map(CallRow::into_record)
        .collect()
    }

    /// Whether a call exists (checked before an incident names it).
    pub async fn call_exists(&self, call_id: &CallId) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM calls WHERE call_id = $1) AS "exists!""#,
            call_id.as_str()
        )
        .fetch_one(&self.pool)
        .await?)
    }
}

/// Links `call_id` to `incident_id` (the first incident recorded from a
/// call keeps it) and writes in the incident's timeline when the call
/// rang and was answered. In the transaction that stores the incident.
pub(crate) async fn link(
    connection: &mut PgConnection,
    actor: &Actor,
    incident_id: IncidentId,
    call_id: &CallId,
) -> Result<(), StoreError> {
    let Some(call) = sqlx::query!(
        "UPDATE calls SET incident_id = coalesce(incident_id, $2), \
           linked_at = coalesce(linked_at, now()) \
         WHERE call_id = $1 \
         RETURNING line, position, rang_at, answered_at, incident_id AS \"incident_id!\"",
        call_id.as_str(),
        incident_id.uuid(),
    )
    .fetch_optional(&mut *connection)
    .await?
    else {
        // Checked before the incident was stored, and calls are never
        // deleted; were one gone, the emergency is stored all the same.
        tracing::warn!(%call_id, %incident_id, "the call to link is gone; the incident is stored unlinked");
        return Ok(());
    };
    // Operators read times in WIB (UTC+7), as everywhere in the console.
    let wib = chrono::FixedOffset::east_opt(7 * 3600).expect("UTC+7");
    let rang = call.rang_at.with_timezone(&wib).format("%H:%M:%S WIB");
    let mut detail = format!("call {call_id}");
    if !call.line.is_empty() {
        detail += &format!(" on line {}", call.line);
    }
    detail += &format!(" rang at {rang}");
    match call.answered_at {
        Some(answered) => {
            let waited = (answered - call.rang_at).num_milliseconds() as f64 / 1000.0;
            detail += &format!(
                ", answered at {} after {waited:.0} s",
                answered.with_timezone(&wib).format("%H:%M:%S WIB")
            );
            if !call.position.is_empty() {
                detail += &format!(" at position {}", call.position);
            }
        }
        None => detail += ", not answered through the phone system",
    }
    if call.incident_id != incident_id.uuid() {
        detail += &format!(
            "; the call was already recorded as incident {}",
            call.incident_id
        );
    }
    timeline::append(
        connection,
        actor,
        Event::incident(incident_id, EventKind::CallReceived, detail),
    )
    .await
}

/// Tells the strip that a number's ringing or answered calls have a new
/// handset fix (the row is touched so its trigger notifies).
pub(crate) async fn touch_open_calls_of(
    connection: &mut PgConnection,
    caller_phone: &str,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE calls SET line = line WHERE caller_phone = $1 AND ended_at IS NULL",
        caller_phone
    )
    .execute(connection)
    .await?;
    Ok(())
}
