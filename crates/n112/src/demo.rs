//! `n112 demo`: one command that shows the whole system on Kota Malang. It
//! starts the `ngalam112` server binary as a process (`ngalam112
//! demo-server`: a fresh database, embedded or `--database-url`, seeded
//! with the Malang fleet), runs the simulation for a while with a progress
//! bar, then prints what happened (read back through the API) and draws
//! it. It talks to the server only over the API.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use ngalam112_proto::v1 as proto;
use tokio::io::AsyncBufReadExt;
use tokio::sync::watch;

use crate::connect::Api;
use crate::simulate::{SimStats, SimulateArgs, simulate};
use crate::summary::summarise;

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
    /// The city's OpenStreetMap extract (.osm.pbf): the server dispatches
    /// by drive time, and the summary and picture show what that changed.
    #[arg(long)]
    pub roads: Option<PathBuf>,
    /// The server binary to start; by default `ngalam112` next to this
    /// program, else on PATH.
    #[arg(long, env = "N112_SERVER_BINARY")]
    pub server_binary: Option<PathBuf>,
}

/// What `ngalam112 demo-server` says on its first line.
#[derive(Debug)]
struct Started {
    address: String,
    admin_token: String,
    operator_password: String,
    units: u64,
    cameras: u64,
    agencies: u64,
}

/// The server binary: `--server-binary`, else `ngalam112` beside this
/// program (as cargo builds them), else the one on PATH.
fn server_binary(args: &DemoArgs) -> PathBuf {
    if let Some(binary) = &args.server_binary {
        return binary.clone();
    }
    let name = format!("ngalam112{}", std::env::consts::EXE_SUFFIX);
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&name)))
        .filter(|candidate| candidate.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Starts the demo server and reads its first line. Its stdin stays open
/// while the demo runs; closing it stops the server (and the embedded
/// database) cleanly.
async fn start_server(args: &DemoArgs) -> anyhow::Result<(tokio::process::Child, Started)> {
    let binary = server_binary(args);
    let mut command = tokio::process::Command::new(&binary);
    command
        .arg("demo-server")
        .arg("--listen")
        .arg(args.listen.to_string())
        .arg("--data-dir")
        .arg(&args.data_dir)
        .arg("--offer-timeout")
        .arg(args.offer_timeout.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    if let Some(url) = &args.database_url {
        command.arg("--database-url").arg(url);
    }
    if let Some(roads) = &args.roads {
        command.arg("--roads").arg(roads);
    }
    if std::env::var_os("RUST_LOG").is_none() {
        // The demo's own output stays readable; warnings still show.
        command.env("RUST_LOG", "warn");
    }
    let mut child = command.spawn().with_context(|| {
        format!(
            "cannot start the server {} (build it with `cargo build --release`, \
             or give --server-binary)",
            binary.display()
        )
    })?;
    let stdout = child.stdout.take().context("the server's stdout")?;
    let mut line = String::new();
    tokio::io::BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .context("reading the server's first line")?;
    if line.trim().is_empty() {
        let status = child.wait().await?;
        anyhow::bail!("the demo server stopped before it was ready ({status}); see its log above");
    }
    let value: serde_json::Value =
        serde_json::from_str(&line).context("the demo server's first line is not JSON")?;
    let text = |key: &str| {
        value[key]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("the demo server did not say its {key}"))
    };
    let started = Started {
        address: text("address")?,
        admin_token: text("admin_token")?,
        operator_password: text("operator_password")?,
        units: value["units"].as_u64().unwrap_or(0),
        cameras: value["cameras"].as_u64().unwrap_or(0),
        agencies: value["agencies"].as_u64().unwrap_or(0),
    };
    Ok((child, started))
}

/// Closes the server's stdin and waits for it to stop (then kills it).
async fn stop_server(mut child: tokio::process::Child) {
    drop(child.stdin.take());
    match tokio::time::timeout(Duration::from_secs(20), child.wait()).await {
        Ok(_) => {}
        Err(_) => {
            eprintln!("the demo server did not stop in 20 s; killing it");
            let _ = child.kill().await;
        }
    }
}

pub async fn run(args: DemoArgs, json_output: bool) -> anyhow::Result<()> {
    let (child, started) = start_server(&args).await?;
    let result = run_with(&args, &started, json_output).await;
    stop_server(child).await;
    result
}

async fn run_with(args: &DemoArgs, started: &Started, json_output: bool) -> anyhow::Result<()> {
    eprintln!(
        "Kota Malang fleet seeded ({} units, {} cameras, {} partner agencies)",
        started.units, started.cameras, started.agencies
    );
    let address = &started.address;
    let password = &started.operator_password;
    eprintln!(
        "web console: http://{address}/  (log in as \"operator\", password {password}); \
         crew page: http://{address}/crew"
    );
    let channel = ngalam112_client::channel(&format!("http://{address}"), None)?;
    let mut api = Api::new(channel, Some(&started.admin_token))?;
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
    Ok(())
}
