//! Real-time dispatch: offer deadlines, long-poll, the live board,
//! idempotent intake across servers, stale positions.

use std::time::{Duration, Instant};

use ngalam112::ServerConfig;
use ngalam112_proto::v1 as proto;
use ngalam112_store::StoreConfig;
use proto::{AssignmentStatus, IncidentStatus, UnitKind, UnitStatus};

use crate::helpers::{TestApp, medical_call, places};

fn short_offers() -> StoreConfig {
    StoreConfig {
        offer_timeout: Duration::from_secs(1),
        ..StoreConfig::default()
    }
}

/// Polls `check` until it holds, failing after `limit`: the timer under
/// test must make it true; this only bounds how long we look.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_unanswered_offer_times_out_the_unit_goes_out_of_service_and_the_next_nearest_is_offered()
 {
    let app = TestApp::spawn_with(short_offers()).await;
    let silent = app
        .register_at("AMB-SILENT", UnitKind::Ambulance, places::RSSA)
        .await;
    let next = app
        .register_at("AMB-NEXT", UnitKind::Ambulance, places::UNISMA)
        .await;
    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    assert_eq!(incident.assignments[0].unit_id, silent.id);

    eventually(Duration::from_secs(10), "the timeout", || async {
        app.incident(&incident.id).await.assignments.len() == 2
    })
    .await;
    let incident = app.incident(&incident.id).await;
    let first = &incident.assignments[0];
    assert_eq!(first.status(), AssignmentStatus::TimedOut);
    assert_eq!(incident.assignments[1].unit_id, next.id);
    assert_eq!(incident.assignments[1].status(), AssignmentStatus::Offered);
    assert_eq!(incident.status(), IncidentStatus::Dispatched);
    assert_eq!(
        app.unit(&silent.id).await.status(),
        UnitStatus::OutOfService
    );

    // It fired at its deadline, not on some later sweep.
    let seconds = |t: &Option<prost_types::Timestamp>| {
        let t = t.expect("time");
        t.seconds as f64 + f64::from(t.nanos) / 1e9
    };
    let late_by = seconds(&first.updated_at) - (seconds(&first.offered_at) + 1.0);
    assert!(
        (-0.01..1.0).contains(&late_by),
        "timed out {late_by:.3} s after its deadline"
    );

    let timeline = app.timeline_kinds(&incident.id).await;
    assert_eq!(
        timeline
            .iter()
            .filter(|k| *k == "assignment_timed_out")
            .count(),
        1
    );
}

#[tokio::test]
async fn an_accepted_offer_never_times_out() {
    let app = TestApp::spawn_with(short_offers()).await;
    let unit = app
        .register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    let mut device = app.unit_clients(&unit.id).await.field;
    device
        .accept_assignment(proto::AcceptAssignmentRequest {
            assignment_id: incident.assignments[0].id.clone(),
        })
        .await
        .expect("accepted in time");
    // Wait for a later offer's timeout as the clock: by then the first
    // offer's deadline has long passed.
    let other = app
        .register_at("AMB-2", UnitKind::Ambulance, places::UNISMA)
        .await;
    let second = app.create(medical_call(places::UNISMA)).await;
    assert_eq!(second.assignments[0].unit_id, other.id);
    eventually(
        Duration::from_secs(10),
        "the second offer's timeout",
        || async {
            app.incident(&second.id).await.assignments[0].status() == AssignmentStatus::TimedOut
        },
    )
    .await;
    let first = app.incident(&incident.id).await;
    assert_eq!(first.assignments[0].status(), AssignmentStatus::Accepted);
    assert_eq!(app.unit(&unit.id).await.status(), UnitStatus::Assigned);
}

#[tokio::test]
async fn an_offer_deadline_survives_a_server_restart_and_fires_once_across_servers() {
    let app = TestApp::spawn_with(StoreConfig {
        offer_timeout: Duration::from_secs(2),
        ..StoreConfig::default()
    })
    .await;
    app.register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    let (second, third) = (
        app.another_server(short_offers()).await,
        app.another_server(short_offers()).await,
    );
    drop(app); // the server that made the offer is gone
    eventually(
        Duration::from_secs(10),
        "the timeout after restart",
        || async {
            second.incident(&incident.id).await.assignments[0].status()
                == AssignmentStatus::TimedOut
        },
    )
    .await;
    let events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM timeline_events WHERE incident_id = $1::uuid AND kind = 'assignment_timed_out'",
    )
    .bind(&incident.id)
    .fetch_one(&third.pool)
    .await
    .expect("count");
    assert_eq!(events, 1, "two live servers, one timeout");
}

#[tokio::test]
async fn a_long_poll_answers_as_soon_as_another_server_makes_the_offer() {
    let app = TestApp::spawn().await;
    let other_server = app.another_server(StoreConfig::default()).await;
    let unit = app
        .register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let mut device = app.unit_clients(&unit.id).await.field;
    let unit_id = unit.id.clone();
    let started = Instant::now();
    let poll = tokio::spawn(async move {
        device
            .poll_assignment(proto::PollAssignmentRequest {
                unit_id,
                wait_seconds: 20,
            })
            .await
            .expect("poll")
            .into_inner()
    });
    tokio::time::sleep(Duration::from_millis(300)).await; // let the poll start waiting
    let incident = other_server.create(medical_call(places::BALAI_KOTA)).await;
    let answer = poll.await.expect("poll task");
    assert_eq!(answer.incident.map(|i| i.id), Some(incident.id));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "woken by the offer, not by the end of the 20 s wait"
    );
}

#[tokio::test]
async fn a_long_poll_without_an_offer_returns_empty_when_the_wait_ends() {
    let app = TestApp::spawn().await;
    let unit = app
        .register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let mut device = app.unit_clients(&unit.id).await.field;
    let started = Instant::now();
    let answer = device
        .poll_assignment(proto::PollAssignmentRequest {
            unit_id: unit.id.clone(),
            wait_seconds: 1,
        })
        .await
        .expect("poll")
        .into_inner();
    assert!(answer.assignment.is_none() && answer.incident.is_none());
    assert!(started.elapsed() >= Duration::from_millis(900), "it waited");
}

#[tokio::test]
async fn the_live_board_sees_every_change_made_on_any_server_in_order() {
    let app = TestApp::spawn().await;
    let other_server = app.another_server(StoreConfig::default()).await;
    let mut board = app
        .operator
        .incidents
        .clone()
        .watch_incidents(proto::WatchIncidentsRequest::default())
        .await
        .expect("watch")
        .into_inner();
    tokio::time::sleep(Duration::from_millis(200)).await; // subscribed
    other_server
        .register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let incident = other_server.create(medical_call(places::BALAI_KOTA)).await;

    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        let event = tokio::time::timeout(Duration::from_secs(10), board.message())
            .await
            .expect("an event in time")
            .expect("stream open")
            .expect("not ended");
        let shown = event.incident.expect("the incident");
        assert_eq!(shown.id, incident.id);
        kinds.push(event.kind);
    }
    assert_eq!(
        kinds,
        vec!["incident_created", "assignment_offered", "status_changed"]
    );
}

#[tokio::test]
async fn a_watcher_that_falls_behind_is_told_to_resubscribe_never_silently_skipped() {
    let app = TestApp::spawn_with_server_config(ServerConfig {
        watch_feed_buffer: 4,
        watch_stream_buffer: 1,
        ..ServerConfig::default()
    })
    .await;
    let mut board = app
        .operator
        .incidents
        .clone()
        .watch_incidents(proto::WatchIncidentsRequest::default())
        .await
        .expect("watch")
        .into_inner();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Far more changes than the buffers and the connection's window hold,
    // while the board reads nothing.
    for batch in 0..30 {
        let calls = (0..10).map(|index| {
            let mut call = medical_call((
                -7.95 - 0.001 * f64::from(batch),
                112.62 + 0.001 * f64::from(index),
            ));
            call.hold = true;
            call.description = "x".repeat(2_000);
            app.create(call)
        });
        futures_util::future::join_all(calls).await;
    }
    let mut received = 0;
    let ended_with = loop {
        match tokio::time::timeout(Duration::from_secs(10), board.message())
            .await
            .expect("in time")
        {
            Ok(Some(_)) => received += 1,
            Ok(None) => panic!("the stream ended without saying it fell behind"),
            Err(status) => break status,
        }
    };
    assert_eq!(
        ended_with.code(),
        tonic::Code::ResourceExhausted,
        "{}",
        ended_with.message()
    );
    assert!(ended_with.message().contains("watch again"));
    assert!(received < 300, "it did fall behind ({received} delivered)");
}

#[tokio::test]
async fn the_same_request_id_racing_on_two_servers_makes_one_incident() {
    let app = TestApp::spawn().await;
    let other_server = app.another_server(StoreConfig::default()).await;
    app.register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    app.register_at("AMB-2", UnitKind::Ambulance, places::UNISMA)
        .await;
    let mut call = medical_call(places::BALAI_KOTA);
    call.request_id = "tablet-3/0042".to_owned();
    let (a, b) = tokio::join!(app.create(call.clone()), other_server.create(call));
    assert_eq!(a.id, b.id);
    assert_eq!(app.count("incidents").await, 1);
    assert_eq!(app.count("assignments").await, 1);
}

#[tokio::test]
async fn a_unit_with_a_stale_position_is_passed_over_while_fresh_units_can_go() {
    let app = TestApp::spawn().await;
    let stale = app
        .register_at("AMB-STALE", UnitKind::Ambulance, places::RSSA)
        .await;
    let fresh = app
        .register_at("AMB-FRESH", UnitKind::Ambulance, places::UNISMA)
        .await;
    // Its last AVL ping was two hours ago.
    sqlx::query(
        "UPDATE units SET location_updated_at = now() - interval '2 hours' WHERE id = $1::uuid",
    )
    .bind(&stale.id)
    .execute(&app.pool)
    .await
    .expect("age the position");

    let mut call = medical_call(places::BALAI_KOTA);
    call.hold = true;
    let held = app.create(call).await;
    let recommendations = app
        .operator
        .incidents
        .clone()
        .recommend_units(proto::RecommendUnitsRequest {
            incident_id: held.id.clone(),
            kind: 0,
            limit: 5,
        })
        .await
        .expect("recommend")
        .into_inner()
        .recommendations;
    let first = &recommendations[0];
    assert_eq!(
        first.unit.as_ref().map(|u| u.id.clone()),
        Some(stale.id.clone()),
        "still nearest"
    );
    assert!(first.location_stale);
    assert!(first.location_age_s > 7_000.0, "{}", first.location_age_s);
    assert!(!recommendations[1].location_stale);

    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    assert_eq!(
        incident.assignments[0].unit_id, fresh.id,
        "the fresh unit goes"
    );
    // With no fresh unit left, the stale one still serves.
    let next = app.create(medical_call(places::BALAI_KOTA)).await;
    assert_eq!(next.assignments[0].unit_id, stale.id);
}
