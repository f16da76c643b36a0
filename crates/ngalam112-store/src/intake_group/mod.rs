//! Intake in groups: every new call (all but a further caller of an
//! existing incident) is planned and written together with the calls
//! arriving with it, many calls per statement and per commit: a group of
//! 64 in a surge, a group of one on a quiet night, by the same code.
//!
//! Calls arriving together queue for a few workers per process. A worker
//! takes everything queued (up to `MAX_GROUP`) and:
//! 1. answers a call whose request id is stored already with that incident;
//! 2. begins one dispatch transaction without kind locks (`unit_of_work`,
//!    `Claims`), and for each kind somebody is already waiting for, takes
//!    the queue's first needs of that kind into the group (`queue`: locked
//!    `SKIP LOCKED`, in queue order);
//! 3. reads, per kind, the nearest available units for every asker (the
//!    waiting needs and the new calls; one statement per kind), ranked in
//!    the core, and hands each asker, most urgent and then oldest first
//!    (rule 5), its nearest unit of each kind that no asker before it got
//!    (`allocate`);
//! 4. claims those units' rows (`SKIP LOCKED`), has the core plan each new
//!    call with the units it could claim (`CallPlan`), writes the plans
//!    (`write`) and the waiting needs' offers (`queue::serve`), attaches
//!    kept handset fixes, commits, and then settles whatever the calls
//!    still wait for, each kind under its lock held shared (the second
//!    pass of "Lost wake-ups").
//!
//! Why this is safe (docs/ARCHITECTURE.md, "Intake in groups"):
//! - A unit is claimed by locking its row and re-checking that it is
//!   AVAILABLE; the askers of a group never share a unit; the
//!   `one_open_assignment_per_unit` index stays the last line of defence.
//! - It does not overtake: needs already waiting take part in the
//!   allocation in queue order; a queue longer than the group took (or
//!   stopped at a need another transaction holds) cuts off every call
//!   behind its last need taken.
//! - A call that gets no unit of a kind (none free, its unit claimed
//!   elsewhere in between) is stored waiting for it, and the second pass
//!   settles the kind after the commit: a unit freed meanwhile is found
//!   (the freeing transaction holds the kind's lock exclusively until it
//!   commits).
//! - Its answers are never in doubt: the transaction's id is noted first,
//!   and if the commit's answer is lost the worker finds out which calls
//!   were stored (`outcome`) before it answers any: a stored call gets its
//!   incident, one that was not is submitted again.
//! - A group whose statements fail stores nothing; each of its calls is
//!   then written alone, so one call's error is that call's alone.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ngalam112_core::plan::{CallPlan, PlannedOffer};
use ngalam112_core::{AssignmentId, IncidentId, NewIncident, UnitId, UnitKind};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

mod allocate;
mod queue;
mod read;
mod write;

use crate::batch::Batcher;
use crate::records::decode;
use crate::unit_of_work::{Committed, Dispatcher, SecondPass};
use crate::{Actor, IncidentRecord, Store, StoreError};
use allocate::{Allotted, Asker, read_and_allocate};
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
/// other's units). Again with the queue in the group (5 Dec, full runs
/// of `intake` and `surge`): 3 lanes 0.40× and 0.43× of the ceilings, 2
/// lanes 0.50× and 0.53×.
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
/// its throughput that way). Nor a bitmap scan: a generic plan made on a
/// nearly empty table read the whole waiting queue through one (20,000
/// calls in a surge) where the queue's index in order stops at the first
/// need. Without sequential scans every plan's cost is huge, so JIT
/// compilation is off (else it compiled every statement anew: 115 ms
/// each, measured).
///
/// The settings are sent after connecting (not as startup options), so that
/// a session-mode PgBouncer in front passes them on.
fn group_pool(pool: &PgPool) -> PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(GROUP_LANES as u32)
        .acquire_timeout(pool.options().get_acquire_timeout())
        .after_connect(|connection, _| {
            Box::pin(async move {
                sqlx::raw_sql(
                    "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off; \
                     SET enable_bitmapscan = off; SET jit = off",
                )
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
        // The database is gone (failing over): every call of the group is
        // answered at once, for its caller to retry with its request id.
        // Trying each alone would wait for a connection once per call (3 s
        // each; a call waited more than 10 s in the failover test).
        Err(error @ StoreError::Unavailable(_)) => {
            calls.iter().map(|_| Err(error.duplicate())).collect()
        }
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

/// What a group reads before it plans, in one statement.
struct Before {
    /// Request ids of the group's calls stored before, with their
    /// incidents.
    seen: HashMap<String, IncidentId>,
    /// Kinds the group needs that some stored call waits for (not on
    /// hold): the group's calls get no unit of these here, so as not to
    /// overtake.
    waited_for: Vec<UnitKind>,
    /// How many units of each kind are available (counted up to 1,000).
    free_counts: Vec<(UnitKind, i64)>,
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
             ARRAY(SELECT (SELECT count(*) FROM (SELECT 1 FROM units u
                             WHERE u.kind = k.kind AND u.status = 'available' LIMIT 1000) f)
                   FROM unnest($2::text[]) AS k(kind)) AS "free_counts!",
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
        free_counts: kinds
            .iter()
            .map(|kind| decode(kind))
            .zip(row.free_counts)
            .map(|(kind, count)| kind.map(|kind| (kind, count)))
            .collect::<Result<_, _>>()?,
        kept_fixes: row.kept_fixes,
    })
}

/// Locks the rows of the allotted units still AVAILABLE, passing over any
/// another transaction holds (`SKIP LOCKED`); returns those it locked.
async fn claim_units(
    connection: &mut PgConnection,
    allotted: &[(&Asker<'_>, Vec<Allotted>)],
) -> Result<HashSet<UnitId>, StoreError> {
    let ids: Vec<Uuid> = allotted
        .iter()
        .flat_map(|(_, units)| units.iter().map(|(_, ranked, _)| ranked.unit_id.uuid()))
        .collect();
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(sqlx::query_scalar!(
        "SELECT id FROM units WHERE id = ANY($1) AND status = 'available' \
         FOR NO KEY UPDATE SKIP LOCKED",
        &ids,
    )
    .fetch_all(&mut *connection)
    .await?
    .into_iter()
    .map(UnitId::from_uuid)
    .collect())
}

/// An asker's offers: its allotted units that could be claimed.
fn offers(units: &[Allotted], claimed: &HashSet<UnitId>) -> Vec<PlannedOffer> {
    units
        .iter()
        .filter(|(_, ranked, _)| claimed.contains(&ranked.unit_id))
        .map(|(kind, ranked, call_sign)| PlannedOffer {
            assignment_id: AssignmentId::new_random(),
            unit_id: ranked.unit_id,
            kind: *kind,
            call_sign: call_sign.clone(),
            distance_m: ranked.distance_m,
            road: ranked.road,
            straight_line_eta_s: ranked.straight_line_eta_s,
        })
        .collect()
}

/// What the group will write: the core's plan of each new call (with who
/// took it), and the offers to waiting needs, from the units claimed.
#[allow(clippy::type_complexity)]
fn plan<'a, 'q>(
    allotted: &[(&Asker<'a>, Vec<Allotted>)],
    claimed: &HashSet<UnitId>,
    queue: &'q queue::Queue,
) -> (
    Vec<CallPlan>,
    Vec<&'a Actor>,
    Vec<(&'q queue::Waiter, PlannedOffer)>,
) {
    let mut plans = Vec::with_capacity(allotted.len());
    let mut actors = Vec::with_capacity(allotted.len());
    let mut served = Vec::new();
    for (asker, units) in allotted {
        let offers = offers(units, claimed);
        match asker.call {
            Some(call) => {
                plans.push(CallPlan::new(call.id, call.new.clone(), offers));
                actors.push(&call.actor);
            }
            None => {
                let waiter = queue
                    .waiters
                    .iter()
                    .find(|w| w.key == asker.key && asker.kinds.contains(&w.kind));
                if let Some(waiter) = waiter {
                    served.extend(offers.into_iter().map(|offer| (waiter, offer)));
                }
            }
        }
    }
    (plans, actors, served)
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
    let mut fresh: Vec<&GroupCall> = Vec::with_capacity(calls.len());
    let mut in_group = HashSet::new();
    for call in calls {
        let request_id = call.new.request_id().unwrap_or_default();
        if let Some(incident) = before.seen.get(request_id) {
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
    metrics::histogram!("ngalam112_intake_group_calls").record(fresh.len() as f64);
    let (mut transaction, in_flight) = dispatcher.claims(&mut connection, &Actor::system()).await?;
    // The queue's first needs of the kinds somebody waits for, then the
    // group's calls: one allocation in queue order.
    // Only a queue with a unit free to offer is taken; a kind somebody
    // waits for with none free, no call of the group may take either (a
    // unit freed meanwhile goes to the queue first: the second pass).
    let free = |kind: &UnitKind| before.free_counts.iter().any(|(k, n)| k == kind && *n > 0);
    let served_queues: Vec<UnitKind> = (before.waited_for.iter())
        .filter(|kind| free(kind))
        .copied()
        .collect();
    // Per kind, whether units are plenty: more free than the queue taken
    // and the group's calls could need, so a need another transaction
    // holds may be passed over without anybody losing a unit to it.
    let plenty: Vec<UnitKind> = (before.free_counts.iter())
        .filter(|(kind, free)| {
            let calls = fresh
                .iter()
                .filter(|c| c.new.required_kinds().contains(kind));
            *free > queue::WAITERS_PER_KIND + calls.count() as i64
        })
        .map(|(kind, _)| *kind)
        .collect();
    let mut queue = queue::lock_queue(&mut transaction, &served_queues, &plenty).await?;
    for kind in before.waited_for.iter().filter(|kind| !free(kind)) {
        queue.cutoffs.push((*kind, queue::before_everything()));
    }
    let mut askers: Vec<Asker> = queue.waiters.iter().map(Asker::waiter).collect();
    askers.extend(fresh.iter().map(|call| Asker::call(call)));
    let allotted = read_and_allocate(&mut transaction, dispatcher, &askers, &queue.cutoffs).await?;
    let claimed = claim_units(&mut transaction, &allotted).await?;
    let (plans, actors, served) = plan(&allotted, &claimed, &queue);
    let with_actors: Vec<(&CallPlan, &Actor)> = plans.iter().zip(actors).collect();
    let written = write_calls(&mut transaction, &dispatcher.config, &with_actors).await?;
    queue::serve(&mut transaction, &dispatcher.config, &served).await?;
    let fixed =
        attach_kept_fixes(&mut transaction, &with_actors, &written, &before.kept_fixes).await?;
    link_calls(&mut transaction, &with_actors, &written).await?;
    let again = after_commit(&plans, &written, &queue, &served);
    transaction.settle_after_commit(&again);
    let request_ids: Vec<String> = plans
        .iter()
        .map(|plan| plan.new.request_id().unwrap_or_default().to_owned())
        .collect();
    let committed = transaction.finish_found_out(&in_flight, &request_ids).await;
    let committed = match committed {
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

/// The kinds to settle after the commit: what the stored calls wait for,
/// the kinds of units claimed for calls not stored and of waiting needs
/// held but not served (a freeing transaction may have passed them over
/// meanwhile), and queues that stopped at a need held elsewhere.
fn after_commit(
    plans: &[CallPlan],
    written: &[(IncidentId, write::Written)],
    queue: &queue::Queue,
    served: &[(&queue::Waiter, PlannedOffer)],
) -> Vec<UnitKind> {
    let mut again: Vec<UnitKind> = queue.stopped.clone();
    for waiter in &queue.waiters {
        let served_it = served
            .iter()
            .any(|(w, _)| w.key == waiter.key && w.kind == waiter.kind);
        if !served_it && !again.contains(&waiter.kind) {
            again.push(waiter.kind);
        }
    }
    for plan in plans {
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
    again
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

/// Links the stored calls to the phone system's calls they were recorded
/// from.
async fn link_calls(
    connection: &mut PgConnection,
    plans: &[(&CallPlan, &Actor)],
    written: &[(IncidentId, write::Written)],
) -> Result<(), StoreError> {
    for (plan, actor) in plans {
        if let Some(call_id) = plan.new.call_id()
            && written.iter().any(|(id, _)| *id == plan.id)
        {
            crate::calls::link(connection, actor, plan.id, call_id).await?;
        }
    }
    Ok(())
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
