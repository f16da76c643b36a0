//! `n112 incident …`: the call-taker's and dispatcher's commands.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::bail;
use clap::{Args, Subcommand};
use ngalam112_proto::v1 as proto;

use crate::args::{Category, IncidentStatusArg, Kind, PriorityArg, ResolutionCodeArg};
use crate::connect::Api;
use crate::format;
use crate::output::Output;

/// How close another active incident of the same category must be for the
/// call-taker to be asked whether this is the same emergency.
const DUPLICATE_RADIUS_M: f64 = 300.0;

/// How far `incident show` looks for the three nearest cameras.
const NEARBY_CAMERAS_RADIUS_M: f64 = 2_000.0;

#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// Record a call (and dispatch it at once unless --hold).
    Create(CreateArgs),
    /// One incident with its units.
    Show { id: String },
    /// Incidents, newest first.
    List {
        /// Only these statuses (repeatable); default: all.
        #[arg(long = "status", value_enum)]
        statuses: Vec<IncidentStatusArg>,
        /// At most this many (all pages up to it).
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Active incidents near a point, nearest first.
    Nearby {
        #[arg(long, allow_hyphen_values = true)]
        lat: f64,
        #[arg(long, allow_hyphen_values = true)]
        lon: f64,
        #[arg(long, default_value_t = DUPLICATE_RADIUS_M)]
        radius_m: f64,
        #[arg(long, value_enum)]
        category: Option<Category>,
    },
    /// Available units nearest the incident.
    Recommend {
        id: String,
        #[arg(long, value_enum)]
        kind: Option<Kind>,
        #[arg(long, default_value_t = 5)]
        limit: i32,
    },
    /// Offer a unit to an incident (dispatcher override).
    Assign {
        incident_id: String,
        unit_id: String,
    },
    /// Hand the incident to a partner agency (it stays open).
    Refer {
        incident_id: String,
        /// The agency's id (see `n112 agency list`).
        #[arg(long)]
        agency_id: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Dispatch an incident recorded with --hold, per the rules.
    Release { id: String },
    /// Cancel; its units are freed.
    Cancel {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
        /// Why, as a code (prank, duplicate, false-alarm, …).
        #[arg(long, value_enum, default_value_t = ResolutionCodeArg::Other)]
        code: ResolutionCodeArg,
    },
    /// Resolve; open assignments complete, units are freed.
    Resolve {
        id: String,
        #[arg(long, default_value = "")]
        resolution: String,
        /// How it ended, as a code (handled, transported, prank, …).
        #[arg(long, value_enum, default_value_t = ResolutionCodeArg::Other)]
        code: ResolutionCodeArg,
    },
    /// Everything that happened to an incident, oldest first.
    Timeline { id: String },
    /// The incident as a standard document for another agency.
    Export {
        id: String,
        /// As one NENA EIDO (NENA-STA-021.1b) JSON document.
        #[arg(long, required = true)]
        eido: bool,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[arg(long, value_enum)]
    pub category: Category,
    #[arg(long, value_enum, default_value_t = PriorityArg::High)]
    pub priority: PriorityArg,
    #[arg(long, allow_hyphen_values = true)]
    pub lat: f64,
    #[arg(long, allow_hyphen_values = true)]
    pub lon: f64,
    #[arg(long, default_value = "")]
    pub address: String,
    #[arg(long, default_value = "")]
    pub description: String,
    /// Caller's phone (any common Indonesian format); required unless
    /// --withheld.
    #[arg(long)]
    pub phone: Option<String>,
    /// The network gave no number (nomor disembunyikan).
    #[arg(long)]
    pub withheld: bool,
    #[arg(long, default_value = "")]
    pub name: String,
    /// Units needed (repeatable); default: the category's.
    #[arg(long = "kind", value_enum)]
    pub kinds: Vec<Kind>,
    /// Store without dispatching.
    #[arg(long)]
    pub hold: bool,
    /// Idempotency key: retrying with the same key creates nothing twice.
    /// Default: a new one for this call, kept across n112's own retries.
    #[arg(long)]
    pub request_id: Option<String>,
    /// This caller reports that incident: link, dispatch nothing.
    #[arg(long)]
    pub duplicate_of: Option<String>,
    /// The phone system's call this is recorded from (`n112 call ring`):
    /// links the incident to the call.
    #[arg(long)]
    pub call_id: Option<String>,
    /// Create a new incident even when active ones of the category are near.
    #[arg(long)]
    pub yes: bool,
}

pub async fn run(api: &mut Api, output: Output, command: IncidentCommand) -> anyhow::Result<()> {
    match command {
        IncidentCommand::Create(args) => create(api, output, args).await?,
        IncidentCommand::Show { id } => show(api, output, id).await?,
        IncidentCommand::List { statuses, limit } => {
            let statuses: Vec<i32> = statuses
                .into_iter()
                .flat_map(IncidentStatusArg::to_proto)
                .map(i32::from)
                .collect();
            output.incidents(&list(api, statuses, limit).await?);
        }
        IncidentCommand::Nearby {
            lat,
            lon,
            radius_m,
            category,
        } => {
            let category = category.map(proto::IncidentCategory::from);
            output.incidents(&nearby(api, lat, lon, radius_m, category).await?);
        }
        IncidentCommand::Recommend { id, kind, limit } => {
            recommend(api, output, id, kind, limit).await?;
        }
        IncidentCommand::Assign {
            incident_id,
            unit_id,
        } => {
            let request = proto::AssignUnitRequest {
                incident_id,
                unit_id,
            };
            output.assignment(&api.incidents.assign_unit(request).await?.into_inner());
        }
        IncidentCommand::Refer {
            incident_id,
            agency_id,
            note,
        } => {
            crate::commands::agency::refer(api, output, incident_id, agency_id, note).await?;
        }
        IncidentCommand::Release { id } => {
            let request = proto::ReleaseHoldRequest { id };
            output.incident(&api.incidents.release_hold(request).await?.into_inner());
        }
        IncidentCommand::Cancel { id, reason, code } => {
            let request = proto::CancelIncidentRequest {
                id,
                reason,
                resolution_code: proto::ResolutionCode::from(code).into(),
            };
            output.incident(&api.incidents.cancel_incident(request).await?.into_inner());
        }
        IncidentCommand::Resolve {
            id,
            resolution,
            code,
        } => {
            let request = proto::ResolveIncidentRequest {
                id,
                resolution,
                resolution_code: proto::ResolutionCode::from(code).into(),
            };
            output.incident(&api.incidents.resolve_incident(request).await?.into_inner());
        }
        IncidentCommand::Export { id, .. } => export(api, output, id).await?,
        IncidentCommand::Timeline { id } => {
            let request = proto::GetIncidentTimelineRequest { id };
            let timeline = api.incidents.get_incident_timeline(request).await?;
            output.timeline(&timeline.into_inner().events);
        }
    }
    Ok(())
}

/// One incident, with the cameras that may show the scene (none
/// registered: none).
async fn show(api: &mut Api, output: Output, id: String) -> anyhow::Result<()> {
    let incident = api
        .incidents
        .get_incident(proto::GetIncidentRequest { id })
        .await?
        .into_inner();
    let cameras = api
        .cameras
        .find_nearby_cameras(proto::FindNearbyCamerasRequest {
            location: incident.location,
            radius_m: NEARBY_CAMERAS_RADIUS_M,
            limit: 3,
        })
        .await?
        .into_inner()
        .cameras;
    output.incident_with_cameras(&incident, &cameras);
    Ok(())
}

/// The available units the dispatcher might send, nearest first.
async fn recommend(
    api: &mut Api,
    output: Output,
    incident_id: String,
    kind: Option<Kind>,
    limit: i32,
) -> anyhow::Result<()> {
    let recommendations = api
        .incidents
        .recommend_units(proto::RecommendUnitsRequest {
            incident_id,
            kind: kind.map_or(0, |k| proto::UnitKind::from(k).into()),
            limit,
        })
        .await?
        .into_inner()
        .recommendations;
    output.recommendations(&recommendations);
    Ok(())
}

/// The incident as an EIDO document (pretty unless `--json`).
async fn export(api: &mut Api, output: Output, id: String) -> anyhow::Result<()> {
    let text = api
        .incidents
        .get_incident_eido(proto::GetIncidentEidoRequest { id })
        .await?
        .into_inner()
        .eido_json;
    if output.json {
        println!("{text}");
    } else {
        let document: serde_json::Value = serde_json::from_str(&text)?;
        println!("{}", serde_json::to_string_pretty(&document)?);
    }
    Ok(())
}

/// Pages through ListIncidents up to `limit`.
pub async fn list(
    api: &mut Api,
    statuses: Vec<i32>,
    limit: usize,
) -> Result<Vec<proto::Incident>, tonic::Status> {
    let mut incidents = Vec::new();
    let mut page_token = String::new();
    loop {
        let remaining = limit.saturating_sub(incidents.len());
        if remaining == 0 {
            break;
        }
        let page = api
            .incidents
            .list_incidents(proto::ListIncidentsRequest {
                statuses: statuses.clone(),
                page_size: i32::try_from(remaining.min(500)).unwrap_or(500),
                page_token,
            })
            .await?
            .into_inner();
        incidents.extend(page.incidents);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    incidents.truncate(limit);
    Ok(incidents)
}

async fn nearby(
    api: &mut Api,
    lat: f64,
    lon: f64,
    radius_m: f64,
    category: Option<proto::IncidentCategory>,
) -> Result<Vec<proto::Incident>, tonic::Status> {
    Ok(api
        .incidents
        .find_nearby_incidents(proto::FindNearbyIncidentsRequest {
            location: Some(proto::GeoPoint { lat, lon }),
            radius_m,
            category: category.map_or(0, i32::from),
        })
        .await?
        .into_inner()
        .incidents)
}

/// The call-taker's flow: look for the same emergency nearby first, ask,
/// then create or link.
async fn create(api: &mut Api, output: Output, args: CreateArgs) -> anyhow::Result<()> {
    let category = proto::IncidentCategory::from(args.category);
    let phone = match (&args.phone, args.withheld) {
        (Some(phone), false) => phone.clone(),
        (None, true) => String::new(),
        (None, false) => {
            bail!("--phone is required (or --withheld when the network gave no number)")
        }
        (Some(_), true) => bail!("--phone and --withheld exclude each other"),
    };
    if !args.withheld {
        crate::commands::caller::print_history_line(api, &phone).await?;
    }
    let mut duplicate_of = args.duplicate_of.clone().unwrap_or_default();
    if duplicate_of.is_empty() && !args.yes {
        let near = nearby(api, args.lat, args.lon, DUPLICATE_RADIUS_M, Some(category)).await?;
        if !near.is_empty() {
            if !std::io::stdin().is_terminal() {
                eprintln!(
                    "active {} incidents within {DUPLICATE_RADIUS_M} m:",
                    format::short(category.as_str_name(), "INCIDENT_CATEGORY_")
                );
                Output { json: false }.incidents(&near);
                bail!(
                    "this may be the same emergency: pass --duplicate-of ID to link the caller, or --yes to create a new incident"
                );
            }
            duplicate_of = ask_which(&near)?.unwrap_or_default();
        }
    }
    let request = proto::CreateIncidentRequest {
        request_id: args
            .request_id
            .unwrap_or_else(|| format!("n112-{}", uuid::Uuid::new_v4())),
        category: category.into(),
        priority: proto::Priority::from(args.priority).into(),
        caller_phone: phone,
        caller_name: args.name,
        location: Some(proto::GeoPoint {
            lat: args.lat,
            lon: args.lon,
        }),
        address: args.address,
        description: args.description,
        required_kinds: args
            .kinds
            .into_iter()
            .map(|k| proto::UnitKind::from(k).into())
            .collect(),
        hold: args.hold,
        duplicate_of,
        caller_id_withheld: args.withheld,
        call_id: args.call_id.unwrap_or_default(),
    };
    let incident = create_with_retries(api, request).await?;
    output.incident(&incident);
    Ok(())
}

/// Tries at recording one call while the server answers UNAVAILABLE.
const CREATE_ATTEMPTS: u32 = 5;

/// Records a call, retrying UNAVAILABLE (1, 2, 4, 8 s apart) with the
/// same request id: the server stores a call at most once per id, so a
/// retry after a lost answer never sends a second crew.
async fn create_with_retries(
    api: &Api,
    request: proto::CreateIncidentRequest,
) -> anyhow::Result<proto::Incident> {
    let mut attempt = 1;
    loop {
        match api.incidents.clone().create_incident(request.clone()).await {
            Ok(incident) => return Ok(incident.into_inner()),
            Err(status)
                if status.code() == tonic::Code::Unavailable && attempt < CREATE_ATTEMPTS =>
            {
                eprintln!(
                    "server unavailable ({}); retrying with request id {} ({}/{CREATE_ATTEMPTS})",
                    status.message(),
                    request.request_id,
                    attempt + 1
                );
                tokio::time::sleep(std::time::Duration::from_secs(1 << (attempt - 1))).await;
                attempt += 1;
            }
            Err(status) => return Err(status.into()),
        }
    }
}

/// Shows nearby incidents and asks whether the caller reports one of them.
fn ask_which(near: &[proto::Incident]) -> anyhow::Result<Option<String>> {
    eprintln!("Active incidents of this kind within {DUPLICATE_RADIUS_M} m:");
    for (index, incident) in near.iter().enumerate() {
        eprintln!(
            "  [{}] {} {} {} — {} ({} ago, {} caller(s))",
            index + 1,
            format::priority(incident),
            format::status(incident),
            incident.address,
            incident.description,
            format::age(format::seconds_since(incident.created_at.as_ref())),
            incident.caller_count
        );
    }
    eprint!("Is this caller reporting one of these? Number to link, Enter for a new incident: ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    let answer = answer.trim();
    if answer.is_empty() || answer.eq_ignore_ascii_case("n") {
        return Ok(None);
    }
    match answer
        .parse::<usize>()
        .ok()
        .and_then(|n| near.get(n.wrapping_sub(1)))
    {
        Some(incident) => Ok(Some(incident.id.clone())),
        None => bail!("{answer:?} is not one of the numbers shown"),
    }
}
