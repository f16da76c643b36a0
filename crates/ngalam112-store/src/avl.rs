//! AVL position reports, written in batches (see `batch`): a report waits
//! for the one UPDATE that carries it and its neighbours in the queue, and
//! is answered after that statement committed, so an answered report
//! survives a crash. Each lane owns a share of the units (by id), so two
//! batches never touch the same row.

use std::collections::HashMap;

use ngalam112_core::{GeoPoint, UnitId};
use sqlx::PgPool;

use crate::batch::Batcher;
use crate::records::UnitRow;
use crate::{StoreError, UnitRecord};

/// The position writer; cheap to clone.
#[derive(Clone)]
pub struct AvlWriter {
    batcher: Batcher<(UnitId, GeoPoint), UnitRecord>,
}

impl AvlWriter {
    pub fn start(pool: PgPool) -> AvlWriter {
        AvlWriter {
            batcher: Batcher::start(2, 2_000, move |reports| write(pool.clone(), reports)),
        }
    }

    /// Records the unit's position; answers with the unit once written.
    pub async fn report(
        &self,
        unit_id: UnitId,
        location: GeoPoint,
    ) -> Result<UnitRecord, StoreError> {
        self.batcher
            .submit(unit_id.uuid().as_u128() as u64, (unit_id, location))
            .await
    }
}

/// One UPDATE for the whole batch (a unit's last report wins). It takes
/// only the rows nobody holds (`SKIP LOCKED`), so it never waits while
/// holding others: a dispatch transaction may hold one of these units and
/// wait for another, and a batch that waited too could close the cycle.
/// The few units it skipped are then written one statement each; a
/// one-row statement holds nothing else while it waits, so it cannot
/// deadlock either.
async fn write(
    pool: PgPool,
    reports: Vec<(UnitId, GeoPoint)>,
) -> Result<Vec<Result<UnitRecord, StoreError>>, StoreError> {
    let mut latest: HashMap<UnitId, GeoPoint> = HashMap::with_capacity(reports.len());
    for (unit_id, location) in &reports {
        latest.insert(*unit_id, *location);
    }
    let ids: Vec<uuid::Uuid> = latest.keys().map(|id| id.uuid()).collect();
    let lats: Vec<f64> = latest.values().map(GeoPoint::lat).collect();
    let lons: Vec<f64> = latest.values().map(GeoPoint::lon).collect();
    let mut rows: Vec<UnitRow> = sqlx::query_as!(
        UnitRow,
        "WITH p AS (SELECT * FROM unnest($1::uuid[], $2::float8[], $3::float8[]) AS p(id, lat, lon)), \
           free AS (SELECT u.id FROM units u WHERE u.id = ANY($1) \
             FOR NO KEY UPDATE SKIP LOCKED) \
         UPDATE units AS u SET lat = p.lat, lon = p.lon, location_updated_at = now() \
         FROM p WHERE u.id = p.id AND u.id IN (SELECT id FROM free) \
         RETURNING u.id, u.call_sign, u.kind, u.agency, u.status, u.lat, u.lon, \
           u.location_updated_at, u.current_assignment_id, u.available_since",
        &ids,
        &lats,
        &lons,
    )
    .fetch_all(&pool)
    .await?;
    let written: std::collections::HashSet<uuid::Uuid> = rows.iter().map(|row| row.id).collect();
    for (unit_id, location) in &latest {
        if written.contains(&unit_id.uuid()) {
            continue;
        }
        let row = crate::units::write_position(&pool, *unit_id, location).await?;
        rows.extend(row);
    }
    let mut units = HashMap::with_capacity(rows.len());
    for row in rows {
        let unit = UnitRecord::try_from(row)?;
        units.insert(unit.id, unit);
    }
    Ok(reports
        .into_iter()
        .map(|(unit_id, _)| {
            units
                .get(&unit_id)
                .cloned()
                .ok_or_else(|| StoreError::not_found("unit", unit_id))
        })
        .collect())
}
