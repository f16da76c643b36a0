//! Device locations (AML): attached to the caller's active incidents, or
//! kept for a while until the call is recorded.

use chrono::{DateTime, Utc};
use ngalam112_core::aml::{DeviceFix, disagrees};
use ngalam112_core::{EventKind, IncidentId, PhoneNumber};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::dispatch::lock_incident;
use crate::records::decode;
use crate::retention::KEPT_FIX_MINUTES;
use crate::timeline::{self, Event};
use crate::{Actor, Store, StoreError};

/// What became of a device fix.
#[derive(Debug, Clone)]
pub struct IngestOutcome {
    /// The caller's active incidents of the last hour it was attached to.
    pub attached: Vec<IncidentId>,
    /// No such incident yet: the fix is kept 10 minutes for one to appear.
    pub held: bool,
}

/// Stores the fix with the incident (beside the entered location), sets the
/// disagreement flag, and records it in the timeline. A fix taken before
/// the one the incident already has is not stored (the newest position
/// wins, whatever order the network delivers them in); returns whether it
/// was.
pub(crate) async fn attach(
    connection: &mut PgConnection,
    actor: &Actor,
    incident_id: IncidentId,
    fix: &DeviceFix,
    received_at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    lock_incident(connection, incident_id).await?;
    let current = sqlx::query!(
        r#"SELECT lat, lon, coalesce(device_fix_time > $2, false) AS "newer_kept!"
           FROM incidents WHERE id = $1"#,
        incident_id.uuid(),
        fix.fix_time,
    )
    .fetch_one(&mut *connection)
    .await?;
    let (lat, lon, newer_kept) = (current.lat, current.lon, current.newer_kept);
    if newer_kept {
        timeline::append(
            connection,
            actor,
            Event::incident(
                incident_id,
                EventKind::DeviceLocation,
                format!(
                    "older handset {} fix (taken {}) ignored: a newer fix is kept",
                    fix.method.as_str(),
                    fix.fix_time.format("%H:%M:%S UTC")
                ),
            ),
        )
        .await?;
        return Ok(false);
    }
    let entered = ngalam112_core::GeoPoint::new("location", lat, lon)
        .map_err(|error| StoreError::Internal(error.to_string()))?;
    let apart_m = entered.distance_m(&fix.location);
    let conflict = disagrees(&entered, fix);
    sqlx::query!(
        "UPDATE incidents SET device_lat = $2, device_lon = $3, device_radius_m = $4, \
           device_confidence_pct = $5, device_method = $6, device_fix_time = $7, \
           device_received_at = $8, location_disagrees = $9, updated_at = now() \
         WHERE id = $1",
        incident_id.uuid(),
        fix.location.lat(),
        fix.location.lon(),
        fix.radius_m,
        i16::from(fix.confidence_pct),
        fix.method.as_str(),
        fix.fix_time,
        received_at,
        conflict,
    )
    .execute(&mut *connection)
    .await?;
    let warning = if conflict {
        " — DISAGREES with the entered location: check with the caller"
    } else {
        ""
    };
    timeline::append(
        connection,
        actor,
        Event::incident(
            incident_id,
            EventKind::DeviceLocation,
            format!(
                "handset {} fix ±{:.0} m ({} %), {:.0} m from the entered location{warning}",
                fix.method.as_str(),
                fix.radius_m,
                fix.confidence_pct,
                apart_m
            ),
        ),
    )
    .await?;
    Ok(true)
}

/// Attaches the newest fix kept for `caller_phone` (received in the last
/// 10 minutes), if any, to a just-created incident; the kept fixes of that
/// number are then deleted (they have found their call).
pub(crate) async fn attach_kept_fix(
    connection: &mut PgConnection,
    actor: &Actor,
    incident_id: IncidentId,
    caller_phone: &str,
) -> Result<(), StoreError> {
    if caller_phone.is_empty() {
        return Ok(());
    }
    let kept = sqlx::query!(
        "SELECT lat, lon, radius_m, confidence_pct, method, fix_time, received_at \
         FROM device_fixes \
         WHERE caller_phone = $1 AND received_at >= now() - make_interval(mins => $2) \
         ORDER BY fix_time DESC LIMIT 1",
        caller_phone,
        KEPT_FIX_MINUTES,
    )
    .fetch_optional(&mut *connection)
    .await?;
    let Some(kept) = kept else {
        return Ok(());
    };
    let fix = DeviceFix {
        location: ngalam112_core::GeoPoint::new("location", kept.lat, kept.lon)
            .map_err(|error| StoreError::Internal(error.to_string()))?,
        radius_m: kept.radius_m,
        confidence_pct: u8::try_from(kept.confidence_pct).unwrap_or(100),
        method: decode::<ngalam112_core::aml::FixMethod>(&kept.method)?,
        fix_time: kept.fix_time,
    };
    attach(connection, actor, incident_id, &fix, kept.received_at).await?;
    sqlx::query!(
        "DELETE FROM device_fixes WHERE caller_phone = $1",
        caller_phone,
    )
    .execute(&mut *connection)
    .await?;
    Ok(())
}

impl Store {
    /// A handset's fix for `caller_phone` (E.164): attached to the caller's
    /// active incidents created in the last hour (each in its own
    /// transaction, so this never holds one incident while waiting for
    /// another), or kept 10 minutes for the call to be recorded.
    pub async fn ingest_device_fix(
        &self,
        caller: &PhoneNumber,
        fix: &DeviceFix,
        actor: &Actor,
    ) -> Result<IngestOutcome, StoreError> {
        let caller_phone = caller.as_str();
        let incidents: Vec<Uuid> = sqlx::query_scalar!(
            "SELECT id FROM incidents WHERE caller_phone = $1 \
               AND status IN ('pending', 'dispatched', 'on_scene') \
               AND created_at >= now() - interval '1 hour' \
             ORDER BY id",
            caller_phone,
        )
        .fetch_all(&self.pool)
        .await?;
        let held = incidents.is_empty();
        let mut attached = Vec::with_capacity(incidents.len());
        for incident in incidents {
            let incident = IncidentId::from_uuid(incident);
            let stored = self
                .retrying(move || async move {
                    let mut transaction = self.pool.begin().await?;
                    let received_at: DateTime<Utc> =
                        sqlx::query_scalar!(r#"SELECT now() AS "now!""#)
                            .fetch_one(&mut *transaction)
                            .await?;
                    let stored =
                        attach(&mut transaction, actor, incident, fix, received_at).await?;
                    transaction.commit().await?;
                    Ok(stored)
                })
                .await?;
            if stored {
                attached.push(incident);
            }
        }
        // No active incident yet: kept for a call recorded within the next
        // minutes.
        if held {
            sqlx::query!(
                "INSERT INTO device_fixes (caller_phone, lat, lon, radius_m, confidence_pct, \
                   method, fix_time) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                caller_phone,
                fix.location.lat(),
                fix.location.lon(),
                fix.radius_m,
                i16::from(fix.confidence_pct),
                fix.method.as_str(),
                fix.fix_time,
            )
            .execute(&self.pool)
            .await?;
        }
        // A console's ringing strip shows the caller's newest fix.
        let mut connection = self.pool.acquire().await?;
        crate::calls::touch_open_calls_of(&mut connection, caller_phone).await?;
        Ok(IngestOutcome { attached, held })
    }
}
