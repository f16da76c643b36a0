//! `n112 caller …`: who is calling — a number's history and flags.

use clap::Subcommand;
use ngalam112_proto::v1 as proto;

use crate::connect::Api;
use crate::format::{self, table};
use crate::output::Output;

#[derive(Debug, Subcommand)]
pub enum CallerCommand {
    /// A number's calls, prank closings and flag.
    Show {
        phone: String,
        /// How many days back (max 365).
        #[arg(long, default_value_t = 30)]
        days: i32,
    },
    /// Flag a number (warns call-takers; it is still dispatched as anyone).
    Flag {
        phone: String,
        #[arg(long)]
        reason: String,
    },
    /// Remove a number's flag (admin).
    Unflag { phone: String },
    /// Every flagged number.
    List,
}

/// One line about the caller, printed before a call is recorded: how often
/// the number called, how many calls were pranks, and a warning if it is
/// flagged. The call is taken either way.
pub async fn print_history_line(api: &mut Api, phone: &str) -> anyhow::Result<()> {
    let history = api
        .callers
        .get_caller_history(proto::GetCallerHistoryRequest {
            caller_phone: phone.to_owned(),
            days: 0,
        })
        .await?
        .into_inner();
    eprintln!("{}", history_line(&history));
    if history.flagged {
        eprintln!("{}", flag_warning(&history));
    }
    Ok(())
}

fn history_line(history: &proto::GetCallerHistoryResponse) -> String {
    format!(
        "caller {}: {} call{} in 30 days, {} closed as prank",
        history.caller_phone,
        history.incident_count,
        if history.incident_count == 1 { "" } else { "s" },
        history.prank_count
    )
}

fn flag_warning(history: &proto::GetCallerHistoryResponse) -> String {
    format!(
        "!! FLAGGED NUMBER: {} (by {}{}) — answer and dispatch as usual",
        history.flag_reason,
        history.flagged_by,
        if history.flag_automatic {
            ", automatic"
        } else {
            ""
        }
    )
}

pub async fn run(api: &mut Api, output: Output, command: CallerCommand) -> anyhow::Result<()> {
    match command {
        CallerCommand::Show { phone, days } => {
            let history = api
                .callers
                .get_caller_history(proto::GetCallerHistoryRequest {
                    caller_phone: phone,
                    days,
                })
                .await?
                .into_inner();
            if output.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "caller_phone": history.caller_phone,
                        "days": days,
                        "incident_count": history.incident_count,
                        "prank_count": history.prank_count,
                        "flagged": history.flagged,
                        "flag_reason": history.flag_reason,
                        "flagged_by": history.flagged_by,
                        "flag_automatic": history.flag_automatic,
                        "recent": history.recent.iter().map(format::incident_json).collect::<Vec<_>>(),
                    })
                );
                return Ok(());
            }
            println!(
                "Caller {}: {} call(s) in {days} days, {} closed as prank",
                history.caller_phone, history.incident_count, history.prank_count
            );
            if history.flagged {
                println!("{}", flag_warning(&history));
            }
            output.incidents(&history.recent);
        }
        CallerCommand::Flag { phone, reason } => {
            api.callers
                .flag_caller(proto::FlagCallerRequest {
                    caller_phone: phone.clone(),
                    reason,
                })
                .await?;
            eprintln!("{phone} flagged");
        }
        CallerCommand::Unflag { phone } => {
            api.callers
                .unflag_caller(proto::UnflagCallerRequest {
                    caller_phone: phone.clone(),
                })
                .await?;
            eprintln!("{phone} unflagged");
        }
        CallerCommand::List => {
            let callers = api
                .callers
                .list_flagged_callers(proto::ListFlaggedCallersRequest {})
                .await?
                .into_inner()
                .callers;
            if output.json {
                for caller in &callers {
                    println!(
                        "{}",
                        serde_json::json!({
                            "caller_phone": caller.caller_phone,
                            "reason": caller.reason,
                            "flagged_by": caller.flagged_by,
                            "flagged_at": format::rfc3339(caller.flagged_at.as_ref()),
                            "automatic": caller.automatic,
                        })
                    );
                }
                return Ok(());
            }
            let rows: Vec<Vec<String>> = callers
                .iter()
                .map(|caller| {
                    vec![
                        caller.caller_phone.clone(),
                        caller.reason.clone(),
                        caller.flagged_by.clone(),
                        format::local_time(caller.flagged_at.as_ref()),
                        if caller.automatic { "yes" } else { "no" }.to_owned(),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(&["NUMBER", "REASON", "BY", "FLAGGED", "AUTOMATIC"], &rows)
            );
        }
    }
    Ok(())
}
