//! The group's allocation: every asker (a new call of the group, or a
//! need already waiting that the group took from the queue), most urgent
//! and then oldest first (rule 5), gets its nearest unit of each kind it
//! needs that no asker before it got, never one that refused it, when
//! that is surely the unit the full search would choose.

use std::collections::HashSet;

use ngalam112_core::ranking::{
    ALL_CANDIDATES, GROUP_CANDIDATES, NEAREST_CANDIDATES, Ranked, WIDER_CANDIDATES, Waiting,
    queue_order,
};
use ngalam112_core::{GeoPoint, IncidentId, UnitId, UnitKind};
use sqlx::PgConnection;

use super::GroupCall;
use super::queue::Waiter;
use super::read::{Fetched, units_for_each};
use crate::StoreError;
use crate::unit_of_work::Dispatcher;

/// A call's unit of one kind, as the allocation chose it.
pub(super) type Allotted = (UnitKind, Ranked, String);

/// Who asks the group for units.
pub(super) struct Asker<'a> {
    /// Its place in the queue.
    pub(super) key: Waiting,
    pub(super) location: GeoPoint,
    pub(super) kinds: Vec<UnitKind>,
    /// Units it must never be offered (they declined or timed out).
    pub(super) refused: Vec<UnitId>,
    /// The group's call, or None for a need already waiting.
    pub(super) call: Option<&'a GroupCall>,
}

impl<'a> Asker<'a> {
    pub(super) fn call(call: &'a GroupCall) -> Self {
        Self {
            key: Waiting {
                priority: call.new.priority(),
                called_at: call.called_at,
                incident_id: call.id,
            },
            location: call.new.location(),
            kinds: if call.new.hold() {
                Vec::new()
            } else {
                call.new.required_kinds().to_vec()
            },
            refused: Vec::new(),
            call: Some(call),
        }
    }

    pub(super) fn waiter(waiter: &Waiter) -> Self {
        Self {
            key: waiter.key,
            location: waiter.location,
            kinds: vec![waiter.kind],
            refused: waiter.refused.clone(),
            call: None,
        }
    }
}

/// The allocation (see the module's comment), in queue order. `cutoffs`:
/// per kind, the last waiting need the group took of a longer queue; an
/// asker behind it gets no unit of that kind (it would overtake).
pub(super) fn allocate<'a, 'b>(
    askers: &'b [Asker<'a>],
    fetched: &[(IncidentId, UnitKind, Fetched)],
    cutoffs: &[(UnitKind, Waiting)],
) -> Vec<(&'b Asker<'a>, Vec<Allotted>)> {
    let mut order: Vec<&Asker> = askers.iter().collect();
    order.sort_by(|a, b| queue_order(&a.key, &b.key));
    let mut taken: HashSet<UnitId> = HashSet::new();
    order
        .into_iter()
        .map(|asker| {
            let mut units = Vec::new();
            for kind in &asker.kinds {
                let behind = cutoffs.iter().any(|(of_kind, last)| {
                    of_kind == kind && queue_order(&asker.key, last).is_gt()
                });
                if behind {
                    continue;
                }
                let excluded = |unit: &UnitId| taken.contains(unit) || asker.refused.contains(unit);
                let Some((ranked, call_sign)) = fetched
                    .iter()
                    .find(|(id, of_kind, _)| *id == asker.key.incident_id && of_kind == kind)
                    .and_then(|(_, _, fetched)| fetched.first_free(&asker.location, excluded))
                else {
                    continue;
                };
                taken.insert(ranked.unit_id);
                units.push((*kind, ranked.clone(), call_sign.clone()));
            }
            (asker, units)
        })
        .collect()
}

/// Reads the units the askers may get (one statement per kind, narrow;
/// then wide for those the narrow search could not vouch for) and
/// allocates them.
pub(super) async fn read_and_allocate<'a, 'b>(
    connection: &mut PgConnection,
    dispatcher: &Dispatcher,
    askers: &'b [Asker<'a>],
    cutoffs: &[(UnitKind, Waiting)],
) -> Result<Vec<(&'b Asker<'a>, Vec<Allotted>)>, StoreError> {
    let mut kinds: Vec<UnitKind> = Vec::new();
    for asker in askers {
        for kind in &asker.kinds {
            if !kinds.contains(kind) {
                kinds.push(*kind);
            }
        }
    }
    // A kind no asker may have here is not read at all.
    let nobody = super::queue::before_everything();
    kinds.retain(|kind| !cutoffs.contains(&(*kind, nobody)));
    let config = &dispatcher.config;
    let mut fetched = Vec::new();
    for kind in &kinds {
        let needing: Vec<&Asker> = askers.iter().filter(|a| a.kinds.contains(kind)).collect();
        let points: Vec<GeoPoint> = needing.iter().map(|asker| asker.location).collect();
        let ranked =
            units_for_each(connection, config, *kind, &points, GROUP_CANDIDATES, false).await?;
        for (asker, units) in needing.iter().zip(ranked) {
            fetched.push((asker.key.incident_id, *kind, units));
        }
    }
    let mut allotted = allocate(askers, &fetched, cutoffs);
    // An asker left without a unit of a kind whose read the core could not
    // vouch for: a wider read decides. Without roads the nearest 64 are
    // taken as the whole choice, as a settling pass takes them; on roads
    // the least drive time must be exact, so 64, then 512 are read while
    // the core still cannot vouch for the chosen unit, then all.
    let rounds: &[(i64, bool)] = if config.roads.is_some() {
        &[
            (NEAREST_CANDIDATES, false),
            (WIDER_CANDIDATES, false),
            (ALL_CANDIDATES, true),
        ]
    } else {
        &[(NEAREST_CANDIDATES, true)]
    };
    for (limit, whole) in rounds {
        let mut widen: Vec<(usize, UnitKind, GeoPoint)> = Vec::new();
        for (asker, units) in &allotted {
            for kind in &asker.kinds {
                let unserved = !units.iter().any(|(of_kind, _, _)| of_kind == kind);
                let place = fetched.iter().position(|(id, of_kind, found)| {
                    *id == asker.key.incident_id && of_kind == kind && found.partial()
                });
                if let (true, Some(place)) = (unserved, place) {
                    widen.push((place, *kind, asker.location));
                }
            }
        }
        if widen.is_empty() {
            break;
        }
        for kind in &kinds {
            let of_kind: Vec<&(usize, UnitKind, GeoPoint)> =
                widen.iter().filter(|(_, k, _)| k == kind).collect();
            if of_kind.is_empty() {
                continue;
            }
            let points: Vec<GeoPoint> = of_kind.iter().map(|(_, _, point)| *point).collect();
            let ranked = units_for_each(connection, config, *kind, &points, *limit, *whole).await?;
            for ((place, _, _), units) in of_kind.iter().zip(ranked) {
                fetched[*place].2 = units;
            }
        }
        allotted = allocate(askers, &fetched, cutoffs);
    }
    Ok(allotted)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use ngalam112_core::ranking::Candidate;
    use ngalam112_core::{IncidentCategory, IncidentDraft, NewIncident, Priority};

    use super::*;
    use crate::Actor;

    /// Balai Kota Malang; about 111 m per 0.001 degree of latitude.
    const HERE: (f64, f64) = (-7.9771, 112.6340);

    fn at(lat: f64, lon: f64) -> GeoPoint {
        GeoPoint::new("location", lat, lon).expect("a point in Malang")
    }

    fn call(priority: Priority, kinds: Vec<UnitKind>, called_at_s: i64) -> GroupCall {
        let new = NewIncident::parse(IncidentDraft {
            category: IncidentCategory::TrafficAccident,
            priority,
            location: at(HERE.0, HERE.1),
            required_kinds: kinds,
            caller_phone: "",
            caller_id_withheld: true,
            caller_name: "",
            address: "Jl. Tugu",
            description: "",
            request_id: "",
            duplicate_of: "",
            hold: false,
            call_id: "",
        })
        .expect("a valid call");
        GroupCall {
            new,
            actor: Actor::system(),
            id: IncidentId::new_random(),
            called_at: Utc
                .timestamp_opt(1_800_000_000 + called_at_s, 0)
                .single()
                .expect("a time"),
        }
    }

    /// A unit `metres_south` of the incident.
    fn unit(call_sign: &str, metres_south: f64) -> (Candidate, String) {
        let candidate = Candidate {
            unit_id: UnitId::new_random(),
            location: at(HERE.0 - metres_south / 111_000.0, HERE.1),
            available_since: Utc
                .timestamp_opt(1_800_000_000, 0)
                .single()
                .expect("a time"),
            location_fresh: true,
        };
        (candidate, call_sign.to_owned())
    }

    fn askers<'a>(calls: &[&'a GroupCall]) -> Vec<Asker<'a>> {
        calls.iter().map(|call| Asker::call(call)).collect()
    }

    fn call_signs(units: &[Allotted]) -> Vec<&str> {
        units
            .iter()
            .map(|(_, _, call_sign)| call_sign.as_str())
            .collect()
    }

    #[test]
    fn a_contested_unit_goes_to_the_more_urgent_call_and_the_other_takes_its_next_nearest() {
        let earlier_low = call(Priority::Low, vec![UnitKind::Ambulance], 0);
        let later_critical = call(Priority::Critical, vec![UnitKind::Ambulance], 5);
        let units = vec![unit("AMB-NEAR", 100.0), unit("AMB-NEXT", 300.0)];
        let incident = at(HERE.0, HERE.1);
        let fetched = vec![
            (
                earlier_low.id,
                UnitKind::Ambulance,
                Fetched::new(&incident, units.clone(), true, None),
            ),
            (
                later_critical.id,
                UnitKind::Ambulance,
                Fetched::new(&incident, units, true, None),
            ),
        ];
        let all = askers(&[&earlier_low, &later_critical]);
        let allocated = allocate(&all, &fetched, &[]);
        let by_call: Vec<(IncidentId, Vec<&str>)> = allocated
            .iter()
            .map(|(asker, units)| (asker.key.incident_id, call_signs(units)))
            .collect();
        assert_eq!(
            by_call,
            vec![
                (later_critical.id, vec!["AMB-NEAR"]),
                (earlier_low.id, vec!["AMB-NEXT"]),
            ]
        );
    }

    #[test]
    fn the_narrow_search_gives_no_unit_it_cannot_vouch_for() {
        let alone = call(Priority::High, vec![UnitKind::Ambulance], 0);
        let incident = at(HERE.0, HERE.1);
        // Eight fetched (more exist), the farthest barely farther than the
        // nearest: an unfetched unit could be as near.
        let units = vec![unit("AMB-A", 1_000.0), unit("AMB-B", 1_005.0)];
        let fetched = vec![(
            alone.id,
            UnitKind::Ambulance,
            Fetched::new(&incident, units.clone(), false, None),
        )];
        let all = askers(&[&alone]);
        let allocated = allocate(&all, &fetched, &[]);
        assert!(
            allocated[0].1.is_empty(),
            "it waits; the second pass decides"
        );
        // The same units, but every available one fetched: it is served.
        let fetched = vec![(
            alone.id,
            UnitKind::Ambulance,
            Fetched::new(&incident, units, true, None),
        )];
        let all = askers(&[&alone]);
        let allocated = allocate(&all, &fetched, &[]);
        assert_eq!(call_signs(&allocated[0].1), vec!["AMB-A"]);
    }

    #[test]
    fn the_more_urgent_call_takes_the_unit_it_can_have_and_waits_for_the_rest() {
        let crash = call(
            Priority::Critical,
            vec![UnitKind::Ambulance, UnitKind::Police],
            0,
        );
        let medical = call(Priority::Normal, vec![UnitKind::Ambulance], 1);
        let incident = at(HERE.0, HERE.1);
        let ambulances = vec![unit("AMB-1", 200.0)];
        let fetched = vec![
            (
                crash.id,
                UnitKind::Ambulance,
                Fetched::new(&incident, ambulances.clone(), true, None),
            ),
            (
                crash.id,
                UnitKind::Police,
                Fetched::new(&incident, Vec::new(), true, None),
            ),
            (
                medical.id,
                UnitKind::Ambulance,
                Fetched::new(&incident, ambulances, true, None),
            ),
        ];
        let all = askers(&[&crash, &medical]);
        let allocated = allocate(&all, &fetched, &[]);
        assert_eq!(
            allocated[0].0.key.incident_id, crash.id,
            "the critical call first"
        );
        assert_eq!(
            call_signs(&allocated[0].1),
            vec!["AMB-1"],
            "no police: it waits"
        );
        assert_eq!(allocated[1].0.key.incident_id, medical.id);
        assert!(allocated[1].1.is_empty(), "the only ambulance went first");
    }

    #[test]
    fn a_waiting_need_gets_the_free_unit_first_and_nothing_overtakes_a_cutoff() {
        let waiting_since = call(Priority::High, vec![UnitKind::Ambulance], 0);
        let new_call = call(Priority::High, vec![UnitKind::Ambulance], 30);
        let incident = at(HERE.0, HERE.1);
        let units = vec![unit("AMB-1", 200.0), unit("AMB-2", 900.0)];
        let declined = units[0].0.unit_id;
        let waiter = Asker {
            key: Waiting {
                priority: Priority::High,
                called_at: waiting_since.called_at,
                incident_id: waiting_since.id,
            },
            location: incident,
            kinds: vec![UnitKind::Ambulance],
            refused: vec![declined],
            call: None,
        };
        let fetched = vec![
            (
                waiting_since.id,
                UnitKind::Ambulance,
                Fetched::new(&incident, units.clone(), true, None),
            ),
            (
                new_call.id,
                UnitKind::Ambulance,
                Fetched::new(&incident, units, true, None),
            ),
        ];
        let all = vec![Asker::call(&new_call), waiter];
        let allocated = allocate(&all, &fetched, &[]);
        assert_eq!(
            allocated[0].0.key.incident_id, waiting_since.id,
            "the older need first"
        );
        assert_eq!(
            call_signs(&allocated[0].1),
            vec!["AMB-2"],
            "never the unit that declined it"
        );
        assert_eq!(call_signs(&allocated[1].1), vec!["AMB-1"]);
        // More needs wait than the group took: the new call, behind the
        // last one taken, gets nothing here.
        let cutoff = [(UnitKind::Ambulance, allocated[0].0.key)];
        let allocated = allocate(&all, &fetched, &cutoff);
        assert_eq!(call_signs(&allocated[0].1), vec!["AMB-2"]);
        assert!(allocated[1].1.is_empty(), "it would overtake the queue");
    }
}
