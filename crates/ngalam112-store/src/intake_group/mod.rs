//! Intake in groups: every new call (all but a further caller of an
//! existing incident) is planned and written together with the calls
//! arriving with it, many calls per statement and per commit: a group of
//! 64 in a surge, a group of one on a quiet night, by the same code.
//!
//! Calls arriving together queue for a few workers per process. A worker
//! takes everything queued (up to `MAX_GROUP`) and:
//! 1. answers a call whose request id is stored already with that incident;
//! 2. reads, for each kind nobody waits for, the nearest available units of
//!    that kind for all its calls (one statement per kind), ranked in the
//!    core;
//! 3. hands each call, most urgent and then oldest first (rule 5), its
//!    nearest unit of each kind that no call before it got (`allocate`);
//! 4. in one dispatch transaction without kind locks (`unit_of_work`,
//!    `Claims`): claims those units' rows (`SKIP LOCKED`), has the core
//!    plan each call with the units it could claim (`CallPlan`), writes
//!    the plans (`write`), attaches kept handset fixes, commits, and then
//!    settles whatever the calls still wait for, each kind under its lock
//!    held shared (the second pass of "Lost wake-ups").
//!
//! Why this is safe (docs/ARCHITECTURE.md, "Intake in groups"):
//! - A unit is claimed by locking its row and re-checking that it is
//!   AVAILABLE; the calls of a group never share a unit; the
//!   `one_open_assignment_per_unit` index stays the last line of defence.
//! - It does not overtake: for a kind somebody already waits for, the
//!   group's calls get no unit here; they join the queue and the second
//!   pass serves the queue in its order.
//! - A call that gets no unit of a kind (none free, none surely the
//!   nearest, its unit claimed elsewhere in between) is stored waiting for
//!   it, and the second pass settles the kind after the commit: a unit
//!   freed meanwhile is found (the freeing transaction holds the kind's
//!   lock exclusively until it commits).
//! - Its answers are never in doubt: the transaction's id is noted first,
//!   and if the commit's answer is lost the worker finds out which calls
//!   were stored (`outcome`) before it answers any: a stored call gets its
//!   incident, one that was not is submitted again.
//! - A statement that fails stores nothing; each of its calls is then
//!   written alone, so one call's error is that call's alone.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ngalam112_core::plan::{CallPlan, PlannedOffer};
use ngalam112_core::ranking::{Ranked, Waiting, queue_order};
use ngalam112_core::{AssignmentId, GeoPoint, IncidentId, NewIncident, UnitId, UnitKind};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

mod read;
mod write;

use crate::batch::Batcher;
use crate::records::decode;
use crate::unit_of_work::{Committed, Dispatcher, SecondPass};
use crate::{Actor, IncidentRecord, Store, StoreError};
use read::{Fetched, units_for_each};
use write::{record, write_calls};

/// The most calls one group takes.
const MAX_GROUP: usize = 64;

/// How often a call is submitted to a group before it is answered
/// UNAVAILABLE "not stored" (a group whose commit was lost and found not
/// to have happened, a request id twice in one group).
pub(crate) const GROUP_ATTEMPTS: usize = 3;

/// Groups taken at once by one process: one reads while the other
/// commits. Measured (full `intake` runs, 16 callers): 1 lane 2,200–2,250
/// calls/s, 2 lanes 2,460–2,500; 4 lanes did worse (lanes claim each
/// other's units).
const GROUP_LANES: usize = 2;

/// The worker that takes calls in groups (one per process, started on
/// first use).
pub(crate) type IntakeGroups = Arc<std::sync::OnceLock<Batcher<GroupCall, GroupAnswer>>>;

/// What the group did with a call.
pub(crate) enum GroupAnswer {
    /// Stored (and dispatched as far as units allow). `second_pass`: it
    /// still waits for some kind, and the pass after the commit that may
    /// serve it is under way.
    Stored {
        incident: Box<IncidentRecord>,
        second_pass: Option<SecondPass>,
    },
    /// Its request id was stored before, for this incident.
    Seen(IncidentId),
    /// Not stored: submit it again.
    Again,
}

/// A call queued for the next group.
pub(crate) struct GroupCall {
    new: NewIncident,
    actor: Actor,
    /// Its id if the group stores it; also its place in the queue order.
    id: IncidentId,
    called_at: DateTime<Utc>,
}

/// A call's unit of one kind, as the allocation chose it.
type Allotted = (UnitKind, Ranked, String);

impl Store {
    /// Plans and writes `new` with the calls arriving with it (see the
    /// module's comment).
    pub(crate) async fn create_in_group(
        &self,
        new: &NewIncident,
        actor: &Actor,
    ) -> Result<GroupAnswer, StoreError> {
        let groups = self.intake_groups.get_or_init(|| {
            // The worker holds pools, not the store: it ends when the last
            // handle on this store is gone.
            let (pool, dispatcher) = (group_pool(&self.pool), self.dispatcher());
            Batcher::start(GROUP_LANES, MAX_GROUP, move |calls: Vec<GroupCall>| {
                let (pool, dispatcher) = (pool.clone(), dispatcher.clone());
                async move { Ok(take_group(&pool, &dispatcher, calls).await) }
            })
        });
        let call = GroupCall {
            new: new.clone(),
            actor: actor.clone(),
            id: IncidentId::new_random(),
            called_at: Utc::now(),
        };
        let lane = u64::from(call.id.uuid().as_bytes()[0]);
        groups.submit(lane, call).await
    }
}

/// The group worker's own connections. Its statements are planned once
/// per connection (`plan_cache_mode = force_generic_plan`: planning the
/// write at every group cost a fifth of the database's time) and never
/// choose a sequential scan (`enable_seqscan = off`): every table they
/// touch is reached by an index, but a plan made while a new database's
/// tables were nearly empty would scan them whole as they grow, until
/// PostgreSQL next analyzes them (a full benchmark run lost a quarter of
/// its throughput that way).
///
/// The settings are sent after connecting (not as startup options), so that
/// a session-mode PgBouncer in front passes them on.
fn group_pool(pool: &PgPool) -> PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(GROUP_LANES as u32)
        .acquire_timeout(pool.options().get_acquire_timeout())
        .after_connect(|connection, _| {
            Box::pin(async move {
                sqlx::raw_sql("SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off")
                    .execute(connection)
                    .await
                    .map(|_| ())
            })
        })
        .connect_lazy_with((*pool.connect_options()).clone())
}

/// Takes a group and answers each call. A group whose statements fail
/// (nothing stored) is written again call by call, so that one call's
/// error is that call's alone.
async fn take_group(
    pool: &PgPool,
    dispatcher: &Dispatcher,
    calls: Vec<GroupCall>,
) -> Vec<Result<GroupAnswer, StoreError>> {
    let refs: Vec<&GroupCall> = calls.iter().collect();
    match try_group(pool, dispatcher, &refs).await {
        Ok(mut answers) => calls
            .iter()
            .map(|call| answers.remove(&call.id).unwrap_or(Ok(GroupAnswer::Again)))
            .collect(),
        Err(error) if calls.len() > 1 => {
            tracing::warn!(%error, calls = calls.len(), "intake group failed; each call alone");
            let mut answers = Vec::with_capacity(calls.len());
            for call in &calls {
                answers.push(match try_group(pool, dispatcher, &[call]).await {
                    Ok(mut answer) => answer.remove(&call.id).unwrap_or(Ok(GroupAnswer::Again)),
                    Err(error) => alone_failed(error),
                });
            }
            answers
        }
        Err(error) => vec![alone_failed(error)],
    }
}

/// A call written alone failed: nothing was stored. A conflict with
/// another transaction is tried again; any other error is the call's.
fn alone_failed(error: StoreError) -> Result<GroupAnswer, StoreError> {
    match error {
        StoreError::Conflict(_) => Ok(GroupAnswer::Again),
        error => Err(error),
    }
}

/// Each call of a group, most urgent and then oldest first (rule 5), its
/// nearest unit of each kind that no call before it got, when that is
/// surely the unit the full search would choose; a kind it gets no unit
/// of here (none fetched: somebody waits for the kind, or none is free)
/// it waits for.
fn allocate<'a>(
    calls: &[&'a GroupCall],
    fetched: &[(IncidentId, UnitKind, Fetched)],
) -> Vec<(&'a GroupCall, Vec<Allotted>)> {
    let waiting = |call: &GroupCall| Waiting {
        priority: call.new.priority(),
        called_at: call.called_at,
        incident_id: call.id,
    };
    let mut order = calls.to_vec();
    order.sort_by(|a, b| queue_order(&waiting(a), &waiting(b)));
    let mut taken: HashSet<UnitId> = HashSet::new();
    order
        .into_iter()
        .map(|call| {
            let location = call.new.location();
            let units: Vec<Allotted> = call
                .new
                .required_kinds()
                .iter()
                .filter_map(|kind| {
                    let (ranked, call_sign) = fetched
                        .iter()
                        .find(|(id, of_kind, _)| *id == call.id && of_kind == kind)
                        .and_then(|(_, _, fetched)| fetched.first_free(&location, &taken))?;
                    taken.insert(ranked.unit_id);
                    Some((*kind, ranked.clone(), call_sign.clone()))
                })
                .collect();
            (call, units)
        })
        .collect()
}

/// What a group reads before it plans, in one statement.
struct Before {
    /// Request ids of the group's calls stored before, with their
    /// incidents.
    seen: HashMap<String, IncidentId>,
    /// Kinds the group needs that some stored call waits for (not on
    /// hold): the group's calls get no unit of these here, so as not to
    /// overtake.
    waited_for: Vec<UnitKind>,
    /// Callers' numbers with a handset fix kept for their call.
    kept_fixes: Vec<String>,
}

async fn read_before(
    connection: &mut PgConnection,
    calls: &[&GroupCall],
) -> Result<Before, StoreError> {
    let request_ids: Vec<&str> = calls
        .iter()
        .map(|call| call.new.request_id().unwrap_or_default())
        .collect();
    let phones: Vec<&str> = calls
        .iter()
        .map(|call| call.new.caller_phone())
        .filter(|phone| !phone.is_empty())
        .collect();
    let mut kinds: Vec<&str> = Vec::new();
    for call in calls.iter().filter(|call| !call.new.hold()) {
        for kind in call.new.required_kinds() {
            if !kinds.contains(&kind.as_str()) {
                kinds.push(kind.as_str());
            }
        }
    }
    let row = sqlx::query!(
        r#"SELECT
             ARRAY(SELECT request_id FROM intake_requests WHERE request_id = ANY($1)
                   ORDER BY request_id) AS "seen_requests!",
             ARRAY(SELECT incident_id FROM intake_requests WHERE request_id = ANY($1)
                   ORDER BY request_id) AS "seen_incidents!",
             ARRAY(SELECT k.kind FROM unnest($2::text[]) AS k(kind)
                   WHERE (SELECT w.id FROM incidents w
                          WHERE cardinality(w.pending_kinds) > 0
                            AND w.status NOT IN ('resolved', 'cancelled')
                            AND k.kind = ANY (w.pending_kinds) AND NOT w.hold
                          ORDER BY w.priority, w.created_at LIMIT 1) IS NOT NULL)
               AS "waited_for!",
             ARRAY(SELECT DISTINCT caller_phone FROM device_fixes
                   WHERE caller_phone = ANY($3)
                     AND received_at >= now() - make_interval(mins => $4)) AS "kept_fixes!""#,
        &request_ids as &[&str],
        &kinds as &[&str],
        &phones as &[&str],
        crate::KEPT_FIX_MINUTES,
    )
    .fetch_one(&mut *connection)
    .await?;
    Ok(Before {
        seen: row
            .seen_requests
            .into_iter()
            .zip(row.seen_incidents.into_iter().map(IncidentId::from_uuid))
            .collect(),
        waited_for: row
            .waited_for
            .iter()
            .map(|kind| decode(kind))
            .collect::<Result<_, _>>()?,
        kept_fixes: row.kept_fixes,
    })
}

/// Steps 2 and 3 of the module's comment: per call, the units it is
/// allotted.
async fn read_and_allocate<'a>(
    connection: &mut PgConnection,
    dispatcher: &Dispatcher,
    calls: &[&'a GroupCall],
    waited_for: &[UnitKind],
) -> Result<Vec<(&'a GroupCall, Vec<Allotted>)>, StoreError> {
    let mut kinds: Vec<UnitKind> = Vec::new();
    for call in calls.iter().filter(|call| !call.new.hold()) {
        for kind in call.new.required_kinds() {
            if !kinds.contains(kind) {
                kinds.push(*kind);
            }
        }
    }
    let mut fetched = Vec::new();
    for kind in kinds.iter().filter(|kind| !waited_for.contains(kind)) {
        let needing: Vec<&GroupCall> = calls
            .iter()
            .copied()
            .filter(|call| !call.new.hold() && call.new.required_kinds().contains(kind))
            .collect();
        let points: Vec<GeoPoint> = needing.iter().map(|call| call.new.location()).collect();
        let ranked = units_for_each(connection, &dispatcher.config, *kind, &points).await?;
        for (call, units) in needing.iter().zip(ranked) {
            fetched.push((call.id, *kind, units));
        }
    }
    Ok(allocate(calls, &fetched))
}

/// Locks the rows of the allotted units still AVAILABLE, passing over any
/// another transaction holds (`SKIP LOCKED`); returns those it locked.
async fn claim_units(
    connection: &mut PgConnection,
    allotted: &[(&GroupCall, Vec<Allotted>)],
) -> Result<HashSet<UnitId>, StoreError> {
    let ids: Vec<Uuid> = allotted
        .iter()
        .flat_map(|(_, units)| units.iter().map(|(_, ranked, _)| ranked.unit_id.uuid()))
        .collect();
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(sqlx::query_scalar!(
        "SELECT id FROM units WHERE id = ANY($1) AND status = 'available'          FOR NO KEY UPDATE SKIP LOCKED",
        &ids,
    )
    .fetch_all(&mut *connection)
    .await?
    .into_iter()
    .map(UnitId::from_uuid)
    .collect())
}

/// The core's plan of each call, with the units it could claim.
fn plans(allotted: &[(&GroupCall, Vec<Allotted>)], claimed: &HashSet<UnitId>) -> Vec<CallPlan> {
    allotted
        .iter()
        .map(|(call, units)| {
            let offers = units
                .iter()
                .filter(|(_, ranked, _)| claimed.contains(&ranked.unit_id))
                .map(|(kind, ranked, call_sign)| PlannedOffer {
                    assignment_id: AssignmentId::new_random(),
                    unit_id: ranked.unit_id,
                    kind: *kind,
                    call_sign: call_sign.clone(),
                    distance_m: ranked.distance_m,
                })
                .collect();
            CallPlan::new(call.id, call.new.clone(), offers)
        })
        .collect()
}

/// The group's reads, plans and writes; each call's answer by id (a call
/// missing there is submitted again). An error means nothing was stored.
async fn try_group(
    pool: &PgPool,
    dispatcher: &Dispatcher,
    calls: &[&GroupCall],
) -> Result<HashMap<IncidentId, Result<GroupAnswer, StoreError>>, StoreError> {
    let mut connection = pool.acquire().await?;
    let mut answers = HashMap::new();
    let before = read_before(&mut connection, calls).await?;
    let seen = &before.seen;
    let mut fresh: Vec<&GroupCall> = Vec::with_capacity(calls.len());
    let mut in_group = HashSet::new();
    for call in calls {
        let request_id = call.new.request_id().unwrap_or_default();
        if let Some(incident) = seen.get(request_id) {
            answers.insert(call.id, Ok(GroupAnswer::Seen(*incident)));
        } else if in_group.insert(request_id) {
            fresh.push(call);
        }
        // A request id twice in one group: the second is submitted again
        // and finds the first's incident.
    }
    if fresh.is_empty() {
        return Ok(answers);
    }
    let allotted =
        read_and_allocate(&mut connection, dispatcher, &fresh, &before.waited_for).await?;
    metrics::histogram!("ngalam112_intake_group_calls").record(allotted.len() as f64);
    let (mut transaction, in_flight) = dispatcher.claims(&mut connection, &Actor::system()).await?;
    let claimed = claim_units(&mut transaction, &allotted).await?;
    let plans = plans(&allotted, &claimed);
    let with_actors: Vec<(&CallPlan, &Actor)> = plans
        .iter()
        .zip(&allotted)
        .map(|(plan, (call, _))| (plan, &call.actor))
        .collect();
    let written = write_calls(&mut transaction, &dispatcher.config, &with_actors).await?;
    let fixed =
        attach_kept_fixes(&mut transaction, &with_actors, &written, &before.kept_fixes).await?;
    // Second passes: what the stored calls wait for, and the kinds of
    // units held for calls not stored (a freeing transaction may have
    // passed them over meanwhile).
    let mut again: Vec<UnitKind> = Vec::new();
    for plan in &plans {
        let stored = written.iter().any(|(id, _)| *id == plan.id);
        let kinds: Vec<UnitKind> = if stored {
            plan.waiting_kinds().to_vec()
        } else {
            plan.offers.iter().map(|offer| offer.kind).collect()
        };
        for kind in kinds {
            if !again.contains(&kind) {
                again.push(kind);
            }
        }
    }
    transaction.settle_after_commit(&again);
    let request_ids: Vec<String> = plans
        .iter()
        .map(|plan| plan.new.request_id().unwrap_or_default().to_owned())
        .collect();
    let committed = match transaction.finish_found_out(&in_flight, &request_ids).await {
        Ok(committed) => committed,
        // Whether the group was stored cannot be found out: no call may be
        // written again, and none may be told it was stored.
        Err(error @ StoreError::OutcomeUnknown(_)) => {
            for plan in &plans {
                answers.insert(plan.id, Err(error.duplicate()));
            }
            return Ok(answers);
        }
        // PostgreSQL answered the commit with an error: nothing stored.
        Err(error) => return Err(error),
    };
    // From here on the group is committed: an error is a call's answer,
    // never the group's (which would write its calls again). The group's
    // own connection may be the one that broke: answers are read on
    // another.
    drop(connection);
    for plan in &plans {
        let answer =
            answer_stored(dispatcher, plan, &committed, &request_ids, &written, &fixed).await;
        answers.insert(plan.id, answer);
    }
    Ok(answers)
}

/// A committed group's answer for one call (see `try_group`).
async fn answer_stored(
    dispatcher: &Dispatcher,
    plan: &CallPlan,
    committed: &Committed,
    request_ids: &[String],
    written: &[(IncidentId, write::Written)],
    reload: &[IncidentId],
) -> Result<GroupAnswer, StoreError> {
    let second_pass = if plan.waiting_kinds().is_empty() {
        None
    } else {
        committed.second_pass.clone()
    };
    let stored = |incident: IncidentRecord| GroupAnswer::Stored {
        incident: Box::new(incident),
        second_pass: second_pass.clone(),
    };
    let load = |incident: IncidentId| async move {
        let mut connection = dispatcher.pool.acquire().await?;
        crate::records::load_incident(&mut connection, incident).await
    };
    match (
        &committed.found,
        written.iter().find(|(id, _)| *id == plan.id),
    ) {
        // The commit's answer was lost: what was found is the answer.
        (Some(found), _) => match found_for(request_ids, found, plan) {
            Some(incident) => load(incident).await.map(stored),
            None => Ok(GroupAnswer::Again),
        },
        (None, Some((_, written))) if !reload.contains(&plan.id) => {
            record(plan, written).map(stored)
        }
        (None, Some(_)) => load(plan.id).await.map(stored),
        // Its request id was stored meanwhile by another transaction.
        (None, None) => {
            let mut connection = dispatcher.pool.acquire().await?;
            let request_id = plan.new.request_id().unwrap_or_default();
            Ok(
                match sqlx::query_scalar!(
                    "SELECT incident_id FROM intake_requests WHERE request_id = $1",
                    request_id,
                )
                .fetch_optional(&mut *connection)
                .await?
                {
                    Some(incident) => GroupAnswer::Seen(IncidentId::from_uuid(incident)),
                    None => GroupAnswer::Again,
                },
            )
        }
    }
}

/// After a lost commit answer: the incident found for `plan`'s request id.
fn found_for(
    request_ids: &[String],
    found: &[Option<IncidentId>],
    plan: &CallPlan,
) -> Option<IncidentId> {
    let request_id = plan.new.request_id().unwrap_or_default();
    request_ids
        .iter()
        .zip(found)
        .find(|(id, _)| id.as_str() == request_id)
        .and_then(|(_, incident)| *incident)
}

/// Attaches the handset fixes kept for the callers of the stored calls
/// (AML that arrived before the call was recorded); returns the incidents
/// that got one.
async fn attach_kept_fixes(
    connection: &mut PgConnection,
    plans: &[(&CallPlan, &Actor)],
    written: &[(IncidentId, write::Written)],
    kept: &[String],
) -> Result<Vec<IncidentId>, StoreError> {
    let mut fixed = Vec::new();
    for (plan, actor) in plans {
        if kept.iter().any(|phone| phone == plan.new.caller_phone())
            && written.iter().any(|(id, _)| *id == plan.id)
        {
            crate::device::attach_kept_fix(connection, actor, plan.id, plan.new.caller_phone())
                .await?;
            fixed.push(plan.id);
        }
    }
    Ok(fixed)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use ngalam112_core::ranking::Candidate;
    use ngalam112_core::{IncidentCategory, IncidentDraft, Priority};

    use super::*;

    /// Balai Kota Malang; about 111 m per 0.001 degree of latitude.
    const HERE: (f64, f64) = (-7.9771, 112.6340);

    fn at(lat: f64, lon: f64) -> GeoPoint {
        GeoPoint::new("location", lat, lon).expect("a point in Malang")
    }

    fn call(priority: Priority, kinds: Vec<UnitKind>, called_at_s: i64) -> GroupCall {
        let new = NewIncident::parse(IncidentDraft {
            category: IncidentCategory::TrafficAccident,
            priority,
            location: at(HERE.0, HERE.1),
            required_kinds: kinds,
            caller_phone: "",
            caller_id_withheld: true,
            caller_name: "",
            address: "Jl. Tugu",
            description: "",
            request_id: "",
            duplicate_of: "",
            hold: false,
        })
        .expect("a valid call");
        GroupCall {
            new,
            actor: Actor::system(),
            id: IncidentId::new_random(),
            called_at: Utc
                .timestamp_opt(1_800_000_000 + called_at_s, 0)
                .single()
                .expect("a time"),
        }
    }

    /// A unit `metres_south` of the incident.
    fn unit(call_sign: &str, metres_south: f64) -> (Candidate, String) {
        let candidate = Candidate {
            unit_id: UnitId::new_random(),
            location: at(HERE.0 - metres_south / 111_000.0, HERE.1),
            available_since: Utc
                .timestamp_opt(1_800_000_000, 0)
                .single()
                .expect("a time"),
            location_fresh: true,
        };
        (candidate, call_sign.to_owned())
    }

    fn call_signs(units: &[Allotted]) -> Vec<&str> {
        units
            .iter()
            .map(|(_, _, call_sign)| call_sign.as_str())
            .collect()
    }

    #[test]
    fn a_contested_unit_goes_to_the_more_urgent_call_and_the_other_takes_its_next_nearest() {
        let earlier_low = call(Priority::Low, vec![UnitKind::Ambulance], 0);
        let later_critical = call(Priority::Critical, vec![UnitKind::Ambulance], 5);
        let units = vec![unit("AMB-NEAR", 100.0), unit("AMB-NEXT", 300.0)];
        let incident = at(HERE.0, HERE.1);
        let fetched = vec![
            (
                earlier_low.id,
                UnitKind::Ambulance,
                Fetched::new(&incident, units.clone(), true),
            ),
            (
                later_critical.id,
                UnitKind::Ambulance,
                Fetched::new(&incident, units, true),
            ),
        ];
        let allocated = allocate(&[&earlier_low, &later_critical], &fetched);
        let by_call: Vec<(IncidentId, Vec<&str>)> = allocated
            .iter()
            .map(|(call, units)| (call.id, call_signs(units)))
            .collect();
        assert_eq!(
            by_call,
            vec![
                (later_critical.id, vec!["AMB-NEAR"]),
                (earlier_low.id, vec!["AMB-NEXT"]),
            ]
        );
    }

    #[test]
    fn a_call_waits_when_the_fetched_units_cannot_vouch_for_the_nearest() {
        let alone = call(Priority::High, vec![UnitKind::Ambulance], 0);
        let incident = at(HERE.0, HERE.1);
        // Eight fetched (more exist), the farthest barely farther than the
        // nearest: an unfetched unit could be as near.
        let units = vec![unit("AMB-A", 1_000.0), unit("AMB-B", 1_005.0)];
        let fetched = vec![(
            alone.id,
            UnitKind::Ambulance,
            Fetched::new(&incident, units.clone(), false),
        )];
        let allocated = allocate(&[&alone], &fetched);
        assert!(
            allocated[0].1.is_empty(),
            "it waits; the second pass decides"
        );
        // The same units, but every available one fetched: it is served.
        let fetched = vec![(
            alone.id,
            UnitKind::Ambulance,
            Fetched::new(&incident, units, true),
        )];
        let allocated = allocate(&[&alone], &fetched);
        assert_eq!(call_signs(&allocated[0].1), vec!["AMB-A"]);
    }

    #[test]
    fn the_more_urgent_call_takes_the_unit_it_can_have_and_waits_for_the_rest() {
        let crash = call(
            Priority::Critical,
            vec![UnitKind::Ambulance, UnitKind::Police],
            0,
        );
        let medical = call(Priority::Normal, vec![UnitKind::Ambulance], 1);
        let incident = at(HERE.0, HERE.1);
        let ambulances = vec![unit("AMB-1", 200.0)];
        let fetched = vec![
            (
                crash.id,
                UnitKind::Ambulance,
                Fetched::new(&incident, ambulances.clone(), true),
            ),
            (
                crash.id,
                UnitKind::Police,
                Fetched::new(&incident, Vec::new(), true),
            ),
            (
                medical.id,
                UnitKind::Ambulance,
                Fetched::new(&incident, ambulances, true),
            ),
        ];
        let allocated = allocate(&[&crash, &medical], &fetched);
        assert_eq!(allocated[0].0.id, crash.id, "the critical call first");
        assert_eq!(
            call_signs(&allocated[0].1),
            vec!["AMB-1"],
            "no police: it waits"
        );
        assert_eq!(allocated[1].0.id, medical.id);
        assert!(allocated[1].1.is_empty(), "the only ambulance went first");
    }
}
