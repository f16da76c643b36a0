//! The fleet: registration, service status, AVL positions, and the
//! dispatcher's list of recommended units.

use ngalam112_core::drive::Leg;
use ngalam112_core::ranking::{ALL_CANDIDATES, NEAREST_CANDIDATES, rank_on};
use ngalam112_core::{GeoPoint, IncidentId, UnitId, UnitKind, UnitStatus};

use crate::dispatch;
use crate::records::decode;
use crate::records::{UnitRow, stored_kinds};
use crate::{Actor, Store, StoreError, UnitRecord};

/// A validated RegisterUnit request.
#[derive(Debug, Clone)]
pub struct NewUnit {
    pub call_sign: String,
    pub kind: UnitKind,
    pub agency: String,
    pub location: GeoPoint,
}

/// An available unit, how far it is from the incident, and how old its
/// position is (the dispatcher judges a stale one).
#[derive(Debug, Clone)]
pub struct UnitRecommendation {
    pub unit: UnitRecord,
    pub distance_m: f64,
    /// By road, when dispatch runs on a road network and a road connects.
    pub road: Option<Leg>,
    pub location_age: chrono::Duration,
    pub location_stale: bool,
}

impl Store {
    /// Registers a unit, AVAILABLE at once, and offers it to whatever
    /// incident waits for its kind (rule 5).
    pub async fn register_unit(
        &self,
        new: &NewUnit,
        actor: &Actor,
    ) -> Result<UnitRecord, StoreError> {
        let id = UnitId::new_random();
        self.retrying(move || async move {
            let mut transaction = self.dispatcher().exclusive(&[new.kind], actor).await?;
            sqlx::query!(
                "INSERT INTO units (id, call_sign, kind, agency, status, lat, lon, \
                     location_updated_at, available_since) \
                     VALUES ($1, $2, $3, $4, 'available', $5, $6, now(), now())",
                id.uuid(),
                &new.call_sign,
                new.kind.as_str(),
                &new.agency,
                new.location.lat(),
                new.location.lon(),
            )
            .execute(&mut *transaction)
            .await?;
            transaction.settle(&[new.kind]).await?;
            transaction.finish().await?;
            Ok(())
        })
        .await?;
        self.unit(id).await
    }

    pub async fn unit(&self, id: UnitId) -> Result<UnitRecord, StoreError> {
        let row = select_units!("FROM units WHERE id = $1", id.uuid())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("unit", id))?;
        UnitRecord::try_from(row)
    }

    /// Units ordered by call sign, filtered by status and kind (empty = all).
    pub async fn list_units(
        &self,
        statuses: &[UnitStatus],
        kinds: &[UnitKind],
    ) -> Result<Vec<UnitRecord>, StoreError> {
        let statuses: Vec<&str> = statuses.iter().map(|status| status.as_str()).collect();
        let kinds: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
        let rows = select_units!(
            "FROM units \
             WHERE (cardinality($1::text[]) = 0 OR status = ANY($1)) \
               AND (cardinality($2::text[]) = 0 OR kind = ANY($2)) \
             ORDER BY call_sign",
            &statuses as &[&str],
            &kinds as &[&str],
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(UnitRecord::try_from).collect()
    }

    /// Out of service: never offered work (refused while the unit has an
    /// open assignment). Back in service: AVAILABLE, and offered at once to
    /// whatever waits for its kind.
    pub async fn set_unit_in_service(
        &self,
        unit_id: UnitId,
        in_service: bool,
        actor: &Actor,
    ) -> Result<UnitRecord, StoreError> {
        let kind = self.unit(unit_id).await?.kind;
        self.retrying(move || async move {
            let mut transaction = self.dispatcher().exclusive(&[kind], actor).await?;
            let status =
                sqlx::query_scalar!("SELECT status FROM units WHERE id = $1 FOR UPDATE", unit_id.uuid())
                    .fetch_one(&mut *transaction)
                    .await?;
            let status = decode::<UnitStatus>(&status)?;
            match (in_service, status) {
                (false, UnitStatus::Assigned) => {
                    return Err(StoreError::FailedPrecondition(
                        "unit has an open assignment; complete or cancel it first".to_owned(),
                    ));
                }
                (false, UnitStatus::Available) => {
                    sqlx::query!(
                        "UPDATE units SET status = 'out_of_service', updated_at = now() WHERE id = $1",
                        unit_id.uuid(),
                    )
                    .execute(&mut *transaction)
                    .await?;
                }
                (true, UnitStatus::OutOfService) => {
                    dispatch::release_unit(&mut transaction, unit_id, UnitStatus::Available).await?;
                    transaction.settle(&[kind]).await?;
                }
                // Already as asked: nothing to change.
                _ => {}
            }
            transaction.finish().await?;
            Ok(())
        })
        .await?;
        self.unit(unit_id).await
    }

    /// An AVL ping: the unit's position and when it was reported.
    pub async fn report_location(
        &self,
        unit_id: UnitId,
        location: GeoPoint,
    ) -> Result<UnitRecord, StoreError> {
        let row = write_position(&self.pool, unit_id, &location)
            .await?
            .ok_or_else(|| StoreError::not_found("unit", unit_id))?;
        UnitRecord::try_from(row)
    }

    /// AVAILABLE units nearest the incident first (on roads: least drive
    /// time first, of all available units), of `kind` or (None) of the
    /// kinds the incident needs.
    pub async fn recommend_units(
        &self,
        incident_id: IncidentId,
        kind: Option<UnitKind>,
        limit: usize,
    ) -> Result<Vec<UnitRecommendation>, StoreError> {
        let incident = sqlx::query!(
            "SELECT lat, lon, required_kinds FROM incidents WHERE id = $1",
            incident_id.uuid(),
        )
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::not_found("incident", incident_id))?;
        let (lat, lon, required) = (incident.lat, incident.lon, incident.required_kinds);
        let kinds = match kind {
            Some(kind) => vec![kind],
            None => stored_kinds(&required)?,
        };
        let incident_location = GeoPoint::new("location", lat, lon)
            .map_err(|error| StoreError::Internal(error.to_string()))?;
        // The index's nearest of each kind, ranked exactly below.
        let mut connection = self.pool.acquire().await?;
        let mut candidates = Vec::new();
        let roads = self.config.roads.as_deref();
        let wanted = match roads {
            Some(_) => ALL_CANDIDATES,
            None => i64::try_from(limit)
                .unwrap_or(i64::MAX)
                .saturating_add(NEAREST_CANDIDATES),
        };
        for kind in kinds {
            candidates.extend(
                dispatch::nearest_available(
                    &mut connection,
                    kind,
                    &incident_location,
                    &self.config,
                    &[],
                    false,
                    wanted,
                )
                .await?
                .into_iter()
                .map(|(candidate, _)| candidate),
            );
        }
        let ranked: Vec<_> = rank_on(&incident_location, &candidates, roads)
            .into_iter()
            .take(limit)
            .collect();
        let ids: Vec<uuid::Uuid> = ranked.iter().map(|ranked| ranked.unit_id.uuid()).collect();
        let rows = select_units!("FROM units WHERE id = ANY($1)", &ids)
            .fetch_all(&mut *connection)
            .await?;
        let mut units = std::collections::HashMap::new();
        for row in rows {
            let unit = UnitRecord::try_from(row)?;
            units.insert(unit.id, unit);
        }
        let now = chrono::Utc::now();
        let stale_after = chrono::Duration::from_std(self.config.stale_location_after)
            .unwrap_or(chrono::Duration::MAX);
        Ok(ranked
            .into_iter()
            .filter_map(|ranked| {
                units.remove(&ranked.unit_id).map(|unit| {
                    let location_age = now - unit.location_updated_at;
                    UnitRecommendation {
                        unit,
                        distance_m: ranked.distance_m,
                        road: ranked.road,
                        location_age,
                        location_stale: location_age > stale_after,
                    }
                })
            })
            .collect())
    }
}

/// One unit's position, in a statement of its own (None: no such unit).
pub(crate) async fn write_position(
    pool: &sqlx::PgPool,
    unit_id: UnitId,
    location: &GeoPoint,
) -> Result<Option<UnitRow>, StoreError> {
    Ok(returning_units!(
        "UPDATE units SET lat = $2, lon = $3, location_updated_at = now() WHERE id = $1",
        unit_id.uuid(),
        location.lat(),
        location.lon(),
    )
    .fetch_optional(pool)
    .await?)
}
