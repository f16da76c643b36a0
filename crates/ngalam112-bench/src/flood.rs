//! `intake under flood`: the `intake` workload again while 100 other
//! connections flood `Login` (wrong passwords, made-up usernames) and
//! `GetPublicStats` without a token, each call from another client address
//! (the server believes `X-Forwarded-For` from the bench, as it would from
//! a load balancer, so the per-address limits alone cannot stop the
//! flood: the password-check bound and the side connections must). Its
//! p50/p99 beside the plain `intake` row of the same run show whether
//! anyone else's load reaches dispatch.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ngalam112_client::Clients;
use ngalam112_proto::v1 as proto;
use tokio::sync::watch;

use crate::load::{Row, measure};
use crate::server::{BenchServer, Target, free_units_while, insert_units};
use crate::workloads::{Plan, clients, record_calls};

/// Connections flooding at once.
const FLOODERS: usize = 100;

/// Answers to the flood, by what they were.
#[derive(Default)]
struct FloodAnswers {
    refused: AtomicU64,
    exhausted: AtomicU64,
    answered: AtomicU64,
    other: AtomicU64,
}

impl FloodAnswers {
    fn count<T>(&self, answer: Result<T, tonic::Status>) {
        let counter = match answer.as_ref().map_err(tonic::Status::code) {
            Ok(_) => &self.answered,
            Err(tonic::Code::Unauthenticated) => &self.refused,
            Err(tonic::Code::ResourceExhausted) => &self.exhausted,
            Err(_) => &self.other,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn from_address<T>(message: T, flooder: usize, round: u64) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let address = format!(
        "10.{}.{}.{}",
        flooder % 250,
        (round / 250) % 250,
        round % 250
    );
    if let Ok(value) = address.parse() {
        request.metadata_mut().insert("x-forwarded-for", value);
    }
    request
}

pub async fn intake_under_flood(target: &Target, plan: &Plan) -> anyhow::Result<Row> {
    let server = BenchServer::start(target, 3600).await?;
    insert_units(&server.pool, "ambulance", plan.intake_units, 1).await?;
    let (stop, stopped) = watch::channel(false);
    let freer = tokio::spawn(free_units_while(server.pool.clone(), stopped.clone()));
    let answers = Arc::new(FloodAnswers::default());
    let mut flooders = Vec::new();
    for (flooder, channel) in server.channels(FLOODERS).await?.into_iter().enumerate() {
        let anonymous = Clients::new(channel, None)?;
        let answers = answers.clone();
        let mut stopped = stopped.clone();
        flooders.push(tokio::spawn(async move {
            let mut round = 0u64;
            while !*stopped.borrow_and_update() {
                round += 1;
                let login = proto::LoginRequest {
                    username: format!("nobody-{flooder}-{round}"),
                    password: "tebakan-salah".to_owned(),
                };
                answers.count(
                    anonymous
                        .auth
                        .clone()
                        .login(from_address(login, flooder, round))
                        .await,
                );
                let stats = proto::GetPublicStatsRequest::default();
                answers.count(
                    anonymous
                        .public
                        .clone()
                        .get_public_stats(from_address(stats, flooder, round))
                        .await,
                );
            }
        }));
    }
    let clients = clients(&server, 4).await?;
    let mut row = measure(
        "intake under flood",
        plan.intake_workers,
        plan.warmup,
        plan.duration,
        record_calls(clients),
    )
    .await;
    stop.send_replace(true);
    for flooder in flooders {
        let _ = flooder.await;
    }
    let _ = freer.await;
    let seconds = (plan.warmup + plan.duration).as_secs_f64();
    let total = |counter: &AtomicU64| counter.load(Ordering::Relaxed) as f64 / seconds;
    row.note = format!(
        "{FLOODERS} connections flooding: {:.0}/s refused, {:.0}/s RESOURCE_EXHAUSTED, \
         {:.0}/s answered, {:.0}/s other",
        total(&answers.refused),
        total(&answers.exhausted),
        total(&answers.answered),
        total(&answers.other),
    );
    server.stop().await?;
    Ok(row)
}
