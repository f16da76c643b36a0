//! Faults with real processes: crashes, a database outage, shutdown under
//! load, and the metrics an ops engineer scrapes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ngalam112::embedded_postgres::EmbeddedPostgres;
use ngalam112_proto::v1 as proto;
use ngalam112_store::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;
use tonic::transport::Channel;

use crate::helpers::{
    Clients, TestApp, connect_as, free_port, medical_call, places, start_server, terminate,
    wait_until_serving,
};

/// A channel that reconnects by itself (lazily), as a real client's does.
fn lazy_channel(port: u16) -> Channel {
    Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("uri")
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(10))
        .connect_lazy()
}

/// Calls CreateIncident in a loop until told to stop; keeps the ids the
/// server acknowledged and the codes of the failures.
fn steady_calls(
    clients: Clients,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<(Vec<String>, Vec<Code>)> {
    tokio::spawn(async move {
        let mut acknowledged = Vec::new();
        let mut failures = Vec::new();
        let mut index = 0u32;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            index += 1;
            let mut call = medical_call((-7.95 - 0.0001 * f64::from(index % 500), 112.62));
            call.request_id = format!("steady-{index}");
            match clients.incidents.clone().create_incident(call).await {
                Ok(incident) => acknowledged.push(incident.into_inner().id),
                Err(status) => {
                    failures.push(status.code());
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        (acknowledged, failures)
    })
}

async fn audit(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .expect("audit query")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_call_survives_five_kill_dash_nine_crashes() {
    let app = TestApp::spawn().await;
    for index in 0..6 {
        app.register(
            &format!("AMB-{index}"),
            proto::UnitKind::Ambulance,
            places::RSSA.0,
            places::RSSA.1 + 0.001 * f64::from(index),
        )
        .await;
    }
    let port = free_port();
    let mut server = start_server(&app.database_url, port, &[]);
    wait_until_serving(port).await;
    let operator = app.token(Role::Operator).await.expect("token");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let calls = steady_calls(
        connect_as(lazy_channel(port), Some(&operator)),
        stop.clone(),
    );

    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        server.kill().expect("kill -9");
        server.wait().expect("reap");
        server = start_server(&app.database_url, port, &[]);
        wait_until_serving(port).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (acknowledged, failures) = calls.await.expect("caller");
    assert_eq!(terminate(&mut server).await.code(), Some(0));

    assert!(
        acknowledged.len() > 20,
        "calls went through between crashes ({})",
        acknowledged.len()
    );
    let stored: Vec<String> = sqlx::query_scalar("SELECT id::text FROM incidents")
        .fetch_all(&app.pool)
        .await
        .expect("ids");
    for id in &acknowledged {
        assert!(stored.contains(id), "acknowledged incident {id} was lost");
    }
    let without_timeline = audit(
        &app.pool,
        "SELECT count(*) FROM incidents i WHERE NOT EXISTS (SELECT 1 FROM timeline_events t \
         WHERE t.incident_id = i.id AND t.incident_seq = 1 AND t.kind = 'incident_created')",
    )
    .await;
    assert_eq!(
        without_timeline, 0,
        "every stored incident has its timeline"
    );
    let unlogged_offers = audit(
        &app.pool,
        "SELECT count(*) FROM assignments a WHERE NOT EXISTS (SELECT 1 FROM timeline_events t \
         WHERE t.assignment_id = a.id AND t.kind = 'assignment_offered')",
    )
    .await;
    assert_eq!(unlogged_offers, 0, "every offer is in the timeline");
    let double = audit(
        &app.pool,
        "SELECT count(*) FROM (SELECT unit_id FROM assignments WHERE status IN \
         ('offered','accepted','en_route','on_scene') GROUP BY unit_id HAVING count(*) > 1) d",
    )
    .await;
    assert_eq!(double, 0);
    assert!(
        failures.iter().all(|code| matches!(
            code,
            Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded
        )),
        "only transport failures while the server was down: {failures:?}"
    );
}

struct Cluster {
    dir: PathBuf,
    running: Option<EmbeddedPostgres>,
}

impl Cluster {
    fn start(dir: PathBuf) -> Cluster {
        let running = EmbeddedPostgres::start(&dir).expect("start the test's own PostgreSQL");
        Cluster {
            dir,
            running: Some(running),
        }
    }

    fn url(&self) -> String {
        self.running.as_ref().expect("running").database_url()
    }

    fn stop(&mut self) {
        if let Some(cluster) = self.running.take() {
            cluster.stop().expect("stop PostgreSQL");
        }
    }

    fn restart(&mut self) {
        self.running = Some(EmbeddedPostgres::start(&self.dir).expect("restart PostgreSQL"));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_answers_unavailable_and_the_server_recovers_by_itself() {
    let dir = std::env::temp_dir().join(format!(
        "ngalam112-outage-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let mut cluster = Cluster::start(dir);
    let url = cluster.url();
    let port = free_port();
    let mut server = start_server(&url, port, &[]);
    let channel = wait_until_serving(port).await;
    let pool = sqlx::PgPool::connect(&url).await.expect("connect");
    let store = ngalam112_store::Store::new(pool.clone(), ngalam112_store::StoreConfig::default());
    let operator = ngalam112::auth::issue_token(&store, Role::Operator)
        .await
        .expect("token")
        .0;
    let admin = ngalam112::auth::issue_token(&store, Role::Admin)
        .await
        .expect("token")
        .0;
    pool.close().await;
    let mut clients = connect_as(channel.clone(), Some(&operator));
    let mut admin = connect_as(channel.clone(), Some(&admin));
    let unit = admin
        .units
        .register_unit(crate::helpers::unit_at(
            "AMB-1",
            proto::UnitKind::Ambulance,
            places::RSSA,
        ))
        .await
        .expect("register")
        .into_inner();
    clients
        .incidents
        .create_incident(medical_call(places::BALAI_KOTA))
        .await
        .expect("works before");
    // A crew waiting for work, and a board watching, when the database goes.
    let device_token = {
        let pool = sqlx::PgPool::connect(&url).await.expect("connect");
        let store = ngalam112_store::Store::new(pool, ngalam112_store::StoreConfig::default());
        let id = ngalam112_core::UnitId::parse("unit_id", &unit.id).expect("id");
        ngalam112::auth::issue_token(&store, Role::Unit(id))
            .await
            .expect("token")
            .0
    };
    let mut board = clients
        .incidents
        .watch_incidents(proto::WatchIncidentsRequest::default())
        .await
        .expect("watch")
        .into_inner();

    cluster.stop();

    let started = Instant::now();
    let status = clients
        .incidents
        .create_incident(medical_call(places::BALAI_KOTA))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "no hang: {:?}",
        started.elapsed()
    );
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match board.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => return None,
                Err(status) => return Some(status.code()),
            }
        }
    })
    .await
    .expect("the watch stream ends");
    assert_eq!(ended, Some(Code::Unavailable));
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let answer = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .expect("health answers")
            .into_inner();
        if answer.status() == tonic_health::pb::health_check_response::ServingStatus::NotServing {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "health still SERVING without a database"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut device = connect_as(channel.clone(), Some(&device_token));
    let poll = device
        .field
        .poll_assignment(proto::PollAssignmentRequest {
            unit_id: unit.id.clone(),
            wait_seconds: 5,
        })
        .await;
    assert_eq!(poll.map(|_| ()).unwrap_err().code(), Code::Unavailable);

    cluster.restart();
    let back = Instant::now();
    let recovered = loop {
        match clients
            .incidents
            .create_incident(medical_call(places::UNISMA))
            .await
        {
            Ok(incident) => break incident.into_inner(),
            Err(status) => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                assert!(
                    back.elapsed() < Duration::from_secs(15),
                    "not recovered within 15 s"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    assert!(
        recovered.assignments.is_empty() || recovered.status() != proto::IncidentStatus::Pending
    );
    wait_until_serving(port).await;
    // The crew's device works again and still sees its offer from before
    // the outage: nothing committed was lost.
    let answer = device
        .field
        .poll_assignment(proto::PollAssignmentRequest {
            unit_id: unit.id.clone(),
            wait_seconds: 1,
        })
        .await
        .expect("poll answers");
    assert!(
        answer.into_inner().assignment.is_some(),
        "the crew sees its open assignment"
    );
    assert!(back.elapsed() < Duration::from_secs(15));
    // Live updates are back too: a board can watch again and sees changes.
    let mut board = clients
        .incidents
        .watch_incidents(proto::WatchIncidentsRequest::default())
        .await
        .expect("watch again")
        .into_inner();
    let deadline = Instant::now() + Duration::from_secs(15);
    let seen = loop {
        // Until the feed has reconnected, a new watch may end at once; retry.
        clients
            .incidents
            .create_incident(medical_call(places::UNISMA))
            .await
            .expect("create");
        match tokio::time::timeout(Duration::from_secs(2), board.message()).await {
            Ok(Ok(Some(event))) => break event,
            _ => {
                assert!(Instant::now() < deadline, "live updates did not come back");
                board = clients
                    .incidents
                    .watch_incidents(proto::WatchIncidentsRequest::default())
                    .await
                    .expect("watch again")
                    .into_inner();
            }
        }
    };
    assert!(seen.incident.is_some());
    assert_eq!(terminate(&mut server).await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_waiting_long_polls_finishes_calls_in_flight_and_exits_cleanly() {
    let app = TestApp::spawn().await;
    let units: Vec<proto::Unit> = futures_util::future::join_all(
        (0..5).map(|index| app.register_owned(format!("AMB-{index}"), proto::UnitKind::Ambulance)),
    )
    .await;
    let port = free_port();
    let mut server = start_server(&app.database_url, port, &[]);
    let channel = wait_until_serving(port).await;
    let operator = app.token(Role::Operator).await.expect("token");
    let mut polls = Vec::new();
    for unit in &units[..3] {
        let unit_id = ngalam112_core::UnitId::parse("unit_id", &unit.id).expect("id");
        let token = app.token(Role::Unit(unit_id)).await.expect("token");
        let mut device = connect_as(channel.clone(), Some(&token));
        let unit_id = unit.id.clone();
        polls.push(tokio::spawn(async move {
            device
                .field
                .poll_assignment(proto::PollAssignmentRequest {
                    unit_id,
                    wait_seconds: 30,
                })
                .await
        }));
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let calls = steady_calls(connect_as(channel.clone(), Some(&operator)), stop.clone());
    tokio::time::sleep(Duration::from_millis(800)).await;

    let started = Instant::now();
    let exit = terminate(&mut server).await;
    assert_eq!(exit.code(), Some(0), "clean exit");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "exited within 10 s"
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for poll in polls {
        let answered = poll.await.expect("poll task");
        // Answered (empty, or with an offer made before the end) — not cut off.
        assert!(answered.is_ok(), "{answered:?}");
    }
    let (acknowledged, _) = calls.await.expect("caller");
    let stored: Vec<String> = sqlx::query_scalar("SELECT id::text FROM incidents")
        .fetch_all(&app.pool)
        .await
        .expect("ids");
    for id in &acknowledged {
        assert!(stored.contains(id), "acknowledged {id} lost");
    }
    let half_done = audit(
        &app.pool,
        "SELECT count(*) FROM incidents i WHERE NOT EXISTS (SELECT 1 FROM timeline_events t \
         WHERE t.incident_id = i.id AND t.kind = 'incident_created')",
    )
    .await;
    assert_eq!(half_done, 0, "no call stopped mid-transaction");
}

/// GET http://127.0.0.1:port/metrics, as Prometheus would.
async fn scrape(port: u16) -> String {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to metrics");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("response");
    response
}

fn sample(metrics: &str, name_and_labels: &str) -> f64 {
    metrics
        .lines()
        .filter(|line| line.starts_with(name_and_labels))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn metrics_move_as_the_system_is_driven() {
    let app = TestApp::spawn().await;
    let unit = app
        .register_at("AMB-1", proto::UnitKind::Ambulance, places::RSSA)
        .await;
    let (port, metrics_port) = (free_port(), free_port());
    let mut server = start_server(
        &app.database_url,
        port,
        &["--metrics-listen", &format!("127.0.0.1:{metrics_port}")],
    );
    let channel = wait_until_serving(port).await;
    let operator = app.token(Role::Operator).await.expect("token");
    let mut clients = connect_as(channel.clone(), Some(&operator));
    for _ in 0..3 {
        clients
            .incidents
            .create_incident(medical_call(places::BALAI_KOTA))
            .await
            .expect("create");
    }
    let _ = clients
        .incidents
        .get_incident(proto::GetIncidentRequest {
            id: "nope".to_owned(),
        })
        .await;
    let unit_id = ngalam112_core::UnitId::parse("unit_id", &unit.id).expect("id");
    let mut device = connect_as(
        channel,
        Some(&app.token(Role::Unit(unit_id)).await.expect("token")),
    );
    let offer = device
        .field
        .poll_assignment(proto::PollAssignmentRequest {
            unit_id: unit.id.clone(),
            wait_seconds: 0,
        })
        .await
        .expect("poll")
        .into_inner()
        .assignment
        .expect("an offer");
    device
        .field
        .decline_assignment(proto::DeclineAssignmentRequest {
            assignment_id: offer.id,
            reason: String::new(),
        })
        .await
        .expect("decline");
    // Made-up paths, without a token: no series of their own.
    for junk in [
        "/x9f3a.Made/Up",
        "/ngalam112.v1.IncidentService/Nope",
        "/zz-random-path",
    ] {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        stream
            .write_all(
                format!(
                    "POST {junk} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/grpc-web\r\n\
                     Content-Length: 0\r\nConnection: close\r\n\r\n"
                )
                .as_bytes(),
            )
            .await
            .expect("send");
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    }

    let deadline = Instant::now() + Duration::from_secs(20);
    let metrics = loop {
        let metrics = scrape(metrics_port).await;
        if sample(&metrics, "ngalam112_incidents{") >= 3.0 {
            break metrics;
        }
        assert!(
            Instant::now() < deadline,
            "gauges never published:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(
        sample(
            &metrics,
            r#"ngalam112_rpc_requests_total{method="IncidentService/CreateIncident",code="Ok"}"#
        ),
        3.0,
        "{metrics}"
    );
    assert!(
        !metrics.contains("x9f3a") && !metrics.contains("Nope") && !metrics.contains("zz-random"),
        "made-up paths are labelled unknown:\n{metrics}"
    );
    assert!(metrics.contains(r#"method="unknown""#), "{metrics}");
    assert_eq!(
        sample(
            &metrics,
            r#"ngalam112_rpc_requests_total{method="IncidentService/GetIncident",code="InvalidArgument"}"#
        ),
        1.0
    );
    assert!(
        sample(
            &metrics,
            r#"ngalam112_rpc_duration_seconds_count{method="IncidentService/CreateIncident",code="Ok"}"#
        ) >= 3.0
    );
    assert_eq!(
        sample(
            &metrics,
            r#"ngalam112_offers_refused_total{outcome="declined"}"#
        ),
        1.0
    );
    // The first offer went out with the first call; the decline re-offered
    // the same unit to the next waiting call: two first offers.
    assert_eq!(
        sample(&metrics, "ngalam112_call_to_first_offer_seconds_count"),
        2.0,
        "{metrics}"
    );
    // The first call found its unit free and was dispatched at once; the
    // other two had none and were queued. Each came alone: three groups.
    assert_eq!(
        sample(&metrics, r#"ngalam112_intake_total{outcome="dispatched"}"#),
        1.0,
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, r#"ngalam112_intake_total{outcome="queued"}"#),
        2.0,
        "{metrics}"
    );
    assert_eq!(sample(&metrics, "ngalam112_intake_group_calls_count"), 3.0);
    assert_eq!(sample(&metrics, "ngalam112_incidents{"), 3.0);
    assert!(sample(&metrics, r#"ngalam112_units{kind="ambulance""#) >= 1.0);
    assert!(metrics.contains("ngalam112_pending_needs"));
    assert!(metrics.contains("ngalam112_db_pool_connections{state=\"in_use\"}"));
    assert_eq!(terminate(&mut server).await.code(), Some(0));
}
