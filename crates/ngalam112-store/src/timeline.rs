//! The append-only timeline: every change to an incident or its
//! assignments writes one row here, in the transaction that makes the
//! change. (A trigger in the schema refuses UPDATE, DELETE and TRUNCATE.)

use ngalam112_core::plan::PlannedEvent;
use ngalam112_core::{AssignmentId, EventKind, IncidentId, UnitId};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::records::TimelineRow;
use crate::{Actor, StoreError, TimelineRecord};

/// One event to append.
pub(crate) struct Event {
    pub incident_id: IncidentId,
    pub kind: EventKind,
    pub detail: String,
    pub assignment_id: Option<AssignmentId>,
    pub unit_id: Option<UnitId>,
}

impl Event {
    pub(crate) fn incident(
        incident_id: IncidentId,
        kind: EventKind,
        detail: impl Into<String>,
    ) -> Self {
        Self::planned(incident_id, PlannedEvent::incident(kind, detail))
    }

    pub(crate) fn assignment(
        incident_id: IncidentId,
        assignment_id: AssignmentId,
        unit_id: UnitId,
        kind: EventKind,
        detail: impl Into<String>,
    ) -> Self {
        Self::planned(
            incident_id,
            PlannedEvent::assignment(kind, assignment_id, unit_id, detail),
        )
    }

    /// An event the core planned, for `incident_id`.
    pub(crate) fn planned(incident_id: IncidentId, event: PlannedEvent) -> Self {
        Self {
            incident_id,
            kind: event.kind,
            detail: event.detail,
            assignment_id: event.assignment_id,
            unit_id: event.unit_id,
        }
    }
}

/// Appends one event (see [`append_all`]).
pub(crate) async fn append(
    connection: &mut PgConnection,
    actor: &Actor,
    event: Event,
) -> Result<(), StoreError> {
    append_all(connection, &[(actor, event)]).await
}

/// The timeline's columns of `events`, in order.
struct Columns<'a> {
    incident_ids: Vec<Uuid>,
    kinds: Vec<&'static str>,
    actors: Vec<&'a str>,
    details: Vec<&'a str>,
    assignment_ids: Vec<Option<Uuid>>,
    unit_ids: Vec<Option<Uuid>>,
}

impl<'a> Columns<'a> {
    fn of(events: &'a [(&'a Actor, Event)]) -> Self {
        Self {
            incident_ids: events.iter().map(|(_, e)| e.incident_id.uuid()).collect(),
            kinds: events.iter().map(|(_, e)| e.kind.as_str()).collect(),
            actors: events.iter().map(|(actor, _)| actor.0.as_str()).collect(),
            details: events.iter().map(|(_, e)| e.detail.as_str()).collect(),
            assignment_ids: events
                .iter()
                .map(|(_, e)| e.assignment_id.map(|id| id.uuid()))
                .collect(),
            unit_ids: events
                .iter()
                .map(|(_, e)| e.unit_id.map(|id| id.uuid()))
                .collect(),
        }
    }
}

/// The one writer of the timeline: appends `events` (each with who made
/// it) in order, numbering each incident's events on from its last one
/// (`Numbering`). At commit every server process's watchers hear that the
/// incident changed. Fails if an incident is missing (nothing of the
/// statement stays).
pub(crate) async fn append_all(
    connection: &mut PgConnection,
    events: &[(&Actor, Event)],
) -> Result<(), StoreError> {
    append_numbered(connection, events, Numbering::After).await
}

/// How `append_numbered` numbers an incident's events.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Numbering {
    /// On from the incident's `last_timeline_seq`, which it advances:
    /// this locks the incident's row, so one incident's events are
    /// appended one transaction at a time.
    After,
    /// From 1: the incidents were inserted by this transaction with
    /// `last_timeline_seq` already counting these events (a new call's
    /// plan knows them all; `intake_group::write`).
    New,
}

pub(crate) async fn append_numbered(
    connection: &mut PgConnection,
    events: &[(&Actor, Event)],
    numbering: Numbering,
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let c = Columns::of(events);
    let appended = sqlx::query_scalar!(
        r#"WITH e AS (
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[],
                 $6::uuid[]) WITH ORDINALITY
               AS e(incident_id, kind, actor, detail, assignment_id, unit_id, n)
           ),
           counted AS (SELECT incident_id, count(*)::int4 AS events FROM e GROUP BY incident_id),
           next AS (
             UPDATE incidents SET last_timeline_seq = last_timeline_seq + counted.events
             FROM counted WHERE incidents.id = counted.incident_id AND NOT $7
             RETURNING incidents.id, last_timeline_seq - counted.events AS before
           ),
           numbered AS (
             SELECT id, before FROM next
             UNION ALL
             SELECT counted.incident_id, 0 FROM counted
             WHERE $7 AND EXISTS (SELECT 1 FROM incidents i
                                  WHERE i.id = counted.incident_id
                                    AND i.last_timeline_seq = counted.events)
           ),
           inserted AS (
             INSERT INTO timeline_events
               (incident_id, incident_seq, kind, actor, detail, assignment_id, unit_id)
             SELECT e.incident_id,
               numbered.before + row_number() OVER (PARTITION BY e.incident_id ORDER BY e.n),
               e.kind, e.actor, e.detail, e.assignment_id, e.unit_id
             FROM e JOIN numbered ON numbered.id = e.incident_id
             ORDER BY e.n
             RETURNING pg_notify('ngalam112_incidents', incident_id::text || ' ' || kind)
           )
           SELECT count(*) AS "appended!" FROM inserted"#,
        &c.incident_ids,
        &c.kinds as &[&str],
        &c.actors as &[&str],
        &c.details as &[&str],
        &c.assignment_ids as &[Option<Uuid>],
        &c.unit_ids as &[Option<Uuid>],
        numbering == Numbering::New,
    )
    .fetch_one(&mut *connection)
    .await?;
    if appended != events.len() as i64 {
        return Err(StoreError::Internal(format!(
            "{appended} of {} timeline events appended: an incident is missing or \
             its numbering does not match",
            events.len()
        )));
    }
    Ok(())
}

impl crate::Store {
    /// Every event of an incident, oldest first.
    pub async fn timeline(
        &self,
        incident_id: IncidentId,
    ) -> Result<Vec<TimelineRecord>, StoreError> {
        let exists: Option<i32> = sqlx::query_scalar!(
            r#"SELECT 1 AS "found!" FROM incidents WHERE id = $1"#,
            incident_id.uuid()
        )
        .fetch_optional(&self.pool)
        .await?;
        if exists.is_none() {
            return Err(StoreError::not_found("incident", incident_id));
        }
        let rows: Vec<TimelineRow> = sqlx::query_as!(
            TimelineRow,
            "SELECT at, kind, actor, detail, assignment_id, unit_id FROM timeline_events \
             WHERE incident_id = $1 ORDER BY incident_seq",
            incident_id.uuid()
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(TimelineRecord::from).collect())
    }
}
