//! The hardware's ceiling for intake: the minimal intake-and-dispatch
//! transaction committed straight from here, beside the server's `intake`.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::load::{Row, measure};
use crate::server::{BenchServer, Target, insert_units};
use crate::workloads::Plan;

/// The hardware's ceiling for intake, sharing no code with the server: each
/// of the workers commits, durably and as fast as it can, the minimal
/// intake-and-dispatch transaction on the server's own schema — INSERT the
/// incident, INSERT its assignment (completed, so the unit stays free),
/// UPDATE the unit, INSERT a timeline event — on a unit of its own (no
/// locks between workers, no search, no NOTIFY).
pub(crate) async fn ceiling(target: &Target, plan: &Plan) -> anyhow::Result<Row> {
    let server = BenchServer::start(target, 3600).await?;
    let units = Arc::new(insert_units(&server.pool, "ambulance", plan.intake_workers, 5).await?);
    let pool = server.pool.clone();
    let row = measure(
        "ceiling",
        plan.intake_workers,
        plan.warmup,
        plan.duration,
        move |worker, iteration| {
            let pool = pool.clone();
            let unit = units[worker % units.len()];
            let mut rng = StdRng::seed_from_u64((worker as u64) << 32 | iteration);
            let (lat, lon) = (rng.random_range(-8.03..-7.92), rng.random_range(112.59..112.68));
            async move {
                let work = async {
                    let incident = uuid::Uuid::new_v4();
                    let assignment = uuid::Uuid::new_v4();
                    let mut transaction = pool.begin().await?;
                    sqlx::query!(
                        "INSERT INTO incidents (id, status, category, priority, caller_phone, \
                           caller_name, lat, lon, address, description, required_kinds) \
                         VALUES ($1, 'dispatched', 'medical', 2, '+6281234567890', '', $2, $3, \
                           'Jl. Ijen', 'bench', '{ambulance}')",
                        incident,
                        lat,
                        lon,
                    )
                    .execute(&mut *transaction)
                    .await?;
                    sqlx::query!(
                        "INSERT INTO assignments (id, incident_id, unit_id, unit_kind, status, \
                           distance_m) VALUES ($1, $2, $3, 'ambulance', 'completed', 100)",
                        assignment,
                        incident,
                        unit,
                    )
                    .execute(&mut *transaction)
                    .await?;
                    sqlx::query!(
                        "UPDATE units SET available_since = now(), updated_at = now() WHERE id = $1",
                        unit,
                    )
                    .execute(&mut *transaction)
                    .await?;
                    sqlx::query!(
                        "INSERT INTO timeline_events (incident_id, incident_seq, kind, actor, detail, \
                           assignment_id, unit_id) \
                         VALUES ($1, 1, 'assignment_offered', 'bench', 'offered', $2, $3)",
                        incident,
                        assignment,
                        unit,
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
