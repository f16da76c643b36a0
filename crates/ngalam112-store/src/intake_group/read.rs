//! The group's read: for every call of a group, the nearest available
//! units of each kind it needs, ranked by the core. It never writes.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ngalam112_core::drive::DriveTimes;
use ngalam112_core::ranking::{
    Candidate, FRESH_FIRST, Ranked, dispatch_order, surely_first, with_straight_line_choice,
};
use ngalam112_core::{GeoPoint, UnitId, UnitKind};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::dispatch::candidate;
use crate::{StoreConfig, StoreError};

/// A unit as the group's read finds it for one call.
struct Nearby {
    call: i64,
    id: Uuid,
    call_sign: String,
    lat: f64,
    lon: f64,
    available_since: DateTime<Utc>,
    location_fresh: bool,
}

/// For each of `points` (lon, lat), the nearest available units of a kind
/// by the GiST index's planar order, for the exact ranking in the core;
/// `call` is the point's place in `points`, from 1. `$3`: stale-after
/// seconds; `$4`: fresh positions only; `$5`: how many per point.
macro_rules! nearest_available_for_each {
    ($kind:literal, $($arg:expr),* $(,)?) => {
        sqlx::query_as!(
            Nearby,
            r#"SELECT p.call AS "call!", u.id AS "id!", u.call_sign AS "call_sign!",
                 u.lat AS "lat!", u.lon AS "lon!", u.available_since AS "available_since!",
                 u.location_fresh AS "location_fresh!"
               FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS p(lon, lat, call)
               CROSS JOIN LATERAL (
                 SELECT id, call_sign, lat, lon, available_since,
                   location_updated_at >= now() - make_interval(secs => $3) AS location_fresh
                 FROM units WHERE status = 'available' AND kind = '"#
                + $kind
                + r#"' AND (NOT $4 OR location_updated_at >= now() - make_interval(secs => $3))
                 ORDER BY point(units.lon, units.lat) <-> point(p.lon, p.lat) LIMIT $5) u"#,
            $($arg),*
        )
    };
}

/// What the group's read found for one call and kind.
#[derive(Clone, Default)]
pub(super) struct Fetched {
    /// In dispatch order (the core's), with call signs.
    order: Vec<(Ranked, String)>,
    candidates: Vec<Candidate>,
    /// Fewer than asked for: every available unit of the kind is here.
    complete: bool,
    /// Ranked on these roads: the first is vouched for by drive time.
    roads: Option<Arc<dyn DriveTimes>>,
}

impl Fetched {
    /// `candidates` (with their call signs) as the index returned them for
    /// `incident`, ranked by the core (on `roads` when given); `complete`:
    /// fewer than asked for.
    pub(super) fn new(
        incident: &GeoPoint,
        candidates: Vec<(Candidate, String)>,
        complete: bool,
        roads: Option<&Arc<dyn DriveTimes>>,
    ) -> Fetched {
        let order = dispatch_order(
            incident,
            &candidates
                .iter()
                .map(|(candidate, _)| candidate.clone())
                .collect::<Vec<_>>(),
            roads.map(|roads| roads.as_ref()),
        )
        .into_iter()
        .filter_map(|ranked| {
            let (_, call_sign) = candidates
                .iter()
                .find(|(candidate, _)| candidate.unit_id == ranked.unit_id)?;
            Some((ranked, call_sign.clone()))
        })
        .collect();
        Fetched {
            order,
            candidates: candidates
                .into_iter()
                .map(|(candidate, _)| candidate)
                .collect(),
            complete,
            roads: roads.cloned(),
        }
    }

    /// Units were fetched, but not every available one: the first may not
    /// be vouched for (`first_free`), and a wider search may decide.
    pub(super) fn partial(&self) -> bool {
        !self.complete && !self.candidates.is_empty()
    }

    /// The first unit in dispatch order not `excluded`, if it is surely
    /// the one the full search would choose (`surely_first`, on `roads`
    /// when the units were ranked on them).
    pub(super) fn first_free(
        &self,
        incident: &GeoPoint,
        excluded: impl Fn(&UnitId) -> bool,
    ) -> Option<(Ranked, String)> {
        let unit = self
            .order
            .iter()
            .find(|(ranked, _)| !excluded(&ranked.unit_id))?;
        let location = self
            .candidates
            .iter()
            .find(|candidate| candidate.unit_id == unit.0.unit_id)?
            .location;
        let roads = self.roads.as_deref();
        if !self.complete && !surely_first(incident, &unit.0, &location, &self.candidates, roads) {
            return None;
        }
        let order = self.order.iter().map(|(ranked, _)| ranked);
        let chosen =
            with_straight_line_choice(&unit.0, order, &self.candidates, |unit| !excluded(unit));
        Some((chosen, unit.1.clone()))
    }
}

/// The nearest `limit` available units of `kind` for each point: those
/// with a fresh position, else (for a point with none) any. `whole`: taken
/// as the whole choice (as a settling pass without roads does); else the
/// core vouches for the choice or not (`surely_first`), and a wider read
/// decides.
pub(super) async fn units_for_each(
    connection: &mut PgConnection,
    config: &StoreConfig,
    kind: UnitKind,
    points: &[GeoPoint],
    limit: i64,
    whole: bool,
) -> Result<Vec<Fetched>, StoreError> {
    let roads = config.roads.as_ref();
    let mut found: Vec<Fetched> = vec![Fetched::default(); points.len()];
    let stale_after_s = config.stale_location_after.as_secs_f64();
    for fresh_only in FRESH_FIRST {
        let wanted: Vec<usize> = (0..points.len())
            .filter(|index| found[*index].order.is_empty())
            .collect();
        if wanted.is_empty() {
            break;
        }
        let lons: Vec<f64> = wanted.iter().map(|index| points[*index].lon()).collect();
        let lats: Vec<f64> = wanted.iter().map(|index| points[*index].lat()).collect();
        let connection = &mut *connection;
        let rows = fetch_all_of_kind!(
            nearest_available_for_each,
            connection,
            kind,
            &lons,
            &lats,
            stale_after_s,
            fresh_only,
            limit,
        )?;
        for (place, index) in wanted.iter().enumerate() {
            let candidates = rows
                .iter()
                .filter(|row| row.call == place as i64 + 1)
                .map(|row| {
                    let candidate = candidate(
                        row.id,
                        row.lat,
                        row.lon,
                        row.available_since,
                        row.location_fresh,
                    )?;
                    Ok((candidate, row.call_sign.clone()))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let complete = whole || (candidates.len() as i64) < limit;
            found[*index] = Fetched::new(&points[*index], candidates, complete, roads);
        }
    }
    Ok(found)
}
