//! Defects found by reading the code, each with the test that showed it:
//! held incidents, callers' data retention, one-snapshot polls, and lock
//! cycles between crews finishing at the same moment.

use std::time::Duration;

use ngalam112_proto::v1 as proto;
use ngalam112_store::Role;
use proto::{AssignmentStatus, IncidentStatus, UnitKind};
use tonic::Code;

use crate::helpers::{TestApp, medical_call, places};

#[tokio::test]
async fn a_held_incident_waits_until_an_operator_releases_it_then_goes_to_the_nearest_unit() {
    let app = TestApp::spawn().await;
    let near = app
        .register_at("AMB-NEAR", UnitKind::Ambulance, places::RSSA)
        .await;
    app.register_at("AMB-FAR", UnitKind::Ambulance, places::UNISMA)
        .await;
    let mut call = medical_call(places::BALAI_KOTA);
    call.hold = true;
    let held = app.create(call).await;
    assert!(held.hold);
    assert_eq!(held.status(), IncidentStatus::Pending);
    assert!(held.assignments.is_empty(), "a held call is sent nowhere");
    // The sweep that matches waiting calls leaves it alone too.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(app.incident(&held.id).await.assignments.is_empty());

    let mut incidents = app.operator.incidents.clone();
    let released = incidents
        .release_hold(proto::ReleaseHoldRequest {
            id: held.id.clone(),
        })
        .await
        .expect("release")
        .into_inner();
    assert!(!released.hold);
    assert_eq!(released.status(), IncidentStatus::Dispatched);
    assert_eq!(released.assignments.len(), 1);
    assert_eq!(released.assignments[0].unit_id, near.id, "the nearest unit");
    assert!(
        app.timeline_kinds(&held.id)
            .await
            .contains(&"hold_released".to_owned())
    );

    let again = incidents
        .release_hold(proto::ReleaseHoldRequest {
            id: held.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert!(
        again.message().contains("not on hold"),
        "{}",
        again.message()
    );
    assert_eq!(
        app.incident(&held.id).await.assignments.len(),
        1,
        "a second release dispatches nothing more"
    );
    let unknown = incidents
        .release_hold(proto::ReleaseHoldRequest {
            id: "not-an-id".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::InvalidArgument);
    assert!(unknown.message().starts_with("id"));
}

#[tokio::test]
async fn a_released_call_queues_behind_more_urgent_waiting_calls() {
    let app = TestApp::spawn().await;
    let mut call = medical_call(places::BALAI_KOTA);
    call.hold = true;
    call.priority = proto::Priority::Critical.into();
    let held = app.create(call).await;
    let mut waiting = medical_call(places::BALAI_KOTA);
    waiting.priority = proto::Priority::High.into();
    let waiting = app.create(waiting).await;
    app.operator
        .incidents
        .clone()
        .release_hold(proto::ReleaseHoldRequest {
            id: held.id.clone(),
        })
        .await
        .expect("release");
    // One ambulance appears: the critical (released) call goes first.
    app.register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    assert_eq!(app.incident(&held.id).await.assignments.len(), 1);
    assert!(app.incident(&waiting.id).await.assignments.is_empty());
}

#[tokio::test]
async fn further_callers_are_kept_with_the_incident_never_in_the_timeline_and_redacted_after_retention()
 {
    let app = TestApp::spawn().await;
    app.register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let original = app.create(medical_call(places::BALAI_KOTA)).await;
    let mut second = medical_call(places::BALAI_KOTA);
    second.caller_name = "Pak Budi Santoso".to_owned();
    second.caller_phone = "0813 9876 5432".to_owned();
    second.duplicate_of = original.id.clone();
    app.create(second).await;

    let incident = app.incident(&original.id).await;
    assert_eq!(incident.caller_count, 2);
    assert_eq!(incident.other_callers.len(), 1);
    let other = &incident.other_callers[0];
    assert_eq!(other.caller_name, "Pak Budi Santoso");
    assert_eq!(other.caller_phone, "+6281398765432");
    assert!(other.added_at.is_some());
    let timeline = app.timeline(&original.id).await;
    for event in &timeline {
        for secret in ["Budi", "98765432", "Bu Sri", "34567890"] {
            assert!(
                !event.detail.contains(secret),
                "the append-only timeline holds no caller data: {:?}",
                event.detail
            );
        }
    }
    assert!(timeline.iter().any(|event| event.kind == "caller_added"));

    // Closed 400 days ago: past the default retention of 365 days.
    app.operator
        .incidents
        .clone()
        .resolve_incident(proto::ResolveIncidentRequest {
            id: original.id.clone(),
            resolution: "ditangani".to_owned(),
            resolution_code: proto::ResolutionCode::Handled.into(),
        })
        .await
        .expect("resolve");
    let open_one = app.create(medical_call(places::UNISMA)).await;
    sqlx::query(
        "UPDATE incidents SET resolved_at = now() - interval '400 days' WHERE id = $1::uuid",
    )
    .bind(&original.id)
    .execute(&app.pool)
    .await
    .expect("age the incident");
    let redacted = app
        .store
        .redact_old_callers(Duration::from_secs(365 * 24 * 3600))
        .await
        .expect("redact");
    assert_eq!(redacted, 1, "only the incident past retention");

    let incident = app.incident(&original.id).await;
    assert!(incident.caller_phone.is_empty() && incident.caller_name.is_empty());
    assert!(incident.callers_redacted_at.is_some());
    assert!(incident.other_callers[0].caller_phone.is_empty());
    assert!(incident.other_callers[0].caller_name.is_empty());
    assert_eq!(incident.address, "Jl. Tugu 1, Klojen", "the incident stays");
    assert_eq!(incident.caller_count, 2);
    let kept = app.incident(&open_one.id).await;
    assert_eq!(
        kept.caller_phone, "+6281234567890",
        "open incidents keep theirs"
    );
    let history = app
        .operator
        .callers
        .clone()
        .get_caller_history(proto::GetCallerHistoryRequest {
            caller_phone: "0812 3456 7890".to_owned(),
            days: 0,
        })
        .await
        .expect("history")
        .into_inner();
    assert!(
        history.recent.iter().all(|listed| listed.id != original.id),
        "a redacted incident is no longer in the number's history"
    );
    assert_eq!(
        app.store
            .redact_old_callers(Duration::from_secs(365 * 24 * 3600))
            .await
            .expect("redact again"),
        0,
        "redaction happens once"
    );
}

#[tokio::test]
async fn a_poll_racing_a_cancel_never_shows_a_closed_assignment_as_open() {
    let app = TestApp::spawn().await;
    let unit = app
        .register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let mut device = app.unit_clients(&unit.id).await.field;
    let mut incidents = app.operator.incidents.clone();
    for _ in 0..60 {
        let incident = app.create(medical_call(places::BALAI_KOTA)).await;
        let cancel = incidents.cancel_incident(proto::CancelIncidentRequest {
            id: incident.id.clone(),
            reason: String::new(),
            resolution_code: proto::ResolutionCode::Duplicate.into(),
        });
        let polls = async {
            let mut seen = Vec::new();
            for _ in 0..4 {
                let answer = device
                    .poll_assignment(proto::PollAssignmentRequest {
                        unit_id: unit.id.clone(),
                        wait_seconds: 0,
                    })
                    .await
                    .expect("poll")
                    .into_inner();
                seen.push(answer);
            }
            seen
        };
        let (cancelled, seen) = tokio::join!(cancel, polls);
        cancelled.expect("cancel");
        for answer in seen {
            if let Some(assignment) = answer.assignment {
                assert_eq!(
                    assignment.status(),
                    AssignmentStatus::Offered,
                    "a poll shows only an open assignment"
                );
                let with = answer.incident.expect("its incident");
                assert_eq!(with.status(), IncidentStatus::Dispatched, "one snapshot");
            }
        }
    }
}

/// Deadlocks PostgreSQL detected in this test's database so far.
async fn deadlocks(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "SELECT coalesce(deadlocks, 0) FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(&app.pool)
    .await
    .expect("deadlock count")
}

/// Two incidents that both need an ambulance and a police car; each has
/// one of the two and waits for the other kind. The crews finish at the
/// same moment: each completion frees a unit that the *other* incident
/// waits for, so each transaction (holding its own incident) offers its
/// unit to the other one.
#[tokio::test]
async fn crews_finishing_at_once_on_incidents_waiting_for_each_others_units_never_deadlock() {
    let app = TestApp::spawn().await;
    let west = (-7.9770, 112.6000);
    let east = (-7.9770, 112.6700);
    let amb_west = app.register_at("AMB-W", UnitKind::Ambulance, west).await;
    let pol_west = app.register_at("POL-W", UnitKind::Police, west).await;
    let amb_east = app.register_at("AMB-E", UnitKind::Ambulance, east).await;
    let pol_east = app.register_at("POL-E", UnitKind::Police, east).await;
    let mut crews = std::collections::HashMap::new();
    for unit in [&amb_west, &pol_west, &amb_east, &pol_east] {
        crews.insert(unit.id.clone(), app.unit_clients(&unit.id).await.field);
    }
    let before = deadlocks(&app).await;
    let mut incidents = app.operator.incidents.clone();
    let both = vec![UnitKind::Ambulance.into(), UnitKind::Police.into()];
    let offer_of = |incident: &proto::Incident, unit: &proto::Unit| {
        incident
            .assignments
            .iter()
            .find(|a| a.unit_id == unit.id && a.status() == AssignmentStatus::Offered)
            .map(|a| a.id.clone())
            .expect("an offer")
    };
    for round in 0..25 {
        let mut call = medical_call(west);
        call.required_kinds = both.clone();
        let x = app.create(call).await;
        let mut call = medical_call(east);
        call.required_kinds = both.clone();
        let y = app.create(call).await;
        // X keeps its ambulance and waits for police; Y keeps its police
        // car and waits for an ambulance.
        let x_police = offer_of(&x, &pol_west);
        let y_ambulance = offer_of(&y, &amb_east);
        let x_ambulance = offer_of(&x, &amb_west);
        let y_police = offer_of(&y, &pol_east);
        let decline = |id: String| proto::DeclineAssignmentRequest {
            assignment_id: id,
            reason: "test".to_owned(),
        };
        let crew = |unit: &proto::Unit| crews.get(&unit.id).expect("crew").clone();
        crew(&pol_west)
            .decline_assignment(decline(x_police))
            .await
            .expect("decline");
        crew(&amb_east)
            .decline_assignment(decline(y_ambulance))
            .await
            .expect("decline");
        for (unit, id) in [(&amb_west, &x_ambulance), (&pol_east, &y_police)] {
            crew(unit)
                .accept_assignment(proto::AcceptAssignmentRequest {
                    assignment_id: id.clone(),
                })
                .await
                .expect("accept");
        }
        let complete = |id: &String| proto::UpdateAssignmentStatusRequest {
            assignment_id: id.clone(),
            status: AssignmentStatus::Completed.into(),
        };
        let mut west_crew = crew(&amb_west);
        let mut east_crew = crew(&pol_east);
        let (a, b) = tokio::join!(
            west_crew.update_assignment_status(complete(&x_ambulance)),
            east_crew.update_assignment_status(complete(&y_police)),
        );
        a.unwrap_or_else(|status| panic!("round {round}: {status:?}"));
        b.unwrap_or_else(|status| panic!("round {round}: {status:?}"));
        // Each freed unit went to the other incident.
        let x_now = app.incident(&x.id).await;
        let y_now = app.incident(&y.id).await;
        assert!(x_now.pending_kinds.is_empty(), "round {round}: X is served");
        assert!(y_now.pending_kinds.is_empty(), "round {round}: Y is served");
        for id in [&x.id, &y.id] {
            incidents
                .resolve_incident(proto::ResolveIncidentRequest {
                    id: id.clone(),
                    resolution: String::new(),
                    resolution_code: proto::ResolutionCode::Handled.into(),
                })
                .await
                .expect("resolve");
        }
    }
    // A server's connection reports its statistics to pg_stat_database
    // within 10 s of going idle (PostgreSQL 15+); wait that long.
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(deadlocks(&app).await - before, 0, "no deadlock detected");
}

#[tokio::test]
async fn watch_streams_end_unauthenticated_once_the_token_is_revoked_or_the_user_disabled() {
    let app = TestApp::spawn().await;
    let (secret, token) = ngalam112::auth::issue_token(&app.store, Role::Operator)
        .await
        .expect("token");
    let mut by_token = app.clients_with_token(Some(&secret));
    let mut incidents = by_token
        .incidents
        .watch_incidents(proto::WatchIncidentsRequest::default())
        .await
        .expect("watch")
        .into_inner();
    app.add_user("sri", Role::Operator, "sandi-rahasia-1").await;
    let mut by_session = app.session("sri", "sandi-rahasia-1").await;
    let mut units = by_session
        .units
        .watch_units(proto::WatchUnitsRequest {})
        .await
        .expect("watch units")
        .into_inner();

    app.create(medical_call(places::BALAI_KOTA)).await;
    let first = incidents.message().await.expect("an event").expect("open");
    assert!(
        first.incident.is_some(),
        "the live stream works while allowed"
    );

    app.store.revoke_token(token.id).await.expect("revoke");
    app.store.disable_user("sri").await.expect("disable");
    // Changes keep coming, but no longer to these watchers.
    for _ in 0..3 {
        app.create(medical_call(places::BALAI_KOTA)).await;
    }
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match incidents.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("the stream must end with a status"),
                Err(status) => return status,
            }
        }
    })
    .await
    .expect("the stream ends within a re-check");
    assert_eq!(ended.code(), Code::Unauthenticated, "{ended:?}");
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match units.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("the stream must end with a status"),
                Err(status) => return status,
            }
        }
    })
    .await
    .expect("the unit stream ends within a re-check");
    assert_eq!(ended.code(), Code::Unauthenticated, "{ended:?}");
}

#[tokio::test]
async fn one_token_holds_a_bounded_number_of_watch_streams_and_a_closed_one_frees_its_place() {
    let app = TestApp::spawn().await;
    let allowed = ngalam112::ServerConfig::default().max_watchers_per_token;
    let mut incidents = app.operator.incidents.clone();
    let mut open = Vec::new();
    for _ in 0..allowed {
        open.push(
            incidents
                .watch_incidents(proto::WatchIncidentsRequest::default())
                .await
                .expect("within the cap")
                .into_inner(),
        );
    }
    let refused = app
        .operator
        .units
        .clone()
        .watch_units(proto::WatchUnitsRequest {})
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(refused.message().contains("watch streams"));
    // Another token is not affected.
    let other = app.token(Role::Operator).await.expect("token");
    app.clients_with_token(Some(&other))
        .units
        .watch_units(proto::WatchUnitsRequest {})
        .await
        .expect("another token's first stream");

    drop(open.pop());
    let admitted = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match incidents
                .watch_incidents(proto::WatchIncidentsRequest::default())
                .await
            {
                Ok(stream) => return stream,
                Err(status) => {
                    assert_eq!(status.code(), Code::ResourceExhausted);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    })
    .await;
    assert!(admitted.is_ok(), "a closed stream gives its place back");
}

/// Crews report positions in batches while calls claim and free the same
/// units: a position report never fails, and PostgreSQL sees no deadlock.
#[tokio::test]
async fn position_reports_racing_dispatch_never_fail_or_deadlock() {
    let app = TestApp::spawn().await;
    let mut units = Vec::new();
    for index in 0..12 {
        let kind = if index % 2 == 0 {
            UnitKind::Ambulance
        } else {
            UnitKind::Police
        };
        let unit = app
            .register_at(&format!("U-{index}"), kind, places::RSSA)
            .await;
        let clients = app.unit_clients(&unit.id).await.field;
        units.push((unit, clients));
    }
    let before = deadlocks(&app).await;
    let reporting = async {
        for round in 0..150 {
            let reports = units.iter().map(|(unit, clients)| {
                let mut clients = clients.clone();
                let request = proto::ReportLocationRequest {
                    unit_id: unit.id.clone(),
                    location: Some(proto::GeoPoint {
                        lat: places::RSSA.0 + f64::from(round) * 1e-5,
                        lon: places::RSSA.1,
                    }),
                };
                async move { clients.report_location(request).await }
            });
            for answer in futures_util::future::join_all(reports).await {
                answer.unwrap_or_else(|status| panic!("round {round}: {status:?}"));
            }
        }
    };
    let dispatcher = || async {
        let mut incidents = app.operator.incidents.clone();
        for _ in 0..25 {
            let mut call = medical_call(places::BALAI_KOTA);
            call.required_kinds = vec![UnitKind::Ambulance.into(), UnitKind::Police.into()];
            let incident = incidents
                .create_incident(call)
                .await
                .expect("create")
                .into_inner();
            incidents
                .resolve_incident(proto::ResolveIncidentRequest {
                    id: incident.id,
                    resolution: String::new(),
                    resolution_code: proto::ResolutionCode::Handled.into(),
                })
                .await
                .expect("resolve");
        }
    };
    tokio::join!(
        reporting,
        dispatcher(),
        dispatcher(),
        dispatcher(),
        dispatcher()
    );
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(deadlocks(&app).await - before, 0, "no deadlock detected");
}

/// The safety net: a unit that became available without its commit being
/// followed by a settling pass (as after a crash between the two) is still
/// offered to the waiting call by the periodic sweep.
#[tokio::test]
async fn the_sweep_matches_a_waiting_call_with_a_unit_freed_without_settling() {
    let app = TestApp::spawn().await;
    let waiting = app.create(medical_call(places::BALAI_KOTA)).await;
    assert_eq!(waiting.status(), IncidentStatus::Pending);
    // Straight into the table: nothing settles after this commit.
    let unit = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO units (id, call_sign, kind, agency, status, lat, lon, location_updated_at, \
           available_since) \
         VALUES ($1, 'AMB-LATE', 'ambulance', 'test', 'available', $2, $3, now(), now())",
    )
    .bind(unit)
    .bind(places::RSSA.0)
    .bind(places::RSSA.1)
    .execute(&app.pool)
    .await
    .expect("a unit no transaction settled");
    let offered = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let incident = app.incident(&waiting.id).await;
            if let Some(assignment) = incident.assignments.first() {
                return assignment.clone();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the sweep (every 5 s) made the offer");
    assert_eq!(offered.unit_id, unit.to_string());
    assert!(
        app.timeline(&waiting.id)
            .await
            .iter()
            .any(|event| event.kind == "assignment_offered" && event.actor == "system"),
        "the server itself made it"
    );
}
