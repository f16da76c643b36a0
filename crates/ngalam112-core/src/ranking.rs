//! The rule that picks the nearest unit (dispatch rule 2): smallest
//! great-circle distance from the unit's last reported location, ties to
//! the unit idle longest; a unit whose position is stale is sent only when
//! no unit with a fresh position can go. With a road network, nearest
//! means least drive time (`rank_on`), and a unit no road connects ranks
//! after every connected one.

use chrono::{DateTime, Utc};

use crate::drive::{DriveTimes, Leg};
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
    /// Great-circle, always.
    pub distance_m: f64,
    /// By road, when ranked on a road network and a road connects.
    pub road: Option<Leg>,
    /// Set on a unit chosen on roads (`with_straight_line_choice`): the
    /// drive time of the unit the straight-line rule would have chosen
    /// instead (its own when the same), for the record of what roads saved.
    pub straight_line_eta_s: Option<f64>,
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
            road: None,
            straight_line_eta_s: None,
        })
        .collect()
}

/// Ranks candidates on `roads` when given (least drive time first; those
/// no road connects after all connected ones, nearest first; ties to the
/// unit idle longest, then id), else as `rank_nearest`.
pub fn rank_on(
    incident: &GeoPoint,
    candidates: &[Candidate],
    roads: Option<&dyn DriveTimes>,
) -> Vec<Ranked> {
    let Some(roads) = roads else {
        return rank_nearest(incident, candidates);
    };
    let from: Vec<GeoPoint> = candidates.iter().map(|c| c.location).collect();
    let mut ranked: Vec<(&Candidate, Ranked)> = candidates
        .iter()
        .zip(roads.drive_times(incident, &from))
        .map(|(candidate, road)| {
            let ranked = Ranked {
                unit_id: candidate.unit_id,
                distance_m: candidate.location.distance_m(incident),
                road,
                straight_line_eta_s: None,
            };
            (candidate, ranked)
        })
        .collect();
    ranked.sort_by(|(a, a_ranked), (b, b_ranked)| {
        let by_measure = match (a_ranked.road, b_ranked.road) {
            (Some(a_leg), Some(b_leg)) => a_leg.eta_s.total_cmp(&b_leg.eta_s),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a_ranked.distance_m.total_cmp(&b_ranked.distance_m),
        };
        by_measure
            .then(a.available_since.cmp(&b.available_since))
            .then(a.unit_id.cmp(&b.unit_id))
    });
    ranked.into_iter().map(|(_, ranked)| ranked).collect()
}

/// How many index-nearest units of a kind the store fetches for the exact
/// ranking here. Its index orders by planar distance in degrees; degrees of
/// longitude shrink with cos(latitude), which anywhere in Indonesia
/// (|lat| < 11°) changes distances by under 2 %, far less than this margin
/// can reorder.
pub const NEAREST_CANDIDATES: i64 = 64;

/// On roads, how many a search reads next when `NEAREST_CANDIDATES`
/// cannot vouch for the least drive time (a dense fleet, a slow first
/// unit), before it reads all.
pub const WIDER_CANDIDATES: i64 = 512;

/// A limit that reads every available unit of a kind: on roads, when the
/// nearest few cannot vouch for the least drive time.
pub const ALL_CANDIDATES: i64 = 1_000_000;

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

/// The great-circle distance (m) below which no unit the index did not
/// return can be, when `fetched` are its nearest to `incident` by planar
/// distance in degrees (see `nearer_than_unfetched`, with its percent for
/// the approximations); None when they reach beyond a degree.
pub fn unfetched_beyond_m(incident: &GeoPoint, fetched: &[Candidate]) -> Option<f64> {
    let radius = fetched
        .iter()
        .map(|candidate| {
            (candidate.location.lon() - incident.lon())
                .hypot(candidate.location.lat() - incident.lat())
        })
        .fold(0.0, f64::max);
    if radius > 1.0 {
        return None;
    }
    let band = (incident.lat().abs() + radius).min(90.0).to_radians();
    Some(EARTH_RADIUS_M * radius.to_radians() * band.cos() / 1.01)
}

/// The mean Earth radius of the haversine distance (`geo`'s).
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Whether a unit `eta_s` seconds away by road surely arrives before
/// every unit the index did not return (`fetched`, as for
/// `unfetched_beyond_m`): each of those is at least that far in a straight
/// line, and no drive from that far arrives sooner than `roads` says
/// (`DriveTimes::sooner_than_s`). A tie is never sure.
pub fn faster_than_unfetched(
    incident: &GeoPoint,
    eta_s: f64,
    fetched: &[Candidate],
    roads: &dyn DriveTimes,
) -> bool {
    unfetched_beyond_m(incident, fetched)
        .is_some_and(|beyond_m| eta_s < roads.sooner_than_s(incident, beyond_m))
}

/// Whether `chosen` (ranked by `rank_on`, at `location`) is surely first
/// of all available units when only `fetched` were read: by drive time
/// when ranked on `roads` (a unit no road connects never is: an unfetched
/// one might be connected), else by distance.
pub fn surely_first(
    incident: &GeoPoint,
    chosen: &Ranked,
    location: &GeoPoint,
    fetched: &[Candidate],
    roads: Option<&dyn DriveTimes>,
) -> bool {
    match (roads, chosen.road) {
        (None, _) => nearer_than_unfetched(incident, location, fetched),
        (Some(roads), Some(leg)) => faster_than_unfetched(incident, leg.eta_s, fetched, roads),
        (Some(_), None) => false,
    }
}

/// `chosen` (from `order`, ranked on roads by `dispatch_order`) with the
/// drive time of the unit the straight-line rule would have taken in its
/// place: the nearest in a straight line of the `eligible` units with a
/// position as fresh as the chosen one's. Without roads, `chosen` as it is.
pub fn with_straight_line_choice<'a>(
    chosen: &Ranked,
    order: impl IntoIterator<Item = &'a Ranked>,
    candidates: &[Candidate],
    eligible: impl Fn(&UnitId) -> bool,
) -> Ranked {
    let fresh = |unit_id: &UnitId| {
        candidates
            .iter()
            .any(|candidate| candidate.unit_id == *unit_id && candidate.location_fresh)
    };
    let mut chosen = chosen.clone();
    if chosen.road.is_some() {
        chosen.straight_line_eta_s = order
            .into_iter()
            .filter(|ranked| {
                eligible(&ranked.unit_id) && fresh(&ranked.unit_id) == fresh(&chosen.unit_id)
            })
            .min_by(|a, b| a.distance_m.total_cmp(&b.distance_m))
            .and_then(|nearest| nearest.road)
            .map(|leg| leg.eta_s);
    }
    chosen
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
pub fn dispatch_order(
    incident: &GeoPoint,
    candidates: &[Candidate],
    roads: Option<&dyn DriveTimes>,
) -> Vec<Ranked> {
    let is_fresh = |ranked: &Ranked| {
        candidates
            .iter()
            .any(|candidate| candidate.unit_id == ranked.unit_id && candidate.location_fresh)
    };
    let (fresh, stale): (Vec<Ranked>, Vec<Ranked>) = rank_on(incident, candidates, roads)
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

    /// A city cut by a river along lat -7.98 with one bridge at lon
    /// 112.64: a drive crossing it goes by the bridge; driving is at 10 m/s
    /// along the straight lines to and from the bridge; a unit east of
    /// lon 112.70 is on an island no road reaches.
    #[derive(Debug)]
    struct River;

    impl DriveTimes for River {
        fn drive_times(&self, to: &GeoPoint, from: &[GeoPoint]) -> Vec<Option<Leg>> {
            from.iter().map(|from| self.leg(from, to)).collect()
        }
        fn route(&self, _: &GeoPoint, _: &GeoPoint) -> Option<crate::drive::Route> {
            None
        }
        fn top_speed_mps(&self) -> f64 {
            10.0
        }
    }

    impl River {
        fn leg(&self, from: &GeoPoint, to: &GeoPoint) -> Option<Leg> {
            if from.lon() > 112.70 || to.lon() > 112.70 {
                return None;
            }
            let bridge = GeoPoint::new("bridge", -7.98, 112.64).ok()?;
            let distance_m = if (from.lat() > -7.98) == (to.lat() > -7.98) {
                from.distance_m(to)
            } else {
                from.distance_m(&bridge) + bridge.distance_m(to)
            };
            Some(Leg {
                eta_s: distance_m / 10.0,
                distance_m,
            })
        }
    }

    #[test]
    fn on_roads_the_unit_across_the_river_loses_to_a_farther_one_on_the_same_bank() {
        // The incident on the north bank, 3 km west of the bridge.
        let incident = GeoPoint::new("location", -7.979, 112.613).unwrap();
        let across = candidate(-7.9825, 112.613, 0); // 390 m, south bank
        let same_bank = candidate(-7.966, 112.613, 50); // 1.4 km, north bank
        let island = candidate(-7.975, 112.71, 0);
        let candidates = [across.clone(), same_bank.clone(), island.clone()];
        let straight = rank_nearest(&incident, &candidates);
        assert_eq!(straight[0].unit_id, across.unit_id);
        let ranked = rank_on(&incident, &candidates, Some(&River));
        let order: Vec<UnitId> = ranked.iter().map(|ranked| ranked.unit_id).collect();
        assert_eq!(order, [same_bank.unit_id, across.unit_id, island.unit_id]);
        let by_road = ranked[1].road.expect("the bridge connects");
        assert!(by_road.distance_m > 5_000.0, "{by_road:?}");
        assert!(ranked[1].distance_m < 400.0);
        assert_eq!(ranked[2].road, None);
        // What the straight-line rule would have sent instead: the unit
        // across the river, by the bridge.
        let chosen = with_straight_line_choice(&ranked[0], &ranked, &candidates, |_| true);
        assert_eq!(chosen.unit_id, same_bank.unit_id);
        assert_eq!(chosen.straight_line_eta_s, Some(by_road.eta_s));
        // Without roads, nothing changes.
        let order: Vec<UnitId> = rank_on(&incident, &candidates, None)
            .iter()
            .map(|ranked| ranked.unit_id)
            .collect();
        assert_eq!(order[0], across.unit_id);
    }

    #[test]
    fn on_roads_equal_drive_times_go_to_the_unit_idle_longest() {
        let incident = GeoPoint::new("location", -7.975, 112.613).unwrap();
        let recently_freed = candidate(-7.970, 112.613, 500);
        let idle_longer = candidate(-7.970, 112.613, 10);
        let ranked = rank_on(
            &incident,
            &[recently_freed, idle_longer.clone()],
            Some(&River),
        );
        assert_eq!(ranked[0].unit_id, idle_longer.unit_id);
    }

    /// Soundness of the shortlist on roads, over many random fleets around
    /// the river town: whenever the core vouches for the first of the
    /// index's nearest `k` (by planar distance, as the store reads them),
    /// that unit really has the least drive time of the whole fleet.
    #[test]
    fn a_vouched_first_unit_is_never_beaten_by_one_the_index_did_not_return() {
        let mut seed: u64 = 0x5eed_1120;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut vouched, mut trials) = (0, 0);
        for _ in 0..400 {
            let incident =
                GeoPoint::new("location", -7.99 + 0.02 * next(), 112.60 + 0.08 * next()).unwrap();
            let fleet: Vec<Candidate> = (0..40)
                .map(|_| candidate(-8.00 + 0.04 * next(), 112.58 + 0.14 * next(), 0))
                .collect();
            let planar = |c: &Candidate| {
                (c.location.lon() - incident.lon()).hypot(c.location.lat() - incident.lat())
            };
            let mut by_index = fleet.clone();
            by_index.sort_by(|a, b| planar(a).total_cmp(&planar(b)));
            let all = rank_on(&incident, &fleet, Some(&River));
            for k in [4, 8, 16] {
                trials += 1;
                let fetched = &by_index[..k];
                let ranked = rank_on(&incident, fetched, Some(&River));
                let first = &ranked[0];
                let location = fetched
                    .iter()
                    .find(|c| c.unit_id == first.unit_id)
                    .unwrap()
                    .location;
                if surely_first(&incident, first, &location, fetched, Some(&River)) {
                    vouched += 1;
                    assert_eq!(first.unit_id, all[0].unit_id, "k = {k}");
                }
            }
        }
        // The check has teeth: many choices were vouched for, not all.
        assert!(vouched > 100 && vouched < trials, "{vouched} of {trials}");
    }

    #[test]
    fn a_drive_is_surely_fastest_only_when_no_unfetched_unit_could_beat_it() {
        let incident = GeoPoint::new("location", -7.975, 112.613).unwrap();
        // The farthest fetched unit 2.2 km away: an unfetched one is at
        // least about 2.2 km away, 220 s at the top speed of 10 m/s.
        let fetched = [candidate(-7.955, 112.613, 0)];
        let beyond = unfetched_beyond_m(&incident, &fetched).unwrap();
        assert!((2_150.0..2_230.0).contains(&beyond), "{beyond}");
        assert!(faster_than_unfetched(&incident, 200.0, &fetched, &River));
        assert!(!faster_than_unfetched(&incident, 230.0, &fetched, &River));
        // Fetched beyond a degree: never judged.
        let far = [candidate(-5.9, 112.613, 0)];
        assert!(!faster_than_unfetched(&incident, 1.0, &far, &River));
        // A chosen unit no road connects is never surely first on roads: an
        // unfetched one might be connected.
        let unconnected = Ranked {
            unit_id: UnitId::new_random(),
            distance_m: 10.0,
            road: None,
            straight_line_eta_s: None,
        };
        let location = incident;
        assert!(!surely_first(
            &incident,
            &unconnected,
            &location,
            &fetched,
            Some(&River)
        ));
        assert!(surely_first(
            &incident,
            &unconnected,
            &location,
            &fetched,
            None
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
        let order = dispatch_order(&incident, &[stale_near.clone(), fresh_far.clone()], None);
        let ids: Vec<_> = order.iter().map(|ranked| ranked.unit_id).collect();
        assert_eq!(ids, vec![fresh_far.unit_id, stale_near.unit_id]);
        let alone = dispatch_order(&incident, &[stale_near.clone()], None);
        assert_eq!(alone[0].unit_id, stale_near.unit_id);
        assert!(dispatch_order(&incident, &[], None).is_empty());
    }
}
