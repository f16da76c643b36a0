//! Tokens and transport: revocation on every server, the timeline's actor,
//! TLS, the request size limit. (Every RPC × every caller: `roles`.)

use ngalam112::ServerConfig;
use ngalam112::server::TlsIdentity;
use ngalam112_proto::v1 as proto;
use ngalam112_store::Role;
use proto::UnitKind;
use tonic::Code;

use crate::helpers::{
    TEST_SERVER_CERT_PEM, TEST_SERVER_KEY_PEM, TestApp, code_of, connect_as, medical_call, places,
};

#[tokio::test]
async fn a_revoked_token_stops_working_on_the_next_call_on_every_server() {
    let app = TestApp::spawn().await;
    let other_server = app
        .another_server(ngalam112_store::StoreConfig::default())
        .await;
    let (secret, record) = ngalam112::auth::issue_token(&app.store, Role::Operator)
        .await
        .expect("token");
    let mut here = app.clients_with_token(Some(&secret));
    let mut there = other_server.clients_with_token(Some(&secret));
    here.units
        .list_units(proto::ListUnitsRequest::default())
        .await
        .expect("works");
    there
        .units
        .list_units(proto::ListUnitsRequest::default())
        .await
        .expect("works");

    app.store.revoke_token(record.id).await.expect("revoke");

    for clients in [&mut here, &mut there] {
        let status = clients
            .units
            .list_units(proto::ListUnitsRequest::default())
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }
}

#[tokio::test]
async fn the_timeline_names_the_token_that_made_each_change_never_its_secret() {
    let app = TestApp::spawn().await;
    let unit = app
        .register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let (secret, record) = ngalam112::auth::issue_token(&app.store, Role::Operator)
        .await
        .expect("token");
    let mut operator = app.clients_with_token(Some(&secret));
    let incident = operator
        .incidents
        .create_incident(medical_call(places::BALAI_KOTA))
        .await
        .expect("create")
        .into_inner();
    let mut device = app.unit_clients(&unit.id).await.field;
    device
        .accept_assignment(proto::AcceptAssignmentRequest {
            assignment_id: incident.assignments[0].id.clone(),
        })
        .await
        .expect("accept");
    let events = operator
        .incidents
        .get_incident_timeline(proto::GetIncidentTimelineRequest {
            id: incident.id.clone(),
        })
        .await
        .expect("timeline")
        .into_inner()
        .events;
    assert_eq!(events[0].actor, format!("operator:{}", record.id));
    let accepted = events
        .iter()
        .find(|e| e.kind == "assignment_accepted")
        .expect("accepted event");
    assert!(accepted.actor.starts_with("unit:"), "{}", accepted.actor);
    assert!(
        events
            .iter()
            .all(|e| !e.actor.contains(&secret) && !e.detail.contains(&secret))
    );
}

#[tokio::test]
async fn tls_clients_with_the_ca_connect_and_plaintext_clients_do_not() {
    let app = TestApp::spawn_with_server_config(ServerConfig {
        tls: Some(TlsIdentity {
            certificate_pem: TEST_SERVER_CERT_PEM.to_vec(),
            private_key_pem: TEST_SERVER_KEY_PEM.to_vec(),
        }),
        ..ServerConfig::default()
    })
    .await;
    // app's own clients speak TLS, trusting the test CA.
    app.operator
        .units
        .clone()
        .list_units(proto::ListUnitsRequest::default())
        .await
        .expect("TLS call works");

    let plaintext = tonic::transport::Channel::from_shared(format!("http://{}", app.address))
        .expect("uri")
        .connect()
        .await;
    let refused = match plaintext {
        Err(_) => true,
        Ok(channel) => connect_as(channel, Some("n112_x"))
            .units
            .list_units(proto::ListUnitsRequest::default())
            .await
            .is_err(),
    };
    assert!(refused, "plaintext must not reach a TLS server");
}

#[tokio::test]
async fn a_request_over_the_size_limit_is_refused_without_touching_the_database() {
    let app = TestApp::spawn().await;
    let mut call = medical_call(places::BALAI_KOTA);
    call.description = "x".repeat(70 * 1024);
    let status = app
        .operator
        .incidents
        .clone()
        .create_incident(call)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{}", status.message());
    assert_eq!(app.count("incidents").await, 0);
}

#[tokio::test]
async fn calls_without_a_valid_token_or_role_are_refused() {
    let app = TestApp::spawn().await;
    let unit = app
        .register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let other = app
        .register_at("AMB-2", UnitKind::Ambulance, places::UNISMA)
        .await;

    let mut anonymous = app.clients_with_token(None);
    assert_eq!(
        code_of(
            anonymous
                .units
                .list_units(proto::ListUnitsRequest::default())
                .await
        ),
        Code::Unauthenticated
    );
    let mut forged = app.clients_with_token(Some("n112_forged"));
    assert_eq!(
        code_of(
            forged
                .units
                .list_units(proto::ListUnitsRequest::default())
                .await
        ),
        Code::Unauthenticated
    );

    let mut operator = app.operator.clone();
    assert_eq!(
        code_of(
            operator
                .units
                .register_unit(proto::RegisterUnitRequest {
                    call_sign: "X".to_owned(),
                    kind: UnitKind::Police.into(),
                    agency: String::new(),
                    location: Some(proto::GeoPoint {
                        lat: -7.9,
                        lon: 112.6
                    }),
                })
                .await
        ),
        Code::PermissionDenied
    );
    assert_eq!(
        code_of(
            operator
                .field
                .poll_assignment(proto::PollAssignmentRequest {
                    unit_id: unit.id.clone(),
                    wait_seconds: 0
                })
                .await
        ),
        Code::PermissionDenied
    );
    let mut device = app.unit_clients(&unit.id).await;
    assert_eq!(
        code_of(
            device
                .field
                .poll_assignment(proto::PollAssignmentRequest {
                    unit_id: other.id.clone(),
                    wait_seconds: 0
                })
                .await
        ),
        Code::PermissionDenied,
        "a unit token naming another unit"
    );
    assert_eq!(
        code_of(
            device
                .incidents
                .list_incidents(proto::ListIncidentsRequest::default())
                .await
        ),
        Code::PermissionDenied
    );
    // Another unit's assignment.
    let incident = app.create(medical_call(places::UNISMA)).await;
    assert_eq!(incident.assignments[0].unit_id, other.id);
    assert_eq!(
        code_of(
            device
                .field
                .accept_assignment(proto::AcceptAssignmentRequest {
                    assignment_id: incident.assignments[0].id.clone()
                })
                .await
        ),
        Code::PermissionDenied
    );
}

#[tokio::test]
async fn the_bearer_scheme_is_matched_in_any_case() {
    let app = TestApp::spawn().await;
    let token = app
        .token(ngalam112_store::Role::Operator)
        .await
        .expect("token");
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let mut request = tonic::Request::new(proto::ListUnitsRequest::default());
        request.metadata_mut().insert(
            "authorization",
            format!("{scheme} {token}").parse().expect("header"),
        );
        let mut units =
            ngalam112_proto::v1::unit_service_client::UnitServiceClient::new(app.channel.clone());
        assert!(units.list_units(request).await.is_ok(), "{scheme}");
    }
}
