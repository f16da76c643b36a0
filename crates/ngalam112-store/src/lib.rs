//! The Ngalam 112 store: every SQL statement of the project lives in this
//! crate, with the transactions that keep the dispatch rules true.
//!
//! Where things are:
//! - `dispatch`: the SQL that claims a unit, the pending queue (rule 5) and
//!   the status derivation (rule 6); `locks`: the per-kind advisory locks
//!   that keep a freed unit and a waiting call from missing each other.
//! - `intake_group`: new calls that can be served at once, stored and
//!   dispatched many per statement and per commit.
//! - `incidents`, `units`, `field`: one module per service's state changes.
//! - `records`: the rows as domain values.
//!
//! It never talks gRPC and never decides policy the core already decides
//! (ranking and status derivation come from `ngalam112-core`).

#[macro_use]
mod records;
mod alarms;
mod avl;
mod batch;
mod callers;
mod calls;
mod cameras;
mod device;
#[macro_use]
mod dispatch;
mod error;
mod events;
mod field;
mod hold;
mod incidents;
mod intake_group;
pub mod locks;
mod outcome;
mod public;
mod referrals;
mod report;
mod retention;
mod stats;
mod timeline;
mod tokens;
mod unit_of_work;
mod units;
mod users;

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

pub use alarms::AlarmRecord;
pub use avl::AvlWriter;
pub use callers::{AUTOMATIC_FLAG_DAYS, AUTOMATIC_FLAG_PRANKS, CallerFlag, CallerHistory};
pub use calls::{CallRecord, CallerSummary};
pub use cameras::CameraRecord;
pub use device::IngestOutcome;
pub use error::StoreError;
pub use events::{ChangeFeed, FeedEvent, FleetEvent, IncidentChange, Revocation};
pub use incidents::{CreateOutcome, IncidentPageCursor};
/// Validated by the core (`NewIncident::parse`); the store takes no other.
pub use ngalam112_core::NewIncident;
pub use ngalam112_core::Role;
pub use public::{PUBLISHED_MINIMUM, PublicCategoryStats};
pub use records::{
    AssignmentRecord, DeviceLocation, IncidentRecord, OtherCaller, TimelineRecord, UnitRecord,
};
pub use referrals::{AgencyRecord, ReferralRecord};
pub use report::{CallFigures, ReferralFigures, ResponseTimeReport, ResponseTimeRow};
pub use retention::KEPT_FIX_MINUTES;
pub use stats::Snapshot;
pub use tokens::{SessionUser, TokenRecord, TokenVerifier};
pub use units::{NewUnit, UnitRecommendation};
pub use users::{
    LOGIN_FAILURE_WINDOW, LOGIN_FAILURES_ALLOWED, LoginAdmission, LoginOutcome, NewUser,
    PendingLogin, UserRecord,
};

/// The migrations of `migrations/`, embedded in the binary. Schema changes
/// are expand/contract (every migration keeps the previous release
/// working), so a database already migrated by a newer release is fine:
/// its migrations this binary does not know are left alone.
pub static MIGRATOR: std::sync::LazyLock<sqlx::migrate::Migrator> =
    std::sync::LazyLock::new(|| {
        let mut migrator = sqlx::migrate!("../../migrations");
        migrator.set_ignore_missing(true);
        migrator
    });

/// How the database's schema stands against this binary's migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaState {
    /// Every migration this binary has is applied (newer ones may be too).
    Ready,
    /// This binary needs migrations the database does not have yet.
    Behind { missing: Vec<i64> },
    /// The database does not answer (or has no migrations table).
    Unreachable,
}

/// How the store behaves; the server fills it from its command line.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// How long an OFFERED assignment waits for the crew (rule 4).
    pub offer_timeout: Duration,
    /// A unit whose last position report is older than this is offered
    /// work only when no unit of its kind with a fresh position can go.
    pub stale_location_after: Duration,
    /// The city's roads: with them, nearest means least drive time.
    pub roads: Option<std::sync::Arc<dyn ngalam112_core::drive::DriveTimes>>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            offer_timeout: Duration::from_secs(60),
            stale_location_after: Duration::from_secs(30 * 60),
            roads: None,
        }
    }
}

/// Who made a change, as the timeline records it: `operator:sri` for a
/// person's session, `operator:<token id>` for a token; never a secret.
#[derive(Debug, Clone)]
pub struct Actor(pub String);

impl Actor {
    pub fn system() -> Self {
        Self("system".to_owned())
    }
}

/// A handle on the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    /// The connections of the work that dispatches: intake, the crews'
    /// calls, offer deadlines, the sweep, token checks, the operators'
    /// reads and changes.
    pool: PgPool,
    /// The connections of everything else (logins, public figures,
    /// reports, exports): a flood of those waits here, never for a
    /// connection dispatch needs.
    side_pool: PgPool,
    config: StoreConfig,
    /// Further callers being recorded at once by this process (each in a
    /// transaction of its own): a surge of them must leave connections
    /// for the crews accepting and finishing their work.
    intake: std::sync::Arc<tokio::sync::Semaphore>,
    /// The worker taking new calls in groups (`intake_group`).
    intake_groups: intake_group::IntakeGroups,
    /// This process's second passes (`unit_of_work::SecondPasses`).
    passes: std::sync::Arc<unit_of_work::SecondPasses>,
}

/// How many further callers' transactions (CreateIncident with
/// `duplicate_of`) one process runs at once; the rest wait their turn
/// without holding a database connection. New calls go in groups.
pub const INTAKE_CONCURRENCY: usize = 8;

/// Connections of the side pool (logins, public figures, reports,
/// exports) per process, besides the dispatch pool.
pub const SIDE_CONNECTIONS: u32 = 4;

impl Store {
    /// A store on `pool` (the work that dispatches) and a side pool of
    /// [`SIDE_CONNECTIONS`] to the same database for everything else.
    pub fn new(pool: PgPool, config: StoreConfig) -> Self {
        let side_pool = PgPoolOptions::new()
            .max_connections(SIDE_CONNECTIONS)
            .acquire_timeout(pool.options().get_acquire_timeout())
            .connect_lazy_with((*pool.connect_options()).clone());
        Self {
            pool,
            side_pool,
            config,
            intake: std::sync::Arc::new(tokio::sync::Semaphore::new(INTAKE_CONCURRENCY)),
            intake_groups: Default::default(),
            passes: Default::default(),
        }
    }

    /// A pool that never hangs a request on a dead database: acquiring a
    /// connection gives up after `acquire_timeout` and the caller answers
    /// UNAVAILABLE. Connections are opened lazily, so a server can start
    /// (and report NOT_SERVING) while PostgreSQL is still down.
    pub fn lazy_pool(database_url: &str, max_connections: u32) -> Result<PgPool, StoreError> {
        PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(3))
            .connect_lazy(database_url)
            .map_err(StoreError::from)
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The side pool (logins, public figures, reports, exports).
    pub fn side_pool(&self) -> &PgPool {
        &self.side_pool
    }

    /// This store with every statement on the side pool: for reads made
    /// on behalf of work that must never take dispatch's connections
    /// (exports).
    pub fn side(&self) -> Store {
        Store {
            pool: self.side_pool.clone(),
            ..self.clone()
        }
    }

    /// Drops and creates the database `ngalam112_demo` on the server of
    /// `server_url` (for `ngalam112 demo-server`: a fresh database per demo
    /// run); returns its URL. The statements name a fixed database, so
    /// nothing in them comes from outside.
    pub async fn fresh_demo_database(server_url: &str) -> Result<String, StoreError> {
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(server_url)
            .await?;
        sqlx::query("DROP DATABASE IF EXISTS ngalam112_demo WITH (FORCE)")
            .execute(&admin)
            .await?;
        sqlx::query("CREATE DATABASE ngalam112_demo")
            .execute(&admin)
            .await?;
        admin.close().await;
        Ok(match server_url.rsplit_once('/') {
            Some((server, _database)) => format!("{server}/ngalam112_demo"),
            None => server_url.to_owned(),
        })
    }

    /// Runs the pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await.map_err(|error| match error {
            sqlx::migrate::MigrateError::Execute(error) => StoreError::from(error),
            other => StoreError::Internal(other.to_string()),
        })
    }

    /// Whether the database answers and has every migration of this
    /// binary applied. Migrations of a newer release do not matter: during
    /// a rolling upgrade the old processes keep serving.
    pub async fn is_ready(&self) -> bool {
        self.schema_state().await == SchemaState::Ready
    }

    /// The schema against this binary's migrations.
    pub async fn schema_state(&self) -> SchemaState {
        let applied: Result<Vec<i64>, _> =
            sqlx::query_scalar!("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await;
        let applied = match applied {
            Ok(applied) => applied,
            // No migrations table yet: a new database, nothing applied.
            Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("42P01") => {
                Vec::new()
            }
            Err(_) => return SchemaState::Unreachable,
        };
        let missing: Vec<i64> = MIGRATOR
            .iter()
            .map(|migration| migration.version)
            .filter(|version| !applied.contains(version))
            .collect();
        if missing.is_empty() {
            SchemaState::Ready
        } else {
            SchemaState::Behind { missing }
        }
    }

    /// The part of the store the dispatch protocol needs (`unit_of_work`).
    pub(crate) fn dispatcher(&self) -> unit_of_work::Dispatcher {
        unit_of_work::Dispatcher {
            pool: self.pool.clone(),
            config: self.config.clone(),
            passes: self.passes.clone(),
        }
    }

    /// [`retrying`] `operation`.
    async fn retrying<T, F, Fut>(&self, operation: F) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        retrying(operation).await
    }
}

/// Runs `operation` again when PostgreSQL aborted it for a deadlock or a
/// serialization failure; both are safe to retry because the whole
/// operation is one transaction.
pub(crate) async fn retrying<T, F, Fut>(mut operation: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 0;
    loop {
        match operation().await {
            Err(StoreError::Conflict(cause)) if attempt < 5 => {
                attempt += 1;
                tracing::debug!(attempt, %cause, "transaction conflicted, retrying");
            }
            Err(StoreError::Conflict(cause)) => return Err(StoreError::Internal(cause)),
            other => return other,
        }
    }
}
