//! `n112 report`: the response-time standard (NFPA 1225 style) — the share
//! of calls with a first offer, and a first acceptance, within the target
//! (60 s), per category and priority. The standard asks for 90 %.

use anyhow::Context;
use chrono::{DateTime, Utc};
use ngalam112_proto::v1 as proto;
use serde_json::json;

use crate::connect::Api;
use crate::format::{self, table};
use crate::output::Output;

/// The share the standard asks for.
const REQUIRED_SHARE: f64 = 0.9;

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Incidents created since (RFC 3339, e.g. 2026-11-01T00:00:00+07:00, or
    /// a number of hours back, e.g. 24h).
    #[arg(long)]
    pub since: String,
    /// Until (RFC 3339); default now.
    #[arg(long)]
    pub until: Option<String>,
    #[arg(long, default_value_t = 60.0)]
    pub target_seconds: f64,
}

fn parse_time(text: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Some(hours) = text.strip_suffix('h') {
        let hours: f64 = hours
            .parse()
            .with_context(|| format!("{text:?} is not a number of hours"))?;
        return Ok(Utc::now() - chrono::Duration::milliseconds((hours * 3_600_000.0) as i64));
    }
    Ok(DateTime::parse_from_rfc3339(text)
        .with_context(|| format!("{text:?} is not an RFC 3339 time or a number of hours like 24h"))?
        .with_timezone(&Utc))
}

fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

fn share(part: i32, whole: i32) -> f64 {
    if whole == 0 {
        1.0
    } else {
        f64::from(part) / f64::from(whole)
    }
}

pub async fn run(api: &mut Api, output: Output, args: ReportArgs) -> anyhow::Result<()> {
    let since = parse_time(&args.since)?;
    let until = args.until.as_deref().map(parse_time).transpose()?;
    let report = api
        .incidents
        .get_response_time_report(proto::GetResponseTimeReportRequest {
            since: Some(timestamp(since)),
            until: until.map(timestamp),
            target_seconds: args.target_seconds,
        })
        .await?
        .into_inner();
    if output.json {
        print_json(&report);
    } else {
        print_text(&report, since, until);
    }
    Ok(())
}

/// A row's category and priority as shown ("ALL" for the total).
fn label(row: &proto::ResponseTimeRow) -> (String, String) {
    if row.category == 0 {
        ("ALL".to_owned(), "ALL".to_owned())
    } else {
        (
            format::short(row.category().as_str_name(), "INCIDENT_CATEGORY_"),
            format::short(row.priority().as_str_name(), "PRIORITY_"),
        )
    }
}

/// One JSON object per row, then one for what was left out and the
/// referrals.
fn print_json(report: &proto::ResponseTimeReport) {
    for row in &report.rows {
        let (category, priority) = label(row);
        println!(
            "{}",
            json!({
                "category": category,
                "priority": priority,
                "incidents": row.incidents,
                "offered_within_target": row.offered_within_target,
                "accepted_within_target": row.accepted_within_target,
                "offer_share": share(row.offered_within_target, row.incidents),
                "accept_share": share(row.accepted_within_target, row.incidents),
                "p90_call_to_offer_s": finite_or_null(row.p90_call_to_offer_s),
                "p90_call_to_accept_s": finite_or_null(row.p90_call_to_accept_s),
                "target_seconds": report.target_seconds,
            })
        );
    }
    println!(
        "{}",
        json!({
            "left_out": {
                "prank": report.prank_incidents,
                "duplicate": report.duplicate_incidents,
            },
            "referrals": {
                "sent": report.referrals,
                "acknowledged_within_target": report.referrals_acknowledged_within_target,
                "unanswered": report.referrals_unanswered,
                "p90_to_acknowledge_s": finite_or_null(report.p90_referral_to_acknowledge_s),
            },
            "calls": {
                "calls": report.calls,
                "abandoned": report.abandoned_calls,
                "answered_within_10s_share": report.answered_within_10s_share,
                "answered_within_20s_share": report.answered_within_20s_share,
                "recorded": report.calls_recorded,
                "p50_answer_to_incident_s": report.p50_answer_to_incident_s,
                "p90_answer_to_incident_s": report.p90_answer_to_incident_s,
            }
        })
    );
}

/// A share against the standard, as a table cell.
fn verdict(part: i32, whole: i32) -> String {
    let value = share(part, whole);
    let word = if value >= REQUIRED_SHARE {
        "ok"
    } else {
        "BELOW"
    };
    format!("{:5.1} % {word}", value * 100.0)
}

/// The report as a table, with what was left out and the referrals.
fn print_text(
    report: &proto::ResponseTimeReport,
    since: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
) {
    let wib = |at: DateTime<Utc>| {
        at.with_timezone(&format::wib())
            .format("%d %b %Y %H:%M WIB")
    };
    println!(
        "Response times, incidents from {} to {}: first offer and first accept within {:.0} s (standard: {:.0} %)",
        wib(since),
        wib(until.unwrap_or_else(Utc::now)),
        report.target_seconds,
        REQUIRED_SHARE * 100.0
    );
    let rows: Vec<Vec<String>> = report
        .rows
        .iter()
        .map(|row| {
            let (category, priority) = label(row);
            vec![
                category,
                priority,
                row.incidents.to_string(),
                verdict(row.offered_within_target, row.incidents),
                format::age(row.p90_call_to_offer_s),
                verdict(row.accepted_within_target, row.incidents),
                format::age(row.p90_call_to_accept_s),
            ]
        })
        .collect();
    let headers = [
        "CATEGORY",
        "PRIORITY",
        "CALLS",
        "OFFERED IN TIME",
        "P90 OFFER",
        "ACCEPTED IN TIME",
        "P90 ACCEPT",
    ];
    print!("{}", table(&headers, &rows));
    println!(
        "Left out (no emergency response): {} prank, {} duplicate",
        report.prank_incidents, report.duplicate_incidents
    );
    if report.referrals > 0 {
        let p90 = if report.p90_referral_to_acknowledge_s.is_finite() {
            format!("{:.0} s", report.p90_referral_to_acknowledge_s)
        } else {
            "over 10 % unanswered".to_owned()
        };
        println!(
            "Referrals to partner agencies: {} sent, {} answered within {:.0} s, {} unanswered; 90th percentile to first answer {p90}",
            report.referrals,
            report.referrals_acknowledged_within_target,
            report.target_seconds,
            report.referrals_unanswered
        );
    }
    print_calls(report);
}

/// The 112 calls of the period (from the phone system): how fast they
/// were answered, and answer → incident recorded.
fn print_calls(report: &proto::ResponseTimeReport) {
    if report.calls == 0 {
        println!("112 calls: none signalled by the phone system in this period");
        return;
    }
    println!(
        "112 calls: {} rang, {} abandoned; answered within 10 s: {:.1} %, within 20 s: {:.1} %",
        report.calls,
        report.abandoned_calls,
        report.answered_within_10s_share * 100.0,
        report.answered_within_20s_share * 100.0
    );
    if report.calls_recorded > 0 {
        println!(
            "Answer to incident recorded ({} calls): median {:.0} s, 90th percentile {:.0} s",
            report.calls_recorded, report.p50_answer_to_incident_s, report.p90_answer_to_incident_s
        );
    }
}

/// JSON has no infinity: an unbounded percentile is null.
fn finite_or_null(value: f64) -> serde_json::Value {
    if value.is_finite() {
        serde_json::json!(value)
    } else {
        serde_json::Value::Null
    }
}
