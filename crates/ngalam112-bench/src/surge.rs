//! A mass-casualty surge: every unit of the kind is busy, and 16 callers
//! record calls that must wait in the queue; beside it, the hardware's
//! ceiling for such a call, sharing no code with the server.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::load::{Row, measure};
use crate::server::{BenchServer, Target, insert_units};
use crate::workloads::{Plan, clients, record_calls};

/// CreateIncident through gRPC while no ambulance is free (the fleet is
/// there, every unit out of service): each call is stored waiting.
pub(crate) async fn surge(target: &Target, plan: &Plan) -> anyhow::Result<Row> {
    let server = BenchServer::start(target, 3600).await?;
    insert_units(&server.pool, "ambulance", plan.intake_units, 1).await?;
    sqlx::query!("UPDATE units SET status = 'out_of_service'")
        .execute(&server.pool)
        .await?;
    let clients = clients(&server, 4).await?;
    let mut row = measure(
        "surge",
        plan.intake_workers,
        plan.warmup,
        plan.duration,
        record_calls(clients),
    )
    .await;
    let waiting: i64 = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM incidents WHERE 'ambulance' = ANY(pending_kinds)"#
    )
    .fetch_one(&server.pool)
    .await?;
    row.note = format!("{waiting} calls waiting in the queue");
    server.stop().await?;
    Ok(row)
}

/// The hardware's ceiling for a call that must wait: each worker commits,
/// durably and as fast as it can, the minimal waiting-call transaction on
/// the server's own schema (INSERT the incident, INSERT its timeline
/// event), straight from here.
pub(crate) async fn surge_ceiling(target: &Target, plan: &Plan) -> anyhow::Result<Row> {
    let server = BenchServer::start(target, 3600).await?;
    let pool = server.pool.clone();
    let row = measure(
        "surge ceiling",
        plan.intake_workers,
        plan.warmup,
        plan.duration,
        move |worker, iteration| {
            let pool = pool.clone();
            let mut rng = StdRng::seed_from_u64((worker as u64) << 32 | iteration);
            let (lat, lon) = (
                rng.random_range(-8.03..-7.92),
                rng.random_range(112.59..112.68),
            );
            async move {
                let work = async {
                    let incident = uuid::Uuid::new_v4();
                    let mut transaction = pool.begin().await?;
                    sqlx::query!(
                        "INSERT INTO incidents (id, status, category, priority, caller_phone, \
                           caller_name, lat, lon, address, description, required_kinds, \
                           pending_kinds, last_timeline_seq) \
                         VALUES ($1, 'pending', 'medical', 2, '+6281234567890', '', $2, $3, \
                           'Jl. Ijen', 'bench', '{ambulance}', '{ambulance}', 1)",
                        incident,
                        lat,
                        lon,
                    )
                    .execute(&mut *transaction)
                    .await?;
                    sqlx::query!(
                        "INSERT INTO timeline_events (incident_id, incident_seq, kind, actor, \
                           detail) VALUES ($1, 1, 'incident_created', 'bench', 'high medical')",
                        incident,
                    )
                    .execute(&mut *transaction)
                    .await?;
                    transaction.commit().await?;
                    Ok::<(), sqlx::Error>(())
                };
                work.await.is_ok()
            }
        },
    )
    .await;
    server.stop().await?;
    Ok(row)
}
