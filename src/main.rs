//! `ngalam112`: the dispatch server binary.

use clap::Parser;
use ngalam112::cli::{self, Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    ngalam112::telemetry::init(cli.log_format, "info,sqlx=warn");
    match cli.command {
        Command::Serve(args) => cli::serve(args).await,
        Command::Migrate(args) => cli::migrate(args).await,
        Command::Token { command } => cli::token(command).await,
        Command::SeedMalang(args) => cli::seed_malang(args).await,
        Command::User { command } => ngalam112::user_cli::run(command).await,
        Command::DemoServer(args) => ngalam112::demo_server::run(args).await,
    }
}
