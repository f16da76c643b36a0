//! The proof of the real-time issue: two `ngalam112 serve` processes on
//! one database, 40 units, 200 concurrent calls split across both, and a
//! seeded random simulation of the crews (accept, decline, ignore until the
//! offer times out, complete) for 30 s. Then the database is audited.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use ngalam112_core::UnitId;
use ngalam112_proto::v1 as proto;
use ngalam112_store::{Role, StoreConfig};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tonic::Code;
use tonic::transport::Channel;

use crate::helpers::audit::{
    GAPPY_TIMELINES, TIMED_OUT_NOT_ONCE, UNITS_DOUBLE_BOOKED, WAITING_BESIDE_FREE_UNIT,
    count as audit,
};
use crate::helpers::{
    Clients, TestApp, connect_as, free_port, start_server, terminate, wait_until_serving,
};

const SEED: u64 = 0x112_2026;
const SIMULATION: Duration = Duration::from_secs(30);

/// A random point inside Kota Malang.
fn point_in_malang(rng: &mut StdRng) -> proto::GeoPoint {
    proto::GeoPoint {
        lat: rng.random_range(-8.03..-7.92),
        lon: rng.random_range(112.59..112.68),
    }
}

/// Counts answers no client mistake or race can explain.
#[derive(Default)]
struct Faults {
    unexpected: AtomicUsize,
    timeouts_caused: AtomicUsize,
}

impl Faults {
    fn check(&self, result: Result<(), tonic::Status>) {
        if let Err(status) = result {
            // Losing a race (the offer timed out, was cancelled…) is normal.
            if status.code() != Code::FailedPrecondition {
                eprintln!("unexpected answer: {status:?}");
                self.unexpected.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// One crew's device: long-polls and acts at random.
async fn crew(
    unit_id: String,
    mut device: Clients,
    mut dispatcher: Clients,
    seed: u64,
    stop: Arc<AtomicBool>,
    faults: Arc<Faults>,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut ignored: Option<String> = None;
    while !stop.load(Ordering::Relaxed) {
        let polled = device
            .field
            .poll_assignment(proto::PollAssignmentRequest {
                unit_id: unit_id.clone(),
                wait_seconds: 1,
            })
            .await;
        let Ok(polled) = polled else {
            faults.check(polled.map(|_| ()));
            continue;
        };
        let Some(assignment) = polled.into_inner().assignment else {
            // Idle. A unit that let an offer time out is out of service:
            // the dispatcher puts it back after a while.
            if ignored.take().is_some() {
                tokio::time::sleep(Duration::from_millis(rng.random_range(200..800))).await;
                let result = dispatcher
                    .units
                    .set_unit_in_service(proto::SetUnitInServiceRequest {
                        unit_id: unit_id.clone(),
                        in_service: true,
                    })
                    .await;
                faults.check(result.map(|_| ()));
            }
            continue;
        };
        if ignored.as_deref() == Some(assignment.id.as_str()) {
            continue; // still letting it ring
        }
        let id = assignment.id.clone();
        let step = |status: proto::AssignmentStatus| proto::UpdateAssignmentStatusRequest {
            assignment_id: id.clone(),
            status: status.into(),
        };
        match assignment.status() {
            proto::AssignmentStatus::Offered => {
                let roll: f64 = rng.random();
                if roll < 0.15 {
                    let result = device
                        .field
                        .decline_assignment(proto::DeclineAssignmentRequest {
                            assignment_id: id,
                            reason: "sim".to_owned(),
                        })
                        .await;
                    faults.check(result.map(|_| ()));
                } else if roll < 0.25 {
                    ignored = Some(id);
                    faults.timeouts_caused.fetch_add(1, Ordering::Relaxed);
                } else {
                    tokio::time::sleep(Duration::from_millis(rng.random_range(0..300))).await;
                    let result = device
                        .field
                        .accept_assignment(proto::AcceptAssignmentRequest { assignment_id: id })
                        .await;
                    faults.check(result.map(|_| ()));
                }
            }
            proto::AssignmentStatus::Accepted => {
                let next = if rng.random_bool(0.5) {
                    proto::AssignmentStatus::EnRoute
                } else {
                    proto::AssignmentStatus::OnScene
                };
                tokio::time::sleep(Duration::from_millis(rng.random_range(50..400))).await;
                faults.check(
                    device
                        .field
                        .update_assignment_status(step(next))
                        .await
                        .map(|_| ()),
                );
            }
            proto::AssignmentStatus::EnRoute => {
                tokio::time::sleep(Duration::from_millis(rng.random_range(50..400))).await;
                let result = device
                    .field
                    .update_assignment_status(step(proto::AssignmentStatus::OnScene))
                    .await;
                faults.check(result.map(|_| ()));
            }
            proto::AssignmentStatus::OnScene => {
                tokio::time::sleep(Duration::from_millis(rng.random_range(100..800))).await;
                let result = device
                    .field
                    .update_assignment_status(step(proto::AssignmentStatus::Completed))
                    .await;
                faults.check(result.map(|_| ()));
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_server_processes_under_a_random_simulation_keep_every_dispatch_rule() {
    // A fresh database; the in-process server of TestApp only migrates it.
    let app = TestApp::spawn_with(StoreConfig::default()).await;
    let (port_a, port_b) = (free_port(), free_port());
    let mut server_a = start_server(&app.database_url, port_a, &["--offer-timeout", "2"]);
    let mut server_b = start_server(&app.database_url, port_b, &["--offer-timeout", "2"]);
    let channels: [Channel; 2] = [
        wait_until_serving(port_a).await,
        wait_until_serving(port_b).await,
    ];
    let admin = app.token(Role::Admin).await.expect("admin token");
    let operator = app.token(Role::Operator).await.expect("operator token");
    let admins = channels
        .clone()
        .map(|channel| connect_as(channel, Some(&admin)));
    let operators = channels
        .clone()
        .map(|channel| connect_as(channel, Some(&operator)));
    let mut rng = StdRng::seed_from_u64(SEED);

    // 40 units across the city, registered through both servers.
    let kinds = [
        (proto::UnitKind::Ambulance, 16),
        (proto::UnitKind::Police, 10),
        (proto::UnitKind::FireEngine, 8),
        (proto::UnitKind::Rescue, 6),
    ];
    let mut units = Vec::new();
    for (kind, count) in kinds {
        for index in 0..count {
            let mut client = admins[units.len() % 2].clone();
            let unit = client
                .units
                .register_unit(proto::RegisterUnitRequest {
                    call_sign: format!("{}-{index:02}", kind.as_str_name()),
                    kind: kind.into(),
                    agency: "simulation".to_owned(),
                    location: Some(point_in_malang(&mut rng)),
                })
                .await
                .expect("register")
                .into_inner();
            units.push(unit.id);
        }
    }

    // The crews start polling.
    let stop = Arc::new(AtomicBool::new(false));
    let faults = Arc::new(Faults::default());
    let mut crews = Vec::new();
    for (index, unit_id) in units.iter().enumerate() {
        let unit = UnitId::parse("unit_id", unit_id).expect("id");
        let token = app.token(Role::Unit(unit)).await.expect("unit token");
        let device = connect_as(channels[index % 2].clone(), Some(&token));
        crews.push(tokio::spawn(crew(
            unit_id.clone(),
            device,
            operators[(index + 1) % 2].clone(),
            SEED + index as u64,
            stop.clone(),
            faults.clone(),
        )));
    }

    // 200 calls at once, half through each server.
    let categories = [
        proto::IncidentCategory::Medical,
        proto::IncidentCategory::TrafficAccident,
        proto::IncidentCategory::Fire,
        proto::IncidentCategory::Crime,
        proto::IncidentCategory::Rescue,
        proto::IncidentCategory::Disaster,
        proto::IncidentCategory::Other,
    ];
    let calls: Vec<proto::CreateIncidentRequest> = (0..200)
        .map(|index| proto::CreateIncidentRequest {
            category: categories[rng.random_range(0..categories.len())].into(),
            priority: rng.random_range(1..=4),
            location: Some(point_in_malang(&mut rng)),
            address: "simulasi".to_owned(),
            caller_phone: format!("0812 {:04} {:04}", index / 10_000, index % 10_000),
            ..Default::default()
        })
        .collect();
    let results =
        futures_util::future::join_all(calls.into_iter().enumerate().map(|(index, call)| {
            let mut client = operators[index % 2].clone();
            async move { client.incidents.create_incident(call).await }
        }))
        .await;
    assert!(results.iter().all(Result::is_ok), "every call is taken");

    tokio::time::sleep(SIMULATION).await;
    stop.store(true, Ordering::Relaxed);
    for crew in crews {
        crew.await.expect("crew task");
    }
    assert_eq!(terminate(&mut server_a).await.code(), Some(0));
    assert_eq!(terminate(&mut server_b).await.code(), Some(0));
    assert_eq!(
        faults.unexpected.load(Ordering::Relaxed),
        0,
        "no unexpected errors"
    );

    let pool = &app.pool;
    assert_eq!(audit(pool, "SELECT count(*) FROM incidents").await, 200);
    // No unit ever held two open assignments: no two of a unit's
    // assignments were open at overlapping times.
    let overlapping = audit(pool, UNITS_DOUBLE_BOOKED).await;
    assert_eq!(overlapping, 0, "no unit held two open assignments at once");
    // Every timeout happened, and happened exactly once.
    let timed_out = audit(
        pool,
        "SELECT count(*) FROM assignments WHERE status = 'timed_out'",
    )
    .await;
    assert!(timed_out > 0, "the simulation let offers time out");
    let not_once = audit(pool, TIMED_OUT_NOT_ONCE).await;
    assert_eq!(
        not_once, 0,
        "every TIMED_OUT has exactly one timeline event"
    );
    assert!(
        audit(
            pool,
            "SELECT count(*) FROM assignments WHERE status = 'declined'"
        )
        .await
            > 0
    );
    assert!(
        audit(
            pool,
            "SELECT count(*) FROM assignments WHERE status = 'completed'"
        )
        .await
            > 0
    );
    // Every incident is PENDING, or has an open or completed assignment for
    // each required kind.
    let unserved = audit(
        pool,
        "SELECT count(*) FROM incidents i WHERE i.status <> 'pending' AND EXISTS ( \
           SELECT 1 FROM unnest(i.required_kinds) k WHERE NOT EXISTS ( \
             SELECT 1 FROM assignments a WHERE a.incident_id = i.id AND a.unit_kind = k \
               AND a.status IN ('offered','accepted','en_route','on_scene','completed')))",
    )
    .await;
    assert_eq!(unserved, 0);
    // Rule 5 held to the end: no waiting need while a unit that could take
    // it stands available.
    let missed = audit(pool, WAITING_BESIDE_FREE_UNIT).await;
    assert_eq!(
        missed, 0,
        "no waiting call next to an idle unit that could take it"
    );
    // Timelines are gap-free (1..n) and in time order.
    let gappy = audit(pool, GAPPY_TIMELINES).await;
    assert_eq!(gappy, 0, "timelines are numbered 1..n without gaps");
    let disordered = audit(
        pool,
        "SELECT count(*) FROM (SELECT at < lag(at) OVER (PARTITION BY incident_id ORDER BY incident_seq) \
           AS backwards FROM timeline_events) s WHERE backwards",
    )
    .await;
    assert_eq!(disordered, 0, "timeline order is time order");
    eprintln!(
        "simulation: {} offers ignored, {} timeouts, {} declines, {} completions",
        faults.timeouts_caused.load(Ordering::Relaxed),
        timed_out,
        audit(
            pool,
            "SELECT count(*) FROM assignments WHERE status = 'declined'"
        )
        .await,
        audit(
            pool,
            "SELECT count(*) FROM assignments WHERE status = 'completed'"
        )
        .await,
    );
}
