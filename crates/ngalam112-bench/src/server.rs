//! A fresh database and a release server process (this binary, re-run
//! as `serve-internal`) for each workload.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ngalam112_store::{Role, Store, StoreConfig};

use crate::workloads::Area;
use sqlx::{Connection, Executor, PgConnection, PgPool};
use tonic::transport::Channel;

pub struct BenchServer {
    child: Option<Child>,
    pub address: String,
    pub pool: PgPool,
    pub store: Store,
    pub admin_token: String,
    admin_url: String,
    /// The database this run created (and drops); None for `--server`.
    database: Option<String>,
}

/// Where the workloads run: a fresh database and server process each
/// (default), or an existing server and its database (`--server`).
#[derive(Debug, Clone)]
pub enum Target {
    Fresh {
        admin_url: String,
    },
    Existing {
        server: String,
        database_url: String,
    },
}

fn with_database(url: &str, database: &str) -> anyhow::Result<String> {
    let (server, _) = url
        .rsplit_once('/')
        .context("a database URL has a /database part")?;
    Ok(format!("{server}/{database}"))
}

impl BenchServer {
    /// A server for one workload.
    pub async fn start(target: &Target, offer_timeout_s: u64) -> anyhow::Result<BenchServer> {
        Self::start_on(target, offer_timeout_s, None).await
    }

    /// A server for one workload, dispatching on `roads` (an .osm.pbf)
    /// when given.
    pub async fn start_on(
        target: &Target,
        offer_timeout_s: u64,
        roads: Option<&std::path::Path>,
    ) -> anyhow::Result<BenchServer> {
        match target {
            Target::Fresh { admin_url } => {
                Self::start_fresh(admin_url, offer_timeout_s, roads).await
            }
            Target::Existing {
                server,
                database_url,
            } => Self::attach(server, database_url).await,
        }
    }

    /// An existing server; `database_url` is its database (the fleet is
    /// written there, and the benchmark's admin token).
    async fn attach(server: &str, database_url: &str) -> anyhow::Result<BenchServer> {
        let pool = PgPool::connect(database_url)
            .await
            .context("connect to the server's database")?;
        let store = Store::new(pool.clone(), StoreConfig::default());
        let (admin_token, _) = ngalam112::auth::issue_token(&store, Role::Admin).await?;
        let server = BenchServer {
            child: None,
            address: server
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_owned(),
            pool,
            store,
            admin_token,
            admin_url: database_url.to_owned(),
            database: None,
        };
        server.wait_until_serving().await?;
        Ok(server)
    }

    /// A fresh database, migrated, and a server process on it.
    async fn start_fresh(
        admin_url: &str,
        offer_timeout_s: u64,
        roads: Option<&std::path::Path>,
    ) -> anyhow::Result<BenchServer> {
        let database = format!("ngalam112_bench_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(admin_url)
            .await
            .context("connect to PostgreSQL")?;
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
            .await?;
        let url = with_database(admin_url, &database)?;
        let pool = PgPool::connect(&url).await?;
        let store = Store::new(pool.clone(), StoreConfig::default());
        store.migrate().await?;
        let (admin_token, _) = ngalam112::auth::issue_token(&store, Role::Admin).await?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let address: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let mut command = Command::new(std::env::current_exe()?);
        command.args([
            "serve-internal",
            "--listen",
            &address.to_string(),
            "--offer-timeout",
            &offer_timeout_s.to_string(),
        ]);
        if let Some(roads) = roads {
            command.arg("--roads").arg(roads);
        }
        let child = command
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .context("start the server process")?;
        let server = BenchServer {
            child: Some(child),
            address: address.to_string(),
            pool,
            store,
            admin_token,
            admin_url: admin_url.to_owned(),
            database: Some(database),
        };
        server.wait_until_serving().await?;
        Ok(server)
    }

    async fn wait_until_serving(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(channel) = Channel::from_shared(format!("http://{}", self.address))?
                .connect()
                .await
            {
                use ngalam112_proto::v1::unit_service_client::UnitServiceClient;
                let mut client = UnitServiceClient::new(channel);
                let mut request = tonic::Request::new(ngalam112_proto::v1::GetUnitRequest {
                    id: uuid::Uuid::nil().to_string(),
                });
                request.metadata_mut().insert(
                    "authorization",
                    format!("Bearer {}", self.admin_token).parse()?,
                );
                if let Err(status) = client.get_unit(request).await
                    && status.code() == tonic::Code::NotFound
                {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                bail!("the server did not come up");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A connection to the server (`connections` separate HTTP/2
    /// connections, round-robin by worker).
    pub async fn channels(&self, connections: usize) -> anyhow::Result<Vec<Channel>> {
        let mut channels = Vec::new();
        for _ in 0..connections {
            channels.push(
                Channel::from_shared(format!("http://{}", self.address))?
                    .connect()
                    .await?,
            );
        }
        Ok(channels)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The server's resident memory, MiB.
    pub fn rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while child.try_wait()?.is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        self.pool.close().await;
        if let Some(database) = &self.database {
            let mut admin = PgConnection::connect(&self.admin_url).await?;
            admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
                )))
                .await?;
        }
        Ok(())
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
        }
    }
}

/// Registers `count` available units of `kind` at random places in Kota
/// Malang, straight into the table (setup, not measured).
pub async fn insert_units(
    pool: &PgPool,
    kind: &str,
    count: usize,
    seed: u64,
) -> anyhow::Result<Vec<uuid::Uuid>> {
    insert_units_in(pool, kind, count, seed, &Area::MALANG).await
}

/// As `insert_units`, at random places in `area`.
pub async fn insert_units_in(
    pool: &PgPool,
    kind: &str,
    count: usize,
    seed: u64,
    area: &Area,
) -> anyhow::Result<Vec<uuid::Uuid>> {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut ids = Vec::with_capacity(count);
    for chunk_start in (0..count).step_by(5_000) {
        let chunk = (count - chunk_start).min(5_000);
        let chunk_ids: Vec<uuid::Uuid> = (0..chunk).map(|_| uuid::Uuid::new_v4()).collect();
        let call_signs: Vec<String> = (chunk_start..chunk_start + chunk)
            .map(|i| format!("{kind}-{i:06}"))
            .collect();
        let (lats, lons): (Vec<f64>, Vec<f64>) = (0..chunk).map(|_| area.random(&mut rng)).unzip();
        sqlx::query!(
            "INSERT INTO units (id, call_sign, kind, agency, status, lat, lon, location_updated_at, available_since) \
             SELECT id, call_sign, $5, 'bench', 'available', lat, lon, now(), now() \
             FROM unnest($1::uuid[], $2::text[], $3::float8[], $4::float8[]) AS u(id, call_sign, lat, lon)",
            &chunk_ids,
            &call_signs,
            &lats,
            &lons,
            kind,
        )
        .execute(pool)
        .await?;
        ids.extend(chunk_ids);
    }
    sqlx::query("ANALYZE units").execute(pool).await?;
    Ok(ids)
}

/// Crews finishing their work, quickly: every 100 ms, offers older than
/// 100 ms are completed and their units freed, in one transaction that
/// takes the ambulance dispatch lock like the server does. (A shortcut for
/// the benchmark: no timeline rows for these completions.)
pub async fn free_units_while(pool: PgPool, stop: tokio::sync::watch::Receiver<bool>) {
    while !*stop.borrow() {
        let freed: Result<(), sqlx::Error> = async {
            let mut transaction = pool.begin().await?;
            // The ambulance dispatch lock, as the server takes it.
            sqlx::query!(
                "SELECT pg_advisory_xact_lock($1, $2)",
                ngalam112_store::locks::DISPATCH,
                ngalam112_store::locks::kind_key(ngalam112_core::UnitKind::Ambulance,),
            )
            .execute(&mut *transaction)
            .await?;
            sqlx::query!(
                "WITH done AS ( \
                   UPDATE assignments SET status = 'completed', updated_at = now() \
                   WHERE status = 'offered' AND offered_at < now() - interval '100 ms' \
                   RETURNING unit_id) \
                 UPDATE units SET status = 'available', current_assignment_id = NULL, \
                   available_since = now() WHERE id IN (SELECT unit_id FROM done)"
            )
            .execute(&mut *transaction)
            .await?;
            transaction.commit().await
        }
        .await;
        if let Err(error) = freed {
            eprintln!("freer: {error}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
