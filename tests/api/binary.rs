//! The real `ngalam112` binary on its embedded default database: the
//! README's first command, and its grpcurl walk-through done with the
//! generated clients.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use ngalam112_proto::v1 as proto;
use tonic::transport::Channel;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::helpers::{connect_as, free_port, places, terminate, wait_until_serving};

const BINARY: &str = env!("CARGO_BIN_EXE_ngalam112");

fn ngalam112() -> Command {
    let mut command = Command::new(BINARY);
    command.env_remove("DATABASE_URL").env("RUST_LOG", "warn");
    command
}

/// `ngalam112` on a test's database.
fn ngalam112_on(database_url: &str) -> Command {
    let mut command = Command::new(BINARY);
    command
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn");
    command
}

/// `ngalam112 ARGS` on a test's database; must succeed.
fn run_ok(database_url: &str, args: &[&str]) -> std::process::Output {
    let output = ngalam112_on(database_url)
        .args(args)
        .output()
        .expect("run ngalam112");
    assert!(
        output.status.success(),
        "ngalam112 {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn start_server(data_dir: &Path, port: u16) -> Child {
    ngalam112()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data_dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("start ngalam112 serve")
}

fn issue_token(data_dir: &Path, role: &str, unit_id: Option<&str>) -> String {
    let mut command = ngalam112();
    command
        .args(["token", "issue", "--role", role, "--data-dir"])
        .arg(data_dir);
    if let Some(unit) = unit_id {
        command.args(["--unit-id", unit]);
    }
    let output = command.output().expect("run token issue");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "the token alone on stdout: {stdout:?}");
    lines[0].to_owned()
}

async fn reflected_services(channel: Channel) -> Vec<String> {
    let mut client = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::once(request))
        .await
        .expect("reflection answers")
        .into_inner();
    let response = responses
        .message()
        .await
        .expect("a response")
        .expect("not empty");
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => list
            .service
            .into_iter()
            .map(|service| service.name)
            .collect(),
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

struct DataDir(PathBuf);

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn the_server_runs_on_its_embedded_database_keeps_data_across_restarts_and_stops_cleanly() {
    let data_dir = DataDir(std::env::temp_dir().join(format!(
        "ngalam112-embedded-{}",
        uuid::Uuid::new_v4().simple()
    )));
    let port = free_port();
    let mut server = start_server(&data_dir.0, port);
    let channel = wait_until_serving(port).await;

    // Nobody else on the machine gets into the embedded database: no
    // password, no connection; the password is the server account's alone.
    let pg_port: u16 = std::fs::read_to_string(data_dir.0.join("postgres.port"))
        .expect("port file")
        .trim()
        .parse()
        .expect("a port");
    let without =
        sqlx::PgPool::connect(&format!("postgres://postgres@127.0.0.1:{pg_port}/postgres"))
            .await
            .map(|_| ())
            .unwrap_err();
    assert!(
        without.to_string().contains("password"),
        "refused for want of the password: {without}"
    );
    let guessed = sqlx::PgPool::connect(&format!(
        "postgres://postgres:postgres@127.0.0.1:{pg_port}/postgres"
    ))
    .await
    .map(|_| ())
    .unwrap_err();
    assert!(
        guessed
            .to_string()
            .contains("password authentication failed"),
        "{guessed}"
    );
    let password_file = data_dir.0.join("postgres.password");
    let password = std::fs::read_to_string(&password_file).expect("password file");
    sqlx::PgPool::connect(&format!(
        "postgres://postgres:{}@127.0.0.1:{pg_port}/postgres",
        password.trim()
    ))
    .await
    .expect("the password opens it");
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(
        mode(&password_file),
        0o600,
        "the password is the owner's alone"
    );
    assert_eq!(
        mode(&data_dir.0) & 0o066,
        0,
        "nobody else may list or write the data dir"
    );
    assert_eq!(mode(&data_dir.0.join("postgres")), 0o700);

    let services = reflected_services(channel.clone()).await;
    for expected in [
        "ngalam112.v1.IncidentService",
        "ngalam112.v1.UnitService",
        "ngalam112.v1.FieldService",
    ] {
        assert!(
            services.contains(&expected.to_owned()),
            "{expected} not in {services:?}"
        );
    }

    // The README walk-through: register a unit, create an incident, poll.
    let admin = issue_token(&data_dir.0, "admin", None);
    let operator_token = issue_token(&data_dir.0, "operator", None);
    let mut admin = connect_as(channel.clone(), Some(&admin));
    let unit = admin
        .units
        .register_unit(crate::helpers::unit_at(
            "AMB-RSSA-1",
            proto::UnitKind::Ambulance,
            places::RSSA,
        ))
        .await
        .expect("register")
        .into_inner();
    let mut operator = connect_as(channel.clone(), Some(&operator_token));
    let incident = operator
        .incidents
        .create_incident(crate::helpers::medical_call(places::BALAI_KOTA))
        .await
        .expect("create")
        .into_inner();
    assert_eq!(incident.status(), proto::IncidentStatus::Dispatched);
    let unit_token = issue_token(&data_dir.0, "unit", Some(&unit.id));
    let mut device = connect_as(channel.clone(), Some(&unit_token));
    let polled = device
        .field
        .poll_assignment(proto::PollAssignmentRequest {
            unit_id: unit.id.clone(),
            wait_seconds: 0,
        })
        .await
        .expect("poll")
        .into_inner();
    assert_eq!(polled.incident.map(|i| i.id), Some(incident.id.clone()));
    drop((admin, operator, device, channel));

    let status = terminate(&mut server).await;
    assert_eq!(status.code(), Some(0), "clean exit on SIGTERM");

    // The data survives a restart on the same data dir.
    let mut server = start_server(&data_dir.0, port);
    let channel = wait_until_serving(port).await;
    let mut operator = connect_as(channel, Some(&operator_token));
    let again = operator
        .incidents
        .get_incident(proto::GetIncidentRequest {
            id: incident.id.clone(),
        })
        .await
        .expect("the incident survived")
        .into_inner();
    assert_eq!(again.assignments.len(), 1);
    let status = terminate(&mut server).await;
    assert_eq!(status.code(), Some(0));
    assert!(
        !data_dir.0.join("postgres/postmaster.pid").exists(),
        "the embedded PostgreSQL was stopped with the server"
    );
}

#[tokio::test]
async fn logs_never_show_a_callers_phone_or_name_even_at_debug() {
    let app = crate::helpers::TestApp::spawn().await;
    let log_path = std::env::temp_dir().join(format!(
        "ngalam112-log-{}.txt",
        uuid::Uuid::new_v4().simple()
    ));
    let log = std::fs::File::create(&log_path).expect("log file");
    let port = free_port();
    let mut server = Command::new(BINARY)
        .env("DATABASE_URL", &app.database_url)
        .env("RUST_LOG", "debug")
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start");
    let channel = wait_until_serving(port).await;
    let operator = app
        .token(ngalam112_store::Role::Operator)
        .await
        .expect("token");
    let mut clients = connect_as(channel, Some(&operator));
    let mut call = crate::helpers::medical_call(places::BALAI_KOTA);
    call.caller_phone = "+62 812-3456-7890".to_owned();
    call.caller_name = "Sri Wahyuningsih".to_owned();
    clients
        .incidents
        .create_incident(call)
        .await
        .expect("create");
    drop(clients);
    assert_eq!(terminate(&mut server).await.code(), Some(0));

    let logged = std::fs::read_to_string(&log_path).expect("read log");
    let _ = std::fs::remove_file(&log_path);
    assert!(logged.contains("incident intake"), "the log has the intake");
    // Whole fragments only: a bare "3456" also turns up in timestamps,
    // durations and ids, which is no leak.
    for secret in [
        "81234567890",
        "812-3456",
        "3456-7890",
        "34567890",
        "Wahyuningsih",
        "Sri ",
    ] {
        assert!(!logged.contains(secret), "{secret:?} leaked into the log");
    }
    assert!(
        logged.contains("+62*********90"),
        "debug shows the masked number"
    );
}

#[tokio::test]
async fn tokens_are_issued_listed_without_secrets_and_revoked_from_the_command_line() {
    let app = crate::helpers::TestApp::spawn().await;
    let run = |args: &[&str]| {
        let output = run_ok(&app.database_url, args);
        (
            String::from_utf8(output.stdout).expect("utf-8"),
            String::from_utf8(output.stderr).expect("utf-8"),
        )
    };
    let (stdout, stderr) = run(&["token", "issue", "--role", "operator"]);
    let secret = stdout.trim().to_owned();
    assert!(
        secret.starts_with("n112_") && secret.len() >= 5 + 32,
        "{secret}"
    );
    let id = stderr
        .split_whitespace()
        .last()
        .expect("the token id")
        .to_owned();
    let mut clients = app.clients_with_token(Some(&secret));
    clients
        .units
        .list_units(proto::ListUnitsRequest::default())
        .await
        .expect("the token works");

    let (listing, _) = run(&["token", "list"]);
    assert!(!listing.contains(&secret[5..]), "no secret in the listing");
    let line = listing
        .lines()
        .find(|line| line.starts_with(&id))
        .expect("the new token is listed");
    assert!(
        line.contains("\toperator\t") && line.ends_with("active"),
        "{line}"
    );

    run(&["token", "revoke", &id]);
    let (listing, _) = run(&["token", "list"]);
    assert!(
        listing
            .lines()
            .any(|line| line.starts_with(&id) && line.contains("revoked"))
    );
    let status = clients
        .units
        .list_units(proto::ListUnitsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
}

#[tokio::test]
async fn seed_malang_loads_the_demo_fleet_once_however_often_it_runs() {
    let app = crate::helpers::TestApp::spawn().await;
    for _ in 0..2 {
        run_ok(&app.database_url, &["seed-malang"]);
    }
    let call_signs: Vec<String> =
        sqlx::query_scalar("SELECT call_sign FROM units ORDER BY call_sign")
            .fetch_all(&app.pool)
            .await
            .expect("units");
    assert_eq!(call_signs.len(), 20, "{call_signs:?}");
    let cameras: Vec<String> = sqlx::query_scalar("SELECT name FROM cameras ORDER BY name")
        .fetch_all(&app.pool)
        .await
        .expect("cameras");
    assert_eq!(cameras.len(), 5, "once, however often: {cameras:?}");
    assert!(cameras.iter().any(|name| name == "Alun-alun Tugu"));
    let mut agencies: Vec<String> = sqlx::query_scalar("SELECT short_name FROM agencies")
        .fetch_all(&app.pool)
        .await
        .expect("agencies");
    agencies.sort();
    assert_eq!(agencies, ["BPBD", "DLH", "Dishub", "PDAM", "PLN"]);
    for expected in ["AMB-RSSA-1", "DMK-1", "POL-LWK-1", "SAR-BPBD-1"] {
        assert!(
            call_signs.iter().any(|c| c == expected),
            "{expected} missing"
        );
    }
    let kinds: Vec<(String, i64)> =
        sqlx::query_as("SELECT kind, count(*) FROM units GROUP BY kind ORDER BY kind")
            .fetch_all(&app.pool)
            .await
            .expect("kinds");
    assert_eq!(kinds.len(), 4, "every kind of the fleet: {kinds:?}");
}

/// A rolling upgrade: the next release's `migrate` has run (it added a
/// migration this binary does not know) while this release still serves.
#[tokio::test]
async fn an_older_release_keeps_serving_and_restarts_on_a_newer_schema() {
    let app = crate::helpers::TestApp::spawn().await;
    // What the next release's additive migration would do.
    sqlx::query("ALTER TABLE incidents ADD COLUMN next_release_note text")
        .execute(&app.pool)
        .await
        .expect("expand the schema");
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99990101000000, 'next release', true, '\\x00', 1)",
    )
    .execute(&app.pool)
    .await
    .expect("record the newer migration");

    // The running process stays SERVING and answers.
    let mut health = tonic_health::pb::health_client::HealthClient::new(app.channel.clone());
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health")
        .into_inner()
        .status();
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
    app.create(crate::helpers::medical_call(places::BALAI_KOTA))
        .await;

    // Restarted (it migrates at start), this release still comes up.
    run_ok(&app.database_url, &["migrate"]);
    let port = free_port();
    let mut server = ngalam112_on(&app.database_url)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    let channel = wait_until_serving(port).await;
    let operator = app
        .token(ngalam112_store::Role::Operator)
        .await
        .expect("token");
    let mut clients = connect_as(channel, Some(&operator));
    clients
        .incidents
        .create_incident(crate::helpers::medical_call(places::BALAI_KOTA))
        .await
        .expect("the restarted old release takes calls");
    assert_eq!(terminate(&mut server).await.code(), Some(0));

    // A schema older than this release needs is NOT_SERVING, and says so.
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations WHERE version < 99990101000000)")
        .execute(&app.pool)
        .await
        .expect("forget a migration");
    assert!(matches!(
        app.store.schema_state().await,
        ngalam112_store::SchemaState::Behind { .. }
    ));
}
