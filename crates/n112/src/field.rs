//! `n112 field --unit-id ID`: a crew's device in the terminal. It
//! long-polls for work, shows the offer (address, description, distance),
//! takes y/n, then e(n route) / s (on scene) / c(ompleted), and reports the
//! position with `l LAT LON`. Plain lines in and out, so it also runs
//! behind a script or a pipe.

use std::time::Duration;

use ngalam112_proto::v1 as proto;
use tokio::sync::mpsc;

use crate::connect::{Api, describe};
use crate::format;

#[derive(Debug, Clone, clap::Args)]
pub struct FieldArgs {
    /// The unit this device belongs to.
    #[arg(long)]
    pub unit_id: String,
    /// Report this position at start.
    #[arg(long, allow_hyphen_values = true, requires = "lon")]
    pub lat: Option<f64>,
    #[arg(long, allow_hyphen_values = true, requires = "lat")]
    pub lon: Option<f64>,
}

fn prompt_for(status: proto::AssignmentStatus) -> &'static str {
    match status {
        proto::AssignmentStatus::Offered => "accept? y = accept, n [reason] = decline",
        proto::AssignmentStatus::Accepted => "e = en route, s = on scene, c = completed",
        proto::AssignmentStatus::EnRoute => "s = on scene, c = completed",
        proto::AssignmentStatus::OnScene => "c = completed",
        _ => "",
    }
}

fn show_offer(assignment: &proto::Assignment, incident: Option<&proto::Incident>) {
    println!("== OFFER {} ==", assignment.id);
    if let Some(incident) = incident {
        println!(
            "{} {} at {} — {}",
            format::priority(incident),
            format::category(incident),
            incident.address,
            incident.description
        );
        if let Some(location) = &incident.location {
            println!("position {:.5}, {:.5}", location.lat, location.lon);
        }
    }
    let drive = format::drive(assignment.eta_s, assignment.road_distance_m);
    if drive.is_empty() {
        println!("{} away", format::km(assignment.distance_m));
    } else {
        println!("{} away: {drive}", format::km(assignment.distance_m));
    }
}

pub async fn run(mut api: Api, args: FieldArgs) -> anyhow::Result<()> {
    let unit_id = args.unit_id.clone();
    if let (Some(lat), Some(lon)) = (args.lat, args.lon) {
        api.field
            .report_location(proto::ReportLocationRequest {
                unit_id: unit_id.clone(),
                location: Some(proto::GeoPoint { lat, lon }),
            })
            .await?;
        println!("position reported");
    }
    let (lines_sender, mut lines) = mpsc::channel::<String>(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { return };
            if lines_sender.blocking_send(line).is_err() {
                return;
            }
        }
    });
    println!("waiting for an assignment…");
    let mut current: Option<proto::Assignment> = None;
    loop {
        // With work in hand, refresh every few seconds (to see a
        // cancellation); without, long-poll.
        let wait = if current.is_some() { 0 } else { 25 };
        let pause = if current.is_some() {
            Duration::from_secs(3)
        } else {
            Duration::ZERO
        };
        let mut poll_api = api.clone();
        let poll_unit = unit_id.clone();
        let poll = async move {
            tokio::time::sleep(pause).await;
            poll_api
                .field
                .poll_assignment(proto::PollAssignmentRequest {
                    unit_id: poll_unit,
                    wait_seconds: wait,
                })
                .await
        };
        tokio::select! {
            answer = poll => match answer {
                Ok(answer) => {
                    let answer = answer.into_inner();
                    let changed = answer.assignment.as_ref().map(|a| (a.id.clone(), a.status))
                        != current.as_ref().map(|a| (a.id.clone(), a.status));
                    if changed {
                        match &answer.assignment {
                            Some(assignment) => {
                                if current.as_ref().map(|c| &c.id) != Some(&assignment.id) {
                                    show_offer(assignment, answer.incident.as_ref());
                                }
                                println!("status {}: {}", format::assignment_status(assignment), prompt_for(assignment.status()));
                            }
                            None => println!("assignment closed; waiting for an assignment…"),
                        }
                    }
                    current = answer.assignment;
                }
                Err(status) => {
                    eprintln!("error: {}", describe(&status));
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            },
            line = lines.recv() => {
                let Some(line) = line else { return Ok(()) };
                if let Some(next) = act(&mut api, &unit_id, current.as_ref(), line.trim()).await? {
                    println!("status {}: {}", format::assignment_status(&next), prompt_for(next.status()));
                    let open = matches!(
                        next.status(),
                        proto::AssignmentStatus::Offered
                            | proto::AssignmentStatus::Accepted
                            | proto::AssignmentStatus::EnRoute
                            | proto::AssignmentStatus::OnScene
                    );
                    current = open.then_some(next);
                    if current.is_none() {
                        println!("waiting for an assignment…");
                    }
                }
            }
        }
    }
}

/// One typed command; returns the assignment as it is after it, if it
/// changed.
async fn act(
    api: &mut Api,
    unit_id: &str,
    current: Option<&proto::Assignment>,
    line: &str,
) -> anyhow::Result<Option<proto::Assignment>> {
    let mut words = line.split_whitespace();
    let command = words.next().unwrap_or_default();
    if command == "q" {
        std::process::exit(0);
    }
    if command == "l" {
        let numbers: Vec<f64> = words.filter_map(|w| w.parse().ok()).collect();
        let [lat, lon] = numbers[..] else {
            println!("usage: l LAT LON");
            return Ok(None);
        };
        match api
            .field
            .report_location(proto::ReportLocationRequest {
                unit_id: unit_id.to_owned(),
                location: Some(proto::GeoPoint { lat, lon }),
            })
            .await
        {
            Ok(_) => println!("position reported"),
            Err(status) => println!("error: {}", describe(&status)),
        }
        return Ok(None);
    }
    let Some(assignment) = current else {
        println!("no assignment yet");
        return Ok(None);
    };
    let id = assignment.id.clone();
    let update = |status: proto::AssignmentStatus| proto::UpdateAssignmentStatusRequest {
        assignment_id: id.clone(),
        status: status.into(),
    };
    let result = match command {
        "y" => {
            api.field
                .accept_assignment(proto::AcceptAssignmentRequest {
                    assignment_id: id.clone(),
                })
                .await
        }
        "n" => {
            let reason = line.get(1..).unwrap_or_default().trim().to_owned();
            api.field
                .decline_assignment(proto::DeclineAssignmentRequest {
                    assignment_id: id.clone(),
                    reason,
                })
                .await
        }
        "e" => {
            api.field
                .update_assignment_status(update(proto::AssignmentStatus::EnRoute))
                .await
        }
        "s" => {
            api.field
                .update_assignment_status(update(proto::AssignmentStatus::OnScene))
                .await
        }
        "c" => {
            api.field
                .update_assignment_status(update(proto::AssignmentStatus::Completed))
                .await
        }
        _ => {
            println!("{}", prompt_for(assignment.status()));
            return Ok(None);
        }
    };
    match result {
        Ok(answer) => Ok(Some(answer.into_inner())),
        Err(status) => {
            println!("error: {}", describe(&status));
            Ok(None)
        }
    }
}
