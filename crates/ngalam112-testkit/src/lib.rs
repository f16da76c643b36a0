//! Test support shared by the server's and the operator app's black-box
//! tests. `TestApp::spawn()`: a fresh uuid-named database on the test
//! PostgreSQL, migrated, and a real server on 127.0.0.1:0 talking to it,
//! with admin and operator clients.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use tonic_health::pb::health_check_response::ServingStatus;

use ngalam112::ServerConfig;
use ngalam112_proto::v1 as proto;
pub use ngalam112_store::Role;
use ngalam112_store::{NewUser, Store, StoreConfig, UserRecord};
use sqlx::{Connection, Executor, PgConnection, PgPool};
use tokio::sync::oneshot;
use tonic::transport::Channel;

/// The PostgreSQL the tests use: `DATABASE_URL`, else the local default.
pub fn admin_database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn with_database(url: &str, database: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("a database URL has a path");
    format!("{base}/{database}")
}

pub mod audit;
pub mod proxy;
pub mod roads;

pub use jsonschema;
pub use ngalam112_client::Clients;

/// Clients for a test token (test tokens are always valid header values).
pub fn connect_as(channel: Channel, token: Option<&str>) -> Clients {
    Clients::new(channel, token).expect("a token is a valid header value")
}

/// NENA's own sample EIDO document.
pub const EIDO_SAMPLE: &str = include_str!("../fixtures/eido/sample-call-transfer.json");

/// Test-only TLS material (tests/fixtures/tls).
pub const TEST_CA_PEM: &[u8] = include_bytes!("../fixtures/tls/ca.pem");
pub const TEST_SERVER_CERT_PEM: &[u8] = include_bytes!("../fixtures/tls/server.pem");
pub const TEST_SERVER_KEY_PEM: &[u8] = include_bytes!("../fixtures/tls/server.key");

pub struct TestApp {
    pub address: std::net::SocketAddr,
    pub channel: Channel,
    pub store: Store,
    /// Direct SQL access for checks a user would make in psql.
    pub pool: PgPool,
    pub database_url: String,
    /// Admin: may call everything.
    pub admin: Clients,
    /// Operator: call-takers and dispatchers.
    pub operator: Clients,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

pub fn init_test_logging() {
    if std::env::var_os("TEST_LOG").is_some() {
        ngalam112::telemetry::init(
            ngalam112::telemetry::LogFormat::Text,
            "debug,sqlx=warn,h2=info,hyper=info,tower=info",
        );
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(StoreConfig::default()).await
    }

    /// A server on a fresh database with `config` (on the grid of
    /// `roads::from_environment` when the environment asks and `config`
    /// has no roads of its own).
    pub async fn spawn_with(mut config: StoreConfig) -> TestApp {
        init_test_logging();
        if config.roads.is_none() {
            config.roads = roads::from_environment();
        }
        let admin_url = admin_database_url();
        let database = format!("ngalam112_test_{}", uuid::Uuid::new_v4().simple());
        let mut connection = PgConnection::connect(&admin_url)
            .await
            .expect("the test PostgreSQL answers (set DATABASE_URL)");
        connection
            .execute(sqlx::AssertSqlSafe(format!(
                r#"CREATE DATABASE "{database}""#
            )))
            .await
            .expect("create the test database");
        let database_url = with_database(&admin_url, &database);
        let pool = PgPool::connect(&database_url)
            .await
            .expect("connect to the test database");
        let store = Store::new(pool.clone(), config);
        store.migrate().await.expect("migrations run");
        Self::serve(store, pool, database_url, ServerConfig::default(), true).await
    }

    /// Another server process's worth (own pool, feed, timer) on the same
    /// database.
    pub async fn another_server(&self, config: StoreConfig) -> TestApp {
        let pool = PgPool::connect(&self.database_url).await.expect("connect");
        let store = Store::new(pool.clone(), config);
        Self::serve(
            store,
            pool,
            self.database_url.clone(),
            ServerConfig::default(),
            true,
        )
        .await
    }

    /// Another server process on the same database whose connections to
    /// PostgreSQL go through a proxy that can cut them (`proxy::Cut`).
    pub async fn another_server_behind_proxy(&self) -> (TestApp, proxy::CuttingProxy) {
        use std::str::FromStr;
        let options =
            sqlx::postgres::PgConnectOptions::from_str(&self.database_url).expect("a database URL");
        let upstream = tokio::net::lookup_host((options.get_host(), options.get_port()))
            .await
            .expect("resolve PostgreSQL")
            .next()
            .expect("an address");
        let proxy = proxy::CuttingProxy::start(upstream).await;
        let through = options
            .host(&proxy.address.ip().to_string())
            .port(proxy.address.port());
        let pool = sqlx::postgres::PgPoolOptions::new()
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(through)
            .await
            .expect("connect through the proxy");
        let store = Store::new(pool, StoreConfig::default());
        // Direct SQL checks bypass the proxy.
        let direct = self.pool.clone();
        let app = Self::serve(
            store,
            direct,
            self.database_url.clone(),
            ServerConfig::default(),
            true,
        )
        .await;
        (app, proxy)
    }

    /// A server with small watch buffers, to see a slow watcher fall behind.
    pub async fn spawn_with_server_config(server_config: ServerConfig) -> TestApp {
        let app = Self::spawn().await;
        let pool = PgPool::connect(&app.database_url).await.expect("connect");
        let store = Store::new(pool.clone(), StoreConfig::default());
        Self::serve(store, pool, app.database_url.clone(), server_config, true).await
    }

    /// A server whose database cannot be reached.
    pub async fn spawn_without_database() -> TestApp {
        init_test_logging();
        let database_url = "postgres://postgres@127.0.0.1:1/nowhere".to_owned();
        let pool = Store::lazy_pool(&database_url, 2).expect("a valid URL");
        let store = Store::new(pool.clone(), StoreConfig::default());
        Self::serve(store, pool, database_url, ServerConfig::default(), false).await
    }

    async fn serve(
        store: Store,
        pool: PgPool,
        database_url: String,
        server_config: ServerConfig,
        wait_until_ready: bool,
    ) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("local address");
        let (shutdown, shutdown_received) = oneshot::channel::<()>();
        let tls = server_config.tls.is_some();
        let server_store = store.clone();
        let server = tokio::spawn(async move {
            let config = ServerConfig {
                health_check_interval: Duration::from_millis(100),
                ..server_config
            };
            ngalam112::run(listener, server_store, config, async {
                let _ = shutdown_received.await;
            })
            .await
            .expect("server runs");
        });
        let channel = if tls {
            let ca = tonic::transport::Certificate::from_pem(TEST_CA_PEM);
            Channel::from_shared(format!("https://{address}"))
                .expect("uri")
                .tls_config(
                    tonic::transport::ClientTlsConfig::new()
                        .ca_certificate(ca)
                        .domain_name("localhost"),
                )
                .expect("tls config")
                .connect()
                .await
                .expect("connect to the test server over TLS")
        } else {
            Channel::from_shared(format!("http://{address}"))
                .expect("uri")
                .connect()
                .await
                .expect("connect to the test server")
        };
        let mut app = TestApp {
            address,
            channel: channel.clone(),
            store: store.clone(),
            pool,
            database_url,
            admin: connect_as(channel.clone(), None),
            operator: connect_as(channel.clone(), None),
            shutdown: Some(shutdown),
            server: Some(server),
        };
        if let Ok(admin) = app.token(Role::Admin).await {
            app.admin = connect_as(channel.clone(), Some(&admin));
        }
        if let Ok(operator) = app.token(Role::Operator).await {
            app.operator = connect_as(channel.clone(), Some(&operator));
        }
        if wait_until_ready {
            // Like a load balancer: calls only once health says SERVING
            // (schema there, change feed listening).
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if is_serving(channel.clone()).await {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the test server did not become SERVING"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        app
    }

    /// Issues a token of `role` and returns its secret.
    pub async fn token(&self, role: Role) -> Result<String, ngalam112_store::StoreError> {
        ngalam112::auth::issue_token(&self.store, role)
            .await
            .map(|(secret, _)| secret)
    }

    /// Clients of a crew's device bound to `unit_id`.
    pub async fn unit_clients(&self, unit_id: &str) -> Clients {
        let unit = ngalam112_core::UnitId::parse("unit_id", unit_id).expect("a unit id");
        let secret = self.token(Role::Unit(unit)).await.expect("unit token");
        connect_as(self.channel.clone(), Some(&secret))
    }

    /// Adds a person who logs in (as `ngalam112 user add` does).
    pub async fn add_user(&self, username: &str, role: Role, password: &str) -> UserRecord {
        let password = password.to_owned();
        let password_hash =
            tokio::task::spawn_blocking(move || ngalam112::passwords::hash_password(&password))
                .await
                .expect("hashing runs")
                .expect("hash");
        self.store
            .add_user(&NewUser {
                username: username.to_owned(),
                display_name: format!("{username} (test)"),
                role,
                password_hash,
            })
            .await
            .expect("add user")
    }

    /// Logs in through the API (no token needed).
    pub async fn login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<proto::LoginResponse, tonic::Status> {
        self.clients_with_token(None)
            .auth
            .login(proto::LoginRequest {
                username: username.to_owned(),
                password: password.to_owned(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    /// Clients of a person's session.
    pub async fn session(&self, username: &str, password: &str) -> Clients {
        let login = self.login(username, password).await.expect("login");
        self.clients_with_token(Some(&login.token))
    }

    /// A partner agency, straight into the database.
    pub async fn agency(&self, short_name: &str) -> ngalam112_core::AgencyId {
        let id = uuid::Uuid::new_v4();
        sqlx::query("INSERT INTO agencies (id, name, short_name) VALUES ($1, $2, $2)")
            .bind(id)
            .bind(short_name)
            .execute(&self.pool)
            .await
            .expect("insert agency");
        ngalam112_core::AgencyId::from_uuid(id)
    }

    pub fn clients_with_token(&self, token: Option<&str>) -> Clients {
        connect_as(self.channel.clone(), token)
    }

    /// Registers a unit through the API (as admin).
    pub async fn register(
        &self,
        call_sign: &str,
        kind: proto::UnitKind,
        lat: f64,
        lon: f64,
    ) -> proto::Unit {
        self.admin
            .units
            .clone()
            .register_unit(unit_at(call_sign, kind, (lat, lon)))
            .await
            .expect("register unit")
            .into_inner()
    }

    /// Registers a unit at one of the `places`.
    pub async fn register_at(
        &self,
        call_sign: &str,
        kind: proto::UnitKind,
        place: (f64, f64),
    ) -> proto::Unit {
        self.register(call_sign, kind, place.0, place.1).await
    }

    /// Registers a unit near RSSA (for building fleets in parallel).
    pub async fn register_owned(&self, call_sign: String, kind: proto::UnitKind) -> proto::Unit {
        self.register(&call_sign, kind, places::RSSA.0, places::RSSA.1)
            .await
    }

    /// Creates an incident through the API (as operator).
    pub async fn create(&self, request: proto::CreateIncidentRequest) -> proto::Incident {
        self.operator
            .incidents
            .clone()
            .create_incident(request)
            .await
            .expect("create incident")
            .into_inner()
    }

    pub async fn incident(&self, id: &str) -> proto::Incident {
        self.operator
            .incidents
            .clone()
            .get_incident(proto::GetIncidentRequest { id: id.to_owned() })
            .await
            .expect("get incident")
            .into_inner()
    }

    pub async fn unit(&self, id: &str) -> proto::Unit {
        self.operator
            .units
            .clone()
            .get_unit(proto::GetUnitRequest { id: id.to_owned() })
            .await
            .expect("get unit")
            .into_inner()
    }

    /// An incident's timeline, oldest first (as an operator reads it).
    pub async fn timeline(&self, id: &str) -> Vec<proto::TimelineEvent> {
        self.operator
            .incidents
            .clone()
            .get_incident_timeline(proto::GetIncidentTimelineRequest { id: id.to_owned() })
            .await
            .expect("timeline")
            .into_inner()
            .events
    }

    pub async fn timeline_kinds(&self, id: &str) -> Vec<String> {
        self.timeline(id)
            .await
            .into_iter()
            .map(|event| event.kind)
            .collect()
    }

    /// Moves this test's incidents (and their offers) back by a day, as if
    /// they had been recorded yesterday: the public figures of the current
    /// month run to the end of the previous day. Returns yesterday's month
    /// (`YYYY-MM`, WIB). The timeline is append-only, so its times stay.
    pub async fn incidents_as_if_yesterday(&self) -> String {
        for sql in [
            "UPDATE incidents SET created_at = created_at - interval '1 day', \
             updated_at = updated_at - interval '1 day'",
            "UPDATE assignments SET offered_at = offered_at - interval '1 day'",
        ] {
            sqlx::query(sql)
                .execute(&self.pool)
                .await
                .expect("backdate");
        }
        sqlx::query_scalar(
            "SELECT to_char((now() - interval '1 day') AT TIME ZONE 'Asia/Jakarta', 'YYYY-MM')",
        )
        .fetch_one(&self.pool)
        .await
        .expect("yesterday's month")
    }

    /// Counts rows of a table, to prove a refused request stored nothing.
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&self.pool)
            .await
            .expect("count rows")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// Kota Malang places used across tests.
pub mod places {
    /// Command centre, Balai Kota (Jl. Tugu 1).
    pub const BALAI_KOTA: (f64, f64) = (-7.9770, 112.6340);
    pub const RSSA: (f64, f64) = (-7.9725, 112.6315);
    pub const UNISMA: (f64, f64) = (-7.9370, 112.6090);
    pub const PANTI_WALUYA: (f64, f64) = (-7.9880, 112.6270);
    pub const POLRESTA: (f64, f64) = (-7.9700, 112.6320);
    pub const DAMKAR: (f64, f64) = (-7.9950, 112.6300);
}

/// A RegisterUnit request for a unit at one of the `places`.
pub fn unit_at(
    call_sign: &str,
    kind: proto::UnitKind,
    place: (f64, f64),
) -> proto::RegisterUnitRequest {
    proto::RegisterUnitRequest {
        call_sign: call_sign.to_owned(),
        kind: kind.into(),
        agency: "test agency".to_owned(),
        location: Some(proto::GeoPoint {
            lat: place.0,
            lon: place.1,
        }),
    }
}

/// A typical medical call at `at`.
pub fn medical_call(at: (f64, f64)) -> proto::CreateIncidentRequest {
    proto::CreateIncidentRequest {
        category: proto::IncidentCategory::Medical.into(),
        priority: proto::Priority::High.into(),
        caller_phone: "0812 3456 7890".to_owned(),
        caller_name: "Bu Sri".to_owned(),
        location: Some(proto::GeoPoint {
            lat: at.0,
            lon: at.1,
        }),
        address: "Jl. Tugu 1, Klojen".to_owned(),
        description: "pingsan di depan balai kota".to_owned(),
        ..Default::default()
    }
}

/// The haversine distance as an independent check (mean Earth radius).
pub fn great_circle_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().asin()
}

pub fn code_of<T: std::fmt::Debug>(result: Result<T, tonic::Status>) -> tonic::Code {
    result.expect_err("the call must fail").code()
}

/// `ngalam112 serve` (the binary at `binary`) on 127.0.0.1:`port` against
/// `database_url`, with `extra` arguments; its log: errors only, on stderr.
pub fn serve_command(binary: &str, database_url: &str, port: u16, extra: &[&str]) -> Command {
    let mut command = Command::new(binary);
    command
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "error")
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .stdout(std::process::Stdio::null());
    command
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// Whether the server's health says SERVING (an error counts as not yet).
async fn is_serving(channel: Channel) -> bool {
    tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|answer| answer.into_inner().status() == ServingStatus::Serving)
        .unwrap_or(false)
}

/// Waits until health says SERVING (the embedded database is up and
/// migrated).
pub async fn wait_until_serving(port: u16) -> Channel {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(channel) = Channel::from_shared(format!("http://127.0.0.1:{port}"))
            .expect("uri")
            .connect()
            .await
            && is_serving(channel.clone()).await
        {
            return channel;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not become SERVING"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// NENA's EIDO schema (`fixtures/eido/openapi.yaml`, OpenAPI 3.0
/// components) as a JSON Schema validator for
/// `EmergencyIncidentDataObjectType`. The conversion: the components become
/// draft-07 `definitions` (draft 07, like OpenAPI 3.0, ignores the siblings
/// of `$ref`), `#/components/schemas/X` becomes `#/definitions/X`, a count
/// written as text (`minItems: 1,`) becomes the number, and a
/// reference into the NIEM files not shipped with the schema (person,
/// vehicle, item, organization) accepts anything: an export that uses none
/// of those components is checked in full.
pub fn eido_validator() -> jsonschema::Validator {
    let text = include_str!("../fixtures/eido/openapi.yaml");
    let openapi: serde_json::Value =
        serde_norway::from_str(text).expect("the EIDO OpenAPI document parses");
    let mut schemas = openapi["components"]["schemas"].clone();
    let known: Vec<String> = schemas
        .as_object()
        .expect("components.schemas")
        .keys()
        .cloned()
        .collect();
    fn rewrite(value: &mut serde_json::Value, known: &[String]) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(target)) = map.get("$ref").cloned() {
                    match target.strip_prefix("#/components/schemas/") {
                        Some(name) if known.iter().any(|k| k == name) => {
                            map.insert(
                                "$ref".to_owned(),
                                serde_json::Value::String(format!("#/definitions/{name}")),
                            );
                        }
                        _ => {
                            map.clear();
                            return;
                        }
                    }
                }
                // NENA's file has `minItems: 1,` (a string in YAML): read the
                // number it means.
                for keyword in ["minItems", "maxItems", "minLength", "maxLength"] {
                    if let Some(serde_json::Value::String(text)) = map.get(keyword).cloned() {
                        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
                        if let Ok(number) = digits.parse::<u64>() {
                            map.insert(keyword.to_owned(), serde_json::Value::from(number));
                        }
                    }
                }
                for child in map.values_mut() {
                    rewrite(child, known);
                }
            }
            serde_json::Value::Array(items) => {
                items.iter_mut().for_each(|item| rewrite(item, known))
            }
            _ => {}
        }
    }
    rewrite(&mut schemas, &known);
    let root = serde_json::json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$ref": "#/definitions/EmergencyIncidentDataObjectType",
        "definitions": schemas,
    });
    jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .expect("the converted EIDO schema compiles")
}
