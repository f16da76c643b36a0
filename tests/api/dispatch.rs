//! Dispatch rules 1, 2, 3, 5, 6 and 7 of api.md, end to end.

use ngalam112_proto::v1 as proto;
use proto::{AssignmentStatus, IncidentStatus, UnitKind, UnitStatus};

use crate::helpers::{TestApp, great_circle_m, medical_call, places};

async fn accept(app: &TestApp, assignment: &proto::Assignment) -> proto::Assignment {
    let mut field = app.unit_clients(&assignment.unit_id).await.field;
    field
        .accept_assignment(proto::AcceptAssignmentRequest {
            assignment_id: assignment.id.clone(),
        })
        .await
        .expect("accept")
        .into_inner()
}

async fn progress(
    app: &TestApp,
    assignment: &proto::Assignment,
    status: AssignmentStatus,
) -> proto::Assignment {
    let mut field = app.unit_clients(&assignment.unit_id).await.field;
    field
        .update_assignment_status(proto::UpdateAssignmentStatusRequest {
            assignment_id: assignment.id.clone(),
            status: status.into(),
        })
        .await
        .expect("progress")
        .into_inner()
}

#[tokio::test]
async fn nearest_available_ambulance_gets_the_offer_with_its_great_circle_distance() {
    let app = TestApp::spawn().await;
    let far = app
        .register_at("AMB-UNISMA-1", UnitKind::Ambulance, places::UNISMA)
        .await;
    let near = app
        .register_at("AMB-RSSA-1", UnitKind::Ambulance, places::RSSA)
        .await;

    let incident = app.create(medical_call(places::BALAI_KOTA)).await;

    assert_eq!(incident.status(), IncidentStatus::Dispatched);
    assert_eq!(incident.assignments.len(), 1);
    let offer = &incident.assignments[0];
    assert_eq!(offer.unit_id, near.id);
    assert_eq!(offer.unit_call_sign, "AMB-RSSA-1");
    assert_eq!(offer.status(), AssignmentStatus::Offered);
    let expected = great_circle_m(places::RSSA, places::BALAI_KOTA);
    assert!(
        (offer.distance_m - expected).abs() / expected < 0.01,
        "distance {} vs great-circle {expected}",
        offer.distance_m
    );
    // Run on roads (scripts/test.sh: NGALAM112_TEST_ROADS=grid), the same
    // unit is offered with its drive, never shorter than the straight line.
    if std::env::var_os("NGALAM112_TEST_ROADS").is_some() {
        assert!(
            offer.eta_s > 0.0 && offer.road_distance_m > expected,
            "{offer:?}"
        );
    } else {
        assert_eq!((offer.eta_s, offer.road_distance_m), (0.0, 0.0));
    }
    let near_now = app.unit(&near.id).await;
    assert_eq!(near_now.status(), UnitStatus::Assigned);
    assert_eq!(near_now.current_assignment_id, offer.id);
    assert_eq!(app.unit(&far.id).await.status(), UnitStatus::Available);
}

#[tokio::test]
async fn a_traffic_accident_gets_an_ambulance_and_a_police_unit_by_default() {
    let app = TestApp::spawn().await;
    app.register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    app.register_at("POL-1", UnitKind::Police, places::POLRESTA)
        .await;
    app.register_at("DMK-1", UnitKind::FireEngine, places::DAMKAR)
        .await;

    let mut call = medical_call(places::BALAI_KOTA);
    call.category = proto::IncidentCategory::TrafficAccident.into();
    let incident = app.create(call).await;

    let mut kinds: Vec<UnitKind> = incident.assignments.iter().map(|a| a.unit_kind()).collect();
    kinds.sort();
    assert_eq!(kinds, vec![UnitKind::Ambulance, UnitKind::Police]);
    assert_eq!(
        incident.required_kinds().collect::<Vec<_>>(),
        vec![UnitKind::Ambulance, UnitKind::Police]
    );
    assert_eq!(incident.status(), IncidentStatus::Dispatched);
}

#[tokio::test]
async fn a_kind_without_units_leaves_the_incident_pending_for_that_kind_only() {
    let app = TestApp::spawn().await;
    app.register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;

    let mut call = medical_call(places::BALAI_KOTA);
    call.category = proto::IncidentCategory::Disaster.into(); // RESCUE + AMBULANCE
    let incident = app.create(call).await;

    assert_eq!(incident.status(), IncidentStatus::Pending);
    assert_eq!(incident.assignments.len(), 1);
    assert_eq!(incident.assignments[0].unit_kind(), UnitKind::Ambulance);
    assert_eq!(
        incident.pending_kinds().collect::<Vec<_>>(),
        vec![UnitKind::Rescue]
    );

    // Rule 5: a rescue unit registering serves the waiting need at once.
    let rescue = app
        .register_at("SAR-1", UnitKind::Rescue, places::DAMKAR)
        .await;
    let incident = app.incident(&incident.id).await;
    assert_eq!(incident.status(), IncidentStatus::Dispatched);
    assert!(incident.assignments.iter().any(|a| a.unit_id == rescue.id));
}

#[tokio::test]
async fn explicit_required_kinds_override_the_category_default() {
    let app = TestApp::spawn().await;
    app.register_at("DMK-1", UnitKind::FireEngine, places::DAMKAR)
        .await;
    let mut call = medical_call(places::BALAI_KOTA);
    call.required_kinds = vec![UnitKind::FireEngine.into(), UnitKind::FireEngine.into()];
    let incident = app.create(call).await;
    assert_eq!(
        incident.required_kinds().collect::<Vec<_>>(),
        vec![UnitKind::FireEngine]
    );
    assert_eq!(incident.assignments.len(), 1);
    assert_eq!(incident.assignments[0].unit_kind(), UnitKind::FireEngine);
}

#[tokio::test]
async fn a_held_incident_is_stored_but_not_dispatched_until_a_dispatcher_assigns() {
    let app = TestApp::spawn().await;
    let unit = app
        .register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let mut call = medical_call(places::BALAI_KOTA);
    call.hold = true;
    let incident = app.create(call).await;
    assert_eq!(incident.status(), IncidentStatus::Pending);
    assert!(incident.hold);
    assert!(incident.assignments.is_empty());
    assert_eq!(app.unit(&unit.id).await.status(), UnitStatus::Available);

    let assignment = app
        .operator
        .incidents
        .clone()
        .assign_unit(proto::AssignUnitRequest {
            incident_id: incident.id.clone(),
            unit_id: unit.id.clone(),
        })
        .await
        .expect("assign")
        .into_inner();
    assert_eq!(assignment.status(), AssignmentStatus::Offered);
    assert_eq!(
        app.incident(&incident.id).await.status(),
        IncidentStatus::Dispatched
    );
}

#[tokio::test]
async fn equally_near_units_go_to_the_one_idle_longest() {
    let app = TestApp::spawn().await;
    let first = app
        .register_at("AMB-A", UnitKind::Ambulance, places::RSSA)
        .await;
    let second = app
        .register_at("AMB-B", UnitKind::Ambulance, places::RSSA)
        .await;
    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    assert_eq!(incident.assignments[0].unit_id, first.id);
    // The first comes back: now the second has been idle longer.
    let done = accept(&app, &incident.assignments[0]).await;
    progress(&app, &done, AssignmentStatus::Completed).await;
    let next = app.create(medical_call(places::BALAI_KOTA)).await;
    assert_eq!(next.assignments[0].unit_id, second.id);
}

#[tokio::test]
async fn a_declined_offer_goes_at_once_to_the_next_nearest_unit_never_back_to_the_decliner() {
    let app = TestApp::spawn().await;
    let near = app
        .register_at("AMB-NEAR", UnitKind::Ambulance, places::RSSA)
        .await;
    let next = app
        .register_at("AMB-NEXT", UnitKind::Ambulance, places::PANTI_WALUYA)
        .await;
    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    let offer = incident.assignments[0].clone();
    assert_eq!(offer.unit_id, near.id);

    let mut near_device = app.unit_clients(&near.id).await.field;
    let declined = near_device
        .decline_assignment(proto::DeclineAssignmentRequest {
            assignment_id: offer.id.clone(),
            reason: "ban bocor".to_owned(),
        })
        .await
        .expect("decline")
        .into_inner();
    assert_eq!(declined.status(), AssignmentStatus::Declined);

    let incident = app.incident(&incident.id).await;
    let open: Vec<_> = incident
        .assignments
        .iter()
        .filter(|a| a.status() == AssignmentStatus::Offered)
        .collect();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].unit_id, next.id);
    assert_eq!(app.unit(&near.id).await.status(), UnitStatus::Available);

    // The second unit declines too: the decliner is not asked again, so the
    // incident waits.
    let mut next_device = app.unit_clients(&next.id).await.field;
    next_device
        .decline_assignment(proto::DeclineAssignmentRequest {
            assignment_id: open[0].id.clone(),
            reason: String::new(),
        })
        .await
        .expect("decline");
    let incident = app.incident(&incident.id).await;
    assert_eq!(incident.status(), IncidentStatus::Pending);
    assert_eq!(app.unit(&near.id).await.status(), UnitStatus::Available);
    assert_eq!(app.unit(&next.id).await.status(), UnitStatus::Available);
    let kinds = app.timeline_kinds(&incident.id).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "assignment_declined").count(),
        2
    );
}

#[tokio::test]
async fn a_freed_unit_serves_the_most_urgent_then_oldest_waiting_incident() {
    let app = TestApp::spawn().await;
    let unit = app
        .register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let busy = app.create(medical_call(places::BALAI_KOTA)).await;
    let offer = busy.assignments[0].clone();

    let mut low = medical_call(places::RSSA);
    low.priority = proto::Priority::Low.into();
    let low = app.create(low).await;
    let mut critical_old = medical_call(places::UNISMA);
    critical_old.priority = proto::Priority::Critical.into();
    let critical_old = app.create(critical_old).await;
    let mut critical_new = medical_call(places::RSSA);
    critical_new.priority = proto::Priority::Critical.into();
    let critical_new = app.create(critical_new).await;
    for waiting in [&low, &critical_old, &critical_new] {
        assert_eq!(waiting.status(), IncidentStatus::Pending);
    }

    let accepted = accept(&app, &offer).await;
    progress(&app, &accepted, AssignmentStatus::Completed).await;

    let served = app.incident(&critical_old.id).await;
    assert_eq!(
        served.status(),
        IncidentStatus::Dispatched,
        "oldest critical first"
    );
    assert_eq!(served.assignments[0].unit_id, unit.id);
    assert_eq!(
        app.incident(&critical_new.id).await.status(),
        IncidentStatus::Pending
    );
    assert_eq!(
        app.incident(&low.id).await.status(),
        IncidentStatus::Pending
    );
}

#[tokio::test]
async fn a_unit_free_while_a_call_waits_goes_to_that_call_before_a_newer_nearer_one() {
    let app = TestApp::spawn().await;
    let waiting = app.create(medical_call(places::UNISMA)).await;
    assert_eq!(
        waiting.status(),
        IncidentStatus::Pending,
        "no ambulance yet"
    );
    // An ambulance becomes free with no transaction settling the queue (as
    // if the process that freed it died before its second pass), right
    // beside where the next call comes from.
    let (lat, lon) = places::RSSA;
    sqlx::query(
        "INSERT INTO units (id, call_sign, kind, agency, status, lat, lon, \
           location_updated_at, available_since) \
         VALUES (gen_random_uuid(), 'AMB-FREED', 'ambulance', 'test', 'available', $1, $2, \
           now(), now())",
    )
    .bind(lat)
    .bind(lon)
    .execute(&app.pool)
    .await
    .expect("a free ambulance");

    let newer = app.create(medical_call(places::RSSA)).await;

    assert_eq!(
        newer.status(),
        IncidentStatus::Pending,
        "the newer call waits: {newer:?}"
    );
    assert!(newer.assignments.is_empty());
    let served = app.incident(&waiting.id).await;
    assert_eq!(served.status(), IncidentStatus::Dispatched, "{served:?}");
    assert_eq!(served.assignments[0].unit_call_sign, "AMB-FREED");
}

#[tokio::test]
async fn the_incident_follows_its_units_from_dispatched_to_on_scene_and_a_completed_kind_is_not_sent_again()
 {
    let app = TestApp::spawn().await;
    let first = app
        .register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    app.register_at("AMB-2", UnitKind::Ambulance, places::UNISMA)
        .await;
    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    let offer = incident.assignments[0].clone();
    assert_eq!(offer.unit_id, first.id);

    let accepted = accept(&app, &offer).await;
    assert_eq!(accepted.status(), AssignmentStatus::Accepted);
    assert_eq!(
        progress(&app, &accepted, AssignmentStatus::EnRoute)
            .await
            .status(),
        AssignmentStatus::EnRoute
    );
    assert_eq!(
        app.incident(&incident.id).await.status(),
        IncidentStatus::Dispatched
    );
    progress(&app, &accepted, AssignmentStatus::OnScene).await;
    assert_eq!(
        app.incident(&incident.id).await.status(),
        IncidentStatus::OnScene
    );

    progress(&app, &accepted, AssignmentStatus::Completed).await;
    let incident = app.incident(&incident.id).await;
    assert_eq!(
        incident.status(),
        IncidentStatus::OnScene,
        "on scene stays until closed"
    );
    assert_eq!(
        incident.assignments.len(),
        1,
        "a completed kind is never re-dispatched"
    );
    assert_eq!(app.unit(&first.id).await.status(), UnitStatus::Available);

    let kinds = app.timeline_kinds(&incident.id).await;
    for expected in [
        "incident_created",
        "assignment_offered",
        "status_changed",
        "assignment_accepted",
        "assignment_en_route",
        "assignment_on_scene",
        "assignment_completed",
    ] {
        assert!(
            kinds.iter().any(|k| k == expected),
            "{expected} missing from {kinds:?}"
        );
    }
}

#[tokio::test]
async fn cancelling_frees_every_unit_and_the_freed_unit_serves_the_next_waiting_call() {
    let app = TestApp::spawn().await;
    let unit = app
        .register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let first = app.create(medical_call(places::BALAI_KOTA)).await;
    let waiting = app.create(medical_call(places::UNISMA)).await;
    assert_eq!(waiting.status(), IncidentStatus::Pending);

    let cancelled = app
        .operator
        .incidents
        .clone()
        .cancel_incident(proto::CancelIncidentRequest {
            id: first.id.clone(),
            reason: "panggilan iseng".to_owned(),
            ..Default::default()
        })
        .await
        .expect("cancel")
        .into_inner();
    assert_eq!(cancelled.status(), IncidentStatus::Cancelled);
    assert_eq!(
        cancelled.assignments[0].status(),
        AssignmentStatus::Cancelled
    );
    assert!(cancelled.resolved_at.is_some());

    let waiting = app.incident(&waiting.id).await;
    assert_eq!(waiting.status(), IncidentStatus::Dispatched);
    assert_eq!(waiting.assignments[0].unit_id, unit.id);
}

#[tokio::test]
async fn resolving_completes_open_assignments_and_closed_incidents_refuse_every_change() {
    let app = TestApp::spawn().await;
    let unit = app
        .register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let spare = app
        .register_at("AMB-2", UnitKind::Ambulance, places::UNISMA)
        .await;
    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    let accepted = accept(&app, &incident.assignments[0]).await;
    let mut incidents = app.operator.incidents.clone();

    let resolved = incidents
        .resolve_incident(proto::ResolveIncidentRequest {
            id: incident.id.clone(),
            resolution: "dibawa ke RSSA".to_owned(),
            ..Default::default()
        })
        .await
        .expect("resolve")
        .into_inner();
    assert_eq!(resolved.status(), IncidentStatus::Resolved);
    assert_eq!(resolved.resolution, "dibawa ke RSSA");
    assert_eq!(
        resolved.assignments[0].status(),
        AssignmentStatus::Completed
    );
    assert_eq!(app.unit(&unit.id).await.status(), UnitStatus::Available);

    // Rule 7: final.
    use crate::helpers::code_of as code;
    let failed = tonic::Code::FailedPrecondition;
    assert_eq!(
        code(
            incidents
                .cancel_incident(proto::CancelIncidentRequest {
                    id: incident.id.clone(),
                    reason: String::new(),
                    ..Default::default()
                })
                .await
        ),
        failed
    );
    assert_eq!(
        code(
            incidents
                .resolve_incident(proto::ResolveIncidentRequest {
                    id: incident.id.clone(),
                    resolution: String::new(),
                    ..Default::default()
                })
                .await
        ),
        failed
    );
    assert_eq!(
        code(
            incidents
                .assign_unit(proto::AssignUnitRequest {
                    incident_id: incident.id.clone(),
                    unit_id: spare.id.clone()
                })
                .await
        ),
        failed
    );
    let mut device = app.unit_clients(&unit.id).await.field;
    assert_eq!(
        code(
            device
                .update_assignment_status(proto::UpdateAssignmentStatusRequest {
                    assignment_id: accepted.id.clone(),
                    status: AssignmentStatus::OnScene.into(),
                })
                .await
        ),
        failed
    );
    let mut duplicate = medical_call(places::BALAI_KOTA);
    duplicate.duplicate_of = incident.id.clone();
    assert_eq!(code(incidents.create_incident(duplicate).await), failed);
    assert_eq!(app.unit(&spare.id).await.status(), UnitStatus::Available);
}

#[tokio::test]
async fn an_out_of_service_unit_is_never_offered_and_serves_the_queue_when_back() {
    let app = TestApp::spawn().await;
    let unit = app
        .register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let mut units = app.operator.units.clone();
    let out = units
        .set_unit_in_service(proto::SetUnitInServiceRequest {
            unit_id: unit.id.clone(),
            in_service: false,
        })
        .await
        .expect("out of service")
        .into_inner();
    assert_eq!(out.status(), UnitStatus::OutOfService);

    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    assert_eq!(incident.status(), IncidentStatus::Pending);
    assert!(incident.assignments.is_empty());

    let back = units
        .set_unit_in_service(proto::SetUnitInServiceRequest {
            unit_id: unit.id.clone(),
            in_service: true,
        })
        .await
        .expect("back in service")
        .into_inner();
    assert_eq!(
        back.status(),
        UnitStatus::Assigned,
        "it took the waiting call at once"
    );
    let incident = app.incident(&incident.id).await;
    assert_eq!(incident.status(), IncidentStatus::Dispatched);
    assert_eq!(back.current_assignment_id, incident.assignments[0].id);
}

#[tokio::test]
async fn a_unit_with_an_open_assignment_cannot_go_out_of_service_or_take_a_second_call() {
    let app = TestApp::spawn().await;
    let unit = app
        .register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let first = app.create(medical_call(places::BALAI_KOTA)).await;
    assert_eq!(first.assignments[0].unit_id, unit.id);
    let second = app.create(medical_call(places::BALAI_KOTA)).await;

    let error = app
        .operator
        .units
        .clone()
        .set_unit_in_service(proto::SetUnitInServiceRequest {
            unit_id: unit.id.clone(),
            in_service: false,
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), tonic::Code::FailedPrecondition);

    let error = app
        .operator
        .incidents
        .clone()
        .assign_unit(proto::AssignUnitRequest {
            incident_id: second.id.clone(),
            unit_id: unit.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), tonic::Code::FailedPrecondition);
    assert!(
        error.message().contains("not available"),
        "{}",
        error.message()
    );
}

#[tokio::test]
async fn postgres_itself_refuses_a_second_open_assignment_for_a_unit() {
    let app = TestApp::spawn().await;
    let unit = app
        .register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    let result = sqlx::query(
        "INSERT INTO assignments (id, incident_id, unit_id, unit_kind, status, distance_m) \
         VALUES (gen_random_uuid(), $1::uuid, $2::uuid, 'ambulance', 'offered', 1)",
    )
    .bind(&incident.id)
    .bind(&unit.id)
    .execute(&app.pool)
    .await;
    let error = result.expect_err("the partial unique index refuses it");
    let constraint = error
        .as_database_error()
        .and_then(|e| e.constraint().map(str::to_owned));
    assert_eq!(constraint.as_deref(), Some("one_open_assignment_per_unit"));
}
