//! The one writer of new calls: a slice of plans (the core's
//! [`CallPlan`]), a group of 64 or a group of one alike, written in three
//! set-based statements in the caller's transaction: the incidents with
//! their request ids, their offers (`dispatch::write_offers`), their
//! timeline (`timeline::append_all`). It decides nothing: which units,
//! which state and which events are the plan's.

use chrono::{DateTime, Utc};
use ngalam112_core::plan::CallPlan;
use ngalam112_core::{AssignmentId, AssignmentStatus, IncidentId, UnitKind};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::dispatch::{WrittenOffer, record_milestone, write_offers};
use crate::timeline::{self, Event, Numbering};
use crate::{Actor, AssignmentRecord, IncidentRecord, StoreConfig, StoreError};

/// An incident as the writer stored it.
pub(super) struct StoredIncident {
    pub(super) id: Uuid,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    caller_flagged: bool,
}

/// What the writer stored of one plan.
pub(super) struct Written {
    pub(super) incident: StoredIncident,
    offers: Vec<WrittenOffer>,
}

/// The columns of the incidents the writer inserts, one entry per plan.
struct IncidentColumns<'a> {
    ids: Vec<Uuid>,
    categories: Vec<&'static str>,
    priorities: Vec<i16>,
    phones: Vec<&'a str>,
    names: Vec<&'a str>,
    lats: Vec<f64>,
    lons: Vec<f64>,
    addresses: Vec<&'a str>,
    descriptions: Vec<&'a str>,
    required: Vec<String>,
    pending: Vec<String>,
    holds: Vec<bool>,
    withheld: Vec<bool>,
    request_ids: Vec<&'a str>,
    statuses: Vec<&'static str>,
    /// Each plan's events, numbered 1.. by `timeline::append_numbered`.
    event_counts: Vec<i32>,
}

impl<'a> IncidentColumns<'a> {
    fn of(plans: &[(&'a CallPlan, &Actor)]) -> Self {
        let joined = |kinds: &[UnitKind]| {
            kinds
                .iter()
                .map(|kind| kind.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        let plans: Vec<&'a CallPlan> = plans.iter().map(|(plan, _)| *plan).collect();
        let text = |f: fn(&'a CallPlan) -> &'a str| -> Vec<&'a str> {
            plans.iter().map(|plan| f(plan)).collect()
        };
        Self {
            ids: plans.iter().map(|p| p.id.uuid()).collect(),
            categories: plans.iter().map(|p| p.new.category().as_str()).collect(),
            priorities: plans.iter().map(|p| p.new.priority().rank()).collect(),
            phones: text(|plan| plan.new.caller_phone()),
            names: text(|plan| plan.new.caller_name()),
            lats: plans.iter().map(|p| p.new.location().lat()).collect(),
            lons: plans.iter().map(|p| p.new.location().lon()).collect(),
            addresses: text(|plan| plan.new.address()),
            descriptions: text(|plan| plan.new.description()),
            required: plans
                .iter()
                .map(|p| joined(p.new.required_kinds()))
                .collect(),
            pending: plans
                .iter()
                .map(|p| joined(&p.state.pending_kinds))
                .collect(),
            holds: plans.iter().map(|p| p.new.hold()).collect(),
            withheld: plans.iter().map(|p| p.new.caller_id_withheld()).collect(),
            request_ids: text(|plan| plan.new.request_id().unwrap_or_default()),
            statuses: plans.iter().map(|p| p.state.status.as_str()).collect(),
            event_counts: plans.iter().map(|p| p.events.len() as i32).collect(),
        }
    }
}

/// Writes `plans` (each with who took the call). A plan whose request id
/// is stored already (a retry racing its first try) is not written: it is
/// missing from the answer, and the units its offers would have taken
/// stay free. Every other plan is written whole (incident, every planned
/// offer, every event) or the statement fails and nothing stays.
pub(super) async fn write_calls(
    connection: &mut PgConnection,
    config: &StoreConfig,
    plans: &[(&CallPlan, &Actor)],
) -> Result<Vec<(IncidentId, Written)>, StoreError> {
    let columns = IncidentColumns::of(plans);
    let stored = sqlx::query_as!(
        StoredIncident,
        r#"WITH calls AS MATERIALIZED (
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::int2[], $4::text[], $5::text[],
                 $6::float8[], $7::float8[], $8::text[], $9::text[], $10::text[], $11::text[],
                 $12::bool[], $13::bool[], $14::text[], $15::text[], $16::int4[])
               AS c(id, category, priority, phone, name, lat, lon, address, description,
                 required, pending, hold, withheld, request_id, status, events)
           ),
           requests AS (
             INSERT INTO intake_requests (request_id, incident_id)
             SELECT request_id, id FROM calls
             ON CONFLICT (request_id) DO NOTHING
             RETURNING incident_id
           )
           INSERT INTO incidents (id, status, category, priority, caller_phone, caller_name,
             lat, lon, address, description, required_kinds, pending_kinds, hold,
             caller_id_withheld, caller_flagged, last_timeline_seq)
           SELECT c.id, c.status, c.category, c.priority, c.phone, c.name, c.lat, c.lon,
             c.address, c.description, string_to_array(c.required, ','),
             string_to_array(c.pending, ','), c.hold, c.withheld,
             EXISTS (SELECT 1 FROM flagged_callers f WHERE f.caller_phone = c.phone), c.events
           FROM calls c JOIN requests r ON r.incident_id = c.id
           RETURNING id, created_at, updated_at, caller_flagged"#,
        &columns.ids,
        &columns.categories as &[&str],
        &columns.priorities,
        &columns.phones as &[&str],
        &columns.names as &[&str],
        &columns.lats,
        &columns.lons,
        &columns.addresses as &[&str],
        &columns.descriptions as &[&str],
        &columns.required,
        &columns.pending,
        &columns.holds,
        &columns.withheld,
        &columns.request_ids as &[&str],
        &columns.statuses as &[&str],
        &columns.event_counts,
    )
    .fetch_all(&mut *connection)
    .await?;
    let written: Vec<(&CallPlan, &Actor, StoredIncident)> = stored
        .into_iter()
        .filter_map(|incident| {
            let (plan, actor) = plans
                .iter()
                .find(|(plan, _)| plan.id.uuid() == incident.id)?;
            Some((*plan, *actor, incident))
        })
        .collect();
    let offers: Vec<(IncidentId, &_)> = written
        .iter()
        .flat_map(|(plan, _, _)| plan.offers.iter().map(|offer| (plan.id, offer)))
        .collect();
    let mut offered = if offers.is_empty() {
        Vec::new()
    } else {
        write_offers(connection, config, &offers).await?
    };
    if offered.len() != offers.len() {
        // Each unit was claimed (row-locked, AVAILABLE) in this very
        // transaction: a unit not written is a broken invariant, and the
        // whole write is undone rather than stored without its unit.
        return Err(StoreError::Internal(format!(
            "{} of {} claimed units could be offered",
            offered.len(),
            offers.len()
        )));
    }
    let events: Vec<(&Actor, Event)> = written
        .iter()
        .flat_map(|(plan, actor, _)| {
            plan.events
                .iter()
                .map(|event| (*actor, Event::planned(plan.id, event.clone())))
        })
        .collect();
    timeline::append_numbered(connection, &events, Numbering::New).await?;
    Ok(written
        .into_iter()
        .map(|(plan, _, incident)| {
            let (own, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut offered)
                .into_iter()
                .partition(|row| plan.offers.iter().any(|o| o.assignment_id.uuid() == row.id));
            offered = rest;
            (
                plan.id,
                Written {
                    incident,
                    offers: own,
                },
            )
        })
        .collect())
}

/// The incident the writer stored for `plan`, as its rows say (what the
/// plan decided, the times the database gave it).
pub(super) fn record(plan: &CallPlan, written: &Written) -> Result<IncidentRecord, StoreError> {
    let new = &plan.new;
    let incident = &written.incident;
    let assignments = plan
        .offers
        .iter()
        .map(|offer| {
            let row = written
                .offers
                .iter()
                .find(|row| row.id == offer.assignment_id.uuid())
                .ok_or_else(|| StoreError::Internal("a planned offer was not written".into()))?;
            Ok(AssignmentRecord {
                id: AssignmentId::from_uuid(row.id),
                incident_id: plan.id,
                unit_id: offer.unit_id,
                unit_call_sign: offer.call_sign.clone(),
                unit_kind: offer.kind,
                status: AssignmentStatus::Offered,
                distance_m: offer.distance_m,
                eta_s: offer.road.map_or(0.0, |leg| leg.eta_s),
                road_distance_m: offer.road.map_or(0.0, |leg| leg.distance_m),
                straight_line_eta_s: offer.straight_line_eta_s.unwrap_or(0.0),
                offered_at: row.offered_at,
                updated_at: row.updated_at,
                offer_deadline: row.offer_deadline,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    if let Some(first) = assignments.first() {
        record_milestone(
            "ngalam112_call_to_first_offer_seconds",
            new.category().as_str(),
            new.priority().rank(),
            (first.offered_at - incident.created_at)
                .to_std()
                .map_or(0.0, |elapsed| elapsed.as_secs_f64()),
        );
    }
    Ok(IncidentRecord {
        id: plan.id,
        status: plan.state.status,
        category: new.category(),
        priority: new.priority(),
        caller_phone: new.caller_phone().to_owned(),
        caller_name: new.caller_name().to_owned(),
        location: new.location(),
        address: new.address().to_owned(),
        description: new.description().to_owned(),
        required_kinds: new.required_kinds().to_vec(),
        pending_kinds: plan.state.pending_kinds.clone(),
        hold: new.hold(),
        assignments,
        created_at: incident.created_at,
        updated_at: incident.updated_at,
        resolved_at: None,
        resolution: String::new(),
        caller_count: 1,
        duplicate_of: None,
        device_location: None,
        location_disagrees: false,
        caller_id_withheld: new.caller_id_withheld(),
        caller_flagged: incident.caller_flagged,
        resolution_code: None,
        other_callers: Vec::new(),
        callers_redacted_at: None,
        referrals: Vec::new(),
    })
}
