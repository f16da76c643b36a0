//! Intake in groups: new calls that can be served at once are stored and
//! dispatched together, many calls per statement and per commit, instead
//! of a transaction of a dozen round trips each.
//!
//! Calls arriving together queue for one worker per process. It takes
//! everything queued (up to `MAX_GROUP`), reads the nearest available
//! units of each kind for all of them (one statement per kind), ranks them
//! in the core and hands each call, most urgent and then oldest first
//! (rule 5), its nearest unit of each kind that no call before it in the
//! group got. One statement then claims those units and, for each call
//! whose every unit it could claim, stores the incident, its offers and
//! its timeline, and commits once for the group. A call it cannot serve
//! that way (no unit free, calls already waiting for its kinds, a kept
//! handset fix to attach, a unit claimed elsewhere in between, a request
//! id stored before) is not written here: it goes the full way
//! (`Store::create_incident`'s own transaction).
//!
//! Why this is as safe as the full way (docs/ARCHITECTURE.md, "Intake in
//! groups"):
//! - A unit is claimed by locking its row (`FOR NO KEY UPDATE SKIP LOCKED`)
//!   and re-checking that it is AVAILABLE, as `best_unit_for` does; the
//!   calls of a group never share a unit; the `one_open_assignment_per_unit`
//!   index stays the last line of defence.
//! - A call is written only when every required kind got a unit, so it
//!   never leaves a waiting need behind, and the group frees no unit: it
//!   cannot lose a wake-up, as there is nothing for another transaction to
//!   miss.
//! - It does not overtake: a call steps aside when any need for one of its
//!   kinds is waiting, and the queue (rule 5) decides.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ngalam112_core::incident::{AssignmentFact, derive_state};
use ngalam112_core::ranking::{
    Candidate, FRESH_FIRST, GROUP_CANDIDATES, Ranked, Waiting, dispatch_order,
    nearer_than_unfetched, queue_order,
};
use ngalam112_core::{
    AssignmentId, AssignmentStatus, GeoPoint, IncidentId, IncidentStatus, NewIncident, UnitId,
    UnitKind,
};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::batch::Batcher;
use crate::dispatch::{LockedIncident, offered_detail};
use crate::incidents::created_detail;
use crate::{
    Actor, AssignmentRecord, IncidentRecord, KEPT_FIX_MINUTES, Store, StoreConfig, StoreError,
};

/// The most calls one statement takes.
const MAX_GROUP: usize = 64;

/// Groups taken at once by one process: one reads while the other
/// commits. Measured (full `intake` runs, 16 callers): 1 lane 2,200–2,250
/// calls/s, 2 lanes 2,460–2,500; 4 lanes did worse (lanes claim each
/// other's units and send calls the full way).
const GROUP_LANES: usize = 2;

/// The worker that takes calls in groups (one per process, started on
/// first use).
pub(crate) type IntakeGroups = Arc<std::sync::OnceLock<Batcher<GroupCall, Option<IncidentRecord>>>>;

/// A call queued for the next group.
pub(crate) struct GroupCall {
    new: NewIncident,
    actor: Actor,
    /// Its id if the group stores it; also its place in the queue order.
    id: IncidentId,
    called_at: DateTime<Utc>,
}

impl Store {
    /// Stores and dispatches `new` with the calls arriving with it, when it
    /// can be served at once (see the module's comment). `None`: nothing
    /// was written for it.
    pub(crate) async fn create_in_group(
        &self,
        new: &NewIncident,
        actor: &Actor,
    ) -> Result<Option<IncidentRecord>, StoreError> {
        if new.duplicate_of().is_some() || new.hold() || new.required_kinds().is_empty() {
            return Ok(None);
        }
        let groups = self.intake_groups.get_or_init(|| {
            // The worker holds its pool, not the store: it ends when the
            // last handle on this store is gone.
            let (pool, config) = (group_pool(&self.pool), self.config.clone());
            Batcher::start(GROUP_LANES, MAX_GROUP, move |calls: Vec<GroupCall>| {
                let (pool, config) = (pool.clone(), config.clone());
                async move { Ok(take_group(&pool, &config, calls).await) }
            })
        });
        let call = GroupCall {
            new: new.clone(),
            actor: actor.clone(),
            id: IncidentId::new_random(),
            called_at: Utc::now(),
        };
        let lane = u64::from(call.id.0.as_bytes()[0]);
        groups.submit(lane, call).await
    }
}

/// The group worker's own connections. Its two statements are planned
/// once per connection (`plan_cache_mode = force_generic_plan`: planning
/// the write statement at every group cost a fifth of the database's
/// time) and never choose a sequential scan (`enable_seqscan = off`):
/// every table they touch is reached by an index, but a plan made while a
/// new database's tables were nearly empty would scan them whole as they
/// grow, until PostgreSQL next analyzes them (a full benchmark run lost a
/// quarter of its throughput that way).
fn group_pool(pool: &PgPool) -> PgPool {
    let options = (*pool.connect_options()).clone().options([
        ("plan_cache_mode", "force_generic_plan"),
        ("enable_seqscan", "off"),
    ]);
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(GROUP_LANES as u32)
        .acquire_timeout(pool.options().get_acquire_timeout())
        .connect_lazy_with(options)
}

/// Takes a group; answers each call with its incident, or `None` to send
/// it the full way. A failed statement sends every call the full way.
async fn take_group(
    pool: &PgPool,
    config: &StoreConfig,
    calls: Vec<GroupCall>,
) -> Vec<Result<Option<IncidentRecord>, StoreError>> {
    let count = calls.len();
    match try_group(pool, config, &calls).await {
        Ok(mut stored) => calls
            .iter()
            .map(|call| Ok(stored.remove(&call.id)))
            .collect(),
        Err(error) => {
            tracing::warn!(%error, calls = count, "intake group failed; each call goes the full way");
            (0..count).map(|_| Ok(None)).collect()
        }
    }
}

/// A unit as the group's read finds it for one call.
struct Nearby {
    call: i64,
    id: Uuid,
    call_sign: String,
    lat: f64,
    lon: f64,
    available_since: DateTime<Utc>,
    location_fresh: bool,
}

/// For each of `points` (lon, lat), the nearest available units of a kind
/// by the GiST index's planar order, for the exact ranking in the core;
/// `call` is the point's place in `points`, from 1. `$3`: stale-after
/// seconds; `$4`: fresh positions only; `$5`: how many per point.
macro_rules! nearest_available_for_each {
    ($kind:literal, $($arg:expr),* $(,)?) => {
        sqlx::query_as!(
            Nearby,
            r#"SELECT p.call AS "call!", u.id AS "id!", u.call_sign AS "call_sign!",
                 u.lat AS "lat!", u.lon AS "lon!", u.available_since AS "available_since!",
                 u.location_fresh AS "location_fresh!"
               FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS p(lon, lat, call)
               CROSS JOIN LATERAL (
                 SELECT id, call_sign, lat, lon, available_since,
                   location_updated_at >= now() - make_interval(secs => $3) AS location_fresh
                 FROM units WHERE status = 'available' AND kind = '"#
                + $kind
                + r#"' AND (NOT $4 OR location_updated_at >= now() - make_interval(secs => $3))
                 ORDER BY point(units.lon, units.lat) <-> point(p.lon, p.lat) LIMIT $5) u"#,
            $($arg),*
        )
    };
}

/// What the group's read found for one call and kind.
#[derive(Clone, Default)]
struct Fetched {
    /// In dispatch order (the core's), with call signs.
    order: Vec<(Ranked, String)>,
    candidates: Vec<Candidate>,
    /// Fewer than asked for: every available unit of the kind is here.
    complete: bool,
}

impl Fetched {
    /// The first unit in dispatch order not in `taken`, if it is surely
    /// the one the full search would choose (`nearer_than_unfetched`).
    fn first_free(
        &self,
        incident: &GeoPoint,
        taken: &HashSet<UnitId>,
    ) -> Option<&(Ranked, String)> {
        let unit = self
            .order
            .iter()
            .find(|(ranked, _)| !taken.contains(&ranked.unit_id))?;
        let location = self
            .candidates
            .iter()
            .find(|candidate| candidate.unit_id == unit.0.unit_id)?
            .location;
        (self.complete || nearer_than_unfetched(incident, &location, &self.candidates))
            .then_some(unit)
    }
}

/// The nearest available units of `kind` for each point: those with a
/// fresh position, else (for a point with none) any.
async fn units_for_each(
    connection: &mut PgConnection,
    config: &StoreConfig,
    kind: UnitKind,
    points: &[GeoPoint],
) -> Result<Vec<Fetched>, StoreError> {
    let mut found: Vec<Fetched> = vec![Fetched::default(); points.len()];
    let stale_after_s = config.stale_location_after.as_secs_f64();
    for fresh_only in FRESH_FIRST {
        let wanted: Vec<usize> = (0..points.len())
            .filter(|index| found[*index].order.is_empty())
            .collect();
        if wanted.is_empty() {
            break;
        }
        let lons: Vec<f64> = wanted.iter().map(|index| points[*index].lon()).collect();
        let lats: Vec<f64> = wanted.iter().map(|index| points[*index].lat()).collect();
        let connection = &mut *connection;
        let args = (&lons, &lats, stale_after_s, fresh_only, GROUP_CANDIDATES);
        let rows = match kind {
            UnitKind::Ambulance => {
                nearest_available_for_each!("ambulance", args.0, args.1, args.2, args.3, args.4)
                    .fetch_all(connection)
                    .await
            }
            UnitKind::FireEngine => {
                nearest_available_for_each!("fire_engine", args.0, args.1, args.2, args.3, args.4)
                    .fetch_all(connection)
                    .await
            }
            UnitKind::Police => {
                nearest_available_for_each!("police", args.0, args.1, args.2, args.3, args.4)
                    .fetch_all(connection)
                    .await
            }
            UnitKind::Rescue => {
                nearest_available_for_each!("rescue", args.0, args.1, args.2, args.3, args.4)
                    .fetch_all(connection)
                    .await
            }
        }?;
        for (place, index) in wanted.iter().enumerate() {
            let nearby: Vec<&Nearby> = rows
                .iter()
                .filter(|row| row.call == place as i64 + 1)
                .collect();
            let candidates = nearby
                .iter()
                .map(|row| {
                    Ok(Candidate {
                        unit_id: UnitId(row.id),
                        location: GeoPoint::new("location", row.lat, row.lon)
                            .map_err(|error| StoreError::Internal(error.to_string()))?,
                        available_since: row.available_since,
                        location_fresh: row.location_fresh,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let order = dispatch_order(&points[*index], &candidates)
                .into_iter()
                .filter_map(|ranked| {
                    let row = nearby.iter().find(|row| row.id == ranked.unit_id.0)?;
                    Some((ranked, row.call_sign.clone()))
                })
                .collect();
            found[*index] = Fetched {
                order,
                complete: (candidates.len() as i64) < GROUP_CANDIDATES,
                candidates,
            };
        }
    }
    Ok(found)
}

/// What the statement takes: one entry per call (`calls`) and one per
/// offer (`offers`), as parallel arrays.
#[derive(Default)]
struct Group {
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
    fn push(&mut self, call: &GroupCall, units: &[(Ranked, String)]) {
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
struct OfferRow {
    call: i64,
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

/// The group's reads, the allocation of units and the statement; returns
/// the incidents it stored, by id.
async fn try_group(
    pool: &PgPool,
    config: &StoreConfig,
    calls: &[GroupCall],
) -> Result<std::collections::HashMap<IncidentId, IncidentRecord>, StoreError> {
    // Most urgent, then oldest first (rule 5): who gets a contested unit.
    let mut order: Vec<&GroupCall> = Vec::with_capacity(calls.len());
    let mut request_ids = HashSet::new();
    for call in calls {
        // A request id twice in one group: the second waits for the
        // first's commit on the full way, and gets its incident.
        if call
            .new
            .request_id()
            .is_none_or(|request_id| request_ids.insert(request_id))
        {
            order.push(call);
        }
    }
    let waiting = |call: &GroupCall| Waiting {
        priority: call.new.priority(),
        called_at: call.called_at,
        incident_id: call.id,
    };
    order.sort_by(|a, b| queue_order(&waiting(a), &waiting(b)));

    let mut connection = pool.acquire().await?;
    let mut kinds: Vec<UnitKind> = Vec::new();
    for call in &order {
        for kind in call.new.required_kinds() {
            if !kinds.contains(kind) {
                kinds.push(*kind);
            }
        }
    }
    // Per kind: for each call that needs it, its units in dispatch order.
    let mut orders = Vec::new();
    for kind in &kinds {
        let needing: Vec<&GroupCall> = order
            .iter()
            .copied()
            .filter(|call| call.new.required_kinds().contains(kind))
            .collect();
        let points: Vec<GeoPoint> = needing.iter().map(|call| call.new.location()).collect();
        let ranked = units_for_each(&mut connection, config, *kind, &points).await?;
        for (call, units) in needing.iter().zip(ranked) {
            orders.push((call.id, *kind, units));
        }
    }
    // Each call its nearest unit of each kind that no call before it got.
    let mut taken: HashSet<UnitId> = HashSet::new();
    let mut group = Group::default();
    let mut grouped = Vec::new();
    for call in &order {
        let mut units = Vec::new();
        for kind in call.new.required_kinds() {
            let location = call.new.location();
            let first_free = orders
                .iter()
                .find(|(id, of_kind, _)| *id == call.id && of_kind == kind)
                .and_then(|(_, _, fetched)| fetched.first_free(&location, &taken));
            match first_free {
                Some(unit) => units.push(unit.clone()),
                None => break,
            }
        }
        if units.len() != call.new.required_kinds().len() {
            continue;
        }
        taken.extend(units.iter().map(|(ranked, _)| ranked.unit_id));
        group.push(call, &units);
        grouped.push(*call);
    }
    if grouped.is_empty() {
        return Ok(Default::default());
    }
    metrics::histogram!("ngalam112_intake_group_calls").record(grouped.len() as f64);
    let rows = store_group(&mut connection, config, &group, &kinds).await?;
    let mut stored = std::collections::HashMap::new();
    for (place, call) in grouped.iter().enumerate() {
        let rows: Vec<&OfferRow> = rows
            .iter()
            .filter(|row| row.call == place as i64 + 1)
            .collect();
        if let Some(record) = record(call, &rows)? {
            stored.insert(call.id, record);
        }
    }
    Ok(stored)
}

/// The statement. A call is stored only if nobody waits for its kinds, no
/// kept handset fix waits for its number, every one of its units could be
/// claimed and its request id (if any) is new; for the other calls it only
/// took row locks, gone at its end.
async fn store_group(
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
fn record(call: &GroupCall, rows: &[&OfferRow]) -> Result<Option<IncidentRecord>, StoreError> {
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
