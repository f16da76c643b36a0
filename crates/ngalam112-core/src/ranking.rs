//! The rule that picks the nearest unit (dispatch rule 2): smallest
//! great-circle distance from the unit's last reported location, ties to
//! the unit idle longest; a unit whose position is stale is sent only when
//! no unit with a fresh position can go.

use chrono::{DateTime, Utc};

use crate::{GeoPoint, UnitId};

/// An available unit as the ranking sees it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub unit_id: UnitId,
    pub location: GeoPoint,
    /// When the unit last became available; earlier = idle longer.
    pub available_since: DateTime<Utc>,
    /// Whether the last position report is recent enough to trust.
    pub location_fresh: bool,
}

/// A candidate with its distance to the incident.
#[derive(Debug, Clone)]
pub struct Ranked {
    pub unit_id: UnitId,
    pub distance_m: f64,
}

/// Ranks candidates nearest first (ties: idle longest first, then id so the
/// order is total and repeatable).
pub fn rank_nearest(incident: &GeoPoint, candidates: &[Candidate]) -> Vec<Ranked> {
    let mut with_distance: Vec<(&Candidate, f64)> = candidates
        .iter()
        .map(|candidate| (candidate, candidate.location.distance_m(incident)))
        .collect();
    with_distance.sort_by(|(a, a_distance), (b, b_distance)| {
        a_distance
            .total_cmp(b_distance)
            .then(a.available_since.cmp(&b.available_since))
            .then(a.unit_id.cmp(&b.unit_id))
    });
    with_distance
        .into_iter()
        .map(|(candidate, distance_m)| Ranked {
            unit_id: candidate.unit_id,
            distance_m,
        })
        .collect()
}

/// How many index-nearest units of a kind the store fetches for the exact
/// ranking here. Its index orders by planar distance in degrees; degrees of
/// longitude shrink with cos(latitude), which anywhere in Indonesia
/// (|lat| < 11°) changes distances by under 2 %, far less than this margin
/// can reorder.
pub const NEAREST_CANDIDATES: i64 = 64;

/// How many index-nearest units of a kind group intake fetches per call
/// (`store/intake_group/`); enough when `nearer_than_unfetched` says so,
/// otherwise the call goes the full way (with `NEAREST_CANDIDATES`).
pub const GROUP_CANDIDATES: i64 = 8;

/// Whether `chosen` is surely nearer (great-circle) to `incident` than
/// every unit the index did not return, when `fetched` are the index's
/// nearest by planar distance in degrees (as `<->` on `point(lon, lat)`
/// orders them) and possibly more exist. Any path leaving the planar disc
/// of radius r (the farthest fetched) around the incident is at least
/// R·cos(|lat| + r)·r long, and `chosen` is at most R·p(chosen) away; so it
/// is sure when p(farthest)·cos(|lat| + p(farthest)) > p(chosen) · 1.01 (a
/// percent for the small-angle approximations, exact within 0.1 % below a
/// degree). A tie is never sure: the unit idle longest might be unfetched.
pub fn nearer_than_unfetched(
    incident: &GeoPoint,
    chosen: &GeoPoint,
    fetched: &[Candidate],
) -> bool {
    let planar =
        |point: &GeoPoint| (point.lon() - incident.lon()).hypot(point.lat() - incident.lat());
    let radius = fetched
        .iter()
        .map(|candidate| planar(&candidate.location))
        .fold(0.0, f64::max);
    if radius > 1.0 {
        return false;
    }
    let band = (incident.lat().abs() + radius).min(90.0).to_radians();
    radius * band.cos() > planar(chosen) * 1.01
}

/// The searches for a unit, in order: first among units with a fresh
/// position only (`true`), then among all (`false`). The first search that
/// finds an eligible unit decides.
pub const FRESH_FIRST: [bool; 2] = [true, false];

/// A waiting need as the queue sees it (dispatch rule 5).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Waiting {
    pub priority: crate::Priority,
    pub called_at: DateTime<Utc>,
    pub incident_id: crate::IncidentId,
}

/// The queue's order (rule 5): most urgent first, then the oldest call,
/// then the id so the order is total.
pub fn queue_order(a: &Waiting, b: &Waiting) -> std::cmp::Ordering {
    a.priority
        .rank()
        .cmp(&b.priority.rank())
        .then(a.called_at.cmp(&b.called_at))
        .then(a.incident_id.uuid().cmp(&b.incident_id.uuid()))
}

/// The order in which to try to claim units for an incident: those with a
/// fresh position nearest first, then the stale ones nearest first. The
/// first one that can still be claimed gets the offer (another dispatch may
/// be claiming the nearest at the same instant).
pub fn dispatch_order(incident: &GeoPoint, candidates: &[Candidate]) -> Vec<Ranked> {
    let is_fresh = |ranked: &Ranked| {
        candidates
            .iter()
            .any(|candidate| candidate.unit_id == ranked.unit_id && candidate.location_fresh)
    };
    let (fresh, stale): (Vec<Ranked>, Vec<Ranked>) = rank_nearest(incident, candidates)
        .into_iter()
        .partition(is_fresh);
    fresh.into_iter().chain(stale).collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn candidate(lat: f64, lon: f64, idle_since_secs: i64) -> Candidate {
        Candidate {
            unit_id: UnitId::new_random(),
            location: GeoPoint::new("location", lat, lon).unwrap(),
            available_since: Utc
                .timestamp_opt(1_800_000_000 + idle_since_secs, 0)
                .unwrap(),
            location_fresh: true,
        }
    }

    #[test]
    fn a_unit_is_surely_nearest_only_well_inside_the_fetched_disc() {
        // Kota Malang, about 111 m per 0.001 degree.
        let incident = GeoPoint::new("location", -7.98, 112.63).unwrap();
        let at = |lat: f64, lon: f64| GeoPoint::new("location", lat, lon).unwrap();
        let fetched_to = |lat: f64, lon: f64| vec![candidate(lat, lon, 0)];
        // 1 km away, the farthest fetched 2 km: nothing unfetched is nearer.
        assert!(nearer_than_unfetched(
            &incident,
            &at(-7.989, 112.63),
            &fetched_to(-7.998, 112.63)
        ));
        // The farthest fetched barely farther: an unfetched unit just
        // outside could be nearer on the sphere (or tie).
        assert!(!nearer_than_unfetched(
            &incident,
            &at(-7.989, 112.63),
            &fetched_to(-7.98, 112.6391)
        ));
        // Every fetched unit at the chosen one's spot: the one idle longest
        // may be unfetched.
        assert!(!nearer_than_unfetched(
            &incident,
            &at(-7.989, 112.63),
            &fetched_to(-7.989, 112.63)
        ));
        // A unit at the incident itself, the others anywhere farther.
        assert!(nearer_than_unfetched(
            &incident,
            &incident,
            &fetched_to(-7.9801, 112.63)
        ));
        // Fetched as far as two degrees: not judged, the full search decides.
        assert!(!nearer_than_unfetched(
            &incident,
            &incident,
            &fetched_to(-5.98, 112.63)
        ));
    }

    #[test]
    fn the_queue_serves_the_most_urgent_then_the_oldest_call() {
        let at = |secs: i64| Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap();
        let waiting = |priority, secs| Waiting {
            priority,
            called_at: at(secs),
            incident_id: crate::IncidentId::new_random(),
        };
        let mut queue = [
            waiting(crate::Priority::Normal, 0),
            waiting(crate::Priority::Critical, 30),
            waiting(crate::Priority::Normal, -10),
            waiting(crate::Priority::Critical, 20),
        ];
        queue.sort_by(queue_order);
        let order: Vec<_> = queue.iter().map(|w| (w.priority, w.called_at)).collect();
        assert_eq!(
            order,
            [
                (crate::Priority::Critical, at(20)),
                (crate::Priority::Critical, at(30)),
                (crate::Priority::Normal, at(-10)),
                (crate::Priority::Normal, at(0)),
            ]
        );
    }

    #[test]
    fn nearest_unit_ranks_first() {
        let incident = GeoPoint::new("location", -7.9770, 112.6340).unwrap();
        let far = candidate(-7.9370, 112.6090, 0); // RSI Unisma
        let near = candidate(-7.9725, 112.6315, 100); // RSSA
        let ranked = rank_nearest(&incident, &[far.clone(), near.clone()]);
        assert_eq!(ranked[0].unit_id, near.unit_id);
        assert_eq!(ranked[1].unit_id, far.unit_id);
        assert!(ranked[0].distance_m < ranked[1].distance_m);
    }

    #[test]
    fn equal_distance_goes_to_the_unit_idle_longest() {
        let incident = GeoPoint::new("location", -7.9770, 112.6340).unwrap();
        let recently_freed = candidate(-7.9725, 112.6315, 500);
        let idle_longer = candidate(-7.9725, 112.6315, 10);
        let ranked = rank_nearest(&incident, &[recently_freed, idle_longer.clone()]);
        assert_eq!(ranked[0].unit_id, idle_longer.unit_id);
    }

    #[test]
    fn no_candidates_rank_to_nothing() {
        let incident = GeoPoint::new("location", -7.9770, 112.6340).unwrap();
        assert!(rank_nearest(&incident, &[]).is_empty());
    }

    #[test]
    fn a_stale_position_loses_to_any_fresh_one_but_still_serves_when_alone() {
        let incident = GeoPoint::new("location", -7.9770, 112.6340).unwrap();
        let mut stale_near = candidate(-7.9725, 112.6315, 0);
        stale_near.location_fresh = false;
        let fresh_far = candidate(-7.9370, 112.6090, 0);
        let order = dispatch_order(&incident, &[stale_near.clone(), fresh_far.clone()]);
        let ids: Vec<_> = order.iter().map(|ranked| ranked.unit_id).collect();
        assert_eq!(ids, vec![fresh_far.unit_id, stale_near.unit_id]);
        let alone = dispatch_order(&incident, &[stale_near.clone()]);
        assert_eq!(alone[0].unit_id, stale_near.unit_id);
        assert!(dispatch_order(&incident, &[]).is_empty());
    }
}
