//! `n112 demo`: one command that shows the whole system on Kota Malang. It
//! starts a server on the embedded database (or `--database-url`), seeds
//! the Malang fleet, runs the simulation for a while with a progress bar,
//! then prints what happened (read back through the API) and draws it.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use ngalam112::embedded_postgres::EmbeddedPostgres;
use ngalam112_proto::v1 as proto;
use ngalam112_store::{Role, Store, StoreConfig};
use serde_json::json;
use tokio::sync::watch;

use crate::connect::Api;
use crate::format::{self, table};
use crate::simulate::{SimStats, SimulateArgs, simulate};

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub simulation: SimulateArgs,
    /// Where the embedded PostgreSQL keeps its data.
    #[arg(long, default_value = "./var")]
    pub data_dir: PathBuf,
    /// Use this (empty) database instead of the embedded one.
    #[arg(long, env = "N112_DEMO_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Seconds an offer rings before it times out.
    #[arg(long, default_value_t = 15)]
    pub offer_timeout: u64,
    /// The picture (SVG): the city with incidents and units, and the
    /// call-to-on-scene histogram.
    #[arg(long, default_value = "ngalam112-demo.svg")]
    pub picture: PathBuf,
    /// Where the demo server (gRPC and the web console) listens.
    #[arg(long, default_value = "127.0.0.1:8112")]
    pub listen: std::net::SocketAddr,
    /// Stop after the summary instead of serving (and simulating) until
    /// Ctrl-C.
    #[arg(long)]
    pub exit: bool,
}

/// What the demo read back from the server.
#[derive(Debug, Default)]
pub struct Summary {
    pub calls: usize,
    pub to_offer: Vec<f64>,
    pub to_accept: Vec<f64>,
    pub to_on_scene: Vec<f64>,
    pub offer_distances_m: Vec<f64>,
    pub longest_pending_s: f64,
    pub declined: usize,
    pub timed_out: usize,
    pub incidents: Vec<proto::Incident>,
    pub units: Vec<proto::Unit>,
    /// Calls handed to partner agencies, and those the agency answered.
    pub referrals: usize,
    pub referrals_answered: usize,
}

fn percentile(values: &[f64], share: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((share * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Reads every incident of the run and its timeline through the API.
pub async fn summarise(api: &mut Api) -> anyhow::Result<Summary> {
    let incidents = crate::commands::incident::list(api, vec![], usize::MAX).await?;
    let units = api
        .units
        .list_units(proto::ListUnitsRequest::default())
        .await?
        .into_inner()
        .units;
    let referrals = api
        .agencies
        .list_referrals(proto::ListReferralsRequest::default())
        .await?
        .into_inner()
        .referrals;
    let mut summary = Summary {
        calls: incidents.len(),
        referrals: referrals.len(),
        referrals_answered: referrals
            .iter()
            .filter(|referral| referral.acknowledged_at.is_some())
            .count(),
        ..Summary::default()
    };
    for incident in &incidents {
        let created =
            format::to_datetime(incident.created_at.as_ref()).context("incident without a time")?;
        let events = api
            .incidents
            .get_incident_timeline(proto::GetIncidentTimelineRequest {
                id: incident.id.clone(),
            })
            .await?
            .into_inner()
            .events;
        let first = |kind: &str| {
            events
                .iter()
                .find(|event| event.kind == kind)
                .and_then(|event| format::to_datetime(event.at.as_ref()))
                .map(|at| (at - created).as_seconds_f64())
        };
        let offer = first("assignment_offered");
        summary.to_offer.extend(offer);
        summary.to_accept.extend(first("assignment_accepted"));
        summary.to_on_scene.extend(first("assignment_on_scene"));
        let waited = offer.unwrap_or_else(|| format::seconds_since(incident.created_at.as_ref()));
        summary.longest_pending_s = summary.longest_pending_s.max(waited);
        for assignment in &incident.assignments {
            summary.offer_distances_m.push(assignment.distance_m);
            match assignment.status() {
                proto::AssignmentStatus::Declined => summary.declined += 1,
                proto::AssignmentStatus::TimedOut => summary.timed_out += 1,
                _ => {}
            }
        }
    }
    summary.incidents = incidents;
    summary.units = units;
    Ok(summary)
}

impl Summary {
    pub fn print(&self, json_output: bool) {
        let stat = |values: &[f64]| {
            (
                values.len(),
                percentile(values, 0.5),
                percentile(values, 0.9),
                values.iter().copied().fold(f64::NAN, f64::max),
            )
        };
        if json_output {
            let timing = |values: &[f64]| {
                let (count, p50, p90, max) = stat(values);
                json!({ "count": count, "p50_s": p50, "p90_s": p90, "max_s": max })
            };
            println!(
                "{}",
                json!({
                    "calls": self.calls,
                    "call_to_offer": timing(&self.to_offer),
                    "call_to_accept": timing(&self.to_accept),
                    "call_to_on_scene": timing(&self.to_on_scene),
                    "offers": self.offer_distances_m.len(),
                    "distance_p50_m": percentile(&self.offer_distances_m, 0.5),
                    "distance_max_m": self.offer_distances_m.iter().copied().fold(0.0, f64::max),
                    "longest_pending_s": self.longest_pending_s,
                    "declined": self.declined,
                    "timed_out": self.timed_out,
                    "referrals": self.referrals,
                    "referrals_answered": self.referrals_answered,
                })
            );
            return;
        }
        println!(
            "\nNgalam 112 demo: {} calls, {} offers",
            self.calls,
            self.offer_distances_m.len()
        );
        let row = |name: &str, values: &[f64]| {
            let (count, p50, p90, max) = stat(values);
            vec![
                name.to_owned(),
                count.to_string(),
                format::age(p50),
                format::age(p90),
                format::age(max),
            ]
        };
        print!(
            "{}",
            table(
                &["FROM THE CALL TO", "REACHED", "P50", "P90", "MAX"],
                &[
                    row("first offer", &self.to_offer),
                    row("first accept", &self.to_accept),
                    row("first unit on scene", &self.to_on_scene),
                ],
            )
        );
        println!(
            "offer distances: median {}, max {}",
            format::km(percentile(&self.offer_distances_m, 0.5)),
            format::km(self.offer_distances_m.iter().copied().fold(0.0, f64::max))
        );
        println!(
            "longest wait for a first unit: {}",
            format::age(self.longest_pending_s)
        );
        println!(
            "offers declined: {}, timed out: {}",
            self.declined, self.timed_out
        );
        println!(
            "handed to partner agencies: {}, answered by them: {}",
            self.referrals, self.referrals_answered
        );
    }
}

/// The database the demo runs on, and the cluster to stop afterwards.
async fn database(args: &DemoArgs) -> anyhow::Result<(String, Option<EmbeddedPostgres>)> {
    if let Some(url) = &args.database_url {
        return Ok((url.clone(), None));
    }
    let data_dir = args.data_dir.clone();
    let cluster = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&data_dir)).await??;
    // A fresh database per demo run.
    let admin = sqlx::PgPool::connect(&cluster.database_url()).await?;
    sqlx::query("DROP DATABASE IF EXISTS ngalam112_demo WITH (FORCE)")
        .execute(&admin)
        .await?;
    sqlx::query("CREATE DATABASE ngalam112_demo")
        .execute(&admin)
        .await?;
    admin.close().await;
    let base = cluster.database_url();
    let url = match base.rsplit_once('/') {
        Some((server, _database)) => format!("{server}/ngalam112_demo"),
        None => base,
    };
    Ok((url, Some(cluster)))
}

pub async fn run(args: DemoArgs, json_output: bool) -> anyhow::Result<()> {
    let (url, cluster) = database(&args)
        .await
        .context("cannot start the demo database")?;
    let result = run_on(&args, &url, json_output).await;
    if let Some(cluster) = cluster {
        tokio::task::spawn_blocking(move || cluster.stop()).await??;
    }
    result
}

async fn run_on(args: &DemoArgs, url: &str, json_output: bool) -> anyhow::Result<()> {
    let pool = sqlx::PgPool::connect(url)
        .await
        .context("cannot connect to the demo database")?;
    let store = Store::new(
        pool.clone(),
        StoreConfig {
            offer_timeout: Duration::from_secs(args.offer_timeout.max(1)),
            ..StoreConfig::default()
        },
    );
    store.migrate().await?;
    let added = ngalam112::seed::seed_malang(&store).await?;
    let cameras = ngalam112::seed::seed_cameras(&store).await?;
    let agencies = ngalam112::seed::seed_agencies(&store).await?;
    eprintln!(
        "Kota Malang fleet seeded ({added} units, {cameras} cameras, {agencies} partner agencies)"
    );
    let (admin, _) = ngalam112::auth::issue_token(&store, Role::Admin).await?;
    let password = demo_operator(&store).await?;

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (--listen)", args.listen))?;
    let address = listener.local_addr()?;
    let (shutdown, shutdown_received) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(ngalam112::run(
        listener,
        store,
        ngalam112::ServerConfig {
            web: ngalam112::web::WebConfig {
                map_tiles: Some(ngalam112::web::OSM_TILES.to_owned()),
            },
            ..ngalam112::ServerConfig::default()
        },
        async {
            let _ = shutdown_received.await;
        },
    ));
    eprintln!(
        "web console: http://{address}/  (log in as \"operator\", password {password}); \
         crew page: http://{address}/crew"
    );
    let channel = tonic::transport::Channel::from_shared(format!("http://{address}"))?
        .connect()
        .await?;
    let mut api = Api::new(channel, Some(&admin))?;
    let units = api
        .units
        .list_units(proto::ListUnitsRequest::default())
        .await?
        .into_inner()
        .units;

    let (stop_sender, stop) = watch::channel(false);
    let stats = Arc::new(SimStats::default());
    let simulation = tokio::spawn(simulate(
        api.clone(),
        args.simulation.clone(),
        units,
        stop,
        stats.clone(),
    ));
    let progress = indicatif::ProgressBar::new(args.simulation.duration_s);
    progress.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} s  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    for _ in 0..args.simulation.duration_s {
        tokio::time::sleep(Duration::from_secs(1)).await;
        progress.inc(1);
        progress.set_message(format!(
            "{} calls, {} accepted, {} completed",
            stats.calls.load(Ordering::Relaxed),
            stats.accepted.load(Ordering::Relaxed),
            stats.completed.load(Ordering::Relaxed)
        ));
    }
    progress.finish();
    // With --exit the summary waits for the simulation to end, so that it
    // matches the database; otherwise the city goes on while it is read.
    let mut simulation = Some(simulation);
    if args.exit {
        stop_sender.send_replace(true);
        if let Some(simulation) = simulation.take() {
            let _ = simulation.await;
        }
    }

    let summary = summarise(&mut api).await?;
    summary.print(json_output);
    crate::picture::draw(&args.picture, &summary)?;
    eprintln!("picture: {}", args.picture.display());
    if let Some(simulation) = simulation.take() {
        eprintln!("the city goes on: watch it at http://{address}/ — Ctrl-C to stop the demo");
        let _ = tokio::signal::ctrl_c().await;
        stop_sender.send_replace(true);
        let _ = simulation.await;
    }
    let _ = shutdown.send(());
    let _ = server.await;
    pool.close().await;
    Ok(())
}

/// An operator login for the person watching the demo: user `operator`
/// with a fresh random password (printed), replaced on every run.
async fn demo_operator(store: &Store) -> anyhow::Result<String> {
    let secret = ngalam112::auth::new_secret("x")?;
    let password: String = secret.chars().skip(2).take(12).collect();
    let hash = {
        let password = password.clone();
        tokio::task::spawn_blocking(move || ngalam112::passwords::hash_password(&password))
            .await?
            .map_err(|error| anyhow::anyhow!("cannot hash the demo password: {error}"))?
    };
    match store
        .add_user(&ngalam112_store::NewUser {
            username: "operator".to_owned(),
            display_name: "Demo operator".to_owned(),
            role: Role::Operator,
            password_hash: hash.clone(),
        })
        .await
    {
        Ok(_) => {}
        Err(ngalam112_store::StoreError::AlreadyExists(_)) => {
            store.set_password("operator", &hash).await?;
        }
        Err(error) => return Err(error.into()),
    }
    Ok(password)
}
