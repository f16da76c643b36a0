//! Crews in danger: the DARURAT alarms a crew raises and an operator
//! acknowledges. Every change is pushed (a trigger notifies
//! `ngalam112_alarms`) to every console.

use chrono::{DateTime, Utc};
use ngalam112_core::{AlarmId, GeoPoint, UnitId};
use uuid::Uuid;

use crate::{Actor, Store, StoreError};

/// One alarm, with the unit's call sign.
#[derive(Debug, Clone)]
pub struct AlarmRecord {
    pub id: AlarmId,
    pub unit_id: UnitId,
    pub unit_call_sign: String,
    pub location: GeoPoint,
    pub note: String,
    pub raised_at: DateTime<Utc>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
}

/// `SELECT` an alarm with its unit's call sign, then `$sql` (`WHERE …`),
/// checked at build time.
macro_rules! select_alarms {
    ($sql:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            AlarmRow,
            "SELECT a.id, a.unit_id, u.call_sign, a.lat, a.lon, a.note, a.raised_at, \
             a.acknowledged_by, a.acknowledged_at FROM alarms a JOIN units u ON u.id = a.unit_id "
                + $sql
            $(, $arg)*
        )
    };
}

struct AlarmRow {
    id: Uuid,
    unit_id: Uuid,
    call_sign: String,
    lat: f64,
    lon: f64,
    note: String,
    raised_at: DateTime<Utc>,
    acknowledged_by: Option<String>,
    acknowledged_at: Option<DateTime<Utc>>,
}

fn to_record(row: AlarmRow) -> Result<AlarmRecord, StoreError> {
    Ok(AlarmRecord {
        id: AlarmId::from_uuid(row.id),
        unit_id: UnitId::from_uuid(row.unit_id),
        unit_call_sign: row.call_sign,
        location: GeoPoint::new("location", row.lat, row.lon)
            .map_err(|error| StoreError::Internal(error.to_string()))?,
        note: row.note,
        raised_at: row.raised_at,
        acknowledged_by: row.acknowledged_by,
        acknowledged_at: row.acknowledged_at,
    })
}

impl Store {
    /// Raises a unit's alarm; while one is open, returns that one.
    pub async fn raise_alarm(
        &self,
        unit_id: UnitId,
        location: GeoPoint,
        note: &str,
    ) -> Result<AlarmRecord, StoreError> {
        self.unit(unit_id).await?;
        sqlx::query!(
            "INSERT INTO alarms (id, unit_id, lat, lon, note) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (unit_id) WHERE acknowledged_at IS NULL DO NOTHING",
            Uuid::new_v4(),
            unit_id.uuid(),
            location.lat(),
            location.lon(),
            note,
        )
        .execute(&self.pool)
        .await?;
        let row = select_alarms!(
            "WHERE a.unit_id = $1 AND a.acknowledged_at IS NULL",
            unit_id.uuid()
        )
        .fetch_one(&self.pool)
        .await?;
        to_record(row)
    }

    /// Acknowledges an alarm; a second acknowledgement keeps the first.
    pub async fn acknowledge_alarm(
        &self,
        alarm_id: AlarmId,
        actor: &Actor,
    ) -> Result<AlarmRecord, StoreError> {
        sqlx::query!(
            "UPDATE alarms SET acknowledged_by = $2, acknowledged_at = now() \
             WHERE id = $1 AND acknowledged_at IS NULL",
            alarm_id.uuid(),
            &actor.0,
        )
        .execute(&self.pool)
        .await?;
        self.alarm(alarm_id).await
    }

    pub async fn alarm(&self, alarm_id: AlarmId) -> Result<AlarmRecord, StoreError> {
        let row = select_alarms!("WHERE a.id = $1", alarm_id.uuid())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("alarm", alarm_id))?;
        to_record(row)
    }

    /// Alarms newest first; `open_only`: those not yet acknowledged.
    pub async fn alarms(&self, open_only: bool) -> Result<Vec<AlarmRecord>, StoreError> {
        let rows = select_alarms!(
            "WHERE NOT $1 OR a.acknowledged_at IS NULL ORDER BY a.raised_at DESC LIMIT 500",
            open_only
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(to_record).collect()
    }
}
