//! Calls already waiting, served by the group: when a group's calls need a
//! kind somebody is waiting for, the group takes the queue's first needs
//! of that kind into its allocation (most urgent, then oldest: rule 5), so
//! that a free unit goes to the waiting call before a newer one, and the
//! queue drains at the group's pace instead of one need per statement.

use chrono::{DateTime, Utc};
use ngalam112_core::plan::{PlannedOffer, offered_detail};
use ngalam112_core::ranking::Waiting;
use ngalam112_core::{EventKind, GeoPoint, IncidentId, UnitId, UnitKind};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::dispatch::{record_milestone, refresh_incident, write_offers};
use crate::records::decode;
use crate::timeline::{self, Event};
use crate::{Actor, StoreConfig, StoreError};

/// The most waiting needs of one kind a group takes.
pub(super) const WAITERS_PER_KIND: i64 = 64;

/// A need already waiting, locked by the group's transaction.
pub(super) struct Waiter {
    pub(super) key: Waiting,
    pub(super) kind: UnitKind,
    pub(super) location: GeoPoint,
    /// Units that declined or did not answer this incident (rule 4).
    pub(super) refused: Vec<UnitId>,
    category: String,
    seconds_waited: f64,
    never_offered: bool,
}

/// The queue's first needs of some kinds, as the group's transaction
/// locked them.
#[derive(Default)]
pub(super) struct Queue {
    /// In queue order per kind, up to (not including) the first need held
    /// by another transaction.
    pub(super) waiters: Vec<Waiter>,
    /// For a kind with more needs than the group took (or one held
    /// elsewhere): the last need taken. A call behind it in the queue
    /// gets no unit of the kind here (it would overtake).
    pub(super) cutoffs: Vec<(UnitKind, Waiting)>,
    /// Kinds whose queue stopped at a need held elsewhere: settled again
    /// after the commit.
    pub(super) stopped: Vec<UnitKind>,
}

struct WaitingRow {
    id: Uuid,
    kind: String,
    lat: f64,
    lon: f64,
    priority: i16,
    category: String,
    created_at: DateTime<Utc>,
    seconds_waited: f64,
    never_offered: bool,
    refused: Vec<Uuid>,
}

/// The first needs waiting for each of `kinds` (at most
/// [`WAITERS_PER_KIND`] each), their rows locked without waiting
/// (`SKIP LOCKED`) and re-checked still waiting. At a need another
/// transaction holds the queue of its kind stops (nobody behind it may
/// take a unit first), unless units of the kind are `plenty`: then it is
/// passed over (its kind is settled again after the commit).
pub(super) async fn lock_queue(
    connection: &mut PgConnection,
    kinds: &[UnitKind],
    plenty: &[UnitKind],
) -> Result<Queue, StoreError> {
    if kinds.is_empty() {
        return Ok(Queue::default());
    }
    let names: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
    let rows = sqlx::query_as!(
        WaitingRow,
        r#"SELECT w.id AS "id!", k.kind AS "kind!", w.lat AS "lat!", w.lon AS "lon!",
             w.priority AS "priority!", w.category AS "category!",
             w.created_at AS "created_at!",
             extract(epoch FROM clock_timestamp() - w.created_at)::float8 AS "seconds_waited!",
             NOT EXISTS (SELECT 1 FROM assignments a WHERE a.incident_id = w.id)
               AS "never_offered!",
             ARRAY(SELECT a.unit_id FROM assignments a WHERE a.incident_id = w.id
                   AND a.status IN ('declined', 'timed_out')) AS "refused!"
           FROM unnest($1::text[]) AS k(kind)
           CROSS JOIN LATERAL (
             SELECT i.id, i.lat, i.lon, i.priority, i.category, i.created_at FROM incidents i
             WHERE cardinality(i.pending_kinds) > 0 AND i.status NOT IN ('resolved', 'cancelled')
               AND k.kind = ANY (i.pending_kinds) AND NOT i.hold
             ORDER BY i.priority, i.created_at LIMIT $2) w"#,
        &names as &[&str],
        WAITERS_PER_KIND,
    )
    .fetch_all(&mut *connection)
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    // Locked and still waiting for the kind (another transaction may have
    // served it since the read).
    let locked: Vec<(Uuid, Vec<String>)> = sqlx::query!(
        "SELECT id, pending_kinds FROM incidents WHERE id = ANY($1) \
           AND status NOT IN ('resolved', 'cancelled') AND NOT hold \
         FOR NO KEY UPDATE SKIP LOCKED",
        &ids,
    )
    .fetch_all(&mut *connection)
    .await?
    .into_iter()
    .map(|row| (row.id, row.pending_kinds))
    .collect();
    let mut queue = Queue::default();
    for kind in kinds {
        let of_kind: Vec<&WaitingRow> = rows
            .iter()
            .filter(|row| row.kind == kind.as_str())
            .collect();
        let mut last = None;
        let mut cut_short = false;
        for row in &of_kind {
            let Some((_, pending)) = locked.iter().find(|(id, _)| *id == row.id) else {
                // Held elsewhere: the kind is settled again after the
                // commit; and unless units are plenty the queue stops
                // here, so that no need behind it takes the unit first.
                if !queue.stopped.contains(kind) {
                    queue.stopped.push(*kind);
                }
                if plenty.contains(kind) {
                    continue;
                }
                cut_short = true;
                break;
            };
            if !pending.iter().any(|name| name == kind.as_str()) {
                continue;
            }
            let waiter = waiter(row, *kind)?;
            last = Some(waiter.key);
            queue.waiters.push(waiter);
        }
        let cut = cut_short || of_kind.len() as i64 >= WAITERS_PER_KIND;
        match (cut, last) {
            (true, Some(last)) => queue.cutoffs.push((*kind, last)),
            // Nothing taken before the stop: no call may have the kind.
            (true, None) => queue.cutoffs.push((*kind, before_everything())),
            (false, _) => {}
        }
    }
    Ok(queue)
}

fn waiter(row: &WaitingRow, kind: UnitKind) -> Result<Waiter, StoreError> {
    Ok(Waiter {
        key: Waiting {
            priority: ngalam112_core::Priority::from_rank(row.priority).ok_or_else(|| {
                StoreError::Internal(format!("unknown priority {} in database", row.priority))
            })?,
            called_at: row.created_at,
            incident_id: IncidentId::from_uuid(row.id),
        },
        kind,
        location: GeoPoint::new("location", row.lat, row.lon)
            .map_err(|error| StoreError::Internal(error.to_string()))?,
        refused: row.refused.iter().copied().map(UnitId::from_uuid).collect(),
        category: decode::<ngalam112_core::IncidentCategory>(&row.category)?
            .as_str()
            .to_owned(),
        seconds_waited: row.seconds_waited,
        never_offered: row.never_offered,
    })
}

/// A place in the queue ahead of every call: as a cutoff, no call gets a
/// unit of the kind.
pub(super) fn before_everything() -> Waiting {
    Waiting {
        priority: ngalam112_core::Priority::Critical,
        called_at: DateTime::<Utc>::MIN_UTC,
        incident_id: IncidentId::from_uuid(Uuid::nil()),
    }
}

/// Offers the units the group claimed for waiting needs: the offers, their
/// timeline events, each incident's new state.
pub(super) async fn serve(
    connection: &mut PgConnection,
    config: &StoreConfig,
    served: &[(&Waiter, PlannedOffer)],
) -> Result<(), StoreError> {
    if served.is_empty() {
        return Ok(());
    }
    let offers: Vec<(IncidentId, &PlannedOffer)> = served
        .iter()
        .map(|(waiter, offer)| (waiter.key.incident_id, offer))
        .collect();
    let written = write_offers(connection, config, &offers).await?;
    if written.len() != offers.len() {
        return Err(StoreError::Internal(format!(
            "{} of {} claimed units could be offered to waiting calls",
            written.len(),
            offers.len()
        )));
    }
    let system = Actor::system();
    let events: Vec<(&Actor, Event)> = served
        .iter()
        .map(|(waiter, offer)| {
            let detail = offered_detail(offer);
            let event = Event::assignment(
                waiter.key.incident_id,
                offer.assignment_id,
                offer.unit_id,
                EventKind::AssignmentOffered,
                detail,
            );
            (&system, event)
        })
        .collect();
    timeline::append_all(connection, &events).await?;
    for (waiter, _) in served {
        refresh_incident(connection, &system, waiter.key.incident_id).await?;
        if waiter.never_offered {
            record_milestone(
                "ngalam112_call_to_first_offer_seconds",
                &waiter.category,
                waiter.key.priority.rank(),
                waiter.seconds_waited,
            );
        }
    }
    Ok(())
}
