//! The append-only timeline: every change to an incident or its
//! assignments writes one row here, in the transaction that makes the
//! change. (A trigger in the schema refuses UPDATE, DELETE and TRUNCATE.)

use ngalam112_core::{AssignmentId, IncidentId, UnitId};
use sqlx::PgConnection;

use crate::records::TimelineRow;
use crate::{Actor, StoreError, TimelineRecord};

/// One event to append.
pub(crate) struct Event<'a> {
    pub incident_id: IncidentId,
    pub kind: &'a str,
    pub detail: String,
    pub assignment_id: Option<AssignmentId>,
    pub unit_id: Option<UnitId>,
}

impl<'a> Event<'a> {
    pub(crate) fn incident(
        incident_id: IncidentId,
        kind: &'a str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            incident_id,
            kind,
            detail: detail.into(),
            assignment_id: None,
            unit_id: None,
        }
    }

    pub(crate) fn assignment(
        incident_id: IncidentId,
        assignment_id: AssignmentId,
        unit_id: UnitId,
        kind: &'a str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            incident_id,
            kind,
            detail: detail.into(),
            assignment_id: Some(assignment_id),
            unit_id: Some(unit_id),
        }
    }
}

pub(crate) async fn append(
    connection: &mut PgConnection,
    actor: &Actor,
    event: Event<'_>,
) -> Result<(), StoreError> {
    // Numbers the event (locking the incident row, so one incident's events
    // are appended one at a time) and tells every server process's
    // watchers, at commit, that the incident changed.
    sqlx::query!(
        "WITH next AS ( \
           UPDATE incidents SET last_timeline_seq = last_timeline_seq + 1 WHERE id = $1 \
           RETURNING last_timeline_seq) \
         INSERT INTO timeline_events \
           (incident_id, incident_seq, kind, actor, detail, assignment_id, unit_id) \
         SELECT $1, last_timeline_seq, $2, $3, $4, $5, $6 FROM next \
         RETURNING pg_notify('ngalam112_incidents', $1::text || ' ' || $2)",
        event.incident_id.0,
        event.kind,
        &actor.0,
        &event.detail,
        event.assignment_id.map(|id| id.0),
        event.unit_id.map(|id| id.0),
    )
    .execute(&mut *connection)
    .await?;
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
            incident_id.0
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
            incident_id.0
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(TimelineRecord::from).collect())
    }
}
