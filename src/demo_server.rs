//! `ngalam112 demo-server`: the server as `n112 demo` runs it. It makes a
//! fresh database (`ngalam112_demo` in the embedded cluster, or the empty
//! one given), seeds the Kota Malang fleet, cameras and partner agencies,
//! issues an admin token and a login for the person watching, prints one
//! JSON line on stdout with what the demo needs, and serves (gRPC and the
//! web pages) until its stdin closes or it gets SIGINT/SIGTERM.
//!
//! The demo talks to it only over the API, like any client: `n112` does
//! not link the server, the store or sqlx.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use ngalam112_store::{NewUser, Role, Store, StoreConfig, StoreError};
use serde_json::json;

use crate::embedded_postgres::EmbeddedPostgres;

#[derive(Debug, Clone, clap::Args)]
pub struct DemoServerArgs {
    /// Where to listen (gRPC and the web console); port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8112")]
    pub listen: SocketAddr,
    /// Directory of the embedded PostgreSQL (used without --database-url);
    /// the demo gets a fresh database `ngalam112_demo` in it on every run.
    #[arg(long, default_value = "./var")]
    pub data_dir: PathBuf,
    /// Use this (empty) database instead of the embedded one.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Seconds an offer rings before it times out.
    #[arg(long, default_value_t = 15)]
    pub offer_timeout: u64,
    /// The city's OpenStreetMap extract (.osm.pbf): rank by drive time.
    #[arg(long, env = "NGALAM112_ROADS")]
    pub roads: Option<PathBuf>,
}

pub async fn run(args: DemoServerArgs) -> anyhow::Result<()> {
    let (url, cluster) = database(&args)
        .await
        .context("cannot start the demo database")?;
    let result = serve_on(&args, &url).await;
    if let Some(cluster) = cluster {
        tokio::task::spawn_blocking(move || cluster.stop()).await??;
    }
    result
}

/// The database the demo runs on, and the cluster to stop afterwards.
async fn database(args: &DemoServerArgs) -> anyhow::Result<(String, Option<EmbeddedPostgres>)> {
    if let Some(url) = &args.database_url {
        return Ok((url.clone(), None));
    }
    let data_dir = args.data_dir.clone();
    let cluster = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&data_dir)).await??;
    let url = Store::fresh_demo_database(&cluster.database_url()).await?;
    Ok((url, Some(cluster)))
}

async fn serve_on(args: &DemoServerArgs, url: &str) -> anyhow::Result<()> {
    let roads = crate::roads::load(args.roads.as_deref(), &args.data_dir).await?;
    let pool = Store::lazy_pool(url, 16).context("not a valid PostgreSQL URL")?;
    let store = Store::new(
        pool.clone(),
        StoreConfig {
            offer_timeout: Duration::from_secs(args.offer_timeout.max(1)),
            roads,
            ..StoreConfig::default()
        },
    );
    store.migrate().await?;
    let units = crate::seed::seed_malang(&store).await?;
    let cameras = crate::seed::seed_cameras(&store).await?;
    let agencies = crate::seed::seed_agencies(&store).await?;
    let (admin_token, _) = crate::auth::issue_token(&store, Role::Admin).await?;
    let operator_password = demo_operator(&store).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (--listen)", args.listen))?;
    let address = listener.local_addr()?;
    println!(
        "{}",
        json!({
            "address": address.to_string(),
            "admin_token": admin_token,
            "operator_username": "operator",
            "operator_password": operator_password,
            "units": units,
            "cameras": cameras,
            "agencies": agencies,
        })
    );
    let config = crate::ServerConfig {
        web: crate::web::WebConfig {
            map_tiles: Some(crate::web::OSM_TILES.to_owned()),
        },
        ..crate::ServerConfig::default()
    };
    let result = crate::run(listener, store, config, async {
        tokio::select! {
            () = stdin_closed() => {}
            () = crate::cli::shutdown_signal() => {}
        }
    })
    .await;
    pool.close().await;
    result
}

/// Resolves when stdin reaches its end: the demo that started this
/// process has finished (or died).
async fn stdin_closed() {
    let _ = tokio::task::spawn_blocking(|| {
        let mut buffer = [0_u8; 256];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut buffer), Ok(read) if read > 0) {}
    })
    .await;
}

/// An operator login for the person watching the demo: user `operator`
/// with a fresh random password, replaced on every run.
async fn demo_operator(store: &Store) -> anyhow::Result<String> {
    let secret = crate::auth::new_secret("x")?;
    let password: String = secret.chars().skip(2).take(12).collect();
    let hash = {
        let password = password.clone();
        tokio::task::spawn_blocking(move || crate::passwords::hash_password(&password))
            .await?
            .map_err(|error| anyhow::anyhow!("cannot hash the demo password: {error}"))?
    };
    match store
        .add_user(&NewUser {
            username: "operator".to_owned(),
            display_name: "Demo operator".to_owned(),
            role: Role::Operator,
            password_hash: hash.clone(),
        })
        .await
    {
        Ok(_) => {}
        Err(StoreError::AlreadyExists(_)) => {
            store.set_password("operator", &hash).await?;
        }
        Err(error) => return Err(error.into()),
    }
    Ok(password)
}
