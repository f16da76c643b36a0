//! `--roads FILE.osm.pbf`: the road network's figures. Its preparation
//! (time, size, memory), the `route` row (the drive times from 16
//! candidate units to one incident, as a dispatch asks for them: p50/p99
//! in µs), and the `intake` workload again with the server on that
//! network, units and calls inside the network's bounds.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ngalam112_core::GeoPoint;
use ngalam112_core::drive::DriveTimes;
use ngalam112_roads::Roads;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::watch;

use crate::load::{Row, measure};
use crate::server::{BenchServer, Target, free_units_while, insert_units_in};
use crate::workloads::{Area, Plan, clients, record_calls_in};

/// This process's resident memory (kB), from /proc (0 where there is none).
fn resident_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn figure(workload: &str, value: f64, note: String) -> Row {
    Row {
        workload: workload.to_owned(),
        ops_per_s: value,
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        max_ms: f64::NAN,
        errors: 0,
        note,
    }
}

pub async fn roads(target: &Target, plan: &Plan, file: &Path) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let cache = std::env::temp_dir().join(format!("ngalam112-bench-roads-{}", std::process::id()));
    let file_owned = file.to_owned();
    let cache_owned = cache.clone();
    let (roads, report, grown_kb, seconds) = tokio::task::spawn_blocking(move || {
        let before = resident_kb();
        let started = Instant::now();
        let loaded = Roads::load(&file_owned, &cache_owned);
        let seconds = started.elapsed().as_secs_f64();
        loaded.map(|(roads, report)| (roads, report, resident_kb().saturating_sub(before), seconds))
    })
    .await??;
    let cache_bytes = std::fs::metadata(&report.cache_file).map_or(0, |meta| meta.len());
    rows.push(figure(
        "roads prepare",
        seconds,
        format!(
            "to read and prepare {}: {} nodes, {} segments, {} prepared edges; +{:.0} MB resident, cache {:.1} MB",
            file.display(),
            report.nodes,
            report.segments,
            report.prepared_edges,
            grown_kb as f64 / 1024.0,
            cache_bytes as f64 / 1_048_576.0
        ),
    ));
    let file_owned = file.to_owned();
    let cache_owned = cache.clone();
    let cached_s = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        Roads::load(&file_owned, &cache_owned).map(|_| started.elapsed().as_secs_f64())
    })
    .await??;
    rows.push(figure(
        "roads from cache",
        cached_s,
        "to start from the cache (the file hashed, the graph read)".to_owned(),
    ));
    let _ = std::fs::remove_dir_all(&cache);

    let (min, max) = roads.bounds();
    let area = Area {
        lat: (min.0, max.0),
        lon: (min.1, max.1),
    };
    let roads: Arc<dyn DriveTimes> = Arc::new(roads);
    rows.push(route(&roads, &area, plan.duration).await?);

    // Intake with the server on the network: units and calls inside it.
    let server = BenchServer::start_on(target, 3600, Some(file)).await?;
    insert_units_in(&server.pool, "ambulance", plan.intake_units, 1, &area).await?;
    let (stop, stopped) = watch::channel(false);
    let freer = tokio::spawn(free_units_while(server.pool.clone(), stopped));
    let clients = clients(&server, 4).await?;
    let mut row = measure(
        "intake on roads",
        plan.intake_workers,
        plan.warmup,
        plan.duration,
        record_calls_in(clients, area),
    )
    .await;
    stop.send_replace(true);
    let _ = freer.await;
    let (offers, by_road): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(*) FILTER (WHERE eta_s > 0) FROM assignments")
            .fetch_one(&server.pool)
            .await?;
    row.note = format!(
        "{} units in {:.2}×{:.2}°; {offers} offers, {by_road} ranked by drive time",
        plan.intake_units,
        area.lat.1 - area.lat.0,
        area.lon.1 - area.lon.0
    );
    rows.push(row);
    server.stop().await?;
    Ok(rows)
}

/// The drive times from 16 random places to one, one query after another
/// on one thread, for `duration`.
async fn route(
    roads: &Arc<dyn DriveTimes>,
    area: &Area,
    duration: Duration,
) -> anyhow::Result<Row> {
    let roads = roads.clone();
    let area = *area;
    tokio::task::spawn_blocking(move || {
        let mut rng = StdRng::seed_from_u64(16);
        let point = |rng: &mut StdRng| {
            let (lat, lon) = area.random(rng);
            GeoPoint::new("location", lat, lon)
        };
        let mut latencies = Vec::new();
        let (mut connected, mut asked) = (0usize, 0usize);
        let started = Instant::now();
        while started.elapsed() < duration {
            let incident = point(&mut rng)?;
            let units = (0..16)
                .map(|_| point(&mut rng))
                .collect::<Result<Vec<_>, _>>()?;
            let began = Instant::now();
            let legs = roads.drive_times(&incident, &units);
            latencies.push(began.elapsed().as_micros() as u64);
            connected += legs.iter().flatten().count();
            asked += legs.len();
        }
        let mut row = Row::from_latencies("route", latencies, started.elapsed().as_secs_f64(), 0);
        row.note = format!(
            "16 units → 1 incident: p50 {:.0} µs, p99 {:.0} µs; {:.0} % of the drives connected",
            row.p50_ms * 1000.0,
            row.p99_ms * 1000.0,
            100.0 * connected as f64 / asked.max(1) as f64
        );
        Ok::<Row, anyhow::Error>(row)
    })
    .await?
}
