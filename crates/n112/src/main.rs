//! `n112`: the Ngalam 112 operator app — incidents, units, the live board,
//! a crew's device, the city simulation and the one-command demo.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use n112::commands::incident::IncidentCommand;
use n112::commands::report::ReportArgs;
use n112::commands::unit::UnitCommand;
use n112::connect::{ConnectArgs, describe};
use n112::output::Output;

#[derive(Debug, Parser)]
#[command(
    name = "n112",
    version,
    about = "Ngalam 112 operator app (Kota Malang)"
)]
struct Cli {
    #[command(flatten)]
    connect: ConnectArgs,
    /// One JSON object per line instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Incidents: create, show, list, nearby, recommend, assign, cancel, resolve, timeline.
    Incident {
        #[command(subcommand)]
        command: IncidentCommand,
    },
    /// Units: register, list, show, service.
    Unit {
        #[command(subcommand)]
        command: UnitCommand,
    },
    /// Callers' numbers: history and flags.
    Caller {
        #[command(subcommand)]
        command: n112::commands::caller::CallerCommand,
    },
    /// Partner agencies (PLN, PDAM, Dishub, …).
    Agency {
        #[command(subcommand)]
        command: n112::commands::agency::AgencyCommand,
    },
    /// Referrals to partner agencies: a liaison's desk.
    Referral {
        #[command(subcommand)]
        command: n112::commands::agency::ReferralCommand,
    },
    /// The phone system (gateway): ring, answer and end 112 calls; list them.
    Call {
        #[command(subcommand)]
        command: n112::commands::call::CallCommand,
    },
    /// Response-time standard: calls offered and accepted within 60 s.
    Report(ReportArgs),
    /// The dispatchers' live board.
    Board,
    /// A crew's device in the terminal.
    Field(n112::field::FieldArgs),
    /// Simulated crews and callers across Kota Malang.
    Simulate(n112::simulate::SimulateArgs),
    /// Start a server on an embedded database, seed Malang, simulate, report.
    Demo(n112::demo::DemoArgs),
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let output = Output { json: cli.json };
    match cli.command {
        Command::Incident { command } => {
            n112::commands::incident::run(&mut cli.connect.api()?, output, command).await
        }
        Command::Unit { command } => {
            n112::commands::unit::run(&mut cli.connect.api()?, output, command).await
        }
        Command::Caller { command } => {
            n112::commands::caller::run(&mut cli.connect.api()?, output, command).await
        }
        Command::Agency { command } => {
            n112::commands::agency::run_agency(&mut cli.connect.api()?, output, command).await
        }
        Command::Referral { command } => {
            n112::commands::agency::run_referral(&mut cli.connect.api()?, output, command).await
        }
        Command::Call { command } => {
            n112::commands::call::run(&mut cli.connect.api()?, output, command).await
        }
        Command::Report(args) => {
            n112::commands::report::run(&mut cli.connect.api()?, output, args).await
        }
        Command::Board => n112::board::run(&cli.connect).await,
        Command::Field(args) => n112::field::run(cli.connect.api()?, args).await,
        Command::Simulate(args) => n112::simulate::run_command(cli.connect.api()?, args).await,
        Command::Demo(args) => n112::demo::run(args, cli.json).await,
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            match error.downcast_ref::<tonic::Status>() {
                Some(status) => eprintln!("error: {}", describe(status)),
                None => eprintln!("error: {error:#}"),
            }
            ExitCode::FAILURE
        }
    }
}
