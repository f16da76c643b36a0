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
//! - Its answers are never in doubt: the statement runs in a transaction
//!   whose id is noted first, and if the commit's answer is lost the
//!   worker finds out which calls were stored (`outcome`) before it
//!   answers any of them.
//! - A call whose request id is already stored is left out before units
//!   are allocated (its units would be held for nothing); one that meets
//!   a request id stored meanwhile is dropped by the statement, and its
//!   full way settles its kinds again afterwards (the units held for it
//!   during the statement may have been skipped by a freeing transaction).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ngalam112_core::ranking::{Ranked, Waiting, queue_order};
use ngalam112_core::{GeoPoint, IncidentId, NewIncident, UnitId, UnitKind};
use sqlx::PgPool;

mod read;
mod write;

use crate::batch::Batcher;
use crate::outcome::InFlight;
use crate::{Actor, IncidentRecord, Store, StoreConfig, StoreError};
use read::{Fetched, units_for_each};
use write::{Group, OfferRow, record, store_group};

/// The most calls one statement takes.
const MAX_GROUP: usize = 64;

/// Groups taken at once by one process: one reads while the other
/// commits. Measured (full `intake` runs, 16 callers): 1 lane 2,200–2,250
/// calls/s, 2 lanes 2,460–2,500; 4 lanes did worse (lanes claim each
/// other's units and send calls the full way).
const GROUP_LANES: usize = 2;

/// The worker that takes calls in groups (one per process, started on
/// first use).
pub(crate) type IntakeGroups = Arc<std::sync::OnceLock<Batcher<GroupCall, GroupAnswer>>>;

/// What the group did with a call.
pub(crate) enum GroupAnswer {
    /// Stored and dispatched.
    Stored(Box<IncidentRecord>),
    /// Nothing written for it: it goes the full way. `settle_again`: units
    /// were held for it during the group's statement, so its kinds are
    /// settled again after its full way.
    FullWay { settle_again: bool },
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
    /// Stores and dispatches `new` with the calls arriving with it, when it
    /// can be served at once (see the module's comment).
    pub(crate) async fn create_in_group(
        &self,
        new: &NewIncident,
        actor: &Actor,
    ) -> Result<GroupAnswer, StoreError> {
        if new.duplicate_of().is_some()
            || new.hold()
            || new.required_kinds().is_empty()
            || new.request_id().is_none()
        {
            return Ok(GroupAnswer::FullWay {
                settle_again: false,
            });
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

/// Takes a group; answers each call with its incident, or sends it the
/// full way. A failed statement sends every call the full way (nothing was
/// committed); a commit whose answer was lost is found out first.
async fn take_group(
    pool: &PgPool,
    config: &StoreConfig,
    calls: Vec<GroupCall>,
) -> Vec<Result<GroupAnswer, StoreError>> {
    let count = calls.len();
    match try_group(pool, config, &calls).await {
        Ok(mut answers) => calls
            .iter()
            .map(|call| {
                answers.remove(&call.id).unwrap_or(Ok(GroupAnswer::FullWay {
                    settle_again: false,
                }))
            })
            .collect(),
        // Nothing was committed: every call goes the full way.
        Err(error) => {
            tracing::warn!(%error, calls = count, "intake group failed; each call goes the full way");
            (0..count)
                .map(|_| {
                    Ok(GroupAnswer::FullWay {
                        settle_again: false,
                    })
                })
                .collect()
        }
    }
}

/// Each call of a group, most urgent and then oldest first (rule 5), its
/// nearest unit of each kind that no call before it got; a call that
/// cannot have one of each (none left, or not surely the nearest) is left
/// out, to go the full way.
fn allocate<'a>(
    calls: &[&'a GroupCall],
    fetched: &[(IncidentId, UnitKind, Fetched)],
) -> Vec<(&'a GroupCall, Vec<(Ranked, String)>)> {
    let waiting = |call: &GroupCall| Waiting {
        priority: call.new.priority(),
        called_at: call.called_at,
        incident_id: call.id,
    };
    let mut order = calls.to_vec();
    order.sort_by(|a, b| queue_order(&waiting(a), &waiting(b)));
    let mut taken: HashSet<UnitId> = HashSet::new();
    let mut allocated = Vec::new();
    for call in order {
        let location = call.new.location();
        let units: Option<Vec<(Ranked, String)>> = call
            .new
            .required_kinds()
            .iter()
            .map(|kind| {
                fetched
                    .iter()
                    .find(|(id, of_kind, _)| *id == call.id && of_kind == kind)
                    .and_then(|(_, _, fetched)| fetched.first_free(&location, &taken))
                    .cloned()
            })
            .collect();
        let Some(units) = units else {
            continue;
        };
        taken.extend(units.iter().map(|(ranked, _)| ranked.unit_id));
        allocated.push((call, units));
    }
    allocated
}

/// The group's reads, the allocation of units and the statement; returns
/// each call's answer by id (a call missing there goes the full way). An
/// error means nothing was committed.
async fn try_group(
    pool: &PgPool,
    config: &StoreConfig,
    calls: &[GroupCall],
) -> Result<HashMap<IncidentId, Result<GroupAnswer, StoreError>>, StoreError> {
    let mut connection = pool.acquire().await?;
    // Request ids already stored (retries): those calls go the full way,
    // which returns their incident, before any unit is held for them.
    let request_ids: Vec<String> = calls
        .iter()
        .filter_map(|call| call.new.request_id().map(str::to_owned))
        .collect();
    let seen: HashSet<String> = sqlx::query_scalar!(
        "SELECT request_id FROM intake_requests WHERE request_id = ANY($1)",
        &request_ids,
    )
    .fetch_all(&mut *connection)
    .await?
    .into_iter()
    .collect();
    let mut distinct: Vec<&GroupCall> = Vec::with_capacity(calls.len());
    let mut in_group = HashSet::new();
    for call in calls {
        // A request id twice in one group: the second waits for the
        // first's commit on the full way, and gets its incident.
        if let Some(request_id) = call.new.request_id()
            && !seen.contains(request_id)
            && in_group.insert(request_id)
        {
            distinct.push(call);
        }
    }
    let mut kinds: Vec<UnitKind> = Vec::new();
    for call in &distinct {
        for kind in call.new.required_kinds() {
            if !kinds.contains(kind) {
                kinds.push(*kind);
            }
        }
    }
    // Per kind: for each call that needs it, its units in dispatch order.
    let mut fetched = Vec::new();
    for kind in &kinds {
        let needing: Vec<&GroupCall> = distinct
            .iter()
            .copied()
            .filter(|call| call.new.required_kinds().contains(kind))
            .collect();
        let points: Vec<GeoPoint> = needing.iter().map(|call| call.new.location()).collect();
        let ranked = units_for_each(&mut connection, config, *kind, &points).await?;
        for (call, units) in needing.iter().zip(ranked) {
            fetched.push((call.id, *kind, units));
        }
    }
    let mut group = Group::default();
    let mut grouped = Vec::new();
    for (call, units) in allocate(&distinct, &fetched) {
        group.push(call, &units);
        grouped.push(call);
    }
    if grouped.is_empty() {
        return Ok(HashMap::new());
    }
    metrics::histogram!("ngalam112_intake_group_calls").record(grouped.len() as f64);
    let mut transaction = sqlx::Connection::begin(&mut *connection).await?;
    let in_flight = InFlight::note(&mut transaction).await?;
    let rows = store_group(&mut transaction, config, &group, &kinds).await?;
    if let Err(error) = transaction.commit().await {
        drop(connection);
        return found_out(pool, &in_flight, error.into(), &grouped).await;
    }
    let mut answers = HashMap::new();
    for (place, call) in grouped.iter().enumerate() {
        let rows: Vec<&OfferRow> = rows
            .iter()
            .filter(|row| row.call == place as i64 + 1)
            .collect();
        // After the commit, a call's record that cannot be made is that
        // call's error: it is stored, so it must not go the full way.
        let answer = match record(call, &rows) {
            Ok(Some(record)) => Ok(GroupAnswer::Stored(Box::new(record))),
            // Units were held for it while the statement ran.
            Ok(None) => Ok(GroupAnswer::FullWay { settle_again: true }),
            Err(error) => Err(error),
        };
        answers.insert(call.id, answer);
    }
    Ok(answers)
}

/// The group's commit lost its answer: which calls were stored, found out
/// on another connection. A stored call is answered with its incident as
/// stored; one that was not goes the full way (safe: nothing of it was
/// written). If it cannot be found out, every call is answered UNAVAILABLE
/// saying so.
async fn found_out(
    pool: &PgPool,
    in_flight: &InFlight,
    error: StoreError,
    grouped: &[&GroupCall],
) -> Result<HashMap<IncidentId, Result<GroupAnswer, StoreError>>, StoreError> {
    let request_ids: Vec<String> = grouped
        .iter()
        .filter_map(|call| call.new.request_id().map(str::to_owned))
        .collect();
    let found = match in_flight.find_out(pool, error, &request_ids).await {
        Ok(found) => found,
        Err(error @ StoreError::OutcomeUnknown(_)) => {
            return Ok(grouped
                .iter()
                .map(|call| (call.id, Err(error.duplicate())))
                .collect());
        }
        // PostgreSQL answered the commit with an error: nothing committed.
        Err(error) => return Err(error),
    };
    let mut answers = HashMap::new();
    for (call, stored) in grouped.iter().zip(found) {
        let answer = match stored {
            Some(incident_id) => match pool.acquire().await {
                Ok(mut connection) => crate::records::load_incident(&mut connection, incident_id)
                    .await
                    .map(|record| GroupAnswer::Stored(Box::new(record))),
                Err(error) => Err(error.into()),
            },
            None => Ok(GroupAnswer::FullWay { settle_again: true }),
        };
        answers.insert(call.id, answer);
    }
    Ok(answers)
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

    fn call_signs(units: &[(Ranked, String)]) -> Vec<&str> {
        units
            .iter()
            .map(|(_, call_sign)| call_sign.as_str())
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
    fn a_call_is_left_out_when_the_fetched_units_cannot_vouch_for_the_nearest() {
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
        assert!(allocate(&[&alone], &fetched).is_empty());
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
    fn a_call_gets_a_unit_of_every_kind_or_none_and_leaves_its_unit_to_the_next_call() {
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
        assert_eq!(allocated.len(), 1, "only the medical call is served here");
        assert_eq!(allocated[0].0.id, medical.id);
        assert_eq!(call_signs(&allocated[0].1), vec!["AMB-1"]);
    }
}
