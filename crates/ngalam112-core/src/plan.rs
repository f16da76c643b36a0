//! What a new call becomes, decided before anything is written: its id,
//! the units it gets now, its state (rule 6), and the timeline events that
//! record it. The store writes a slice of plans in one set of statements
//! (`ngalam112-store`, `intake_group::write`); it decides nothing itself.
//!
//! Notifications follow from a plan: each event tells the incident's
//! watchers, each offer wakes its unit's long-polls.

use crate::drive::Leg;
use crate::incident::{AssignmentFact, DerivedState, derive_state};
use crate::{
    AssignmentId, AssignmentStatus, EventKind, IncidentId, IncidentStatus, NewIncident, UnitId,
    UnitKind,
};

/// A unit a new call gets at once, as the ranking chose it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedOffer {
    pub assignment_id: AssignmentId,
    pub unit_id: UnitId,
    pub kind: UnitKind,
    pub call_sign: String,
    pub distance_m: f64,
    /// By road, when dispatch runs on a road network.
    pub road: Option<Leg>,
    /// On roads, for an automatic choice: the drive time of the unit the
    /// straight-line rule would have sent (`Ranked::straight_line_eta_s`).
    pub straight_line_eta_s: Option<f64>,
}

/// One timeline event, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedEvent {
    pub kind: EventKind,
    pub detail: String,
    pub assignment_id: Option<AssignmentId>,
    pub unit_id: Option<UnitId>,
}

impl PlannedEvent {
    /// An event about the incident as a whole.
    pub fn incident(kind: EventKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            assignment_id: None,
            unit_id: None,
        }
    }

    /// An event about one of the incident's assignments.
    pub fn assignment(
        kind: EventKind,
        assignment_id: AssignmentId,
        unit_id: UnitId,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            detail: detail.into(),
            assignment_id: Some(assignment_id),
            unit_id: Some(unit_id),
        }
    }
}

/// A new call as it will be stored.
#[derive(Debug, Clone)]
pub struct CallPlan {
    pub id: IncidentId,
    pub new: NewIncident,
    /// At most one per required kind, in the order the kinds are required.
    pub offers: Vec<PlannedOffer>,
    pub state: DerivedState,
    pub events: Vec<PlannedEvent>,
}

impl CallPlan {
    /// The plan of `new` stored as `id` with `offers` made at once: a
    /// call on hold gets none, and every required kind without an offer
    /// waits in the queue (rule 5).
    pub fn new(id: IncidentId, new: NewIncident, offers: Vec<PlannedOffer>) -> CallPlan {
        let offers = if new.hold() { Vec::new() } else { offers };
        let facts: Vec<AssignmentFact> = offers
            .iter()
            .map(|offer| AssignmentFact {
                kind: offer.kind,
                status: AssignmentStatus::Offered,
            })
            .collect();
        let state = derive_state(new.required_kinds(), &facts, false);
        let mut events = vec![PlannedEvent::incident(
            EventKind::IncidentCreated,
            created_detail(&new),
        )];
        events.extend(offers.iter().map(|offer| {
            PlannedEvent::assignment(
                EventKind::AssignmentOffered,
                offer.assignment_id,
                offer.unit_id,
                offered_detail(offer),
            )
        }));
        if state.status != IncidentStatus::Pending {
            events.push(PlannedEvent::incident(
                EventKind::StatusChanged,
                status_changed_detail(IncidentStatus::Pending, state.status),
            ));
        }
        CallPlan {
            id,
            new,
            offers,
            state,
            events,
        }
    }

    /// The kinds this call still waits for once stored (none on hold: a
    /// held call is not dispatched until released).
    pub fn waiting_kinds(&self) -> &[UnitKind] {
        if self.new.hold() {
            &[]
        } else {
            &self.state.pending_kinds
        }
    }
}

/// The timeline's words for a new incident.
pub fn created_detail(new: &NewIncident) -> String {
    let kinds: Vec<&str> = new
        .required_kinds()
        .iter()
        .map(|kind| kind.as_str())
        .collect();
    let hold_note = if new.hold() { ", on hold" } else { "" };
    format!(
        "{} {} needing {}{hold_note}",
        new.priority(),
        new.category(),
        kinds.join(", ")
    )
}

/// The timeline's words for an offer: "AMB-1 (ambulance) offered, 412 m
/// away", and on roads ", 2.4 km by road, about 4 min", and when the unit
/// nearest in a straight line would have arrived later, by how much
/// ("; 9 min sooner than the nearest in a straight line").
pub fn offered_detail(offer: &PlannedOffer) -> String {
    let PlannedOffer {
        call_sign,
        kind,
        distance_m,
        road,
        ..
    } = offer;
    let by_road = road.map_or(String::new(), |leg| format!(", {}", leg.describe()));
    let saved_s = match (road, offer.straight_line_eta_s) {
        (Some(leg), Some(straight)) => straight - leg.eta_s,
        _ => 0.0,
    };
    let saved = if saved_s >= 30.0 {
        format!(
            "; {:.0} min sooner than the nearest in a straight line",
            (saved_s / 60.0).round().max(1.0)
        )
    } else {
        String::new()
    };
    format!("{call_sign} ({kind}) offered, {distance_m:.0} m away{by_road}{saved}")
}

/// The timeline's words for a change of status.
pub fn status_changed_detail(from: IncidentStatus, to: IncidentStatus) -> String {
    format!("{from} -> {to}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GeoPoint, IncidentCategory, IncidentDraft, Priority};

    fn call(kinds: Vec<UnitKind>, hold: bool) -> NewIncident {
        NewIncident::parse(IncidentDraft {
            category: IncidentCategory::TrafficAccident,
            priority: Priority::High,
            location: GeoPoint::new("location", -7.9771, 112.6340).expect("Malang"),
            required_kinds: kinds,
            caller_phone: "",
            caller_id_withheld: true,
            caller_name: "",
            address: "Jl. Ijen",
            description: "",
            request_id: "",
            duplicate_of: "",
            hold,
            call_id: "",
        })
        .expect("a valid call")
    }

    fn offer(kind: UnitKind, call_sign: &str) -> PlannedOffer {
        PlannedOffer {
            assignment_id: AssignmentId::new_random(),
            unit_id: UnitId::new_random(),
            kind,
            call_sign: call_sign.to_owned(),
            distance_m: 412.4,
            road: None,
            straight_line_eta_s: None,
        }
    }

    fn kinds(plan: &CallPlan) -> Vec<EventKind> {
        plan.events.iter().map(|event| event.kind).collect()
    }

    #[test]
    fn a_call_served_at_once_is_dispatched_with_one_offer_event_per_unit() {
        let new = call(vec![UnitKind::Ambulance, UnitKind::Police], false);
        let offers = vec![
            offer(UnitKind::Ambulance, "AMB-1"),
            offer(UnitKind::Police, "POL-1"),
        ];
        let plan = CallPlan::new(IncidentId::new_random(), new, offers);
        assert_eq!(plan.state.status, IncidentStatus::Dispatched);
        assert!(plan.waiting_kinds().is_empty());
        assert_eq!(
            kinds(&plan),
            vec![
                EventKind::IncidentCreated,
                EventKind::AssignmentOffered,
                EventKind::AssignmentOffered,
                EventKind::StatusChanged,
            ]
        );
        assert_eq!(
            plan.events[1].detail,
            "AMB-1 (ambulance) offered, 412 m away"
        );
        assert_eq!(plan.events[3].detail, "pending -> dispatched");
    }

    #[test]
    fn an_offer_on_roads_names_the_road_distance_and_drive_time() {
        let new = call(vec![UnitKind::Ambulance], false);
        let mut on_roads = offer(UnitKind::Ambulance, "AMB-1");
        on_roads.road = Some(Leg {
            eta_s: 250.0,
            distance_m: 2_420.0,
        });
        on_roads.straight_line_eta_s = Some(250.0);
        let plan = CallPlan::new(
            IncidentId::new_random(),
            new.clone(),
            vec![on_roads.clone()],
        );
        assert_eq!(
            plan.events[1].detail,
            "AMB-1 (ambulance) offered, 412 m away, 2.4 km by road, about 4 min"
        );
        // The straight-line rule's unit would have taken 9 minutes more.
        on_roads.straight_line_eta_s = Some(250.0 + 540.0);
        let plan = CallPlan::new(IncidentId::new_random(), new, vec![on_roads]);
        assert_eq!(
            plan.events[1].detail,
            "AMB-1 (ambulance) offered, 412 m away, 2.4 km by road, about 4 min; \
             9 min sooner than the nearest in a straight line"
        );
    }

    #[test]
    fn a_call_without_every_unit_waits_for_the_missing_kinds() {
        let new = call(vec![UnitKind::Ambulance, UnitKind::Police], false);
        let plan = CallPlan::new(
            IncidentId::new_random(),
            new,
            vec![offer(UnitKind::Police, "POL-1")],
        );
        assert_eq!(plan.state.status, IncidentStatus::Pending);
        assert_eq!(plan.waiting_kinds(), &[UnitKind::Ambulance]);
        assert_eq!(
            kinds(&plan),
            vec![EventKind::IncidentCreated, EventKind::AssignmentOffered]
        );
    }

    #[test]
    fn a_held_call_gets_no_unit_and_waits_for_nothing_until_released() {
        let new = call(vec![UnitKind::Ambulance], true);
        let plan = CallPlan::new(
            IncidentId::new_random(),
            new,
            vec![offer(UnitKind::Ambulance, "AMB-1")],
        );
        assert!(plan.offers.is_empty());
        assert_eq!(plan.state.pending_kinds, vec![UnitKind::Ambulance]);
        assert!(plan.waiting_kinds().is_empty());
        assert_eq!(kinds(&plan), vec![EventKind::IncidentCreated]);
        assert!(plan.events[0].detail.ends_with(", on hold"));
    }
}
