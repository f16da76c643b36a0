//! The crews' device: position reports, polling, the offer's life.

use ngalam112_proto::v1 as proto;
use proto::{AssignmentStatus, UnitKind};

use crate::helpers::{TestApp, medical_call, places};

#[tokio::test]
async fn a_crew_polls_its_offer_with_the_incident_and_sees_nothing_when_idle() {
    let app = TestApp::spawn().await;
    let unit = app
        .register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let mut device = app.unit_clients(&unit.id).await.field;
    let poll = proto::PollAssignmentRequest {
        unit_id: unit.id.clone(),
        wait_seconds: 0,
    };

    let idle = device
        .poll_assignment(poll.clone())
        .await
        .expect("poll")
        .into_inner();
    assert!(idle.assignment.is_none() && idle.incident.is_none());

    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    let offered = device
        .poll_assignment(poll.clone())
        .await
        .expect("poll")
        .into_inner();
    let assignment = offered.assignment.expect("an offer");
    assert_eq!(assignment.status(), AssignmentStatus::Offered);
    assert_eq!(assignment.incident_id, incident.id);
    let polled_incident = offered.incident.expect("its incident");
    assert_eq!(polled_incident.address, "Jl. Tugu 1, Klojen");
    assert_eq!(polled_incident.description, "pingsan di depan balai kota");

    device
        .accept_assignment(proto::AcceptAssignmentRequest {
            assignment_id: assignment.id.clone(),
        })
        .await
        .expect("accept");
    device
        .update_assignment_status(proto::UpdateAssignmentStatusRequest {
            assignment_id: assignment.id.clone(),
            status: AssignmentStatus::Completed.into(),
        })
        .await
        .expect("complete");
    let done = device
        .poll_assignment(poll)
        .await
        .expect("poll")
        .into_inner();
    assert!(
        done.assignment.is_none(),
        "a completed assignment is no longer open"
    );
}

#[tokio::test]
async fn accepting_through_update_assignment_status_works_like_accept() {
    let app = TestApp::spawn().await;
    let unit = app
        .register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    let mut device = app.unit_clients(&unit.id).await.field;
    let accepted = device
        .update_assignment_status(proto::UpdateAssignmentStatusRequest {
            assignment_id: incident.assignments[0].id.clone(),
            status: AssignmentStatus::Accepted.into(),
        })
        .await
        .expect("accept")
        .into_inner();
    assert_eq!(accepted.status(), AssignmentStatus::Accepted);
}

#[tokio::test]
async fn a_location_report_moves_the_unit_and_changes_who_is_nearest() {
    let app = TestApp::spawn().await;
    let moving = app
        .register_at("AMB-MOVING", UnitKind::Ambulance, places::UNISMA)
        .await;
    app.register_at("AMB-STILL", UnitKind::Ambulance, places::PANTI_WALUYA)
        .await;
    let before = app.unit(&moving.id).await;

    let mut device = app.unit_clients(&moving.id).await.field;
    let moved = device
        .report_location(proto::ReportLocationRequest {
            unit_id: moving.id.clone(),
            location: Some(proto::GeoPoint {
                lat: places::RSSA.0,
                lon: places::RSSA.1,
            }),
        })
        .await
        .expect("report")
        .into_inner();
    let location = moved.location.expect("location");
    assert_eq!((location.lat, location.lon), places::RSSA);
    let updated_at = |unit: &proto::Unit| {
        let at = unit.location_updated_at.expect("time");
        (at.seconds, at.nanos)
    };
    assert!(updated_at(&moved) > updated_at(&before));

    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    assert_eq!(incident.assignments[0].unit_id, moving.id);
}

#[tokio::test]
async fn a_decline_after_the_offer_deadline_does_not_free_the_unit() {
    let app = TestApp::spawn().await;
    let unit = app
        .register_at("AMB-RSSA-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    let assignment = incident.assignments[0].id.clone();
    // The deadline passes before the offer timer has fired (moved back in
    // time rather than waited for).
    sqlx::query(
        "UPDATE assignments SET offer_deadline = now() - interval '1 second' WHERE id = $1::uuid",
    )
    .bind(&assignment)
    .execute(&app.pool)
    .await
    .expect("pass the deadline");

    let mut crew = app.unit_clients(&unit.id).await;
    let status = crew
        .field
        .decline_assignment(proto::DeclineAssignmentRequest {
            assignment_id: assignment.clone(),
            reason: "terlambat".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    // The offer timer may have seen the passed deadline first ("timed_out");
    // either way the decline changed nothing.
    assert!(
        status.message().contains("expired") || status.message().contains("timed_out"),
        "{}",
        status.message()
    );
    // Rule 4 still applies: the offer is left for the timer, which may time
    // it out at any moment after the decline was refused (the unit then out
    // of service); the late decline never freed the unit.
    let assignment = app.incident(&incident.id).await.assignments[0].clone();
    let unit = app.unit(&unit.id).await;
    match assignment.status() {
        AssignmentStatus::Offered => {
            assert!(status.message().contains("expired"), "{}", status.message());
            assert_eq!(unit.status(), proto::UnitStatus::Assigned);
        }
        AssignmentStatus::TimedOut => assert_eq!(unit.status(), proto::UnitStatus::OutOfService),
        other => panic!("a late decline left the offer {other:?}"),
    }
}
