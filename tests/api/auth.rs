//! Who may do what: every RPC × every kind of caller, revocation, TLS.

use ngalam112::ServerConfig;
use ngalam112::server::TlsIdentity;
use ngalam112_core::UnitId;
use ngalam112_proto::v1 as proto;
use ngalam112_store::Role;
use proto::{AssignmentStatus, UnitKind};
use tonic::Code;

use crate::helpers::{
    Clients, TEST_SERVER_CERT_PEM, TEST_SERVER_KEY_PEM, TestApp, connect_as, medical_call, places,
};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Admin,
    Operator,
    OwnUnit,
    OtherUnit,
    NoToken,
    BadToken,
    RevokedToken,
    Gateway,
    Agency,
    /// An operator logged in with a password.
    OperatorSession,
}

const EVERYONE: [Who; 10] = [
    Who::Admin,
    Who::Operator,
    Who::OwnUnit,
    Who::OtherUnit,
    Who::NoToken,
    Who::BadToken,
    Who::RevokedToken,
    Who::Gateway,
    Who::Agency,
    Who::OperatorSession,
];

/// What an RPC answers each caller: `allowed` is the code for callers the
/// role table lets in (fixed by the request's state), the rest are
/// refused.
fn expected(who: Who, allowed_roles: &[Who], allowed: Code) -> Code {
    match who {
        Who::NoToken | Who::BadToken | Who::RevokedToken => Code::Unauthenticated,
        who if allowed_roles.contains(&who) => allowed,
        _ => Code::PermissionDenied,
    }
}

fn code<T>(result: Result<tonic::Response<T>, tonic::Status>) -> Code {
    match result {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

#[tokio::test]
async fn every_rpc_answers_every_kind_of_caller_with_the_exact_code() {
    let app = TestApp::spawn().await;
    let own = app
        .register_at("AMB-OWN", UnitKind::Ambulance, places::RSSA)
        .await;
    let other = app
        .register_at("POL-OTHER", UnitKind::Police, places::POLRESTA)
        .await;
    let spare = app
        .register_at("DMK-SPARE", UnitKind::FireEngine, places::DAMKAR)
        .await;
    app.operator
        .units
        .clone()
        .set_unit_in_service(proto::SetUnitInServiceRequest {
            unit_id: spare.id.clone(),
            in_service: false,
        })
        .await
        .expect("spare out of service");
    // An incident whose ambulance assignment (the own unit's) is completed.
    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    let assignment = incident.assignments[0].id.clone();
    let mut own_device = app.unit_clients(&own.id).await.field;
    own_device
        .accept_assignment(proto::AcceptAssignmentRequest {
            assignment_id: assignment.clone(),
        })
        .await
        .expect("accept");
    own_device
        .update_assignment_status(proto::UpdateAssignmentStatusRequest {
            assignment_id: assignment.clone(),
            status: AssignmentStatus::Completed.into(),
        })
        .await
        .expect("complete");

    let revoked = {
        let (secret, record) = ngalam112::auth::issue_token(&app.store, Role::Admin)
            .await
            .expect("token");
        app.store.revoke_token(record.id).await.expect("revoke");
        secret
    };
    let unit_token = |unit: &str| {
        let unit = UnitId::parse("unit_id", unit).expect("id");
        ngalam112::auth::issue_token(&app.store, Role::Unit(unit))
    };
    let own_token = unit_token(&own.id).await.expect("token").0;
    let other_token = unit_token(&other.id).await.expect("token").0;
    let admin_token = app.token(Role::Admin).await.expect("token");
    let gateway_token = app.token(Role::Gateway).await.expect("token");
    let operator_token = app.token(Role::Operator).await.expect("token");
    let agency = app.agency("PLN").await;
    let agency_token = app.token(Role::Agency(agency)).await.expect("token");
    app.add_user("sri", Role::Operator, "kopi-tubruk-2026")
        .await;
    app.add_user("joko", Role::Operator, "rawon-setan-2026")
        .await;
    let session = app
        .login("sri", "kopi-tubruk-2026")
        .await
        .expect("login")
        .token;

    let mut checked = 0;
    for who in EVERYONE {
        let token = match who {
            Who::Admin => Some(admin_token.as_str()),
            Who::Operator => Some(operator_token.as_str()),
            Who::OwnUnit => Some(own_token.as_str()),
            Who::OtherUnit => Some(other_token.as_str()),
            Who::NoToken => None,
            Who::BadToken => {
                Some("n112_0000000000000000000000000000000000000000000000000000000000000000")
            }
            Who::RevokedToken => Some(revoked.as_str()),
            Who::Gateway => Some(gateway_token.as_str()),
            Who::Agency => Some(agency_token.as_str()),
            Who::OperatorSession => Some(session.as_str()),
        };
        let Clients {
            mut incidents,
            mut units,
            mut field,
            mut auth,
            mut callers,
            mut cameras,
            mut agencies,
            mut public,
        } = app.clients_with_token(token);
        // AuthService: Login is open to all (whatever token comes with it).
        let login = auth
            .login(proto::LoginRequest {
                username: "joko".to_owned(),
                password: "rawon-setan-2026".to_owned(),
            })
            .await;
        assert_eq!(code(login), Code::Ok, "Login as {who:?}");
        checked += 1;
        // PublicService: anyone, even with a bad or revoked token.
        let stats = public
            .get_public_stats(proto::GetPublicStatsRequest::default())
            .await;
        assert_eq!(code(stats), Code::Ok, "GetPublicStats as {who:?}");
        checked += 1;

        let staff = [Who::Admin, Who::Operator, Who::OperatorSession];
        let anyone_known = [
            Who::Admin,
            Who::Operator,
            Who::OwnUnit,
            Who::OtherUnit,
            Who::Gateway,
            Who::Agency,
            Who::OperatorSession,
        ];
        let crew = [Who::Admin, Who::OwnUnit];
        let mut expect = |rpc: &str, got: Code, roles: &[Who], allowed: Code| {
            assert_eq!(got, expected(who, roles, allowed), "{rpc} as {who:?}");
            checked += 1;
        };

        // IncidentService: staff only.
        let mut held = medical_call(places::BALAI_KOTA);
        held.hold = true;
        expect(
            "CreateIncident",
            code(incidents.create_incident(held).await),
            &staff,
            Code::Ok,
        );
        expect(
            "GetIncident",
            code(
                incidents
                    .get_incident(proto::GetIncidentRequest {
                        id: incident.id.clone(),
                    })
                    .await,
            ),
            &staff,
            Code::Ok,
        );
        expect(
            "ListIncidents",
            code(
                incidents
                    .list_incidents(proto::ListIncidentsRequest::default())
                    .await,
            ),
            &staff,
            Code::Ok,
        );
        expect(
            "FindNearbyIncidents",
            code(
                incidents
                    .find_nearby_incidents(proto::FindNearbyIncidentsRequest {
                        location: Some(proto::GeoPoint {
                            lat: places::BALAI_KOTA.0,
                            lon: places::BALAI_KOTA.1,
                        }),
                        radius_m: 300.0,
                        category: 0,
                    })
                    .await,
            ),
            &staff,
            Code::Ok,
        );
        expect(
            "RecommendUnits",
            code(
                incidents
                    .recommend_units(proto::RecommendUnitsRequest {
                        incident_id: incident.id.clone(),
                        kind: 0,
                        limit: 0,
                    })
                    .await,
            ),
            &staff,
            Code::Ok,
        );
        expect(
            "AssignUnit",
            code(
                incidents
                    .assign_unit(proto::AssignUnitRequest {
                        incident_id: incident.id.clone(),
                        unit_id: spare.id.clone(),
                    })
                    .await,
            ),
            &staff,
            Code::FailedPrecondition, // the spare is out of service
        );
        expect(
            "CancelIncident",
            code(
                incidents
                    .cancel_incident(proto::CancelIncidentRequest {
                        id: uuid::Uuid::new_v4().to_string(),
                        reason: String::new(),
                        ..Default::default()
                    })
                    .await,
            ),
            &staff,
            Code::NotFound,
        );
        expect(
            "ReleaseHold",
            code(
                incidents
                    .release_hold(proto::ReleaseHoldRequest {
                        id: incident.id.clone(),
                    })
                    .await,
            ),
            &staff,
            Code::FailedPrecondition, // not on hold
        );
        expect(
            "ResolveIncident",
            code(
                incidents
                    .resolve_incident(proto::ResolveIncidentRequest {
                        id: uuid::Uuid::new_v4().to_string(),
                        resolution: String::new(),
                        ..Default::default()
                    })
                    .await,
            ),
            &staff,
            Code::NotFound,
        );
        expect(
            "GetIncidentTimeline",
            code(
                incidents
                    .get_incident_timeline(proto::GetIncidentTimelineRequest {
                        id: incident.id.clone(),
                    })
                    .await,
            ),
            &staff,
            Code::Ok,
        );
        expect(
            "GetResponseTimeReport",
            code(
                incidents
                    .get_response_time_report(proto::GetResponseTimeReportRequest {
                        since: Some(prost_types::Timestamp {
                            seconds: 0,
                            nanos: 0,
                        }),
                        until: None,
                        target_seconds: 0.0,
                    })
                    .await,
            ),
            &staff,
            Code::Ok,
        );
        expect(
            "GetIncidentEido",
            code(
                incidents
                    .get_incident_eido(proto::GetIncidentEidoRequest {
                        id: incident.id.clone(),
                    })
                    .await,
            ),
            &staff,
            Code::Ok,
        );
        expect(
            "IngestDeviceLocation",
            code(
                incidents
                    .ingest_device_location(proto::IngestDeviceLocationRequest {
                        caller_phone: "0812 0000 0000".to_owned(),
                        payload: format!(
                            "location_latitude=-7.97&location_longitude=112.63&location_accuracy=20\
                             &location_time={}&location_source=gps",
                            chrono::Utc::now().timestamp_millis()
                        ),
                    })
                    .await,
            ),
            &[Who::Admin, Who::Gateway],
            Code::Ok,
        );
        expect(
            "WatchIncidents",
            code(
                incidents
                    .watch_incidents(proto::WatchIncidentsRequest {})
                    .await,
            ),
            &staff,
            Code::Ok,
        );

        // UnitService: registering is the admin's; reads and service
        // status are staff's.
        expect(
            "RegisterUnit",
            code(
                units
                    .register_unit(proto::RegisterUnitRequest {
                        call_sign: "AMB-OWN".to_owned(),
                        kind: UnitKind::Ambulance.into(),
                        agency: String::new(),
                        location: Some(proto::GeoPoint {
                            lat: -7.97,
                            lon: 112.63,
                        }),
                    })
                    .await,
            ),
            &[Who::Admin],
            Code::AlreadyExists,
        );
        expect(
            "GetUnit",
            code(
                units
                    .get_unit(proto::GetUnitRequest { id: own.id.clone() })
                    .await,
            ),
            &staff,
            Code::Ok,
        );
        expect(
            "ListUnits",
            code(units.list_units(proto::ListUnitsRequest::default()).await),
            &staff,
            Code::Ok,
        );
        expect(
            "SetUnitInService",
            code(
                units
                    .set_unit_in_service(proto::SetUnitInServiceRequest {
                        unit_id: other.id.clone(),
                        in_service: true,
                    })
                    .await,
            ),
            &staff,
            Code::Ok,
        );

        // FieldService: the own unit (and admins) only.
        expect(
            "ReportLocation",
            code(
                field
                    .report_location(proto::ReportLocationRequest {
                        unit_id: own.id.clone(),
                        location: Some(proto::GeoPoint {
                            lat: places::RSSA.0,
                            lon: places::RSSA.1,
                        }),
                    })
                    .await,
            ),
            &crew,
            Code::Ok,
        );
        expect(
            "PollAssignment",
            code(
                field
                    .poll_assignment(proto::PollAssignmentRequest {
                        unit_id: own.id.clone(),
                        wait_seconds: 0,
                    })
                    .await,
            ),
            &crew,
            Code::Ok,
        );
        expect(
            "AcceptAssignment",
            code(
                field
                    .accept_assignment(proto::AcceptAssignmentRequest {
                        assignment_id: assignment.clone(),
                    })
                    .await,
            ),
            &crew,
            Code::FailedPrecondition, // it is completed
        );
        expect(
            "DeclineAssignment",
            code(
                field
                    .decline_assignment(proto::DeclineAssignmentRequest {
                        assignment_id: assignment.clone(),
                        reason: String::new(),
                    })
                    .await,
            ),
            &crew,
            Code::FailedPrecondition,
        );
        expect(
            "UpdateAssignmentStatus",
            code(
                field
                    .update_assignment_status(proto::UpdateAssignmentStatusRequest {
                        assignment_id: assignment.clone(),
                        status: AssignmentStatus::OnScene.into(),
                    })
                    .await,
            ),
            &crew,
            Code::FailedPrecondition,
        );

        // The console's live map and the crews' alarms.
        expect(
            "WatchUnits",
            code(units.watch_units(proto::WatchUnitsRequest {}).await),
            &staff,
            Code::Ok,
        );
        expect(
            "RaiseAlarm",
            code(
                field
                    .raise_alarm(proto::RaiseAlarmRequest {
                        unit_id: own.id.clone(),
                        location: Some(proto::GeoPoint {
                            lat: places::RSSA.0,
                            lon: places::RSSA.1,
                        }),
                        note: String::new(),
                    })
                    .await,
            ),
            &crew,
            Code::Ok,
        );
        expect(
            "WatchAlarms",
            code(incidents.watch_alarms(proto::WatchAlarmsRequest {}).await),
            &staff,
            Code::Ok,
        );
        expect(
            "ListAlarms",
            code(
                incidents
                    .list_alarms(proto::ListAlarmsRequest { open_only: true })
                    .await,
            ),
            &staff,
            Code::Ok,
        );
        expect(
            "AcknowledgeAlarm",
            code(
                incidents
                    .acknowledge_alarm(proto::AcknowledgeAlarmRequest {
                        alarm_id: uuid::Uuid::new_v4().to_string(),
                    })
                    .await,
            ),
            &staff,
            Code::NotFound,
        );

        // CallerService: staff; unflagging is the admin's.
        let phone = "0812 9999 0000".to_owned();
        expect(
            "GetCallerHistory",
            code(
                callers
                    .get_caller_history(proto::GetCallerHistoryRequest {
                        caller_phone: phone.clone(),
                        days: 0,
                    })
                    .await,
            ),
            &staff,
            Code::Ok,
        );
        expect(
            "FlagCaller",
            code(
                callers
                    .flag_caller(proto::FlagCallerRequest {
                        caller_phone: phone.clone(),
                        reason: "test".to_owned(),
                    })
                    .await,
            ),
            &staff,
            Code::Ok,
        );
        expect(
            "UnflagCaller",
            code(
                callers
                    .unflag_caller(proto::UnflagCallerRequest {
                        caller_phone: phone.clone(),
                    })
                    .await,
            ),
            &[Who::Admin],
            Code::Ok,
        );
        expect(
            "ListFlaggedCallers",
            code(
                callers
                    .list_flagged_callers(proto::ListFlaggedCallersRequest {})
                    .await,
            ),
            &staff,
            Code::Ok,
        );

        // Partner agencies: staff refer and read, liaisons answer.
        expect(
            "ReferIncident",
            code(
                incidents
                    .refer_incident(proto::ReferIncidentRequest {
                        incident_id: uuid::Uuid::new_v4().to_string(),
                        agency_id: uuid::Uuid::new_v4().to_string(),
                        note: String::new(),
                    })
                    .await,
            ),
            &staff,
            Code::NotFound,
        );
        expect(
            "RegisterAgency",
            code(
                agencies
                    .register_agency(proto::RegisterAgencyRequest::default())
                    .await,
            ),
            &[Who::Admin],
            Code::InvalidArgument, // no name: nothing stored
        );
        expect(
            "ListAgencies",
            code(agencies.list_agencies(proto::ListAgenciesRequest {}).await),
            &staff,
            Code::Ok,
        );
        expect(
            "ListReferrals",
            code(
                agencies
                    .list_referrals(proto::ListReferralsRequest::default())
                    .await,
            ),
            &[Who::Admin, Who::Operator, Who::OperatorSession, Who::Agency],
            Code::Ok,
        );
        expect(
            "UpdateReferral",
            code(
                agencies
                    .update_referral(proto::UpdateReferralRequest {
                        referral_id: uuid::Uuid::new_v4().to_string(),
                        status: proto::ReferralStatus::Acknowledged.into(),
                        answer: String::new(),
                    })
                    .await,
            ),
            &[Who::Admin, Who::Agency],
            Code::NotFound,
        );

        // CameraService: admins register, staff look.
        expect(
            "RegisterCamera",
            code(
                cameras
                    .register_camera(proto::RegisterCameraRequest {
                        name: "Tugu".to_owned(),
                        location: Some(proto::GeoPoint {
                            lat: places::BALAI_KOTA.0,
                            lon: places::BALAI_KOTA.1,
                        }),
                        stream_url: "ftp://not.allowed/x".to_owned(),
                    })
                    .await,
            ),
            &[Who::Admin],
            Code::InvalidArgument, // nothing stored, whoever asks
        );
        expect(
            "ListCameras",
            code(cameras.list_cameras(proto::ListCamerasRequest {}).await),
            &staff,
            Code::Ok,
        );
        expect(
            "FindNearbyCameras",
            code(
                cameras
                    .find_nearby_cameras(proto::FindNearbyCamerasRequest {
                        location: Some(proto::GeoPoint {
                            lat: places::BALAI_KOTA.0,
                            lon: places::BALAI_KOTA.1,
                        }),
                        ..Default::default()
                    })
                    .await,
            ),
            &staff,
            Code::Ok,
        );

        // AuthService: any valid token; Logout last, it ends the token.
        expect(
            "WhoAmI",
            code(auth.who_am_i(proto::WhoAmIRequest {}).await),
            &anyone_known,
            Code::Ok,
        );
        expect(
            "Logout",
            code(auth.logout(proto::LogoutRequest {}).await),
            &anyone_known,
            Code::Ok,
        );
    }
    assert_eq!(checked, 44 * 10, "every RPC for every caller");

    // Health and reflection stay open.
    let mut health = tonic_health::pb::health_client::HealthClient::new(app.channel.clone());
    health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health needs no token");
}

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
