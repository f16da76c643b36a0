//! The lost wake-up test: two `ngalam112 serve` processes on one database,
//! and round after round in which crews' units are freed (incidents
//! resolved) through one process at the same instant as new calls arrive
//! through the other. A freed unit and a waiting call must never miss each
//! other: after every round, with every call answered, the database shows
//! no waiting need beside an available unit of its kind, no unit with two
//! open assignments, and every offer on its incident's timeline once.
//!
//! The rounds are bounded in count and in time; the test stops by itself
//! and prints how many rounds it ran. The audit runs after every round,
//! not after a pause, so the 5 s dispatch sweep (the safety net) cannot
//! hide a miss: it could mend at most the rounds of one instant in five
//! seconds.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ngalam112_proto::v1 as proto;
use ngalam112_store::{Role, StoreConfig};
use tonic::transport::Channel;

use crate::helpers::{
    TestApp, connect_as, free_port, places, start_server, terminate, wait_until_serving,
};

const MAX_ROUNDS: usize = 2_000;
const MAX_TIME: Duration = Duration::from_secs(90);
/// Calls arriving, and incidents resolved, in each round (half through each
/// process).
const PER_ROUND: usize = 4;

async fn count(pool: &sqlx::PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .expect("audit query")
}

/// Waiting needs beside an available unit of their kind (none here refused
/// anything: no declines, no timeouts, no holds).
const MISSED: &str = "SELECT count(*) FROM incidents i, unnest(i.pending_kinds) k \
     WHERE i.status NOT IN ('resolved', 'cancelled') \
       AND EXISTS (SELECT 1 FROM units u WHERE u.kind = k AND u.status = 'available')";
/// Units holding more than one open assignment.
const DOUBLE_BOOKED: &str = "SELECT count(*) FROM (SELECT unit_id FROM assignments \
     WHERE status IN ('offered', 'accepted', 'en_route', 'on_scene') \
     GROUP BY unit_id HAVING count(*) > 1) s";
/// Offers not on their incident's timeline exactly once.
const OFFERS_NOT_ONCE: &str = "SELECT count(*) FROM assignments a \
     WHERE (SELECT count(*) FROM timeline_events t WHERE t.assignment_id = a.id \
       AND t.kind = 'assignment_offered') <> 1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freed_unit_and_a_new_call_never_miss_each_other_across_two_processes() {
    let app = TestApp::spawn_with(StoreConfig::default()).await;
    let (port_a, port_b) = (free_port(), free_port());
    let mut server_a = start_server(&app.database_url, port_a, &[]);
    let mut server_b = start_server(&app.database_url, port_b, &[]);
    let channels: [Channel; 2] = [
        wait_until_serving(port_a).await,
        wait_until_serving(port_b).await,
    ];
    let operator = app.token(Role::Operator).await.expect("operator token");
    let operators = channels.map(|channel| connect_as(channel, Some(&operator)));
    // Few units, so most calls wait for one to be freed.
    let fleet = [
        ("AMB", proto::UnitKind::Ambulance, 3, places::RSSA),
        ("POL", proto::UnitKind::Police, 2, places::POLRESTA),
    ];
    for (prefix, kind, units, place) in fleet {
        for index in 0..units {
            app.register_at(&format!("{prefix}-{index}"), kind, place)
                .await;
        }
    }
    // Medical calls need an ambulance, crimes the police, traffic
    // accidents both: freed units of one kind meet calls of both.
    let categories = [
        proto::IncidentCategory::Medical,
        proto::IncidentCategory::TrafficAccident,
        proto::IncidentCategory::Crime,
    ];
    let mut open: VecDeque<String> = VecDeque::new();
    let started = Instant::now();
    let mut rounds = 0;
    let mut calls = 0;
    while rounds < MAX_ROUNDS && started.elapsed() < MAX_TIME {
        // The oldest open incidents hold the units (one priority, so the
        // queue serves the oldest first).
        let closing: Vec<String> = (0..PER_ROUND.min(open.len()))
            .filter_map(|_| open.pop_front())
            .collect();
        let arriving = (0..PER_ROUND).map(|index| {
            let mut client = operators[index % 2].clone();
            let call = proto::CreateIncidentRequest {
                category: categories[(calls + index) % categories.len()].into(),
                priority: proto::Priority::High.into(),
                location: Some(proto::GeoPoint {
                    lat: places::BALAI_KOTA.0,
                    lon: places::BALAI_KOTA.1,
                }),
                caller_phone: "0812 3456 7890".to_owned(),
                ..Default::default()
            };
            async move { client.incidents.create_incident(call).await }
        });
        let freeing = closing.into_iter().enumerate().map(|(index, id)| {
            // Through the other process than the call at the same index.
            let mut client = operators[(index + 1) % 2].clone();
            async move {
                client
                    .incidents
                    .resolve_incident(proto::ResolveIncidentRequest {
                        id,
                        resolution: "done".to_owned(),
                        ..Default::default()
                    })
                    .await
            }
        });
        let (created, resolved) = tokio::join!(
            futures_util::future::join_all(arriving),
            futures_util::future::join_all(freeing)
        );
        for incident in created {
            open.push_back(incident.expect("the call is taken").into_inner().id);
        }
        for answer in resolved {
            answer.expect("the incident is resolved");
        }
        calls += PER_ROUND;
        rounds += 1;
        let pool = &app.pool;
        assert_eq!(
            count(pool, MISSED).await,
            0,
            "round {rounds}: a call waits beside an available unit of its kind"
        );
        assert_eq!(count(pool, DOUBLE_BOOKED).await, 0, "round {rounds}");
    }
    assert_eq!(terminate(&mut server_a).await.code(), Some(0));
    assert_eq!(terminate(&mut server_b).await.code(), Some(0));

    let pool = &app.pool;
    assert!(rounds >= 50, "enough rounds ran: {rounds}");
    assert_eq!(count(pool, MISSED).await, 0);
    assert_eq!(count(pool, DOUBLE_BOOKED).await, 0);
    assert_eq!(count(pool, OFFERS_NOT_ONCE).await, 0);
    let offers = count(pool, "SELECT count(*) FROM assignments").await;
    let waited = count(
        pool,
        "SELECT count(*) FROM incidents i WHERE EXISTS (SELECT 1 FROM assignments a \
         WHERE a.incident_id = i.id AND a.offered_at > i.created_at + interval '1 ms')",
    )
    .await;
    assert!(
        waited > 0,
        "some calls waited and were served by a freed unit"
    );
    eprintln!(
        "lost wake-ups: {rounds} rounds in {:.1} s, {calls} calls, {offers} offers, \
         {waited} calls served after waiting",
        started.elapsed().as_secs_f64()
    );
}
