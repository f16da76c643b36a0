//! Hostile input: arbitrary and malformed requests to every RPC never get
//! INTERNAL or UNKNOWN, and a refused request leaves the database as it
//! was.

use ngalam112_proto::v1 as proto;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tonic::Code;

use crate::helpers::{Clients, TestApp, medical_call, places};

/// Text as a hostile or careless client sends it: any script, control
/// characters, SQL, over-long.
fn text() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        "\\PC{0,40}",
        ".{0,60}",
        Just("'; DROP TABLE incidents; --".to_owned()),
        Just("\u{0}\u{7}\u{1b}[31m".to_owned()),
        (190usize..210).prop_map(|n| "ꦩ".repeat(n)),
        (3990usize..4010).prop_map(|n| "x".repeat(n)),
        Just(String::new()),
    ]
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        -95.0f64..95.0,
        100.0f64..200.0,
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
    ]
}

fn point() -> impl Strategy<Value = Option<proto::GeoPoint>> {
    prop_oneof![
        Just(None),
        (number(), number()).prop_map(|(lat, lon)| Some(proto::GeoPoint { lat, lon })),
        (-8.03f64..-7.92, 112.59f64..112.68)
            .prop_map(|(lat, lon)| Some(proto::GeoPoint { lat, lon })),
    ]
}

/// Page tokens: garbage, or well-formed with any time (some beyond what
/// PostgreSQL holds).
fn page_token() -> impl Strategy<Value = String> {
    prop_oneof![
        text(),
        (any::<i64>(), any::<u128>())
            .prop_map(|(micros, id)| format!("{micros}_{}", uuid::Uuid::from_u128(id))),
        Just(format!("-250000000000000000_{}", uuid::Uuid::nil())),
    ]
}

fn enum_value() -> impl Strategy<Value = i32> {
    prop_oneof![0i32..9, any::<i32>()]
}

/// An id: one that exists, a random UUID, or garbage.
fn id(known: Vec<String>) -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        proptest::sample::select(known),
        any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).to_string()),
        text(),
    ]
}

#[derive(Debug, Clone)]
enum Call {
    CreateIncident(proto::CreateIncidentRequest),
    GetIncident(String),
    ListIncidents(proto::ListIncidentsRequest),
    FindNearby(proto::FindNearbyIncidentsRequest),
    Recommend(proto::RecommendUnitsRequest),
    Assign(proto::AssignUnitRequest),
    Cancel(proto::CancelIncidentRequest),
    Resolve(proto::ResolveIncidentRequest),
    ReleaseHold(String),
    Timeline(String),
    RegisterUnit(proto::RegisterUnitRequest),
    GetUnit(String),
    ListUnits(proto::ListUnitsRequest),
    SetInService(proto::SetUnitInServiceRequest),
    ReportLocation(proto::ReportLocationRequest),
    Poll(proto::PollAssignmentRequest),
    Accept(String),
    Decline(proto::DeclineAssignmentRequest),
    Update(proto::UpdateAssignmentStatusRequest),
    Report(proto::GetResponseTimeReportRequest),
    Ingest(proto::IngestDeviceLocationRequest),
    Eido(String),
    Login(proto::LoginRequest),
    WhoAmI,
    CallerHistory(proto::GetCallerHistoryRequest),
    Flag(proto::FlagCallerRequest),
    Unflag(String),
    ListFlagged,
    PublicStats(String),
    RegisterCamera(proto::RegisterCameraRequest),
    Refer(proto::ReferIncidentRequest),
    UpdateReferral(proto::UpdateReferralRequest),
    ListReferrals(i32),
    NearbyCameras(proto::FindNearbyCamerasRequest),
    WatchUnits,
    RaiseAlarm(proto::RaiseAlarmRequest),
    GetRoute(String),
    ListAlarms(bool),
    AcknowledgeAlarm(String),
    Signal(proto::SignalCallRequest),
    ListCalls(Option<prost_types::Timestamp>),
}

fn call(
    incidents: Vec<String>,
    units: Vec<String>,
    assignments: Vec<String>,
) -> impl Strategy<Value = Call> {
    let incident = id(incidents);
    let unit = id(units);
    let unit_for_alarm = unit.clone();
    let assignment = id(assignments);
    prop_oneof![
        (
            (text(), enum_value(), enum_value(), text(), text()),
            (
                point(),
                text(),
                text(),
                proptest::collection::vec(enum_value(), 0..4),
                any::<bool>(),
                prop_oneof![Just(String::new()), incident.clone()],
                any::<bool>(),
                prop_oneof![Just(String::new()), text()],
            ),
        )
            .prop_map(
                |(
                    (request_id, category, priority, caller_phone, caller_name),
                    (
                        location,
                        address,
                        description,
                        required_kinds,
                        hold,
                        duplicate_of,
                        caller_id_withheld,
                        call_id,
                    ),
                )| {
                    Call::CreateIncident(proto::CreateIncidentRequest {
                        request_id,
                        category,
                        priority,
                        caller_phone,
                        caller_name,
                        location,
                        address,
                        description,
                        required_kinds,
                        hold,
                        duplicate_of,
                        caller_id_withheld,
                        call_id,
                    })
                }
            ),
        incident.clone().prop_map(Call::GetIncident),
        (
            proptest::collection::vec(enum_value(), 0..3),
            any::<i32>(),
            page_token()
        )
            .prop_map(|(statuses, page_size, page_token)| Call::ListIncidents(
                proto::ListIncidentsRequest {
                    statuses,
                    page_size,
                    page_token
                }
            )),
        (point(), number(), enum_value()).prop_map(|(location, radius_m, category)| {
            Call::FindNearby(proto::FindNearbyIncidentsRequest {
                location,
                radius_m,
                category,
            })
        }),
        (incident.clone(), enum_value(), any::<i32>()).prop_map(|(incident_id, kind, limit)| {
            Call::Recommend(proto::RecommendUnitsRequest {
                incident_id,
                kind,
                limit,
            })
        }),
        (incident.clone(), unit.clone()).prop_map(|(incident_id, unit_id)| Call::Assign(
            proto::AssignUnitRequest {
                incident_id,
                unit_id
            }
        )),
        (incident.clone(), text(), enum_value()).prop_map(|(id, reason, resolution_code)| {
            Call::Cancel(proto::CancelIncidentRequest {
                id,
                reason,
                resolution_code,
            })
        }),
        incident.clone().prop_map(Call::ReleaseHold),
        (incident.clone(), text(), enum_value()).prop_map(|(id, resolution, resolution_code)| {
            Call::Resolve(proto::ResolveIncidentRequest {
                id,
                resolution,
                resolution_code,
            })
        }),
        incident.clone().prop_map(Call::Timeline),
        (text(), enum_value(), text(), point()).prop_map(|(call_sign, kind, agency, location)| {
            Call::RegisterUnit(proto::RegisterUnitRequest {
                call_sign,
                kind,
                agency,
                location,
            })
        }),
        unit.clone().prop_map(Call::GetUnit),
        (
            proptest::collection::vec(enum_value(), 0..3),
            proptest::collection::vec(enum_value(), 0..3)
        )
            .prop_map(
                |(statuses, kinds)| Call::ListUnits(proto::ListUnitsRequest { statuses, kinds })
            ),
        (unit.clone(), any::<bool>()).prop_map(|(unit_id, in_service)| Call::SetInService(
            proto::SetUnitInServiceRequest {
                unit_id,
                in_service
            }
        )),
        (unit.clone(), point()).prop_map(|(unit_id, location)| Call::ReportLocation(
            proto::ReportLocationRequest { unit_id, location }
        )),
        (unit, prop_oneof![Just(0u32), 31u32..1000, Just(u32::MAX)]).prop_map(
            |(unit_id, wait_seconds)| Call::Poll(proto::PollAssignmentRequest {
                unit_id,
                wait_seconds
            })
        ),
        assignment.clone().prop_map(Call::Accept),
        (assignment.clone(), text()).prop_map(|(assignment_id, reason)| Call::Decline(
            proto::DeclineAssignmentRequest {
                assignment_id,
                reason
            }
        )),
        (assignment, enum_value()).prop_map(|(assignment_id, status)| Call::Update(
            proto::UpdateAssignmentStatusRequest {
                assignment_id,
                status
            }
        )),
        incident.clone().prop_map(Call::Eido),
        (text(), aml_payload()).prop_map(|(caller_phone, payload)| Call::Ingest(
            proto::IngestDeviceLocationRequest {
                caller_phone,
                payload
            }
        )),
        (time(), time(), number()).prop_map(|(since, until, target_seconds)| Call::Report(
            proto::GetResponseTimeReportRequest {
                since,
                until,
                target_seconds
            }
        )),
        (text(), text()).prop_map(|(username, password)| Call::Login(proto::LoginRequest {
            username,
            password
        })),
        Just(Call::WhoAmI),
        (phone(), prop_oneof![any::<i32>(), 0i32..400]).prop_map(|(caller_phone, days)| {
            Call::CallerHistory(proto::GetCallerHistoryRequest { caller_phone, days })
        }),
        (phone(), text()).prop_map(
            |(caller_phone, reason)| Call::Flag(proto::FlagCallerRequest {
                caller_phone,
                reason
            })
        ),
        phone().prop_map(Call::Unflag),
        Just(Call::ListFlagged),
        prop_oneof![text(), Just("2026-11".to_owned()), Just(String::new())]
            .prop_map(Call::PublicStats),
        (
            text(),
            point(),
            prop_oneof![text(), Just("https://cctv.invalid/a".to_owned())]
        )
            .prop_map(|(name, location, stream_url)| {
                Call::RegisterCamera(proto::RegisterCameraRequest {
                    name,
                    location,
                    stream_url,
                })
            }),
        (
            incident.clone(),
            prop_oneof![
                text(),
                any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).to_string())
            ],
            text()
        )
            .prop_map(|(incident_id, agency_id, note)| {
                Call::Refer(proto::ReferIncidentRequest {
                    incident_id,
                    agency_id,
                    note,
                })
            }),
        (text(), enum_value(), text()).prop_map(|(referral_id, status, answer)| {
            Call::UpdateReferral(proto::UpdateReferralRequest {
                referral_id,
                status,
                answer,
            })
        }),
        enum_value().prop_map(Call::ListReferrals),
        (point(), any::<f64>(), any::<i32>()).prop_map(|(location, radius_m, limit)| {
            Call::NearbyCameras(proto::FindNearbyCamerasRequest {
                location,
                radius_m,
                limit,
            })
        }),
        Just(Call::WatchUnits),
        (unit_for_alarm, point(), text()).prop_map(|(unit_id, location, note)| {
            Call::RaiseAlarm(proto::RaiseAlarmRequest {
                unit_id,
                location,
                note,
            })
        }),
        any::<bool>().prop_map(Call::ListAlarms),
        text().prop_map(Call::GetRoute),
        text().prop_map(Call::AcknowledgeAlarm),
        (
            (text(), text(), text()),
            (any::<bool>(), enum_value(), text())
        )
            .prop_map(
                |((call_id, line, caller_phone), (caller_id_withheld, signal, position))| {
                    Call::Signal(proto::SignalCallRequest {
                        call_id,
                        line,
                        caller_phone,
                        caller_id_withheld,
                        signal,
                        position,
                    })
                }
            ),
        time().prop_map(Call::ListCalls),
    ]
}

/// A caller's number: a real one in some format, or any text.
fn phone() -> impl Strategy<Value = String> {
    prop_oneof![
        text(),
        Just("0812 3456 7890".to_owned()),
        Just("+62 341 123456".to_owned()),
    ]
}

/// AML-like payloads: SMS fields with arbitrary values, form fields,
/// garbage.
fn aml_payload() -> impl Strategy<Value = String> {
    prop_oneof![
        text(),
        (number(), number(), number(), "[GWCNX]", 0u32..300)
            .prop_map(|(lt, lg, rd, pm, ml)| format!("A\"ML=1;lt={lt};lg={lg};rd={rd};top=20261127103000;lc=68;pm={pm};ml={ml}")),
        (number(), number(), number(), "(gps|wifi|cell|x)", any::<i64>()).prop_map(|(lat, lon, accuracy, source, time)| format!(
            "location_latitude={lat}&location_longitude={lon}&location_accuracy={accuracy}&location_time={time}&location_source={source}"
        )),
    ]
}

fn time() -> impl Strategy<Value = Option<prost_types::Timestamp>> {
    prop_oneof![
        Just(None),
        (any::<i64>(), any::<i32>())
            .prop_map(|(seconds, nanos)| Some(prost_types::Timestamp { seconds, nanos })),
        (0i64..4_000_000_000)
            .prop_map(|seconds| Some(prost_types::Timestamp { seconds, nanos: 0 })),
        // Times chrono can hold but PostgreSQL cannot.
        prop_oneof![
            Just(-250_000_000_000i64),
            Just(250_000_000_000_000i64),
            -300_000_000_000i64..-200_000_000_000
        ]
        .prop_map(|seconds| Some(prost_types::Timestamp { seconds, nanos: 0 })),
    ]
}

async fn send(clients: &mut Clients, call: Call) -> Code {
    fn code<T>(result: Result<tonic::Response<T>, tonic::Status>) -> Code {
        result
            .map(|_| Code::Ok)
            .unwrap_or_else(|status| status.code())
    }
    let Clients {
        incidents,
        units,
        field,
        auth,
        callers,
        cameras,
        agencies,
        telephony,
        public,
    } = clients;
    match call {
        Call::CreateIncident(r) => code(incidents.create_incident(r).await),
        Call::GetIncident(id) => code(
            incidents
                .get_incident(proto::GetIncidentRequest { id })
                .await,
        ),
        Call::ListIncidents(r) => code(incidents.list_incidents(r).await),
        Call::FindNearby(r) => code(incidents.find_nearby_incidents(r).await),
        Call::Recommend(r) => code(incidents.recommend_units(r).await),
        Call::Assign(r) => code(incidents.assign_unit(r).await),
        Call::Cancel(r) => code(incidents.cancel_incident(r).await),
        Call::Resolve(r) => code(incidents.resolve_incident(r).await),
        Call::ReleaseHold(id) => code(
            incidents
                .release_hold(proto::ReleaseHoldRequest { id })
                .await,
        ),
        Call::Timeline(id) => code(
            incidents
                .get_incident_timeline(proto::GetIncidentTimelineRequest { id })
                .await,
        ),
        Call::RegisterUnit(r) => code(units.register_unit(r).await),
        Call::GetUnit(id) => code(units.get_unit(proto::GetUnitRequest { id }).await),
        Call::ListUnits(r) => code(units.list_units(r).await),
        Call::SetInService(r) => code(units.set_unit_in_service(r).await),
        Call::ReportLocation(r) => code(field.report_location(r).await),
        Call::Poll(r) => code(field.poll_assignment(r).await),
        Call::Accept(assignment_id) => code(
            field
                .accept_assignment(proto::AcceptAssignmentRequest { assignment_id })
                .await,
        ),
        Call::Decline(r) => code(field.decline_assignment(r).await),
        Call::Update(r) => code(field.update_assignment_status(r).await),
        Call::Report(r) => code(incidents.get_response_time_report(r).await),
        Call::Ingest(r) => code(incidents.ingest_device_location(r).await),
        Call::Eido(id) => code(
            incidents
                .get_incident_eido(proto::GetIncidentEidoRequest { id })
                .await,
        ),
        Call::Login(r) => code(auth.login(r).await),
        Call::WhoAmI => code(auth.who_am_i(proto::WhoAmIRequest {}).await),
        Call::CallerHistory(r) => code(callers.get_caller_history(r).await),
        Call::Flag(r) => code(callers.flag_caller(r).await),
        Call::Unflag(caller_phone) => code(
            callers
                .unflag_caller(proto::UnflagCallerRequest { caller_phone })
                .await,
        ),
        Call::RegisterCamera(r) => code(cameras.register_camera(r).await),
        Call::Refer(r) => code(incidents.refer_incident(r).await),
        Call::UpdateReferral(r) => code(agencies.update_referral(r).await),
        Call::ListReferrals(status) => code(
            agencies
                .list_referrals(proto::ListReferralsRequest { status })
                .await,
        ),
        Call::NearbyCameras(r) => code(cameras.find_nearby_cameras(r).await),
        Call::PublicStats(month) => code(
            public
                .get_public_stats(proto::GetPublicStatsRequest { month })
                .await,
        ),
        Call::ListFlagged => code(
            callers
                .list_flagged_callers(proto::ListFlaggedCallersRequest {})
                .await,
        ),
        Call::WatchUnits => code(units.watch_units(proto::WatchUnitsRequest {}).await),
        Call::RaiseAlarm(r) => code(field.raise_alarm(r).await),
        Call::GetRoute(assignment_id) => code(
            field
                .get_route(proto::GetRouteRequest { assignment_id })
                .await,
        ),
        Call::ListAlarms(open_only) => code(
            incidents
                .list_alarms(proto::ListAlarmsRequest { open_only })
                .await,
        ),
        Call::AcknowledgeAlarm(alarm_id) => code(
            incidents
                .acknowledge_alarm(proto::AcknowledgeAlarmRequest { alarm_id })
                .await,
        ),
        Call::Signal(r) => code(telephony.signal_call(r).await),
        Call::ListCalls(since) => code(
            telephony
                .list_calls(proto::ListCallsRequest { since })
                .await,
        ),
    }
}

/// Everything a request could have written.
async fn snapshot(app: &TestApp) -> String {
    sqlx::query_scalar(
        "SELECT concat_ws(',', \
           (SELECT count(*) FROM incidents), (SELECT sum(caller_count) FROM incidents), \
           (SELECT count(*) FROM units), (SELECT count(*) FROM assignments), \
           (SELECT count(*) FROM timeline_events), (SELECT count(*) FROM intake_requests), \
           (SELECT count(*) FROM device_fixes), \
           (SELECT count(*) FROM api_tokens), (SELECT count(*) FROM login_failures), \
           (SELECT count(*) FROM flagged_callers), (SELECT count(*) FROM users), \
           (SELECT count(*) FROM alarms), \
           (SELECT string_agg(call_id || coalesce(answered_at::text, '-') \
              || coalesce(ended_at::text, '-') || coalesce(incident_id::text, '-'), ';' \
              ORDER BY call_id) FROM calls), \
           (SELECT string_agg(coalesce(resolution_code, '-'), ';' ORDER BY id) FROM incidents), \
           (SELECT string_agg(coalesce(device_lat::text, '-'), ';' ORDER BY id) FROM incidents), \
           (SELECT string_agg(status || lat || lon, ';' ORDER BY id) FROM units), \
           (SELECT string_agg(status, ';' ORDER BY id) FROM assignments))",
    )
    .fetch_one(&app.pool)
    .await
    .expect("snapshot")
}

#[test]
fn arbitrary_requests_to_every_rpc_never_get_internal_and_refusals_store_nothing() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (app, incidents, units, assignments) = runtime.block_on(async {
        let app = TestApp::spawn().await;
        let unit = app
            .register_at("AMB-1", proto::UnitKind::Ambulance, places::RSSA)
            .await;
        app.register_at("POL-1", proto::UnitKind::Police, places::POLRESTA)
            .await;
        let incident = app.create(medical_call(places::BALAI_KOTA)).await;
        let assignment = incident.assignments[0].id.clone();
        (app, vec![incident.id], vec![unit.id], vec![assignment])
    });
    let admin = app.admin.clone();
    let mut runner = TestRunner::new(Config {
        cases: 1500,
        failure_persistence: None,
        ..Config::default()
    });
    let refused = std::cell::Cell::new(0);
    runner
        .run(&call(incidents, units, assignments), |call| {
            let description = format!("{call:?}");
            let (code, before, after) = runtime.block_on(async {
                let before = snapshot(&app).await;
                let code = send(&mut admin.clone(), call).await;
                (code, before, snapshot(&app).await)
            });
            prop_assert!(
                !matches!(code, Code::Internal | Code::Unknown),
                "{code:?} for {description}"
            );
            if code == Code::InvalidArgument {
                refused.set(refused.get() + 1);
                prop_assert_eq!(
                    &before,
                    &after,
                    "a refused request changed the database: {}",
                    description
                );
            }
            Ok(())
        })
        .expect("no request breaks the server");
    let refused = refused.get();
    assert!(
        refused > 300,
        "the generator makes mostly malformed requests ({refused} refused)"
    );
}
