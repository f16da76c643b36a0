//! The group's statement: claims the units the allocation chose and stores
//! every call it can serve completely, in one statement and one commit;
//! and the incidents it stored, as records. It never stores a call only
//! partly.

use chrono::{DateTime, Utc};
use ngalam112_core::incident::{AssignmentFact, derive_state};
use ngalam112_core::ranking::Ranked;
use ngalam112_core::{AssignmentId, AssignmentStatus, IncidentStatus, UnitId, UnitKind};
use sqlx::PgConnection;
use uuid::Uuid;

use super::GroupCall;
use crate::dispatch::{LockedIncident, offered_detail};
use crate::incidents::created_detail;
use crate::{AssignmentRecord, IncidentRecord, KEPT_FIX_MINUTES, StoreConfig, StoreError};

/// What the statement takes: one entry per call (`calls`) and one per
/// offer (`offers`), as parallel arrays.
#[derive(Default)]
pub(super) struct Group {
    ids: Vec<Uuid>,
    categories: Vec<&'static str>,
    priorities: Vec<i16>,
    phones: Vec<String>,
    names: Vec<String>,
    lats: Vec<f64>,
    lons: Vec<f64>,
    addresses: Vec<String>,
    descriptions: Vec<String>,
    kinds: Vec<String>,
    pending: Vec<String>,
    withheld: Vec<bool>,
    request_ids: Vec<Option<String>>,
    statuses: Vec<&'static str>,
    created_details: Vec<String>,
    status_notes: Vec<Option<String>>,
    last_seqs: Vec<i32>,
    actors: Vec<String>,
    kind_counts: Vec<i32>,
    offer_calls: Vec<i64>,
    offer_kinds: Vec<&'static str>,
    offer_assignments: Vec<Uuid>,
    offer_units: Vec<Uuid>,
    offer_distances: Vec<f64>,
    offer_details: Vec<String>,
    offer_seqs: Vec<i32>,
}

impl Group {
    /// Adds a call and its units, one per required kind in order.
    pub(super) fn push(&mut self, call: &GroupCall, units: &[(Ranked, String)]) {
        let new = &call.new;
        let offered: Vec<AssignmentFact> = new
            .required_kinds()
            .iter()
            .map(|kind| AssignmentFact {
                kind: *kind,
                status: AssignmentStatus::Offered,
            })
            .collect();
        // Rule 6 from the core, for the incident as the statement writes it.
        let state = derive_state(new.required_kinds(), &offered, false);
        let status_note = (state.status != IncidentStatus::Pending)
            .then(|| format!("{} -> {}", IncidentStatus::Pending, state.status));
        let joined = |kinds: &[UnitKind]| {
            kinds
                .iter()
                .map(|kind| kind.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        let place = self.ids.len() as i64 + 1;
        self.ids.push(call.id.0);
        self.categories.push(new.category().as_str());
        self.priorities.push(new.priority().rank());
        self.phones.push(new.caller_phone().to_owned());
        self.names.push(new.caller_name().to_owned());
        self.lats.push(new.location().lat());
        self.lons.push(new.location().lon());
        self.addresses.push(new.address().to_owned());
        self.descriptions.push(new.description().to_owned());
        self.kinds.push(joined(new.required_kinds()));
        self.pending.push(joined(&state.pending_kinds));
        self.withheld.push(new.caller_id_withheld());
        self.request_ids.push(new.request_id().map(str::to_owned));
        self.statuses.push(state.status.as_str());
        self.created_details.push(created_detail(new));
        self.last_seqs
            .push(1 + units.len() as i32 + i32::from(status_note.is_some()));
        self.status_notes.push(status_note);
        self.actors.push(call.actor.0.clone());
        self.kind_counts.push(units.len() as i32);
        for (seq, (kind, (ranked, call_sign))) in new.required_kinds().iter().zip(units).enumerate()
        {
            self.offer_calls.push(place);
            self.offer_kinds.push(kind.as_str());
            self.offer_assignments.push(AssignmentId::new_random().0);
            self.offer_units.push(ranked.unit_id.0);
            self.offer_distances.push(ranked.distance_m);
            self.offer_details
                .push(offered_detail(call_sign, *kind, ranked.distance_m));
            self.offer_seqs.push(2 + seq as i32);
        }
    }
}

/// A row of the statement: one per offer made.
pub(super) struct OfferRow {
    pub(super) call: i64,
    created_at: DateTime<Utc>,
    incident_updated_at: DateTime<Utc>,
    caller_flagged: bool,
    assignment_id: Uuid,
    unit_id: Uuid,
    call_sign: String,
    unit_kind: String,
    distance_m: f64,
    offered_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    offer_deadline: Option<DateTime<Utc>>,
}

/// The statement. A call is stored only if nobody waits for its kinds, no
/// kept handset fix waits for its number, every one of its units could be
/// claimed and its request id (if any) is new; for the other calls it only
/// took row locks, gone at its end.
pub(super) async fn store_group(
    connection: &mut PgConnection,
    config: &StoreConfig,
    group: &Group,
    kinds: &[UnitKind],
) -> Result<Vec<OfferRow>, StoreError> {
    let kinds: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
    let rows = sqlx::query_as!(
        OfferRow,
        r#"WITH
        calls AS MATERIALIZED (
          SELECT * FROM unnest($1::uuid[], $2::text[], $3::int2[], $4::text[], $5::text[],
              $6::float8[], $7::float8[], $8::text[], $9::text[], $10::text[], $11::text[],
              $12::bool[], $13::text[], $14::text[], $15::text[], $16::text[], $17::int4[],
              $18::text[], $19::int4[])
            WITH ORDINALITY AS c(id, category, priority, phone, name, lat, lon, address,
              description, kinds, pending, withheld, request_id, status, created_detail,
              status_note, last_seq, actor, kind_count, call)
        ),
        waiting AS MATERIALIZED (
          SELECT k.kind FROM unnest($20::text[]) AS k(kind)
          WHERE (SELECT w.id FROM incidents w
                 WHERE cardinality(w.pending_kinds) > 0
                   AND w.status NOT IN ('resolved', 'cancelled')
                   AND k.kind = ANY (w.pending_kinds) AND NOT w.hold
                 ORDER BY w.priority, w.created_at LIMIT 1) IS NOT NULL
        ),
        picked AS MATERIALIZED (
          SELECT o.call, o.kind, o.assignment_id, o.unit_id, u.call_sign, o.distance_m,
            o.detail, o.seq
          FROM unnest($21::int8[], $22::text[], $23::uuid[], $24::uuid[], $25::float8[],
              $26::text[], $27::int4[])
            AS o(call, kind, assignment_id, unit_id, distance_m, detail, seq)
          JOIN units u ON u.id = o.unit_id
          WHERE u.status = 'available' AND o.kind NOT IN (SELECT kind FROM waiting)
          FOR NO KEY UPDATE OF u SKIP LOCKED
        ),
        ready AS MATERIALIZED (
          SELECT c.* FROM calls c
          WHERE (SELECT count(*) FROM picked WHERE picked.call = c.call) = c.kind_count
            AND NOT EXISTS (
              SELECT 1 FROM device_fixes f
              WHERE c.phone <> '' AND f.caller_phone = c.phone
                AND f.received_at >= now() - make_interval(mins => $28))
        ),
        requests AS (
          INSERT INTO intake_requests (request_id, incident_id)
          SELECT request_id, id FROM ready WHERE request_id IS NOT NULL
          ON CONFLICT (request_id) DO NOTHING
          RETURNING request_id
        ),
        stored AS MATERIALIZED (
          SELECT ready.* FROM ready
          WHERE ready.request_id IS NULL
             OR ready.request_id IN (SELECT request_id FROM requests)
        ),
        incident AS (
          INSERT INTO incidents (id, status, category, priority, caller_phone, caller_name,
            lat, lon, address, description, required_kinds, pending_kinds, caller_id_withheld,
            caller_flagged, last_timeline_seq)
          SELECT id, status, category, priority, phone, name, lat, lon, address, description,
            string_to_array(kinds, ','), string_to_array(pending, ','), withheld,
            EXISTS (SELECT 1 FROM flagged_callers f WHERE f.caller_phone = stored.phone),
            last_seq
          FROM stored
          RETURNING id, created_at, updated_at, caller_flagged
        ),
        claimed AS (
          UPDATE units SET status = 'assigned', current_assignment_id = picked.assignment_id,
            updated_at = now()
          FROM picked JOIN stored ON stored.call = picked.call
          WHERE units.id = picked.unit_id
          RETURNING units.id, pg_notify('ngalam112_offers', units.id::text)
        ),
        offered AS (
          INSERT INTO assignments (id, incident_id, unit_id, unit_kind, status, distance_m,
            offer_deadline)
          SELECT picked.assignment_id, stored.id, picked.unit_id, picked.kind, 'offered',
            picked.distance_m, clock_timestamp() + make_interval(secs => $29)
          FROM picked JOIN stored ON stored.call = picked.call
          RETURNING id, offered_at, updated_at, offer_deadline
        ),
        events AS (
          INSERT INTO timeline_events
            (incident_id, incident_seq, kind, actor, detail, assignment_id, unit_id)
          SELECT e.incident_id, e.seq, e.kind, e.actor, e.detail, e.assignment_id, e.unit_id
          FROM (
            SELECT stored.id AS incident_id, 1 AS seq, 'incident_created'::text AS kind,
              stored.actor, stored.created_detail AS detail, NULL::uuid AS assignment_id,
              NULL::uuid AS unit_id
            FROM stored
            UNION ALL
            SELECT stored.id, picked.seq, 'assignment_offered', stored.actor, picked.detail,
              picked.assignment_id, picked.unit_id
            FROM picked JOIN stored ON stored.call = picked.call
            UNION ALL
            SELECT stored.id, stored.last_seq, 'status_changed', stored.actor,
              stored.status_note, NULL, NULL
            FROM stored WHERE stored.status_note IS NOT NULL
          ) e
          ORDER BY e.incident_id, e.seq
          RETURNING pg_notify('ngalam112_incidents', incident_id::text || ' ' || kind)
        )
        SELECT stored.call AS "call!", incident.created_at AS "created_at!",
          incident.updated_at AS "incident_updated_at!",
          incident.caller_flagged AS "caller_flagged!",
          picked.assignment_id AS "assignment_id!", picked.unit_id AS "unit_id!",
          picked.call_sign AS "call_sign!", picked.kind AS "unit_kind!",
          picked.distance_m AS "distance_m!", offered.offered_at AS "offered_at!",
          offered.updated_at AS "updated_at!", offered.offer_deadline
        FROM stored
          JOIN incident ON incident.id = stored.id
          JOIN picked ON picked.call = stored.call
          JOIN offered ON offered.id = picked.assignment_id
        -- Every offer's unit was updated, or the statement fails (division
        -- by zero) rather than commit an offer whose unit is not ASSIGNED.
        WHERE 1 / ((SELECT count(*) FROM claimed)
                   = (SELECT count(*) FROM picked JOIN stored ON stored.call = picked.call)
                   AND (SELECT count(*) FROM events) > 0)::int = 1
        ORDER BY stored.call, picked.seq"#,
        &group.ids,
        &group.categories as &[&str],
        &group.priorities,
        &group.phones,
        &group.names,
        &group.lats,
        &group.lons,
        &group.addresses,
        &group.descriptions,
        &group.kinds,
        &group.pending,
        &group.withheld,
        &group.request_ids as &[Option<String>],
        &group.statuses as &[&str],
        &group.created_details,
        &group.status_notes as &[Option<String>],
        &group.last_seqs,
        &group.actors,
        &group.kind_counts,
        &kinds as &[&str],
        &group.offer_calls,
        &group.offer_kinds as &[&str],
        &group.offer_assignments,
        &group.offer_units,
        &group.offer_distances,
        &group.offer_details,
        &group.offer_seqs,
        KEPT_FIX_MINUTES,
        config.offer_timeout.as_secs_f64(),
    )
    .fetch_all(&mut *connection)
    .await?;
    Ok(rows)
}

/// The incident the statement stored for `call`, from its offer rows
/// (`None`: it stored nothing for the call).
pub(super) fn record(
    call: &GroupCall,
    rows: &[&OfferRow],
) -> Result<Option<IncidentRecord>, StoreError> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let new = &call.new;
    LockedIncident {
        category: new.category().as_str().to_owned(),
        priority: new.priority().rank(),
        seconds_since_call: (first.offered_at - first.created_at)
            .to_std()
            .map_or(0.0, |elapsed| elapsed.as_secs_f64()),
        ever_on_scene: false,
        never_offered: true,
    }
    .record("ngalam112_call_to_first_offer_seconds");
    let assignments = rows
        .iter()
        .map(|row| {
            Ok(AssignmentRecord {
                id: AssignmentId(row.assignment_id),
                incident_id: call.id,
                unit_id: UnitId(row.unit_id),
                unit_call_sign: row.call_sign.clone(),
                unit_kind: crate::records::stored(
                    UnitKind::from_stored,
                    &row.unit_kind,
                    "unit kind",
                )?,
                status: AssignmentStatus::Offered,
                distance_m: row.distance_m,
                offered_at: row.offered_at,
                updated_at: row.updated_at,
                offer_deadline: row.offer_deadline,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let offered: Vec<AssignmentFact> = assignments
        .iter()
        .map(|assignment| AssignmentFact {
            kind: assignment.unit_kind,
            status: assignment.status,
        })
        .collect();
    let state = derive_state(new.required_kinds(), &offered, false);
    Ok(Some(IncidentRecord {
        id: call.id,
        status: state.status,
        category: new.category(),
        priority: new.priority(),
        caller_phone: new.caller_phone().to_owned(),
        caller_name: new.caller_name().to_owned(),
        location: new.location(),
        address: new.address().to_owned(),
        description: new.description().to_owned(),
        required_kinds: new.required_kinds().to_vec(),
        pending_kinds: state.pending_kinds,
        hold: false,
        assignments,
        created_at: first.created_at,
        updated_at: first.incident_updated_at,
        resolved_at: None,
        resolution: String::new(),
        caller_count: 1,
        duplicate_of: None,
        device_location: None,
        location_disagrees: false,
        caller_id_withheld: new.caller_id_withheld(),
        caller_flagged: first.caller_flagged,
        resolution_code: None,
        other_callers: Vec::new(),
        callers_redacted_at: None,
        referrals: Vec::new(),
    }))
}
