//! Printing results: readable tables by default, one JSON object per line
//! with `--json`.

use ngalam112_proto::v1 as proto;

use crate::format::{self, table};

#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
}

impl Output {
    pub fn incident(&self, incident: &proto::Incident) {
        if self.json {
            println!("{}", format::incident_json(incident));
            return;
        }
        println!("Incident {}", incident.id);
        print_what_and_where(incident);
        print_callers(incident);
        for referral in &incident.referrals {
            let status = format::short(referral.status().as_str_name(), "REFERRAL_STATUS_");
            let answer = if referral.answer.is_empty() {
                String::new()
            } else {
                format!(": {}", referral.answer)
            };
            println!(
                "  referred to {} at {}: {status}{answer}",
                referral.agency_short_name,
                format::local_time(referral.sent_at.as_ref())
            );
        }
        print_needs_and_closing(incident);
        print_assignments(incident);
    }

    /// An incident and the cameras nearest it (JSON: one object with a
    /// `nearby_cameras` list).
    pub fn incident_with_cameras(
        &self,
        incident: &proto::Incident,
        cameras: &[proto::CameraDistance],
    ) {
        let cameras = cameras
            .iter()
            .filter_map(|near| Some((near.camera.as_ref()?, near.distance_m)));
        if self.json {
            let mut value = format::incident_json(incident);
            value["nearby_cameras"] = cameras
                .map(|(camera, distance_m)| {
                    serde_json::json!({
                        "id": camera.id,
                        "name": camera.name,
                        "stream_url": camera.stream_url,
                        "distance_m": distance_m,
                    })
                })
                .collect();
            println!("{value}");
            return;
        }
        self.incident(incident);
        for (camera, distance_m) in cameras {
            println!(
                "  camera {} ({distance_m:.0} m): {}",
                camera.name, camera.stream_url
            );
        }
    }

    pub fn incidents(&self, incidents: &[proto::Incident]) {
        if self.json {
            for incident in incidents {
                println!("{}", format::incident_json(incident));
            }
            return;
        }
        let rows: Vec<Vec<String>> = incidents
            .iter()
            .map(|incident| {
                let units: Vec<String> = incident
                    .assignments
                    .iter()
                    .filter(|a| {
                        !matches!(
                            a.status(),
                            proto::AssignmentStatus::Declined
                                | proto::AssignmentStatus::TimedOut
                                | proto::AssignmentStatus::Cancelled
                        )
                    })
                    .map(|a| format!("{} {}", a.unit_call_sign, format::assignment_status(a)))
                    .collect();
                vec![
                    format::priority(incident),
                    format::status(incident),
                    format::category(incident),
                    format::age(format::seconds_since(incident.created_at.as_ref())),
                    format::local_time(incident.created_at.as_ref()),
                    incident.address.clone(),
                    units.join(", "),
                    incident.id.clone(),
                ]
            })
            .collect();
        print!(
            "{}",
            table(
                &[
                    "PRIORITY", "STATUS", "CATEGORY", "AGE", "CREATED", "ADDRESS", "UNITS", "ID"
                ],
                &rows
            )
        );
    }

    pub fn unit(&self, unit: &proto::Unit) {
        self.units(std::slice::from_ref(unit));
    }

    pub fn units(&self, units: &[proto::Unit]) {
        if self.json {
            for unit in units {
                println!("{}", format::unit_json(unit));
            }
            return;
        }
        let rows: Vec<Vec<String>> = units
            .iter()
            .map(|unit| {
                let location = unit
                    .location
                    .as_ref()
                    .map(|p| format!("{:.5}, {:.5}", p.lat, p.lon))
                    .unwrap_or_default();
                vec![
                    unit.call_sign.clone(),
                    format::kind(unit.kind()),
                    format::unit_status(unit),
                    unit.agency.clone(),
                    location,
                    format::age(format::seconds_since(unit.location_updated_at.as_ref())),
                    unit.id.clone(),
                ]
            })
            .collect();
        print!(
            "{}",
            table(
                &[
                    "CALL SIGN",
                    "KIND",
                    "STATUS",
                    "AGENCY",
                    "POSITION",
                    "POSITION AGE",
                    "ID"
                ],
                &rows
            )
        );
    }

    pub fn assignment(&self, assignment: &proto::Assignment) {
        if self.json {
            println!("{}", format::assignment_json(assignment));
            return;
        }
        let drive = format::drive(assignment.eta_s, assignment.road_distance_m);
        println!(
            "{} {} offered to {} ({}), {} away{} — assignment {}",
            format::assignment_status(assignment),
            assignment.incident_id,
            assignment.unit_call_sign,
            format::kind(assignment.unit_kind()),
            format::km(assignment.distance_m),
            if drive.is_empty() {
                drive
            } else {
                format!(" ({drive})")
            },
            assignment.id
        );
    }

    pub fn recommendations(&self, recommendations: &[proto::UnitRecommendation]) {
        if self.json {
            for r in recommendations {
                let mut value = r.unit.as_ref().map(format::unit_json).unwrap_or_default();
                value["distance_m"] = r.distance_m.into();
                value["location_age_s"] = r.location_age_s.into();
                value["location_stale"] = r.location_stale.into();
                value["eta_s"] = r.eta_s.into();
                value["road_distance_m"] = r.road_distance_m.into();
                println!("{value}");
            }
            return;
        }
        let rows: Vec<Vec<String>> = recommendations
            .iter()
            .enumerate()
            .filter_map(|(index, r)| {
                let unit = r.unit.as_ref()?;
                let age = format::age(r.location_age_s);
                Some(vec![
                    (index + 1).to_string(),
                    unit.call_sign.clone(),
                    format::kind(unit.kind()),
                    format::km(r.distance_m),
                    match format::drive(r.eta_s, r.road_distance_m) {
                        drive if drive.is_empty() => "-".to_owned(),
                        drive => drive,
                    },
                    if r.location_stale {
                        format!("{age} STALE")
                    } else {
                        age
                    },
                    unit.id.clone(),
                ])
            })
            .collect();
        print!(
            "{}",
            table(
                &[
                    "#",
                    "CALL SIGN",
                    "KIND",
                    "DISTANCE",
                    "DRIVE",
                    "POSITION AGE",
                    "ID"
                ],
                &rows
            )
        );
    }

    pub fn timeline(&self, events: &[proto::TimelineEvent]) {
        if self.json {
            for event in events {
                println!("{}", format::timeline_json(event));
            }
            return;
        }
        let rows: Vec<Vec<String>> = events
            .iter()
            .map(|e| {
                vec![
                    format::local_time(e.at.as_ref()),
                    e.kind.clone(),
                    e.actor.clone(),
                    e.detail.clone(),
                ]
            })
            .collect();
        print!("{}", table(&["TIME", "EVENT", "BY", "DETAIL"], &rows));
    }
}

/// What happened, when, and where (entered and from the handset).
fn print_what_and_where(incident: &proto::Incident) {
    println!(
        "  {} {}  {}  since {} ({} ago)",
        format::priority(incident),
        format::category(incident),
        format::status(incident),
        format::local_time(incident.created_at.as_ref()),
        format::age(format::seconds_since(incident.created_at.as_ref())),
    );
    if let Some(location) = &incident.location {
        println!(
            "  at {} ({:.5}, {:.5})",
            incident.address, location.lat, location.lon
        );
    }
    if let Some(device) = format::device_location(incident) {
        println!("  {device}");
    }
    if incident.location_disagrees {
        println!(
            "  !! the handset and the entered location disagree: check the address with the caller"
        );
    }
    if !incident.description.is_empty() {
        println!("  {}", incident.description);
    }
}

/// Who called: the first caller, a flag on the number, further callers.
fn print_callers(incident: &proto::Incident) {
    println!(
        "  caller {} {}  ({} caller{})",
        incident.caller_name,
        format::caller_phone(incident),
        incident.caller_count,
        if incident.caller_count == 1 { "" } else { "s" }
    );
    if incident.caller_flagged {
        println!("  !! this number was flagged when it called (see `n112 caller show`)");
    }
    for other in &incident.other_callers {
        let phone = if other.caller_id_withheld {
            format::WITHHELD
        } else {
            other.caller_phone.as_str()
        };
        println!(
            "  also called: {} {phone} at {}",
            other.caller_name,
            format::local_time(other.added_at.as_ref())
        );
    }
    if incident.callers_redacted_at.is_some() {
        println!("  (callers' names and numbers were removed when the retention period ended)");
    }
}

/// The kinds needed and still waited for, a hold, and how it was closed.
fn print_needs_and_closing(incident: &proto::Incident) {
    if incident.hold && incident.resolved_at.is_none() {
        println!(
            "  ON HOLD: sent to no unit until released (`n112 incident release {}`)",
            incident.id
        );
    }
    let needs: Vec<String> = incident.required_kinds().map(format::kind).collect();
    let waiting: Vec<String> = incident.pending_kinds().map(format::kind).collect();
    print!("  needs {}", needs.join(", "));
    if !waiting.is_empty() {
        print!("  — WAITING for {}", waiting.join(", "));
    }
    if incident.hold {
        print!("  (on hold)");
    }
    println!();
    if incident.resolved_at.is_some() {
        let code = format::resolution_code(incident);
        let text = if incident.resolution.is_empty() {
            code
        } else {
            format!("{code}: {}", incident.resolution)
        };
        println!(
            "  closed: {text} at {}",
            format::local_time(incident.resolved_at.as_ref())
        );
    }
    if !incident.duplicate_of.is_empty() {
        println!("  duplicate of {}", incident.duplicate_of);
    }
}

/// The units sent, as a table.
fn print_assignments(incident: &proto::Incident) {
    if incident.assignments.is_empty() {
        return;
    }
    let rows: Vec<Vec<String>> = incident
        .assignments
        .iter()
        .map(|a| {
            vec![
                a.unit_call_sign.clone(),
                format::kind(a.unit_kind()),
                format::assignment_status(a),
                format::km(a.distance_m),
                format::local_time(a.offered_at.as_ref()),
                a.id.clone(),
            ]
        })
        .collect();
    let headers = [
        "UNIT",
        "KIND",
        "STATUS",
        "DISTANCE",
        "OFFERED",
        "ASSIGNMENT",
    ];
    for line in table(&headers, &rows).lines() {
        println!("    {line}");
    }
}
