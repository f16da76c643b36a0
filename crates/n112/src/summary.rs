//! What a demo run did, read back from the server through the API: the
//! figures `n112 demo` prints and `picture` draws.

use anyhow::Context;
use ngalam112_proto::v1 as proto;
use serde_json::json;

use crate::connect::Api;
use crate::format::{self, table};

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
    /// Offers the server chose on roads: (straight-line distance m, drive
    /// s, what the straight-line rule's unit would have taken s).
    pub on_roads: Vec<(f64, f64, f64)>,
    /// The phone system's calls of the run: how many rang and were
    /// abandoned; seconds from ringing to answer, and from answer to the
    /// incident recorded.
    pub phone_calls: usize,
    pub abandoned: usize,
    pub to_answer: Vec<f64>,
    pub answer_to_recorded: Vec<f64>,
}

impl Summary {
    /// Offers on roads where the straight-line rule would have sent
    /// another, slower unit, and the seconds they saved in all.
    pub fn road_savings(&self) -> (usize, f64) {
        self.on_roads
            .iter()
            .map(|(_, eta, straight)| straight - eta)
            .filter(|saved| *saved >= 1.0)
            .fold((0, 0.0), |(count, total), saved| (count + 1, total + saved))
    }
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
            if assignment.eta_s > 0.0 && assignment.straight_line_eta_s > 0.0 {
                summary.on_roads.push((
                    assignment.distance_m,
                    assignment.eta_s,
                    assignment.straight_line_eta_s,
                ));
            }
            match assignment.status() {
                proto::AssignmentStatus::Declined => summary.declined += 1,
                proto::AssignmentStatus::TimedOut => summary.timed_out += 1,
                _ => {}
            }
        }
    }
    summary.read_phone_calls(api, &incidents).await?;
    summary.incidents = incidents;
    summary.units = units;
    Ok(summary)
}

impl Summary {
    async fn read_phone_calls(
        &mut self,
        api: &mut Api,
        incidents: &[proto::Incident],
    ) -> anyhow::Result<()> {
        let calls = crate::commands::call::recent(api).await?;
        self.phone_calls = calls.len();
        for call in &calls {
            if call.state() == proto::CallState::Abandoned {
                self.abandoned += 1;
            }
            self.to_answer.extend(format::seconds_between(
                call.rang_at.as_ref(),
                call.answered_at.as_ref(),
            ));
            let recorded = incidents.iter().find(|i| i.id == call.incident_id);
            if let Some(incident) = recorded {
                self.answer_to_recorded.extend(format::seconds_between(
                    call.answered_at.as_ref(),
                    incident.created_at.as_ref(),
                ));
            }
        }
        Ok(())
    }

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
                    "phone_calls": self.phone_calls,
                    "abandoned_calls": self.abandoned,
                    "ring_to_answer": timing(&self.to_answer),
                    "answer_to_recorded": timing(&self.answer_to_recorded),
                    "offers_on_roads": self.on_roads.len(),
                    "road_nearest_differed": self.road_savings().0,
                    "minutes_saved_by_roads": self.road_savings().1 / 60.0,
                    "drive_p50_s": percentile(
                        &self.on_roads.iter().map(|(_, eta, _)| *eta).collect::<Vec<_>>(),
                        0.5,
                    ),
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
        println!(
            "112 phone calls: {} rang, {} abandoned; answered after {} (median), recorded {} after the answer (median)",
            self.phone_calls,
            self.abandoned,
            format::age(percentile(&self.to_answer, 0.5)),
            format::age(percentile(&self.answer_to_recorded, 0.5))
        );
        if !self.on_roads.is_empty() {
            let drives: Vec<f64> = self.on_roads.iter().map(|(_, eta, _)| *eta).collect();
            let (differed, saved_s) = self.road_savings();
            println!(
                "by road: {} offers ranked by drive time (median {} to drive, {} in a straight line); \
                 for {differed} of them the unit nearest in a straight line would have arrived later, \
                 {:.0} min later in all",
                self.on_roads.len(),
                format::age(percentile(&drives, 0.5)),
                format::km(percentile(
                    &self.on_roads.iter().map(|(m, _, _)| *m).collect::<Vec<_>>(),
                    0.5
                )),
                saved_s / 60.0
            );
        }
    }
}
