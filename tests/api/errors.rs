//! Error codes exactly as api.md says: a client's mistake is
//! INVALID_ARGUMENT naming the field, and nothing is stored.

use ngalam112_proto::v1 as proto;
use proto::UnitKind;
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{TestApp, code_of, medical_call, places};

/// The field named in the status's bad-request details.
fn bad_field(status: &tonic::Status) -> Option<String> {
    status
        .get_details_bad_request()
        .and_then(|bad| bad.field_violations.first().map(|v| v.field.clone()))
}

#[tokio::test]
async fn invalid_incidents_are_refused_naming_the_field_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    app.register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let valid = medical_call(places::BALAI_KOTA);
    type Mutation = fn(&mut proto::CreateIncidentRequest);
    let cases: Vec<(&str, Mutation)> = vec![
        ("category", |r| r.category = 0),
        ("category", |r| r.category = 99),
        ("priority", |r| r.priority = 0),
        ("location", |r| r.location = None),
        ("location.lat", |r| {
            r.location = Some(proto::GeoPoint {
                lat: 91.0,
                lon: 112.6,
            })
        }),
        ("location.lat", |r| {
            r.location = Some(proto::GeoPoint {
                lat: f64::NAN,
                lon: 112.6,
            })
        }),
        ("location.lon", |r| {
            r.location = Some(proto::GeoPoint {
                lat: -7.9,
                lon: f64::INFINITY,
            })
        }),
        ("location.lon", |r| {
            r.location = Some(proto::GeoPoint {
                lat: -7.9,
                lon: 181.0,
            })
        }),
        ("required_kinds[1]", |r| {
            r.required_kinds = vec![UnitKind::Ambulance.into(), 0]
        }),
        ("caller_phone", |r| r.caller_phone = "tidak tahu".to_owned()),
        ("caller_name", |r| r.caller_name = "x".repeat(201)),
        ("address", |r| r.address = "x".repeat(201)),
        ("description", |r| r.description = "x".repeat(4_001)),
        ("duplicate_of", |r| r.duplicate_of = "not-a-uuid".to_owned()),
        ("request_id", |r| r.request_id = "r".repeat(201)),
    ];
    let mut incidents = app.operator.incidents.clone();
    for (field, mutate) in cases {
        let mut request = valid.clone();
        mutate(&mut request);
        let status = incidents.create_incident(request).await.expect_err(field);
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{field}: {}",
            status.message()
        );
        assert!(
            status.message().starts_with(field),
            "{field}: message {:?}",
            status.message()
        );
        assert_eq!(bad_field(&status).as_deref(), Some(field));
    }
    assert_eq!(app.count("incidents").await, 0);
    assert_eq!(app.count("assignments").await, 0);
    assert_eq!(app.count("timeline_events").await, 0);
    assert_eq!(app.count("intake_requests").await, 0);

    // The limits themselves are accepted, in any script.
    let mut at_limits = valid.clone();
    at_limits.description = "ꦱ".repeat(4_000);
    at_limits.address = "Jl. Ijen 'No. 5'; DROP TABLE incidents; -- 🚑".to_owned();
    let stored = incidents
        .create_incident(at_limits.clone())
        .await
        .expect("valid")
        .into_inner();
    assert_eq!(stored.address, at_limits.address);
    assert_eq!(stored.description, at_limits.description);
    assert_eq!(stored.caller_phone, "+6281234567890");
}

#[tokio::test]
async fn invalid_unit_and_field_requests_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let unit = app
        .register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let mut units = app.admin.units.clone();
    let register = |call_sign: &str, kind: i32, lat: f64| proto::RegisterUnitRequest {
        call_sign: call_sign.to_owned(),
        kind,
        agency: "PMI".to_owned(),
        location: Some(proto::GeoPoint { lat, lon: 112.6 }),
    };
    for (field, request) in [
        ("call_sign", register("", UnitKind::Police.into(), -7.9)),
        (
            "call_sign",
            register("POL\u{7}1", UnitKind::Police.into(), -7.9),
        ),
        (
            "call_sign",
            register(&"P".repeat(201), UnitKind::Police.into(), -7.9),
        ),
        ("kind", register("POL-9", 0, -7.9)),
        (
            "location.lat",
            register("POL-9", UnitKind::Police.into(), -90.5),
        ),
    ] {
        let status = units.register_unit(request).await.expect_err(field);
        assert_eq!(status.code(), Code::InvalidArgument, "{field}");
        assert_eq!(bad_field(&status).as_deref(), Some(field));
    }
    assert_eq!(app.count("units").await, 1);

    let mut device = app.unit_clients(&unit.id).await.field;
    let status = device
        .poll_assignment(proto::PollAssignmentRequest {
            unit_id: unit.id.clone(),
            wait_seconds: 31,
        })
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), bad_field(&status).as_deref()),
        (Code::InvalidArgument, Some("wait_seconds"))
    );
    let status = device
        .report_location(proto::ReportLocationRequest {
            unit_id: unit.id.clone(),
            location: Some(proto::GeoPoint {
                lat: f64::NAN,
                lon: 0.0,
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&status).as_deref(), Some("location.lat"));
    let status = device
        .update_assignment_status(proto::UpdateAssignmentStatusRequest {
            assignment_id: uuid::Uuid::new_v4().to_string(),
            status: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&status).as_deref(), Some("status"));
    let status = device
        .accept_assignment(proto::AcceptAssignmentRequest {
            assignment_id: "42".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), bad_field(&status).as_deref()),
        (Code::InvalidArgument, Some("assignment_id"))
    );

    let mut incidents = app.operator.incidents.clone();
    let status = incidents
        .list_incidents(proto::ListIncidentsRequest {
            page_size: -1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&status).as_deref(), Some("page_size"));
    let status = incidents
        .list_incidents(proto::ListIncidentsRequest {
            page_token: "garbage".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&status).as_deref(), Some("page_token"));
    let status = incidents
        .get_incident(proto::GetIncidentRequest { id: String::new() })
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), bad_field(&status).as_deref()),
        (Code::InvalidArgument, Some("id"))
    );
}

#[tokio::test]
async fn unknown_ids_are_not_found() {
    let app = TestApp::spawn().await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let mut incidents = app.operator.incidents.clone();
    let mut units = app.operator.units.clone();
    let mut field = app.admin.field.clone();
    let mut duplicate = medical_call(places::BALAI_KOTA);
    duplicate.duplicate_of = unknown.clone();
    // Every RPC that names something by id, with an id nobody has.
    let answers = [
        (
            "GetIncident",
            code_of(
                incidents
                    .get_incident(proto::GetIncidentRequest {
                        id: unknown.clone(),
                    })
                    .await,
            ),
        ),
        (
            "GetIncidentTimeline",
            code_of(
                incidents
                    .get_incident_timeline(proto::GetIncidentTimelineRequest {
                        id: unknown.clone(),
                    })
                    .await,
            ),
        ),
        (
            "CancelIncident",
            code_of(
                incidents
                    .cancel_incident(proto::CancelIncidentRequest {
                        id: unknown.clone(),
                        reason: String::new(),
                        ..Default::default()
                    })
                    .await,
            ),
        ),
        (
            "RecommendUnits",
            code_of(
                incidents
                    .recommend_units(proto::RecommendUnitsRequest {
                        incident_id: unknown.clone(),
                        kind: 0,
                        limit: 0,
                    })
                    .await,
            ),
        ),
        (
            "CreateIncident",
            code_of(incidents.create_incident(duplicate).await),
        ),
        (
            "GetUnit",
            code_of(
                units
                    .get_unit(proto::GetUnitRequest {
                        id: unknown.clone(),
                    })
                    .await,
            ),
        ),
        (
            "SetUnitInService",
            code_of(
                units
                    .set_unit_in_service(proto::SetUnitInServiceRequest {
                        unit_id: unknown.clone(),
                        in_service: false,
                    })
                    .await,
            ),
        ),
        (
            "AcceptAssignment",
            code_of(
                field
                    .accept_assignment(proto::AcceptAssignmentRequest {
                        assignment_id: unknown.clone(),
                    })
                    .await,
            ),
        ),
        (
            "PollAssignment",
            code_of(
                field
                    .poll_assignment(proto::PollAssignmentRequest {
                        unit_id: unknown.clone(),
                        wait_seconds: 0,
                    })
                    .await,
            ),
        ),
        (
            "ReportLocation",
            code_of(
                field
                    .report_location(proto::ReportLocationRequest {
                        unit_id: unknown,
                        location: Some(proto::GeoPoint {
                            lat: -7.9,
                            lon: 112.6,
                        }),
                    })
                    .await,
            ),
        ),
    ];
    assert_eq!(answers.len(), 10);
    for (rpc, code) in answers {
        assert_eq!(code, Code::NotFound, "{rpc}");
    }
}

#[tokio::test]
async fn a_call_sign_in_use_is_already_exists() {
    let app = TestApp::spawn().await;
    app.register_at("AMB-RSSA-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let status = app
        .admin
        .units
        .clone()
        .register_unit(proto::RegisterUnitRequest {
            call_sign: "AMB-RSSA-1".to_owned(),
            kind: UnitKind::Police.into(),
            agency: String::new(),
            location: Some(proto::GeoPoint {
                lat: -7.9,
                lon: 112.6,
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    assert!(status.message().contains("call_sign"));
    assert_eq!(app.count("units").await, 1);
}

#[tokio::test]
async fn illegal_assignment_transitions_are_failed_precondition() {
    let app = TestApp::spawn().await;
    let unit = app
        .register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    let assignment_id = incident.assignments[0].id.clone();
    let mut device = app.unit_clients(&unit.id).await.field;
    let update = |status: proto::AssignmentStatus| proto::UpdateAssignmentStatusRequest {
        assignment_id: assignment_id.clone(),
        status: status.into(),
    };
    use proto::AssignmentStatus::*;
    // Not accepted yet: no progress.
    assert_eq!(
        code_of(device.update_assignment_status(update(EnRoute)).await),
        Code::FailedPrecondition
    );
    device
        .accept_assignment(proto::AcceptAssignmentRequest {
            assignment_id: assignment_id.clone(),
        })
        .await
        .expect("accept");
    // Accepted: cannot accept or decline again.
    assert_eq!(
        code_of(
            device
                .accept_assignment(proto::AcceptAssignmentRequest {
                    assignment_id: assignment_id.clone()
                })
                .await
        ),
        Code::FailedPrecondition
    );
    assert_eq!(
        code_of(
            device
                .decline_assignment(proto::DeclineAssignmentRequest {
                    assignment_id: assignment_id.clone(),
                    reason: String::new()
                })
                .await
        ),
        Code::FailedPrecondition
    );
    device
        .update_assignment_status(update(OnScene))
        .await
        .expect("skip forward");
    // Never back.
    assert_eq!(
        code_of(device.update_assignment_status(update(EnRoute)).await),
        Code::FailedPrecondition
    );
    assert_eq!(
        code_of(device.update_assignment_status(update(OnScene)).await),
        Code::FailedPrecondition
    );
    // Statuses a crew never reports.
    for status in [Declined, TimedOut, Cancelled, Offered] {
        assert_eq!(
            code_of(device.update_assignment_status(update(status)).await),
            Code::InvalidArgument
        );
    }
    device
        .update_assignment_status(update(Completed))
        .await
        .expect("complete");
    assert_eq!(
        code_of(device.update_assignment_status(update(Completed)).await),
        Code::FailedPrecondition
    );
}

#[tokio::test]
async fn a_server_whose_database_is_unreachable_answers_unavailable() {
    let app = TestApp::spawn_without_database().await;
    let mut clients = app.clients_with_token(Some("n112_any"));
    let status = clients
        .incidents
        .create_incident(medical_call(places::BALAI_KOTA))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{}", status.message());

    let mut health = tonic_health::pb::health_client::HealthClient::new(app.channel.clone());
    let answer = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health answers")
        .into_inner();
    assert_eq!(
        answer.status(),
        tonic_health::pb::health_check_response::ServingStatus::NotServing
    );
}

#[tokio::test]
async fn times_beyond_what_the_database_holds_are_bad_requests_not_internal_errors() {
    let app = TestApp::spawn().await;
    let mut incidents = app.operator.incidents.clone();
    let far_past = prost_types::Timestamp {
        seconds: -250_000_000_000,
        nanos: 0,
    };
    let status = incidents
        .get_response_time_report(proto::GetResponseTimeReportRequest {
            since: Some(far_past),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().starts_with("since"),
        "{}",
        status.message()
    );

    let status = incidents
        .list_incidents(proto::ListIncidentsRequest {
            page_token: format!("-250000000000000000_{}", uuid::Uuid::new_v4()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().starts_with("page_token"));

    // An AML fix from long ago (or far in the past) is refused.
    let gateway = app
        .token(ngalam112_store::Role::Gateway)
        .await
        .expect("token");
    let status = app
        .clients_with_token(Some(&gateway))
        .incidents
        .ingest_device_location(proto::IngestDeviceLocationRequest {
            caller_phone: "0812 3456 7890".to_owned(),
            payload: "location_latitude=-7.97&location_longitude=112.63&location_accuracy=20\
                      &location_time=-250000000000000&location_source=gps"
                .to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(app.count("device_fixes").await, 0);
}
