//! The database fails over and nothing is lost: two `ngalam112 serve`
//! processes on a real PostgreSQL cluster (Patroni, two nodes in
//! synchronous mode, etcd, HAProxy; `scripts/ha-cluster.sh`), under intake,
//! crews and position reports. The primary dies (`kill -9`, postmaster and
//! Patroni), Patroni promotes the standby, the servers carry on without a
//! restart; the old primary rejoins and the same happens back the other
//! way; then a planned switchover. After each, an audit of the new primary
//! (one line printed per round).
//!
//! Needs the cluster: `scripts/failover-test.sh` brings it up, runs this
//! (it is `#[ignore]`d otherwise) and takes it down.

#![allow(clippy::unwrap_used)]

mod audit;
mod board;
mod cluster;
mod load;

use std::time::{Duration, Instant};

use ngalam112_core::UnitId;
use ngalam112_proto::v1 as proto;
use ngalam112_store::{Role, Store, StoreConfig};
use ngalam112_testkit::{connect_as, free_port, serve_command, terminate, wait_until_serving};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, Executor, PgConnection};

use crate::board::Board;
use crate::load::Load;

const DATABASE: &str = "ngalam112_failover";
const AMBULANCES: usize = 20;
const CALLERS: usize = 4;
/// Each call-taker's pause between calls.
const PACE: Duration = Duration::from_millis(100);

/// What a round does to the cluster; returns the node that stopped.
type Failure = fn() -> String;

/// Runs a blocking script call off the async workers.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work)
        .await
        .expect("cluster script")
}

async fn fresh_database() -> String {
    let admin_url = blocking(cluster::url).await;
    let mut connection = PgConnection::connect(&admin_url)
        .await
        .expect("the cluster answers through HAProxy");
    connection
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"
        )))
        .await
        .expect("drop the old test database");
    connection
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {DATABASE}")))
        .await
        .expect("create the test database");
    let (base, _) = admin_url.rsplit_once('/').expect("a URL with a path");
    format!("{base}/{DATABASE}")
}

/// Waits until the database takes a write through HAProxy again (a fresh
/// connection every 100 ms); returns when, counted from `since`. Recovery
/// minus this is the servers' own share of the outage.
async fn database_back(url: String, since: Instant) -> Duration {
    loop {
        let attempt = async {
            let mut connection = PgConnection::connect(&url).await?;
            sqlx::query("SELECT txid_current()")
                .execute(&mut connection)
                .await
        };
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), attempt).await {
            return since.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One failover or switchover under load, then the audit of the new
/// primary. Returns the line it printed.
async fn round(
    name: &str,
    load: &Load,
    boards: &[Board],
    (url, pool): (&str, &sqlx::PgPool),
    fail: impl FnOnce() -> String + Send + 'static,
) -> String {
    let since = Instant::now();
    let stopped = blocking(fail).await;
    let database = tokio::spawn(database_back(url.to_owned(), Instant::now()));
    // A call begun before the kill may still have been answered; recovery
    // is the first OK of a call begun after it.
    let done = Instant::now();
    let recovered = load
        .wait_for_recovery(since, done, Duration::from_secs(90))
        .await;
    assert!(
        recovered.is_some(),
        "[{name}] no call was answered OK within 90 s of losing {stopped}"
    );
    // The load runs on a while; the old primary comes back as a standby.
    tokio::time::sleep(Duration::from_secs(3)).await;
    blocking(move || cluster::start(&stopped)).await;
    blocking(cluster::wait_healthy).await;
    eprintln!("{}", blocking(cluster::status).await);
    let database = database.await.expect("probe");
    let window = load.window(since, done);
    // The auditor looks while no new call comes in (crews go on working).
    load.pause_calls(true);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let audit = audit::run(pool, &load.acknowledged(), boards, false).await;
    load.pause_calls(false);
    let line = audit::Line {
        round: name,
        audit: &audit,
        window: &window,
        database,
    }
    .to_string();
    println!("{line}");
    assert!(audit.clean(), "{line}");
    line
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs the cluster of scripts/ha-cluster.sh: run scripts/failover-test.sh"]
async fn the_primary_dies_twice_and_is_switched_over_under_load_and_nothing_acknowledged_is_lost() {
    let url = fresh_database().await;
    // The test's own view of the database: tokens, the audit.
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&url)
        .await
        .expect("connect through HAProxy");
    let store = Store::new(pool.clone(), StoreConfig::default());
    store.migrate().await.expect("migrate");

    // Two server processes through HAProxy; their logs (warnings up) for
    // whoever reads a failure.
    let mut servers = Vec::new();
    let mut channels = Vec::new();
    for name in ["a", "b"] {
        let port = free_port();
        let log_path = format!("{}/failover-server-{name}.log", env!("CARGO_TARGET_TMPDIR"));
        let log = std::fs::File::create(&log_path).expect("server log");
        eprintln!("server {name}: 127.0.0.1:{port}, log {log_path}");
        servers.push(
            serve_command(
                env!("CARGO_BIN_EXE_ngalam112"),
                &url,
                port,
                &["--offer-timeout", "3"],
            )
            .env("RUST_LOG", "warn")
            .stderr(log)
            .spawn()
            .expect("start ngalam112 serve"),
        );
        channels.push(wait_until_serving(port).await);
    }
    let admin = ngalam112::auth::issue_token(&store, Role::Admin)
        .await
        .expect("admin token")
        .0;
    let operator = ngalam112::auth::issue_token(&store, Role::Operator)
        .await
        .expect("operator token")
        .0;

    let load = Load::new();
    let mut tasks = Vec::new();
    for number in 0..AMBULANCES {
        let mut admin = connect_as(channels[number % 2].clone(), Some(&admin));
        let unit = admin
            .units
            .register_unit(proto::RegisterUnitRequest {
                call_sign: format!("AMB-FO-{number:02}"),
                kind: proto::UnitKind::Ambulance.into(),
                agency: "uji failover".to_owned(),
                location: Some(proto::GeoPoint {
                    lat: -7.98,
                    lon: 112.63,
                }),
            })
            .await
            .expect("register")
            .into_inner();
        let id = UnitId::parse("unit_id", &unit.id).expect("unit id");
        let token = ngalam112::auth::issue_token(&store, Role::Unit(id))
            .await
            .expect("unit token")
            .0;
        let device = connect_as(channels[(number + 1) % 2].clone(), Some(&token));
        let dispatcher = connect_as(channels[number % 2].clone(), Some(&operator));
        tasks.push(tokio::spawn(
            load.clone().crew(unit.id, number, device, dispatcher),
        ));
    }
    for number in 0..CALLERS {
        let clients = connect_as(channels[number % 2].clone(), Some(&operator));
        tasks.push(tokio::spawn(load.clone().caller(number, clients, PACE)));
    }
    // A dispatcher's live board on each server.
    let boards = [Board::default(), Board::default()];
    for (board, channel) in boards.iter().zip(&channels) {
        let clients = connect_as(channel.clone(), Some(&operator));
        tasks.push(tokio::spawn(board.clone().keep(clients, load.running())));
    }
    tokio::time::sleep(Duration::from_secs(5)).await;

    let rounds: [(&str, Failure); 3] = [
        ("failover", cluster::kill_primary),
        ("failover back", cluster::kill_primary),
        ("switchover", cluster::switchover),
    ];
    for (name, fail) in rounds {
        round(name, &load, &boards, (&url, &pool), fail).await;
    }

    load.stop();
    for task in tasks {
        task.await.expect("a load task");
    }
    for server in &mut servers {
        assert_eq!(
            terminate(server).await.code(),
            Some(0),
            "the server ran through every round without a restart"
        );
    }
    let audit = audit::run(&pool, &load.acknowledged(), &[], true).await;
    println!("failover audit [end]: {audit:?}");
    assert!(audit.clean());
    assert_eq!(
        audit.stored_unanswered, 0,
        "every stored call was answered OK"
    );
    assert!(
        load.unexpected_answers().is_empty(),
        "answers no failover explains: {:?}",
        load.unexpected_answers()
    );
}
