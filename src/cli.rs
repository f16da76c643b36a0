//! The `ngalam112` command line: serve, migrate, tokens, demo fleet.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use ngalam112_core::UnitId;
use ngalam112_store::{Role, Store, StoreConfig};

use crate::embedded_postgres::EmbeddedPostgres;
use crate::telemetry::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "ngalam112",
    version,
    about = "Ngalam 112 dispatch server (Kota Malang)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log lines as text or JSON (filter with RUST_LOG).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gRPC server.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Issue, list or revoke API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Register the Kota Malang demo fleet (idempotent).
    SeedMalang(DatabaseArgs),
    /// Add, list or disable the people who log in, or set a password.
    User {
        #[command(subcommand)]
        command: crate::user_cli::UserCommand,
    },
    /// The server as `n112 demo` runs it: a fresh seeded database, one JSON
    /// line on stdout (address, admin token, demo login), serving until
    /// stdin closes.
    DemoServer(crate::demo_server::DemoServerArgs),
}

/// Where the data lives: `DATABASE_URL`, or else an embedded PostgreSQL
/// under `--data-dir`.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// Directory of the embedded PostgreSQL (used when DATABASE_URL is unset).
    #[arg(long, default_value = "./var")]
    pub data_dir: PathBuf,
    /// PostgreSQL URL; unset: the embedded database under --data-dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Seconds an offer waits for the crew before it times out.
    #[arg(long, default_value_t = 60)]
    pub offer_timeout: u64,
    /// Seconds after which a unit's last position counts as stale: such a
    /// unit is auto-offered work only when no unit with a fresh position can go.
    #[arg(long, default_value_t = 1800)]
    pub stale_location_after: u64,
    /// PEM certificate (chain) to serve gRPC over TLS.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve plaintext on a non-loopback address (only behind a trusted
    /// TLS-terminating proxy).
    #[arg(long)]
    pub allow_insecure_remote: bool,
    /// Serve Prometheus metrics (`/metrics`) on this address, e.g. 127.0.0.1:9112.
    #[arg(long)]
    pub metrics_listen: Option<SocketAddr>,
    /// The city's OpenStreetMap extract (.osm.pbf): dispatch then ranks
    /// units by drive time on its roads (the prepared graph is cached under
    /// --data-dir/roads).
    #[arg(long, env = "NGALAM112_ROADS")]
    pub roads: Option<PathBuf>,
    /// Map tiles of the web console: an {z}/{x}/{y} URL template; "" for
    /// none (a plain background with the city's outline).
    #[arg(long, default_value = crate::web::OSM_TILES)]
    pub map_tiles: String,
    /// Hours a person's login session lasts (one shift).
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u64).range(1..=168))]
    pub session_hours: u64,
    /// Days callers' names and numbers are kept after an incident is
    /// closed; then they are blanked (0 keeps them).
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u64).range(0..=36_500))]
    pub caller_retention_days: u64,
    /// A load balancer or reverse proxy in front (repeat for several): the
    /// client address of its calls is read from its `X-Forwarded-For`, for
    /// the per-address limits of logins and public figures. Without it
    /// the header is ignored (anyone could write it).
    #[arg(long = "trusted-proxy", value_name = "IP")]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// A host name the pages and gRPC-Web answer for (repeat for several),
    /// e.g. `cad.malangkota.go.id`; any other `Host` is refused (no DNS
    /// rebinding). Default: the listen address and `localhost`.
    #[arg(long = "public-host", value_name = "NAME")]
    pub public_hosts: Vec<String>,
}

impl ServeArgs {
    /// The TLS identity, and whether plaintext on this address is allowed.
    fn tls(&self) -> anyhow::Result<Option<crate::server::TlsIdentity>> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            if !self.listen.ip().is_loopback() && !self.allow_insecure_remote {
                anyhow::bail!(
                    "refusing to serve plaintext gRPC on {}: give --tls-cert and --tls-key, \
                     or --allow-insecure-remote behind a TLS-terminating proxy",
                    self.listen
                );
            }
            return Ok(None);
        };
        Ok(Some(crate::server::TlsIdentity {
            certificate_pem: std::fs::read(cert)
                .with_context(|| format!("cannot read --tls-cert {}", cert.display()))?,
            private_key_pem: std::fs::read(key)
                .with_context(|| format!("cannot read --tls-key {}", key.display()))?,
        }))
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Admin,
    Operator,
    Unit,
    /// The telco's AML gateway (may only send device locations).
    Gateway,
    /// A partner agency's liaison (with --agency-id).
    Agency,
}

impl RoleArg {
    /// The role with the unit or agency it is bound to.
    pub fn bind(self, unit_id: Option<&str>, agency_id: Option<&str>) -> anyhow::Result<Role> {
        Ok(match (self, unit_id, agency_id) {
            (RoleArg::Admin, None, None) => Role::Admin,
            (RoleArg::Operator, None, None) => Role::Operator,
            (RoleArg::Gateway, None, None) => Role::Gateway,
            (RoleArg::Unit, Some(unit), None) => Role::Unit(UnitId::parse("--unit-id", unit)?),
            (RoleArg::Unit, None, _) => anyhow::bail!("--role unit needs --unit-id"),
            (RoleArg::Agency, None, Some(agency)) => {
                Role::Agency(ngalam112_core::AgencyId::parse("--agency-id", agency)?)
            }
            (RoleArg::Agency, _, None) => anyhow::bail!("--role agency needs --agency-id"),
            (_, Some(_), _) => anyhow::bail!("--unit-id goes only with --role unit"),
            (_, _, Some(_)) => anyhow::bail!("--agency-id goes only with --role agency"),
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token; prints the secret alone on stdout (shown only once).
    Issue {
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The unit a `unit` token is bound to.
        #[arg(long)]
        unit_id: Option<String>,
        /// The agency an `agency` token is bound to.
        #[arg(long)]
        agency_id: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List tokens (never their secrets).
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a token by id; it stops working on the next call.
    Revoke {
        id: uuid::Uuid,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// An open database, and the embedded cluster behind it if there is one.
pub struct Database {
    pub store: Store,
    embedded: Option<EmbeddedPostgres>,
}

impl Database {
    pub async fn open(args: &DatabaseArgs, config: StoreConfig) -> anyhow::Result<Self> {
        let (url, embedded) = match &args.database_url {
            Some(url) => (url.clone(), None),
            None => {
                let data_dir = args.data_dir.clone();
                let cluster =
                    tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&data_dir))
                        .await?
                        .context("cannot start the embedded PostgreSQL")?;
                (cluster.database_url(), Some(cluster))
            }
        };
        let pool =
            Store::lazy_pool(&url, 16).context("DATABASE_URL is not a valid PostgreSQL URL")?;
        Ok(Self {
            store: Store::new(pool, config),
            embedded,
        })
    }

    /// Closes the pool and stops the embedded cluster if this process
    /// started it.
    pub async fn close(self) -> anyhow::Result<()> {
        self.store.pool().close().await;
        if let Some(cluster) = self.embedded {
            tokio::task::spawn_blocking(move || cluster.stop()).await??;
        }
        Ok(())
    }
}

/// How long in-flight calls may take to finish after SIGINT/SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let tls = args.tls()?;
    let roads = crate::roads::load(args.roads.as_deref(), &args.database.data_dir).await?;
    let config = StoreConfig {
        offer_timeout: Duration::from_secs(args.offer_timeout.max(1)),
        stale_location_after: Duration::from_secs(args.stale_location_after),
        roads,
    };
    if let Some(address) = args.metrics_listen {
        crate::metrics::install(address)
            .with_context(|| format!("cannot serve metrics on {address}"))?;
        tracing::info!(%address, "metrics on /metrics");
    }
    let database = Database::open(&args.database, config).await?;
    let migrations = tokio::spawn(migrate_until_done(database.store.clone()));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(
        url = %format!("{scheme}://{}/", listener.local_addr()?),
        crew_page = %format!("{scheme}://{}/crew", listener.local_addr()?),
        "web console"
    );
    match (&tls, args.listen.ip().is_loopback()) {
        (Some(_), _) => {
            tracing::info!(address = %listener.local_addr()?, "ngalam112 listening (gRPC over TLS)")
        }
        (None, true) => tracing::info!(
            address = %listener.local_addr()?,
            "ngalam112 listening (plaintext gRPC, loopback only)"
        ),
        (None, false) => tracing::warn!(
            address = %listener.local_addr()?,
            "ngalam112 listening in PLAINTEXT on a non-loopback address (--allow-insecure-remote)"
        ),
    }
    let stopping = std::sync::Arc::new(tokio::sync::Notify::new());
    let signalled = stopping.clone();
    let server = crate::run(
        listener,
        database.store.clone(),
        crate::ServerConfig {
            tls,
            gauge_interval: args.metrics_listen.map(|_| Duration::from_secs(5)),
            session_lifetime: Duration::from_secs(args.session_hours * 3600),
            caller_retention: Some(args.caller_retention_days)
                .filter(|days| *days > 0)
                .map(|days| Duration::from_secs(days * 24 * 3600)),
            web: crate::web::WebConfig {
                map_tiles: Some(args.map_tiles.clone()).filter(|tiles| !tiles.is_empty()),
            },
            trusted_proxies: crate::client_address::TrustedProxies::new(
                args.trusted_proxies.clone(),
            ),
            public_hosts: args.public_hosts.clone(),
            ..crate::ServerConfig::default()
        },
        async move {
            shutdown_signal().await;
            signalled.notify_one();
        },
    );
    // In-flight calls get a grace period; a client that keeps its
    // connection open does not keep the server (and its database) up.
    let served = tokio::select! {
        served = server => served,
        () = async {
            stopping.notified().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!("clients still connected after the grace period; stopping anyway");
            Ok(())
        }
    };
    migrations.abort();
    tracing::info!("shutting down");
    database.close().await?;
    served
}

/// Runs migrations, retrying while the database is unreachable, so a
/// server started before its database still comes up by itself.
async fn migrate_until_done(store: Store) {
    loop {
        match store.migrate().await {
            Ok(()) => {
                tracing::info!("migrations applied");
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "migrations not applied yet; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(stream) => stream,
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGTERM");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        _ = terminate.recv() => tracing::info!("SIGTERM received"),
    }
}

pub async fn migrate(args: DatabaseArgs) -> anyhow::Result<()> {
    let database = Database::open(&args, StoreConfig::default()).await?;
    let result = database.store.migrate().await.context("migration failed");
    database.close().await?;
    result?;
    eprintln!("migrations applied");
    Ok(())
}

pub async fn token(command: TokenCommand) -> anyhow::Result<()> {
    let args = match &command {
        TokenCommand::Issue { database, .. }
        | TokenCommand::List { database }
        | TokenCommand::Revoke { database, .. } => database.clone(),
    };
    let database = Database::open(&args, StoreConfig::default()).await?;
    let result = async {
        database.store.migrate().await?;
        match command {
            TokenCommand::Issue {
                role,
                unit_id,
                agency_id,
                ..
            } => {
                let role = role.bind(unit_id.as_deref(), agency_id.as_deref())?;
                let (secret, record) = crate::auth::issue_token(&database.store, role).await?;
                eprintln!("issued {} token {}", record.role.name(), record.id);
                println!("{secret}");
            }
            TokenCommand::List { .. } => {
                for token in database.store.list_tokens().await? {
                    let bound = match token.role {
                        Role::Unit(unit) => unit.to_string(),
                        Role::Agency(agency) => agency.to_string(),
                        _ => "-".to_owned(),
                    };
                    let holder = token
                        .user
                        .as_ref()
                        .map_or("-".to_owned(), |user| user.username.clone());
                    let state = match token.revoked_at {
                        Some(at) => format!("revoked {}", at.to_rfc3339()),
                        None => "active".to_owned(),
                    };
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        token.id,
                        token.role.name(),
                        bound,
                        holder,
                        token.created_at.to_rfc3339(),
                        state
                    );
                }
            }
            TokenCommand::Revoke { id, .. } => {
                database.store.revoke_token(id).await?;
                eprintln!("token {id} revoked");
            }
        }
        Ok(())
    }
    .await;
    database.close().await?;
    result
}

pub async fn seed_malang(args: DatabaseArgs) -> anyhow::Result<()> {
    let database = Database::open(&args, StoreConfig::default()).await?;
    let result = async {
        database.store.migrate().await?;
        let added = crate::seed::seed_malang(&database.store).await?;
        let cameras = crate::seed::seed_cameras(&database.store).await?;
        let agencies = crate::seed::seed_agencies(&database.store).await?;
        eprintln!(
            "Kota Malang demo fleet: {added} units, {cameras} cameras, {agencies} partner agencies added"
        );
        anyhow::Ok(())
    }
    .await;
    database.close().await?;
    result
}
