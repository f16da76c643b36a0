//! Crews in danger: the DARURAT alarms a crew raises and an operator
//! acknowledges. Every change is pushed (a trigger notifies
//! `ngalam112_alarms`) to every console.

use chrono::{DateTime, Utc};
use ngalam112_core::{GeoPoint, UnitId};
use uuid::Uuid;

use crate::{Actor, Store, StoreError};

/// One alarm, with the unit's call sign.
#[derive(Debug, Clone)]
pub struct AlarmRecord {
    pub id: Uuid,
    pub unit_id: UnitId,
    pub unit_call_sign: String,
    pub location: GeoPoint,
    pub note: String,
    pub raised_at: DateTime<Utc>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
}

macro_rules! alarm_select {
    () => {
        "SELECT a.id, a.unit_id, u.call_sign, a.lat, a.lon, a.note, a.raised_at, \
         a.acknowledged_by, a.acknowledged_at FROM alarms a JOIN units u ON u.id = a.unit_id"
    };
}

type AlarmRow = (
    Uuid,
    Uuid,
    String,
    f64,
    f64,
    String,
    DateTime<Utc>,
    Option<String>,
    Option<DateTime<Utc>>,
);

fn to_record(row: AlarmRow) -> Result<AlarmRecord, StoreError> {
    let (id, unit_id, call_sign, lat, lon, note, raised_at, acknowledged_by, acknowledged_at) = row;
    Ok(AlarmRecord {
        id,
        unit_id: UnitId(unit_id),
        unit_call_sign: call_sign,
        location: GeoPoint::new("location", lat, lon)
            .map_err(|error| StoreError::Internal(error.to_string()))?,
        note,
        raised_at,
        acknowledged_by,
        acknowledged_at,
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
        sqlx::query(
            "INSERT INTO alarms (id, unit_id, lat, lon, note) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (unit_id) WHERE acknowledged_at IS NULL DO NOTHING",
        )
        .bind(Uuid::new_v4())
        .bind(unit_id.0)
        .bind(location.lat())
        .bind(location.lon())
        .bind(note)
        .execute(&self.pool)
        .await?;
        let row: AlarmRow = sqlx::query_as(concat!(
            alarm_select!(),
            " WHERE a.unit_id = $1 AND a.acknowledged_at IS NULL"
        ))
        .bind(unit_id.0)
        .fetch_one(&self.pool)
        .await?;
        to_record(row)
    }

    /// Acknowledges an alarm; a second acknowledgement keeps the first.
    pub async fn acknowledge_alarm(
        &self,
        alarm_id: Uuid,
        actor: &Actor,
    ) -> Result<AlarmRecord, StoreError> {
        sqlx::query(
            "UPDATE alarms SET acknowledged_by = $2, acknowledged_at = now() \
             WHERE id = $1 AND acknowledged_at IS NULL",
        )
        .bind(alarm_id)
        .bind(&actor.0)
        .execute(&self.pool)
        .await?;
        self.alarm(alarm_id).await
    }

    pub async fn alarm(&self, alarm_id: Uuid) -> Result<AlarmRecord, StoreError> {
        let row: AlarmRow = sqlx::query_as(concat!(alarm_select!(), " WHERE a.id = $1"))
            .bind(alarm_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("alarm", alarm_id))?;
        to_record(row)
    }

    /// Alarms newest first; `open_only`: those not yet acknowledged.
    pub async fn alarms(&self, open_only: bool) -> Result<Vec<AlarmRecord>, StoreError> {
        let rows: Vec<AlarmRow> = sqlx::query_as(concat!(
            alarm_select!(),
            " WHERE NOT $1 OR a.acknowledged_at IS NULL ORDER BY a.raised_at DESC LIMIT 500"
        ))
        .bind(open_only)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(to_record).collect()
    }
}
