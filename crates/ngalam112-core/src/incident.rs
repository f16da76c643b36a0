//! The incident state machine (dispatch rule 6): an incident's status is
//! derived from its assignments, never set by hand except to close it.

use crate::{AssignmentStatus, IncidentStatus, UnitKind};

/// What the store knows of one assignment when it derives the incident's
/// status.
#[derive(Debug, Clone, Copy)]
pub struct AssignmentFact {
    pub kind: UnitKind,
    pub status: AssignmentStatus,
}

/// An active incident's derived state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedState {
    pub status: IncidentStatus,
    /// Required kinds with neither an open nor a completed assignment, in
    /// the order they were required.
    pub pending_kinds: Vec<UnitKind>,
}

/// Rule 6: PENDING while any required kind has neither an open nor a
/// COMPLETED assignment, DISPATCHED once every kind has one, ON_SCENE once
/// any unit has been on scene (and it stays so until closed).
pub fn derive_state(
    required_kinds: &[UnitKind],
    assignments: &[AssignmentFact],
    ever_on_scene: bool,
) -> DerivedState {
    let pending_kinds: Vec<UnitKind> = required_kinds
        .iter()
        .copied()
        .filter(|kind| {
            !assignments.iter().any(|assignment| {
                assignment.kind == *kind
                    && (assignment.status.is_open()
                        || assignment.status == AssignmentStatus::Completed)
            })
        })
        .collect();
    let status = if ever_on_scene {
        IncidentStatus::OnScene
    } else if pending_kinds.is_empty() {
        IncidentStatus::Dispatched
    } else {
        IncidentStatus::Pending
    };
    DerivedState {
        status,
        pending_kinds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AssignmentStatus::*;
    use UnitKind::*;

    fn fact(kind: UnitKind, status: AssignmentStatus) -> AssignmentFact {
        AssignmentFact { kind, status }
    }

    #[test]
    fn an_incident_without_units_is_pending_for_every_kind() {
        let state = derive_state(&[Ambulance, Police], &[], false);
        assert_eq!(state.status, IncidentStatus::Pending);
        assert_eq!(state.pending_kinds, vec![Ambulance, Police]);
    }

    #[test]
    fn it_is_dispatched_once_every_kind_has_an_open_or_completed_assignment() {
        let state = derive_state(
            &[Ambulance, Police],
            &[fact(Ambulance, Offered), fact(Police, Completed)],
            false,
        );
        assert_eq!(state.status, IncidentStatus::Dispatched);
        assert!(state.pending_kinds.is_empty());
    }

    #[test]
    fn declined_timed_out_and_cancelled_assignments_leave_the_kind_pending() {
        for ended in [Declined, TimedOut, Cancelled] {
            let state = derive_state(&[Ambulance], &[fact(Ambulance, ended)], false);
            assert_eq!(state.pending_kinds, vec![Ambulance], "{ended}");
            assert_eq!(state.status, IncidentStatus::Pending);
        }
    }

    #[test]
    fn on_scene_sticks_even_while_another_kind_waits() {
        let state = derive_state(&[Ambulance, Police], &[fact(Ambulance, Completed)], true);
        assert_eq!(state.status, IncidentStatus::OnScene);
        assert_eq!(state.pending_kinds, vec![Police]);
    }
}
