//! The workloads. Each starts on a fresh database with its own server
//! process, and returns its rows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ngalam112_client::Clients;
use ngalam112_core::{GeoPoint, IncidentCategory, IncidentDraft, NewIncident, Priority, UnitKind};
use ngalam112_proto::v1 as proto;
use ngalam112_store::Actor;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::sync::watch;

use crate::load::{Row, measure};
use crate::server::{BenchServer, Target, free_units_while, insert_units};

/// Sizes and durations of a run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub warmup: Duration,
    pub duration: Duration,
    pub intake_units: usize,
    pub intake_workers: usize,
    pub avl_units: usize,
    pub avl_workers: usize,
    pub poll_units: usize,
    pub poll_offers_per_s: f64,
    pub fleet_sizes: Vec<usize>,
    /// Live boards open during the `watch` workload.
    pub watchers: usize,
}

/// Where the units and calls of a workload are: a box of latitudes and
/// longitudes.
#[derive(Debug, Clone, Copy)]
pub struct Area {
    pub lat: (f64, f64),
    pub lon: (f64, f64),
}

impl Area {
    /// Kota Malang.
    pub const MALANG: Area = Area {
        lat: (-8.03, -7.92),
        lon: (112.59, 112.68),
    };

    pub fn random(&self, rng: &mut StdRng) -> (f64, f64) {
        (
            rng.random_range(self.lat.0..self.lat.1),
            rng.random_range(self.lon.0..self.lon.1),
        )
    }
}

/// A random point in Kota Malang as the store takes it.
fn random_location(rng: &mut StdRng) -> Option<GeoPoint> {
    let (lat, lon) = Area::MALANG.random(rng);
    GeoPoint::new("location", lat, lon).ok()
}

fn random_point(rng: &mut StdRng) -> proto::GeoPoint {
    let (lat, lon) = Area::MALANG.random(rng);
    proto::GeoPoint { lat, lon }
}

fn medical_call(rng: &mut StdRng) -> proto::CreateIncidentRequest {
    medical_call_in(rng, &Area::MALANG)
}

fn medical_call_in(rng: &mut StdRng, area: &Area) -> proto::CreateIncidentRequest {
    let (lat, lon) = area.random(rng);
    proto::CreateIncidentRequest {
        category: proto::IncidentCategory::Medical.into(),
        priority: proto::Priority::High.into(),
        caller_phone: "0812 3456 7890".to_owned(),
        location: Some(proto::GeoPoint { lat, lon }),
        address: "Jl. Ijen".to_owned(),
        description: "bench".to_owned(),
        ..Default::default()
    }
}

/// The intake workloads' operation: worker `w`'s `i`th call, a random
/// medical call in Kota Malang recorded through gRPC on one of `clients`.
pub(crate) fn record_calls(
    clients: Vec<Clients>,
) -> impl Fn(usize, u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>
+ Clone
+ Send
+ Sync
+ 'static {
    record_calls_in(clients, Area::MALANG)
}

/// As `record_calls`, the calls in `area`.
pub(crate) fn record_calls_in(
    clients: Vec<Clients>,
    area: Area,
) -> impl Fn(usize, u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>
+ Clone
+ Send
+ Sync
+ 'static {
    move |worker, iteration| {
        let mut client = clients[worker % clients.len()].clone();
        let mut rng = StdRng::seed_from_u64((worker as u64) << 32 | iteration);
        Box::pin(async move {
            client
                .incidents
                .create_incident(medical_call_in(&mut rng, &area))
                .await
                .is_ok()
        })
    }
}

pub(crate) async fn clients(
    server: &BenchServer,
    connections: usize,
) -> anyhow::Result<Vec<Clients>> {
    Ok(server
        .channels(connections)
        .await?
        .into_iter()
        .map(|channel| Clients::new(channel, Some(&server.admin_token)))
        .collect::<Result<_, _>>()?)
}

/// CreateIncident with auto-dispatch from many clients, units freeing up as
/// crews complete; and the same SQL issued directly (the ceiling).
pub async fn intake(target: &Target, plan: &Plan) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    // Through gRPC.
    let server = BenchServer::start(target, 3600).await?;
    insert_units(&server.pool, "ambulance", plan.intake_units, 1).await?;
    let (stop, stopped) = watch::channel(false);
    let freer = tokio::spawn(free_units_while(server.pool.clone(), stopped));
    let clients = clients(&server, 4).await?;
    let row = measure(
        "intake",
        plan.intake_workers,
        plan.warmup,
        plan.duration,
        record_calls(clients),
    )
    .await;
    stop.send_replace(true);
    let _ = freer.await;
    let durable: i64 = sqlx::query_scalar!(r#"SELECT count(*) AS "count!" FROM incidents"#)
        .fetch_one(&server.pool)
        .await?;
    let mut row = row;
    row.note = format!("{durable} incidents stored");
    rows.push(row);
    server.stop().await?;

    // The same statements straight from here: the store's own intake
    // transaction plus the token lookup a call makes (batched the same way).
    let server = BenchServer::start(target, 3600).await?;
    insert_units(&server.pool, "ambulance", plan.intake_units, 1).await?;
    let (stop, stopped) = watch::channel(false);
    let freer = tokio::spawn(free_units_while(server.pool.clone(), stopped));
    let store = server.store.clone();
    let tokens = ngalam112_store::TokenVerifier::start(server.store.clone());
    let token_hash = ngalam112::auth::hash_secret(&server.admin_token);
    let row = measure(
        "intake store-only",
        plan.intake_workers,
        plan.warmup,
        plan.duration,
        move |worker, iteration| {
            let store = store.clone();
            let tokens = tokens.clone();
            let token_hash = token_hash.clone();
            let mut rng = StdRng::seed_from_u64((worker as u64) << 32 | iteration);
            async move {
                let Ok(Some(_)) = tokens.verify(token_hash).await else {
                    return false;
                };
                let Some(location) = random_location(&mut rng) else {
                    return false;
                };
                let Ok(incident) = NewIncident::parse(IncidentDraft {
                    category: IncidentCategory::Medical,
                    priority: Priority::High,
                    location,
                    required_kinds: vec![UnitKind::Ambulance],
                    caller_phone: "+6281234567890",
                    caller_id_withheld: false,
                    caller_name: "",
                    address: "Jl. Ijen",
                    description: "bench",
                    request_id: "",
                    duplicate_of: "",
                    hold: false,
                    call_id: "",
                }) else {
                    return false;
                };
                store
                    .create_incident(&incident, &Actor("bench".to_owned()))
                    .await
                    .is_ok()
            }
        },
    )
    .await;
    stop.send_replace(true);
    let _ = freer.await;
    rows.push(row);
    server.stop().await?;
    rows.push(crate::ceiling::ceiling(target, plan).await?);
    Ok(rows)
}

/// ReportLocation from many units at full speed; and the same statements
/// straight from here.
pub async fn avl(target: &Target, plan: &Plan) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let server = BenchServer::start(target, 3600).await?;
    let units = Arc::new(insert_units(&server.pool, "police", plan.avl_units, 2).await?);
    let clients = clients(&server, 4).await?;
    let ids = units.clone();
    let row = measure(
        "avl",
        plan.avl_workers,
        plan.warmup,
        plan.duration,
        move |worker, iteration| {
            let mut client = clients[worker % clients.len()].clone();
            let mut rng = StdRng::seed_from_u64((worker as u64) << 32 | iteration);
            let unit = ids[rng.random_range(0..ids.len())].to_string();
            async move {
                client
                    .field
                    .report_location(proto::ReportLocationRequest {
                        unit_id: unit,
                        location: Some(random_point(&mut rng)),
                    })
                    .await
                    .is_ok()
            }
        },
    )
    .await;
    rows.push(row);

    // The same SQL straight from here: the token lookup a call makes, and
    // the position through the same batching writer the server uses.
    let tokens = ngalam112_store::TokenVerifier::start(server.store.clone());
    let writer = ngalam112_store::AvlWriter::start(server.pool.clone());
    let token_hash = ngalam112::auth::hash_secret(&server.admin_token);
    let ids = units.clone();
    let row = measure(
        "avl store-only",
        plan.avl_workers,
        plan.warmup,
        plan.duration,
        move |worker, iteration| {
            let tokens = tokens.clone();
            let writer = writer.clone();
            let token_hash = token_hash.clone();
            let mut rng = StdRng::seed_from_u64((worker as u64) << 32 | iteration);
            let unit = ngalam112_core::UnitId::from_uuid(ids[rng.random_range(0..ids.len())]);
            async move {
                let Ok(Some(_)) = tokens.verify(token_hash).await else {
                    return false;
                };
                let Some(location) = random_location(&mut rng) else {
                    return false;
                };
                writer.report(unit, location).await.is_ok()
            }
        },
    )
    .await;
    rows.push(row);
    server.stop().await?;
    Ok(rows)
}

/// Many units long-polling at once while offers are made at a steady rate:
/// how long from the offer to the waiting device's answer, and the
/// server's memory.
pub async fn poll(target: &Target, plan: &Plan) -> anyhow::Result<Vec<Row>> {
    let server = BenchServer::start(target, 3600).await?;
    let units = insert_units(&server.pool, "rescue", plan.poll_units, 3).await?;
    // 10,000 streams need more than one connection (HTTP/2 caps streams
    // per connection).
    let connections = (plan.poll_units / 150).max(1);
    let clients = clients(&server, connections).await?;
    let offered_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<u64>>> = Arc::default();
    let (stop, stopped) = watch::channel(false);
    let mut pollers = Vec::new();
    for (index, unit) in units.iter().enumerate() {
        let mut client = clients[index % clients.len()].clone();
        let unit = unit.to_string();
        let offered_at = offered_at.clone();
        let latencies = latencies.clone();
        let stopped = stopped.clone();
        pollers.push(tokio::spawn(async move {
            while !*stopped.borrow() {
                let answer = client
                    .field
                    .poll_assignment(proto::PollAssignmentRequest {
                        unit_id: unit.clone(),
                        wait_seconds: 30,
                    })
                    .await;
                let Ok(answer) = answer else {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                let Some(assignment) = answer.into_inner().assignment else {
                    continue;
                };
                let woke = Instant::now();
                if let Some(sent) = offered_at
                    .lock()
                    .map(|mut map| map.remove(&unit))
                    .ok()
                    .flatten()
                {
                    latencies
                        .lock()
                        .map(|mut l| l.push((woke - sent).as_micros() as u64))
                        .ok();
                }
                // Take it and finish it, so the unit waits again.
                let _ = client
                    .field
                    .accept_assignment(proto::AcceptAssignmentRequest {
                        assignment_id: assignment.id.clone(),
                    })
                    .await;
                let _ = client
                    .field
                    .update_assignment_status(proto::UpdateAssignmentStatusRequest {
                        assignment_id: assignment.id,
                        status: proto::AssignmentStatus::Completed.into(),
                    })
                    .await;
            }
        }));
    }
    // Let every poll reach the server.
    tokio::time::sleep(Duration::from_secs(2).max(plan.warmup)).await;
    let rss_waiting = server.rss_mib();
    let mut dispatcher = clients[0].clone();
    let mut rng = StdRng::seed_from_u64(50);
    let interval = Duration::from_secs_f64(1.0 / plan.poll_offers_per_s);
    let end = Instant::now() + plan.duration;
    let mut errors = 0;
    let mut next = Instant::now();
    while Instant::now() < end {
        tokio::time::sleep_until(next.into()).await;
        next += interval;
        let mut held = medical_call(&mut rng);
        held.category = proto::IncidentCategory::Rescue.into();
        held.hold = true;
        let Ok(incident) = dispatcher.incidents.create_incident(held).await else {
            errors += 1;
            continue;
        };
        let unit = units[rng.random_range(0..units.len())].to_string();
        let sent = Instant::now();
        offered_at
            .lock()
            .map(|mut map| map.insert(unit.clone(), sent))
            .ok();
        let assigned = dispatcher
            .incidents
            .assign_unit(proto::AssignUnitRequest {
                incident_id: incident.into_inner().id,
                unit_id: unit.clone(),
            })
            .await;
        if assigned.is_err() {
            // Still busy with its previous offer.
            offered_at.lock().map(|mut map| map.remove(&unit)).ok();
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_end = server.rss_mib();
    stop.send_replace(true);
    let latencies =
        std::mem::take(&mut *latencies.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    let mut row = Row::from_latencies(
        "poll (offer→wake)",
        latencies,
        plan.duration.as_secs_f64(),
        errors,
    );
    row.note = format!(
        "{} waiting long-polls; server RSS {:.0} MiB waiting, {:.0} MiB at the end",
        plan.poll_units,
        rss_waiting.unwrap_or(f64::NAN),
        rss_end.unwrap_or(f64::NAN)
    );
    for poller in pollers {
        poller.abort();
    }
    server.stop().await?;
    Ok(vec![row])
}

/// CreateIncident latency (one client) with fleets of growing size.
pub async fn fleet_size(target: &Target, plan: &Plan) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for size in &plan.fleet_sizes {
        let server = BenchServer::start(target, 3600).await?;
        insert_units(&server.pool, "ambulance", *size, 4).await?;
        let (stop, stopped) = watch::channel(false);
        let freer = tokio::spawn(free_units_while(server.pool.clone(), stopped));
        let clients = clients(&server, 1).await?;
        let mut row = measure(
            &format!("fleet-size {size}"),
            1,
            plan.warmup,
            plan.duration,
            move |_, iteration| {
                let mut client = clients[0].clone();
                let mut rng = StdRng::seed_from_u64(iteration);
                async move {
                    client
                        .incidents
                        .create_incident(medical_call(&mut rng))
                        .await
                        .map(|incident| !incident.into_inner().assignments.is_empty())
                        .unwrap_or(false)
                }
            },
        )
        .await;
        stop.send_replace(true);
        let _ = freer.await;
        row.note = format!("{size} available ambulances");
        rows.push(row);
        server.stop().await?;
    }
    Ok(rows)
}

/// The live board under load: `watchers` WatchIncidents streams open while
/// calls come in at 100/s. Latency: from sending CreateIncident to each
/// watcher receiving its `incident_created` event (an upper bound of
/// commit → watcher). Also the database transactions per incident, which
/// must not grow with the number of watchers (each change is loaded once
/// per process).
pub async fn watch(target: &Target, plan: &Plan) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for watchers in [1, plan.watchers] {
        let server = BenchServer::start(target, 3600).await?;
        insert_units(&server.pool, "ambulance", plan.intake_units, 6).await?;
        let (stop, stopped) = watch::channel(false);
        let freer = tokio::spawn(free_units_while(server.pool.clone(), stopped.clone()));
        let channels = server.channels(8).await?;
        let sent: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
        let latencies: Arc<Mutex<Vec<u64>>> = Arc::default();
        let measuring = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut streams = Vec::new();
        // A token holds at most 16 watch streams.
        let mut tokens = Vec::new();
        for _ in 0..watchers.div_ceil(16) {
            let (secret, _) =
                ngalam112::auth::issue_token(&server.store, ngalam112_store::Role::Operator)
                    .await?;
            tokens.push(secret);
        }
        for index in 0..watchers {
            let mut client = Clients::new(
                channels[index % channels.len()].clone(),
                Some(&tokens[index / 16]),
            )?;
            let mut stream = client
                .incidents
                .watch_incidents(proto::WatchIncidentsRequest::default())
                .await?
                .into_inner();
            let sent = sent.clone();
            let latencies = latencies.clone();
            let measuring = measuring.clone();
            streams.push(tokio::spawn(async move {
                while let Ok(Some(event)) = stream.message().await {
                    let received = Instant::now();
                    if event.kind != "incident_created"
                        || !measuring.load(std::sync::atomic::Ordering::Relaxed)
                    {
                        continue;
                    }
                    let number = event.incident.and_then(|incident| {
                        incident.description.strip_prefix("bench ")?.parse().ok()
                    });
                    let started = number.and_then(|number: u64| {
                        sent.lock().ok().and_then(|sent| sent.get(&number).copied())
                    });
                    if let Some(started) = started {
                        latencies
                            .lock()
                            .map(|mut all| all.push((received - started).as_micros() as u64))
                            .ok();
                    }
                }
            }));
        }
        let transactions = || async {
            sqlx::query_scalar!(
                r#"SELECT xact_commit AS "commits!" FROM pg_stat_database
                   WHERE datname = current_database()"#
            )
            .fetch_one(&server.pool)
            .await
        };
        let intake_client = Clients::new(channels[0].clone(), Some(&server.admin_token))?;
        let calls = |count: u64, first: u64| {
            let sent = sent.clone();
            let intake_client = intake_client.clone();
            async move {
                let mut tick = tokio::time::interval(Duration::from_millis(10));
                let mut calls = Vec::new();
                for number in first..first + count {
                    tick.tick().await;
                    let mut client = intake_client.clone();
                    let sent = sent.clone();
                    calls.push(tokio::spawn(async move {
                        let mut rng = StdRng::seed_from_u64(number);
                        let mut call = medical_call(&mut rng);
                        call.description = format!("bench {number}");
                        sent.lock()
                            .map(|mut sent| sent.insert(number, Instant::now()))
                            .ok();
                        client.incidents.create_incident(call).await.is_ok()
                    }));
                }
                let mut stored = 0u64;
                for call in calls {
                    stored += u64::from(call.await.unwrap_or(false));
                }
                stored
            }
        };
        let per_second = 100.0;
        calls((per_second * plan.warmup.as_secs_f64()) as u64, 0).await;
        // Statistics reach pg_stat_database about once a second.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let before = transactions().await?;
        measuring.store(true, std::sync::atomic::Ordering::Relaxed);
        let count = (per_second * plan.duration.as_secs_f64()) as u64;
        let stored = calls(count, 1_000_000).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        measuring.store(false, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let after = transactions().await?;
        stop.send_replace(true);
        let _ = freer.await;
        let latencies = latencies.lock().map(|all| all.clone()).unwrap_or_default();
        let expected = stored * watchers as u64;
        let missing = expected.saturating_sub(latencies.len() as u64);
        let mut row = Row::from_latencies(
            &format!("watch {watchers}"),
            latencies,
            plan.duration.as_secs_f64(),
            missing,
        );
        row.note = format!(
            "{watchers} watchers, {stored} calls at {per_second:.0}/s; \
             {:.1} database transactions per call (all of the server's work)",
            (after - before) as f64 / stored.max(1) as f64
        );
        rows.push(row);
        for stream in streams {
            stream.abort();
        }
        server.stop().await?;
    }
    Ok(rows)
}
