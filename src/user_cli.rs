//! `ngalam112 user …`: the people who log in. Passwords are read from
//! stdin (one line), never from the command line, and never printed.

use std::io::BufRead;

use anyhow::Context;
use clap::Subcommand;
use ngalam112_core::validation::{self, SHORT_TEXT_MAX_CHARS};
use ngalam112_store::{NewUser, Role, StoreConfig};

use crate::cli::{Database, DatabaseArgs, RoleArg};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password (at least 10 characters) is read from stdin.
    Add {
        #[arg(long)]
        username: String,
        /// The name shown in the console ("Sri Wahyuni").
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The unit a `unit` user is bound to.
        #[arg(long)]
        unit_id: Option<String>,
        /// The agency an `agency` user is bound to.
        #[arg(long)]
        agency_id: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List users (never their passwords).
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Disable a user: no more logins, and their sessions end at once.
    Disable {
        username: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Enable a disabled user again: they may log in (their old sessions
    /// stay ended).
    Enable {
        username: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Set a user's password, read from stdin; every session of theirs
    /// ends at once.
    Password {
        username: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// Reads one line from stdin as a new password and hashes it.
async fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    let password = validation::new_password("password", &password)?;
    tokio::task::spawn_blocking(move || crate::passwords::hash_password(&password))
        .await?
        .map_err(|error| anyhow::anyhow!("cannot hash the password: {error}"))
}

pub async fn run(command: UserCommand) -> anyhow::Result<()> {
    let args = match &command {
        UserCommand::Add { database, .. }
        | UserCommand::List { database }
        | UserCommand::Disable { database, .. }
        | UserCommand::Enable { database, .. }
        | UserCommand::Password { database, .. } => database.clone(),
    };
    // Everything a user typed is checked before the database is opened.
    let prepared = match &command {
        UserCommand::Add {
            username,
            name,
            role,
            unit_id,
            agency_id,
            ..
        } => {
            let role = role.bind(unit_id.as_deref(), agency_id.as_deref())?;
            Some(NewUser {
                username: validation::username("--username", username)?,
                display_name: validation::required_text(
                    "--name",
                    name.trim(),
                    SHORT_TEXT_MAX_CHARS,
                )?,
                role,
                password_hash: password_from_stdin().await?,
            })
        }
        _ => None,
    };
    let database = Database::open(&args, StoreConfig::default()).await?;
    let result = async {
        database.store.migrate().await?;
        let store = &database.store;
        match command {
            UserCommand::Add { .. } => {
                let new = prepared.context("a prepared user")?;
                let user = store.add_user(&new).await?;
                eprintln!(
                    "added {} user {} ({})",
                    user.role.name(),
                    user.username,
                    user.id
                );
            }
            UserCommand::List { .. } => {
                for user in store.list_users().await? {
                    let bound = match user.role {
                        Role::Unit(unit) => unit.to_string(),
                        Role::Agency(agency) => agency.to_string(),
                        _ => "-".to_owned(),
                    };
                    let state = match user.disabled_at {
                        Some(at) => format!("disabled {}", at.to_rfc3339()),
                        None => "active".to_owned(),
                    };
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        user.username,
                        user.display_name,
                        user.role.name(),
                        bound,
                        state
                    );
                }
            }
            UserCommand::Disable { username, .. } => {
                let username = validation::username("username", &username)?;
                store.disable_user(&username).await?;
                eprintln!("user {username} disabled; their sessions have ended");
            }
            UserCommand::Enable { username, .. } => {
                let username = validation::username("username", &username)?;
                store.enable_user(&username).await?;
                eprintln!("user {username} enabled; they may log in again");
            }
            UserCommand::Password { username, .. } => {
                let username = validation::username("username", &username)?;
                let hash = password_from_stdin().await?;
                store.set_password(&username, &hash).await?;
                eprintln!("password of {username} changed; their sessions have ended");
            }
        }
        anyhow::Ok(())
    }
    .await;
    database.close().await?;
    result
}
