//! `n112 call …`: plays the phone system for a demo or a test (a gateway
//! or admin token): a 112 call rings into every console, is answered at a
//! position, and ends. `list` shows the day's calls (operator).

use clap::Subcommand;
use ngalam112_proto::v1 as proto;
use serde_json::json;

use crate::connect::Api;
use crate::format::{self, table};
use crate::output::Output;

#[derive(Debug, Subcommand)]
pub enum CallCommand {
    /// A call rings: consoles show it with the caller's history.
    Ring {
        /// The exchange's call id (default: a new one, printed).
        #[arg(long)]
        id: Option<String>,
        /// The caller's number (any common Indonesian format).
        #[arg(long, required_unless_present = "withheld")]
        phone: Option<String>,
        /// The network withheld the number.
        #[arg(long, conflicts_with = "phone")]
        withheld: bool,
        /// The 112 line or trunk it came in on.
        #[arg(long, default_value = "112")]
        line: String,
    },
    /// A call-taker's position picks the call up.
    Answer {
        id: String,
        #[arg(long, default_value = "")]
        position: String,
    },
    /// The call ends (unanswered: abandoned).
    End { id: String },
    /// Calls of the last 24 hours, newest first.
    List,
}

pub async fn run(api: &mut Api, output: Output, command: CallCommand) -> anyhow::Result<()> {
    let (call_id, signal, phone, withheld, line, position) = match command {
        CallCommand::List => return list(api, output).await,
        CallCommand::Ring {
            id,
            phone,
            withheld,
            line,
        } => (
            id.unwrap_or_else(|| format!("n112-{}", uuid::Uuid::new_v4())),
            proto::CallSignal::Ringing,
            phone.unwrap_or_default(),
            withheld,
            line,
            String::new(),
        ),
        CallCommand::Answer { id, position } => (
            id,
            proto::CallSignal::Answered,
            String::new(),
            false,
            String::new(),
            position,
        ),
        CallCommand::End { id } => (
            id,
            proto::CallSignal::Ended,
            String::new(),
            false,
            String::new(),
            String::new(),
        ),
    };
    let call = api
        .telephony
        .signal_call(proto::SignalCallRequest {
            call_id,
            line,
            caller_phone: phone,
            caller_id_withheld: withheld,
            signal: signal.into(),
            position,
        })
        .await?
        .into_inner();
    print_calls(output, &[call]);
    Ok(())
}

/// The last 24 hours' calls, newest first (at most 500).
pub async fn recent(api: &mut Api) -> Result<Vec<proto::Call>, tonic::Status> {
    Ok(api
        .telephony
        .list_calls(proto::ListCallsRequest::default())
        .await?
        .into_inner()
        .calls)
}

async fn list(api: &mut Api, output: Output) -> anyhow::Result<()> {
    print_calls(output, &recent(api).await?);
    Ok(())
}

fn print_calls(output: Output, calls: &[proto::Call]) {
    if output.json {
        for call in calls {
            println!("{}", call_json(call));
        }
        return;
    }
    let rows: Vec<Vec<String>> = calls
        .iter()
        .map(|call| {
            vec![
                call.call_id.clone(),
                format::short(call.state().as_str_name(), "CALL_STATE_"),
                if call.caller_id_withheld {
                    "withheld".to_owned()
                } else {
                    call.caller_phone.clone()
                },
                format::local_time(call.rang_at.as_ref()),
                waited(call),
                call.position.clone(),
                call.incident_id.clone(),
            ]
        })
        .collect();
    let headers = [
        "CALL", "STATE", "NUMBER", "RANG", "ANSWERED", "POSITION", "INCIDENT",
    ];
    print!("{}", table(&headers, &rows));
}

/// Seconds from ringing to answer ("-" when not answered).
fn waited(call: &proto::Call) -> String {
    seconds_to_answer(call).map_or_else(|| "-".to_owned(), |s| format!("after {s:.0} s"))
}

fn seconds_to_answer(call: &proto::Call) -> Option<f64> {
    format::seconds_between(call.rang_at.as_ref(), call.answered_at.as_ref())
}

fn call_json(call: &proto::Call) -> serde_json::Value {
    json!({
        "call_id": call.call_id,
        "state": call.state().as_str_name(),
        "line": call.line,
        "caller_phone": call.caller_phone,
        "caller_id_withheld": call.caller_id_withheld,
        "position": call.position,
        "seconds_to_answer": seconds_to_answer(call),
        "incident_id": call.incident_id,
        "caller": call.caller.as_ref().map(|c| json!({
            "calls": c.calls, "incidents": c.incidents, "pranks": c.pranks,
            "flagged": c.flagged, "flag_reason": c.flag_reason,
        })),
    })
}
