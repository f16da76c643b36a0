//! The dispatch engine's SQL: the query that claims a unit, the pending
//! queue (rule 5) and the derivation of an incident's status after every
//! assignment change (rule 6).
//!
//! A unit is claimed by locking its row (`SKIP LOCKED`) and re-checking
//! that it is AVAILABLE; the partial unique index
//! `one_open_assignment_per_unit` stays the last line of defence for rule
//! 3. The lock protocol around it (kind locks, settle, commit, settle
//! again) is `unit_of_work`'s; new calls are written by `intake_group`.

use chrono::{DateTime, Utc};
use ngalam112_core::drive::Leg;
use ngalam112_core::incident::{AssignmentFact, derive_state};
use ngalam112_core::plan::{PlannedOffer, offered_detail, status_changed_detail};
use ngalam112_core::ranking::{
    ALL_CANDIDATES, Candidate, FRESH_FIRST, NEAREST_CANDIDATES, Ranked, WIDER_CANDIDATES, Waiting,
    dispatch_order, queue_order, surely_first, with_straight_line_choice,
};
use ngalam112_core::{
    AssignmentId, EventKind, GeoPoint, IncidentId, IncidentStatus, UnitId, UnitKind, UnitStatus,
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::records::{decode, stored_kinds};
use crate::timeline::{self, Event};
use crate::unit_of_work::{DispatchTx, HoldsKindLock};
use crate::{Actor, StoreConfig, StoreError};

/// An offer to make: which unit, to which incident, how far.
pub(crate) struct Offer {
    pub incident_id: IncidentId,
    pub unit_id: UnitId,
    pub kind: UnitKind,
    pub call_sign: String,
    pub distance_m: f64,
    pub road: Option<Leg>,
    /// On roads, for an automatic choice: what the straight-line rule's
    /// unit would have taken (`PlannedOffer::straight_line_eta_s`).
    pub straight_line_eta_s: Option<f64>,
}

/// Locks an incident's row for the rest of the transaction. Lock order in
/// every transaction: dispatch kind locks, then the incident, then its
/// assignments, then units.
pub(crate) async fn lock_incident(
    connection: &mut PgConnection,
    incident_id: IncidentId,
) -> Result<LockedIncident, StoreError> {
    let row = sqlx::query_as!(
        LockedIncident,
        r#"SELECT category, priority,
               extract(epoch FROM clock_timestamp() - created_at)::float8 AS "seconds_since_call!",
               ever_on_scene,
               NOT EXISTS (SELECT 1 FROM assignments a WHERE a.incident_id = incidents.id)
                 AS "never_offered!"
             FROM incidents WHERE id = $1 FOR NO KEY UPDATE"#,
        incident_id.uuid(),
    )
    .fetch_optional(&mut *connection)
    .await?
    .ok_or_else(|| StoreError::not_found("incident", incident_id))?;
    Ok(row)
}

/// What the response-time metrics need of a locked incident.
pub(crate) struct LockedIncident {
    pub category: String,
    pub priority: i16,
    pub seconds_since_call: f64,
    pub ever_on_scene: bool,
    /// No assignment yet: the next offer is the first.
    pub never_offered: bool,
}

impl LockedIncident {
    /// Records a call→`metric` time (first offer, first accept, first on
    /// scene) for this incident.
    pub(crate) fn record(&self, metric: &'static str) {
        record_milestone(
            metric,
            &self.category,
            self.priority,
            self.seconds_since_call,
        );
    }
}

/// Records a call→`metric` time by category and priority (rank).
pub(crate) fn record_milestone(metric: &'static str, category: &str, priority: i16, seconds: f64) {
    let priority = ngalam112_core::Priority::from_rank(priority)
        .map_or("unknown", |priority| priority.as_str());
    metrics::histogram!(metric, "category" => category.to_owned(), "priority" => priority)
        .record(seconds);
}

/// Claims an AVAILABLE unit and creates its OFFERED assignment, with the
/// offer's deadline, its timeline event and the incident's new status.
/// Fails with FAILED_PRECONDITION if the unit is not available (any
/// more). At commit, the unit's waiting long-polls (in any server process)
/// are woken.
pub(crate) async fn make_offer(
    connection: &mut PgConnection,
    actor: &Actor,
    offer: &Offer,
    config: &StoreConfig,
) -> Result<AssignmentId, StoreError> {
    let incident = lock_incident(connection, offer.incident_id).await?;
    let planned = PlannedOffer {
        assignment_id: AssignmentId::new_random(),
        unit_id: offer.unit_id,
        kind: offer.kind,
        call_sign: offer.call_sign.clone(),
        distance_m: offer.distance_m,
        road: offer.road,
        straight_line_eta_s: offer.straight_line_eta_s,
    };
    let written = write_offers(connection, config, &[(offer.incident_id, &planned)]).await?;
    if written.len() != 1 {
        return Err(StoreError::FailedPrecondition(format!(
            "unit {} is not available",
            offer.unit_id
        )));
    }
    timeline::append(
        connection,
        actor,
        Event::assignment(
            offer.incident_id,
            planned.assignment_id,
            offer.unit_id,
            EventKind::AssignmentOffered,
            offered_detail(&planned),
        ),
    )
    .await?;
    refresh_incident(connection, actor, offer.incident_id).await?;
    if incident.never_offered {
        record_milestone(
            "ngalam112_call_to_first_offer_seconds",
            &incident.category,
            incident.priority,
            incident.seconds_since_call,
        );
    }
    Ok(planned.assignment_id)
}

/// An offer as stored.
pub(crate) struct WrittenOffer {
    pub id: Uuid,
    pub offered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub offer_deadline: Option<DateTime<Utc>>,
}

/// The one writer of offers: for each (incident, offer), the unit becomes
/// ASSIGNED to it (only if still AVAILABLE) and its OFFERED assignment is
/// inserted with the deadline of rule 4; at commit the unit's long-polls
/// are woken. Returns the offers written: one whose unit was not available
/// is missing (the caller decides whether that is an error). The timeline
/// events are the caller's (`timeline::append_all`).
pub(crate) async fn write_offers(
    connection: &mut PgConnection,
    config: &StoreConfig,
    offers: &[(IncidentId, &PlannedOffer)],
) -> Result<Vec<WrittenOffer>, StoreError> {
    let assignment_ids: Vec<Uuid> = offers.iter().map(|(_, o)| o.assignment_id.uuid()).collect();
    let incident_ids: Vec<Uuid> = offers.iter().map(|(id, _)| id.uuid()).collect();
    let unit_ids: Vec<Uuid> = offers.iter().map(|(_, o)| o.unit_id.uuid()).collect();
    let kinds: Vec<&str> = offers.iter().map(|(_, o)| o.kind.as_str()).collect();
    let distances: Vec<f64> = offers.iter().map(|(_, o)| o.distance_m).collect();
    let road = |offer: &PlannedOffer| {
        offer.road.unwrap_or(Leg {
            eta_s: 0.0,
            distance_m: 0.0,
        })
    };
    let etas: Vec<f64> = offers.iter().map(|(_, o)| road(o).eta_s).collect();
    let road_distances: Vec<f64> = offers.iter().map(|(_, o)| road(o).distance_m).collect();
    let straight_line_etas: Vec<f64> = offers
        .iter()
        .map(|(_, o)| o.straight_line_eta_s.unwrap_or(0.0))
        .collect();
    let written = sqlx::query_as!(
        WrittenOffer,
        r#"WITH o AS (
             SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::float8[],
                 $7::float8[], $8::float8[], $9::float8[])
               AS o(assignment_id, incident_id, unit_id, kind, distance_m, eta_s, road_distance_m,
                 straight_line_eta_s)
           ),
           claimed AS (
             UPDATE units SET status = 'assigned', current_assignment_id = o.assignment_id,
               updated_at = now()
             FROM o WHERE units.id = o.unit_id AND units.status = 'available'
             RETURNING units.id, pg_notify('ngalam112_offers', units.id::text)
           )
           INSERT INTO assignments (id, incident_id, unit_id, unit_kind, status, distance_m,
             offer_deadline, eta_s, road_distance_m, straight_line_eta_s)
           SELECT o.assignment_id, o.incident_id, o.unit_id, o.kind, 'offered', o.distance_m,
             clock_timestamp() + make_interval(secs => $6), o.eta_s, o.road_distance_m,
             o.straight_line_eta_s
           FROM o JOIN claimed ON claimed.id = o.unit_id
           RETURNING id, offered_at, updated_at, offer_deadline"#,
        &assignment_ids,
        &incident_ids,
        &unit_ids,
        &kinds as &[&str],
        &distances,
        config.offer_timeout.as_secs_f64(),
        &etas,
        &road_distances,
        &straight_line_etas,
    )
    .fetch_all(&mut *connection)
    .await?;
    Ok(written)
}

/// Ends a unit's assignment: AVAILABLE again (idle from now) or, when it
/// did not answer, OUT_OF_SERVICE.
pub(crate) async fn release_unit(
    connection: &mut PgConnection,
    unit_id: UnitId,
    status: UnitStatus,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE units SET status = $2, current_assignment_id = NULL, \
         available_since = now(), updated_at = now() WHERE id = $1",
        unit_id.uuid(),
        status.as_str(),
    )
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Re-derives an incident's status and pending kinds from its assignments
/// (rule 6) and records a status change in the timeline. Locks the
/// incident row, so concurrent changes to one incident apply one at a time.
pub(crate) async fn refresh_incident(
    connection: &mut PgConnection,
    actor: &Actor,
    incident_id: IncidentId,
) -> Result<(), StoreError> {
    let incident = sqlx::query!(
        "SELECT status, required_kinds, ever_on_scene FROM incidents WHERE id = $1 FOR NO KEY UPDATE",
        incident_id.uuid(),
    )
    .fetch_one(&mut *connection)
    .await?;
    let (status, required, ever_on_scene) = (
        incident.status,
        incident.required_kinds,
        incident.ever_on_scene,
    );
    let status: IncidentStatus = decode(&status)?;
    if status.is_closed() {
        return Ok(());
    }
    let assignment_rows = sqlx::query!(
        "SELECT unit_kind, status FROM assignments WHERE incident_id = $1",
        incident_id.uuid(),
    )
    .fetch_all(&mut *connection)
    .await?;
    let facts = assignment_rows
        .iter()
        .map(|row| {
            Ok(AssignmentFact {
                kind: decode(&row.unit_kind)?,
                status: decode(&row.status)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let state = derive_state(&stored_kinds(&required)?, &facts, ever_on_scene);
    let pending: Vec<&str> = state
        .pending_kinds
        .iter()
        .map(|kind| kind.as_str())
        .collect();
    sqlx::query!(
        "UPDATE incidents SET status = $2, pending_kinds = $3, updated_at = now() WHERE id = $1",
        incident_id.uuid(),
        state.status.as_str(),
        &pending as &[&str],
    )
    .execute(&mut *connection)
    .await?;
    if state.status != status {
        timeline::append(
            connection,
            actor,
            Event::incident(
                incident_id,
                EventKind::StatusChanged,
                status_changed_detail(status, state.status),
            ),
        )
        .await?;
    }
    Ok(())
}

/// The nearest AVAILABLE units of a kind by the GiST index's planar order
/// (degrees), for the exact great-circle ranking in the core. `$1, $2`:
/// lon, lat; `$3`: stale-after seconds; `$4`: units excluded (they refused
/// this incident); `$5`: fresh positions only; `$6`: how many.
///
/// The kind is written into each statement so the planner can use that
/// kind's partial index (migration 0002) also in a generic plan.
macro_rules! nearest_available_of {
    ($kind:literal, $($arg:expr),* $(,)?) => {
        sqlx::query_as!(
            NearbyUnit,
            r#"SELECT id, call_sign, lat, lon, available_since,
                 location_updated_at >= now() - make_interval(secs => $3) AS "location_fresh!"
               FROM units WHERE status = 'available' AND kind = '"#
                + $kind
                + r#"' AND NOT (id = ANY($4))
                 AND (NOT $5 OR location_updated_at >= now() - make_interval(secs => $3))
               ORDER BY point(lon, lat) <-> point($1, $2) LIMIT $6"#,
            $($arg),*
        )
    };
}

/// `$query!("<kind>", args…).fetch_all($connection)` for a kind known
/// only at run time: the kind is written into each statement (one per
/// kind, chosen here) so that the planner uses that kind's partial index.
macro_rules! fetch_all_of_kind {
    ($query:ident, $connection:expr, $kind:expr, $($arg:expr),* $(,)?) => {
        match $kind {
            UnitKind::Ambulance => $query!("ambulance", $($arg),*).fetch_all($connection).await,
            UnitKind::FireEngine => $query!("fire_engine", $($arg),*).fetch_all($connection).await,
            UnitKind::Police => $query!("police", $($arg),*).fetch_all($connection).await,
            UnitKind::Rescue => $query!("rescue", $($arg),*).fetch_all($connection).await,
        }
    };
}

/// A row of `nearest_available_of!`.
struct NearbyUnit {
    id: Uuid,
    call_sign: String,
    lat: f64,
    lon: f64,
    available_since: DateTime<Utc>,
    location_fresh: bool,
}

/// Available units of `kind` near `location`, with their call signs: the
/// nearest `limit` by the index (of those with a fresh position only, when
/// `fresh_only`), never one in `excluded`.
pub(crate) async fn nearest_available(
    connection: &mut PgConnection,
    kind: UnitKind,
    location: &GeoPoint,
    config: &StoreConfig,
    excluded: &[Uuid],
    fresh_only: bool,
    limit: i64,
) -> Result<Vec<(Candidate, String)>, StoreError> {
    let (lon, lat) = (location.lon(), location.lat());
    let stale_after_s = config.stale_location_after.as_secs_f64();
    let rows = fetch_all_of_kind!(
        nearest_available_of,
        &mut *connection,
        kind,
        lon,
        lat,
        stale_after_s,
        excluded,
        fresh_only,
        limit
    )?;
    rows.into_iter()
        .map(|row| {
            let candidate = candidate(
                row.id,
                row.lat,
                row.lon,
                row.available_since,
                row.location_fresh,
            )?;
            Ok((candidate, row.call_sign))
        })
        .collect()
}

/// A unit as the core's ranking sees it, from its stored columns.
pub(crate) fn candidate(
    id: Uuid,
    lat: f64,
    lon: f64,
    available_since: DateTime<Utc>,
    location_fresh: bool,
) -> Result<Candidate, StoreError> {
    Ok(Candidate {
        unit_id: UnitId::from_uuid(id),
        location: GeoPoint::new("location", lat, lon)
            .map_err(|error| StoreError::Internal(error.to_string()))?,
        available_since,
        location_fresh,
    })
}

/// The unit to offer a need to (rule 2 and the stale-position rule): the
/// nearest with a fresh position, else the nearest at all; never one that
/// refused this incident. The unit's row is locked for the rest of the
/// transaction (`SKIP LOCKED`): a unit another transaction is claiming or
/// freeing at this instant is passed over, never waited for, so two
/// dispatches never wait on each other and never take the same unit.
async fn best_unit_for(
    connection: &mut PgConnection,
    kind: UnitKind,
    location: &GeoPoint,
    config: &StoreConfig,
    refused: &[Uuid],
) -> Result<Option<(Ranked, String)>, StoreError> {
    let roads = config.roads.as_deref();
    for fresh_only in FRESH_FIRST {
        let mut limit = NEAREST_CANDIDATES;
        let (found, candidates, order) = loop {
            let found = nearest_available(
                connection, kind, location, config, refused, fresh_only, limit,
            )
            .await?;
            let candidates: Vec<Candidate> = found
                .iter()
                .map(|(candidate, _)| candidate.clone())
                .collect();
            let order = dispatch_order(location, &candidates, roads);
            // On roads the choice must be the least drive time of all:
            // when the nearest few cannot vouch for their first, more are
            // read (`WIDER_CANDIDATES`), then all (`surely_first`).
            let vouched = (found.len() as i64) < limit
                || roads.is_none()
                || order.first().is_none_or(|first| {
                    candidates
                        .iter()
                        .find(|candidate| candidate.unit_id == first.unit_id)
                        .is_some_and(|candidate| {
                            surely_first(location, first, &candidate.location, &candidates, roads)
                        })
                });
            if vouched || limit == ALL_CANDIDATES {
                break (found, candidates, order);
            }
            limit = if limit < WIDER_CANDIDATES {
                WIDER_CANDIDATES
            } else {
                ALL_CANDIDATES
            };
        };
        for ranked in &order {
            let claimed = sqlx::query_scalar!(
                "SELECT id FROM units WHERE id = $1 AND status = 'available' \
                 FOR NO KEY UPDATE SKIP LOCKED",
                ranked.unit_id.uuid(),
            )
            .fetch_optional(&mut *connection)
            .await?;
            if claimed.is_some() {
                let call_sign = found
                    .iter()
                    .find(|(candidate, _)| candidate.unit_id == ranked.unit_id)
                    .map(|(_, call_sign)| call_sign.clone())
                    .unwrap_or_default();
                let chosen = with_straight_line_choice(ranked, &order, &candidates, |_| true);
                return Ok(Some((chosen, call_sign)));
            }
        }
    }
    Ok(None)
}

/// What one settling pass did.
#[derive(Debug, Default)]
pub(crate) struct Settled {
    /// The incidents that got an offer.
    pub served: Vec<IncidentId>,
    /// The pass stopped at a need whose incident another transaction holds:
    /// settle the kind again once this transaction has committed.
    pub stopped_early: bool,
}

/// Matches the waiting needs for `kind` with its available units, most
/// urgent and then oldest need first, each to its nearest eligible unit
/// (never one that declined or timed out on that incident). Only a
/// dispatch transaction holding the kind's lock can call it
/// ([`DispatchTx::settle`]).
///
/// It never waits for another incident's row lock (`SKIP LOCKED`): the
/// transaction may hold an incident of its own, and two such transactions
/// settling different kinds would otherwise wait on each other's incident.
/// At a need whose incident is held elsewhere it stops (so no less urgent
/// need takes the unit first) and says so; the kind is settled again after
/// the commit.
pub(crate) async fn settle_kind<M: HoldsKindLock>(
    transaction: &mut DispatchTx<'_, M>,
    kind: UnitKind,
    config: &StoreConfig,
) -> Result<Settled, StoreError> {
    let actor = transaction.actor().clone();
    let connection: &mut PgConnection = transaction;
    // No unit of the kind free (a surge): nothing to match, and the queue
    // is not read at all.
    let any_free: bool = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM units WHERE kind = $1 AND status = 'available') AS "free!""#,
        kind.as_str(),
    )
    .fetch_one(&mut *connection)
    .await?;
    if !any_free {
        return Ok(Settled::default());
    }
    // The queue's order is the core's (rule 5); the store only fetches.
    let mut needs = Vec::new();
    for need in sqlx::query!(
        "SELECT id, lat, lon, priority, created_at FROM incidents \
         WHERE cardinality(pending_kinds) > 0 AND status NOT IN ('resolved', 'cancelled') \
           AND $1 = ANY(pending_kinds) AND NOT hold",
        kind.as_str(),
    )
    .fetch_all(&mut *connection)
    .await?
    {
        let waiting = Waiting {
            priority: stored_rank(need.priority)?,
            called_at: need.created_at,
            incident_id: IncidentId::from_uuid(need.id),
        };
        needs.push((waiting, need.lat, need.lon));
    }
    needs.sort_by(|(a, _, _), (b, _, _)| queue_order(a, b));
    let mut settled = Settled::default();
    for (waiting, lat, lon) in needs {
        let incident_uuid = waiting.incident_id.uuid();
        let refused: Vec<Uuid> = sqlx::query_scalar!(
            "SELECT unit_id FROM assignments \
             WHERE incident_id = $1 AND status IN ('declined', 'timed_out')",
            incident_uuid,
        )
        .fetch_all(&mut *connection)
        .await?;
        let location = GeoPoint::new("location", lat, lon)
            .map_err(|error| StoreError::Internal(error.to_string()))?;
        let Some((best, call_sign)) =
            best_unit_for(connection, kind, &location, config, &refused).await?
        else {
            if refused.is_empty() {
                // Not a single unit of this kind is available: the other
                // needs cannot be served either.
                break;
            }
            continue;
        };
        // Rows this transaction already holds are never skipped.
        let still_waiting: Option<bool> = sqlx::query_scalar!(
            r#"SELECT $2 = ANY(pending_kinds) AND status NOT IN ('resolved', 'cancelled')
                 AND NOT hold AS "waiting!"
               FROM incidents WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED"#,
            incident_uuid,
            kind.as_str(),
        )
        .fetch_optional(&mut *connection)
        .await?;
        match still_waiting {
            None => {
                settled.stopped_early = true;
                break;
            }
            Some(false) => continue,
            Some(true) => {}
        }
        let incident_id = IncidentId::from_uuid(incident_uuid);
        make_offer(
            connection,
            &actor,
            &Offer {
                incident_id,
                unit_id: best.unit_id,
                kind,
                call_sign,
                distance_m: best.distance_m,
                road: best.road,
                straight_line_eta_s: best.straight_line_eta_s,
            },
            config,
        )
        .await?;
        settled.served.push(incident_id);
    }
    Ok(settled)
}

/// A stored priority rank as the core's priority.
fn stored_rank(rank: i16) -> Result<ngalam112_core::Priority, StoreError> {
    ngalam112_core::Priority::from_rank(rank)
        .ok_or_else(|| StoreError::Internal(format!("unknown priority {rank} in database")))
}

impl crate::Store {
    /// The safety net every server process runs every few seconds: settles
    /// each kind that has both a waiting need and an available unit (after
    /// a crash between a commit and its `settle_again`, say). Returns how
    /// many offers it made.
    pub async fn settle_waiting(&self) -> Result<usize, StoreError> {
        let all_kinds: Vec<&str> = UnitKind::ALL.iter().map(|kind| kind.as_str()).collect();
        let kinds: Vec<String> = sqlx::query_scalar!(
            r#"SELECT k AS "k!" FROM unnest($1::text[]) AS k
             WHERE EXISTS (SELECT 1 FROM units WHERE kind = k AND status = 'available')
               AND EXISTS (SELECT 1 FROM incidents WHERE cardinality(pending_kinds) > 0
                 AND k = ANY(pending_kinds) AND status NOT IN ('resolved', 'cancelled')
                 AND NOT hold)"#,
            &all_kinds as &[&str],
        )
        .fetch_all(&self.pool)
        .await?;
        let mut offers = 0;
        let dispatcher = self.dispatcher();
        for kind in kinds {
            let kind: UnitKind = decode(&kind)?;
            let settled = dispatcher
                .settle_once(kind, &Actor::system(), false)
                .await?;
            offers += settled.served.len();
            if settled.stopped_early {
                offers += dispatcher
                    .settle_again(&[kind], &Actor::system(), false)
                    .await
                    .len();
            }
        }
        Ok(offers)
    }
}
