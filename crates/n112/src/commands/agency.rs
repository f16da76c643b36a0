//! `n112 agency …` (partner agencies) and `n112 referral …` (an agency
//! liaison's desk, or staff watching the hand-overs).

use clap::Subcommand;
use ngalam112_proto::v1 as proto;
use serde_json::json;

use crate::connect::Api;
use crate::format::{self, table};
use crate::output::Output;

#[derive(Debug, Subcommand)]
pub enum AgencyCommand {
    /// Register a partner agency (admin).
    Add {
        #[arg(long)]
        name: String,
        /// Short name, unique (PLN, PDAM, Dishub, …).
        #[arg(long)]
        short_name: String,
        #[arg(long, default_value = "")]
        contact: String,
    },
    /// Every partner agency.
    List,
}

#[derive(Debug, Subcommand)]
pub enum ReferralCommand {
    /// Referrals, newest first (a liaison sees only its own agency's).
    List {
        /// Only those still waiting for the agency's first answer.
        #[arg(long)]
        unanswered: bool,
    },
    /// We have seen it.
    Ack {
        id: String,
        #[arg(long, default_value = "")]
        answer: String,
    },
    /// We take it on.
    Accept {
        id: String,
        #[arg(long, default_value = "")]
        answer: String,
    },
    /// Not ours (final).
    Reject {
        id: String,
        #[arg(long, default_value = "")]
        answer: String,
    },
    /// Dealt with.
    Done {
        id: String,
        #[arg(long, default_value = "")]
        answer: String,
    },
}

fn referral_status(referral: &proto::Referral) -> String {
    format::short(referral.status().as_str_name(), "REFERRAL_STATUS_")
}

fn referral_json(referral: &proto::Referral) -> serde_json::Value {
    json!({
        "id": referral.id,
        "incident_id": referral.incident_id,
        "agency": referral.agency_short_name,
        "status": referral_status(referral),
        "note": referral.note,
        "answer": referral.answer,
        "sent_at": format::rfc3339(referral.sent_at.as_ref()),
        "acknowledged_at": format::rfc3339(referral.acknowledged_at.as_ref()),
        "address": referral.address,
        "description": referral.description,
    })
}

fn print_referrals(output: Output, referrals: &[proto::Referral]) {
    if output.json {
        for referral in referrals {
            println!("{}", referral_json(referral));
        }
        return;
    }
    let rows: Vec<Vec<String>> = referrals
        .iter()
        .map(|referral| {
            let waiting = if referral.acknowledged_at.is_none() {
                format!(
                    "unanswered {}",
                    format::age(format::seconds_since(referral.sent_at.as_ref()))
                )
            } else {
                String::new()
            };
            vec![
                referral.id.clone(),
                referral.agency_short_name.clone(),
                referral_status(referral),
                format::local_time(referral.sent_at.as_ref()),
                waiting,
                referral.address.clone(),
                referral.description.clone(),
                referral.answer.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "id", "agency", "status", "sent", "waiting", "address", "what", "answer"
            ],
            &rows
        )
    );
}

pub async fn run_agency(
    api: &mut Api,
    output: Output,
    command: AgencyCommand,
) -> anyhow::Result<()> {
    let agencies = match command {
        AgencyCommand::Add {
            name,
            short_name,
            contact,
        } => vec![
            api.agencies
                .register_agency(proto::RegisterAgencyRequest {
                    name,
                    short_name,
                    contact,
                })
                .await?
                .into_inner(),
        ],
        AgencyCommand::List => {
            api.agencies
                .list_agencies(proto::ListAgenciesRequest {})
                .await?
                .into_inner()
                .agencies
        }
    };
    if output.json {
        for agency in &agencies {
            println!(
                "{}",
                json!({"id": agency.id, "name": agency.name, "short_name": agency.short_name, "contact": agency.contact})
            );
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = agencies
        .iter()
        .map(|agency| {
            vec![
                agency.id.clone(),
                agency.short_name.clone(),
                agency.name.clone(),
                agency.contact.clone(),
            ]
        })
        .collect();
    print!("{}", table(&["id", "short", "name", "contact"], &rows));
    Ok(())
}

pub async fn run_referral(
    api: &mut Api,
    output: Output,
    command: ReferralCommand,
) -> anyhow::Result<()> {
    let (id, status, answer) = match command {
        ReferralCommand::List { unanswered } => {
            let status = if unanswered {
                proto::ReferralStatus::Sent
            } else {
                proto::ReferralStatus::Unspecified
            };
            let referrals = api
                .agencies
                .list_referrals(proto::ListReferralsRequest {
                    status: status.into(),
                })
                .await?
                .into_inner()
                .referrals;
            print_referrals(output, &referrals);
            return Ok(());
        }
        ReferralCommand::Ack { id, answer } => (id, proto::ReferralStatus::Acknowledged, answer),
        ReferralCommand::Accept { id, answer } => (id, proto::ReferralStatus::Accepted, answer),
        ReferralCommand::Reject { id, answer } => (id, proto::ReferralStatus::Rejected, answer),
        ReferralCommand::Done { id, answer } => (id, proto::ReferralStatus::Done, answer),
    };
    let referral = api
        .agencies
        .update_referral(proto::UpdateReferralRequest {
            referral_id: id,
            status: status.into(),
            answer,
        })
        .await?
        .into_inner();
    print_referrals(output, &[referral]);
    Ok(())
}

/// `n112 incident refer`.
pub async fn refer(
    api: &mut Api,
    output: Output,
    incident_id: String,
    agency_id: String,
    note: String,
) -> anyhow::Result<()> {
    let referral = api
        .incidents
        .refer_incident(proto::ReferIncidentRequest {
            incident_id,
            agency_id,
            note,
        })
        .await?
        .into_inner();
    print_referrals(output, &[referral]);
    Ok(())
}
