//! `ngalam112-bench`: how close one small machine gets to carrying a whole
//! country's 112 traffic. Each workload runs on a fresh database of the
//! local PostgreSQL with its own release server process, warms up, then
//! prints ops/s, p50, p99, max and errors.
//!
//! `cargo run --release -p ngalam112-bench -- [--quick] [--json]`

use std::time::Duration;

use clap::{Parser, Subcommand};

mod ceiling;
mod flood;
mod load;
mod roads;
mod server;
mod surge;
mod workloads;

use load::Row;
use workloads::Plan;

#[derive(Debug, Parser)]
#[command(name = "ngalam112-bench", about = "Ngalam 112 benchmark")]
struct Args {
    /// Short run (about 2 minutes).
    #[arg(long)]
    quick: bool,
    /// Tiny sizes, for the smoke test.
    #[arg(long, hide = true)]
    tiny: bool,
    /// One JSON object per row.
    #[arg(long)]
    json: bool,
    /// PostgreSQL to create the benchmark databases on.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
    /// Run against this existing server instead of starting one per
    /// workload (then --database-url must be that server's database).
    #[arg(long)]
    server: Option<String>,
    /// Only these workloads (intake, surge, avl, poll, watch, fleet-size,
    /// roads).
    #[arg(long = "only")]
    only: Vec<String>,
    /// An OpenStreetMap extract (.osm.pbf): adds its preparation, the
    /// `route` row and `intake on roads` (e.g. tests/data/osm/helsinki.osm.pbf).
    #[arg(long, env = "NGALAM112_ROADS")]
    roads: Option<std::path::PathBuf>,
    #[command(subcommand)]
    internal: Option<Internal>,
}

#[derive(Debug, Subcommand)]
enum Internal {
    /// (internal) the server process of a workload.
    #[command(hide = true)]
    ServeInternal {
        #[arg(long)]
        listen: String,
        #[arg(long)]
        offer_timeout: String,
        #[arg(long)]
        roads: Option<String>,
    },
}

fn plan(args: &Args) -> Plan {
    if args.tiny {
        return Plan {
            warmup: Duration::from_millis(200),
            duration: Duration::from_millis(800),
            intake_units: 50,
            intake_workers: 4,
            avl_units: 50,
            avl_workers: 4,
            poll_units: 50,
            poll_offers_per_s: 20.0,
            fleet_sizes: vec![10, 100, 1_000],
            watchers: 20,
        };
    }
    let (warmup, duration) = if args.quick {
        (Duration::from_secs(1), Duration::from_secs(4))
    } else {
        (Duration::from_secs(3), Duration::from_secs(15))
    };
    Plan {
        warmup,
        duration,
        intake_units: 1_000,
        intake_workers: 16,
        avl_units: 10_000,
        avl_workers: 32,
        poll_units: 10_000,
        poll_offers_per_s: 50.0,
        fleet_sizes: vec![100, 10_000, 100_000],
        watchers: 200,
    }
}

fn print(row: &Row, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({
                "workload": row.workload,
                "ops_per_s": row.ops_per_s,
                "p50_ms": row.p50_ms,
                "p99_ms": row.p99_ms,
                "max_ms": row.max_ms,
                "errors": row.errors,
                "note": row.note,
            })
        );
    } else if row.workload.starts_with("roads ") {
        // A figure in seconds (`roads::roads`), not a rate.
        println!(
            "{:<22} {:>9.3} s  {}",
            row.workload, row.ops_per_s, row.note
        );
    } else if row.workload.contains('/') {
        println!("{:<22} {:>9.2}×  {}", row.workload, row.ops_per_s, row.note);
    } else {
        println!(
            "{:<22} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>7}  {}",
            row.workload, row.ops_per_s, row.p50_ms, row.p99_ms, row.max_ms, row.errors, row.note
        );
    }
}

fn ratio(name: &str, over: Option<&Row>, under: Option<&Row>) -> Option<Row> {
    let (over, under) = (over?, under?);
    let of = if under.workload.ends_with("ceiling") {
        "the hardware's minimal transaction (ops/s ratio)"
    } else {
        "the same statements issued directly (ops/s ratio)"
    };
    Some(Row {
        workload: name.to_owned(),
        ops_per_s: over.ops_per_s / under.ops_per_s,
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        max_ms: f64::NAN,
        errors: 0,
        note: format!("{:.2} of {of}", over.ops_per_s / under.ops_per_s),
    })
}

async fn run(args: Args) -> anyhow::Result<()> {
    let plan = plan(&args);
    let target = match &args.server {
        Some(server) => server::Target::Existing {
            server: server.clone(),
            database_url: args.database_url.clone(),
        },
        None => server::Target::Fresh {
            admin_url: args.database_url.clone(),
        },
    };
    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|only| only == name);
    if !args.json {
        println!(
            "{:<22} {:>10} {:>9} {:>9} {:>9} {:>7}  note",
            "workload", "ops/s", "p50 ms", "p99 ms", "max ms", "errors"
        );
    }
    let find = |rows: &[Row], name: &str| rows.iter().find(|row| row.workload == name).cloned();
    let mut all = Vec::new();
    if wanted("intake") {
        let rows = workloads::intake(&target, &plan).await?;
        rows.iter().for_each(|row| print(row, args.json));
        all.extend(rows);
        let row = flood::intake_under_flood(&target, &plan).await?;
        print(&row, args.json);
        all.push(row);
    }
    if wanted("surge") {
        for row in [
            surge::surge(&target, &plan).await?,
            surge::surge_ceiling(&target, &plan).await?,
        ] {
            print(&row, args.json);
            all.push(row);
        }
    }
    if wanted("avl") {
        let rows = workloads::avl(&target, &plan).await?;
        rows.iter().for_each(|row| print(row, args.json));
        all.extend(rows);
    }
    if wanted("poll") {
        let rows = workloads::poll(&target, &plan).await?;
        rows.iter().for_each(|row| print(row, args.json));
        all.extend(rows);
    }
    if wanted("watch") {
        let rows = workloads::watch(&target, &plan).await?;
        rows.iter().for_each(|row| print(row, args.json));
        all.extend(rows);
    }
    if wanted("fleet-size") {
        let rows = workloads::fleet_size(&target, &plan).await?;
        rows.iter().for_each(|row| print(row, args.json));
        all.extend(rows);
    }
    if let Some(file) = args.roads.as_deref().filter(|_| wanted("roads")) {
        let rows = roads::roads(&target, &plan, file).await?;
        rows.iter().for_each(|row| print(row, args.json));
        all.extend(rows);
    }
    if let (Some(plain), Some(flooded)) = (find(&all, "intake"), find(&all, "intake under flood")) {
        print(
            &Row {
                workload: "flood/intake p99".to_owned(),
                ops_per_s: flooded.p99_ms / plain.p99_ms,
                p50_ms: f64::NAN,
                p99_ms: f64::NAN,
                max_ms: f64::NAN,
                errors: 0,
                note: format!(
                    "intake's p99 under the flood / without it ({:.2} ms / {:.2} ms)",
                    flooded.p99_ms, plain.p99_ms
                ),
            },
            args.json,
        );
    }
    for (name, over, under) in [
        ("intake/ceiling", "intake", "ceiling"),
        ("intake on roads/ceiling", "intake on roads", "ceiling"),
        ("intake/store-only", "intake", "intake store-only"),
        ("surge/surge ceiling", "surge", "surge ceiling"),
        ("avl/store-only", "avl", "avl store-only"),
    ] {
        if let Some(row) = ratio(name, find(&all, over).as_ref(), find(&all, under).as_ref()) {
            print(&row, args.json);
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(Internal::ServeInternal {
        listen,
        offer_timeout,
        roads,
    }) = &args.internal
    {
        ngalam112::telemetry::init(ngalam112::telemetry::LogFormat::Text, "error");
        let mut serve = vec![
            "ngalam112",
            "serve",
            "--listen",
            listen,
            "--offer-timeout",
            offer_timeout,
            // The flood workload speaks from many client addresses, as
            // through a load balancer.
            "--trusted-proxy",
            "127.0.0.1",
        ];
        if let Some(roads) = roads {
            serve.extend(["--roads", roads]);
        }
        let cli = <ngalam112::cli::Cli as clap::Parser>::try_parse_from(serve)?;
        let ngalam112::cli::Command::Serve(serve) = cli.command else {
            anyhow::bail!("not a serve command");
        };
        return ngalam112::cli::serve(serve).await;
    }
    run(args).await
}
