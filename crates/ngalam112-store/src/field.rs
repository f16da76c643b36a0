//! The crews' side: polling for the open assignment, accepting, declining
//! and reporting progress.

use ngalam112_core::drive::Route;
use ngalam112_core::{
    AssignmentId, AssignmentStatus, EventKind, GeoPoint, IncidentId, UnitId, UnitKind, UnitStatus,
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::dispatch;
use crate::records::decode;
use crate::records::{load_assignment, load_incident};
use crate::timeline::{self, Event};
use crate::unit_of_work::{DispatchTx, Exclusive};
use crate::{Actor, AssignmentRecord, IncidentRecord, Store, StoreError};

/// The assignment row as a state change needs it, locked.
struct LockedAssignment {
    incident: dispatch::LockedIncident,
    id: AssignmentId,
    incident_id: IncidentId,
    unit_id: UnitId,
    kind: UnitKind,
    status: AssignmentStatus,
    deadline_passed: bool,
}

/// Locks an assignment's incident, then the assignment (the lock order of
/// `dispatch::lock_incident`).
async fn lock_assignment(
    connection: &mut PgConnection,
    id: AssignmentId,
) -> Result<LockedAssignment, StoreError> {
    let incident: Uuid = sqlx::query_scalar!(
        "SELECT incident_id FROM assignments WHERE id = $1",
        id.uuid(),
    )
    .fetch_optional(&mut *connection)
    .await?
    .ok_or_else(|| StoreError::not_found("assignment", id))?;
    let locked_incident =
        dispatch::lock_incident(connection, IncidentId::from_uuid(incident)).await?;
    let row = sqlx::query!(
        r#"SELECT incident_id, unit_id, unit_kind, status,
             coalesce(offer_deadline < now(), false) AS "deadline_passed!"
           FROM assignments WHERE id = $1 FOR UPDATE"#,
        id.uuid(),
    )
    .fetch_optional(&mut *connection)
    .await?
    .ok_or_else(|| StoreError::not_found("assignment", id))?;
    let (incident_id, unit_id, kind, status, deadline_passed) = (
        row.incident_id,
        row.unit_id,
        row.unit_kind,
        row.status,
        row.deadline_passed,
    );
    Ok(LockedAssignment {
        incident: locked_incident,
        id,
        incident_id: IncidentId::from_uuid(incident_id),
        unit_id: UnitId::from_uuid(unit_id),
        kind: decode::<UnitKind>(&kind)?,
        status: decode::<AssignmentStatus>(&status)?,
        deadline_passed,
    })
}

/// Only an OFFERED assignment within its deadline can be accepted or
/// declined (`answer`). Rule 4: past its deadline an offer is unanswered,
/// whatever comes after; the offer timer times it out (unit out of
/// service) and it goes to another unit; a late decline does not free the
/// unit.
fn require_open_offer(assignment: &LockedAssignment, answer: &str) -> Result<(), StoreError> {
    if assignment.status != AssignmentStatus::Offered {
        return Err(StoreError::FailedPrecondition(format!(
            "assignment is {}; only an offered assignment can be {answer}",
            assignment.status
        )));
    }
    if assignment.deadline_passed {
        return Err(StoreError::FailedPrecondition(
            "the offer has expired; it goes to another unit".to_owned(),
        ));
    }
    Ok(())
}

/// The assignment's new status and its timeline event.
async fn set_assignment_status(
    connection: &mut PgConnection,
    actor: &Actor,
    assignment: &LockedAssignment,
    status: AssignmentStatus,
    detail: &str,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE assignments SET status = $2, updated_at = now() WHERE id = $1",
        assignment.id.uuid(),
        status.as_str(),
    )
    .execute(&mut *connection)
    .await?;
    timeline::append(
        connection,
        actor,
        Event::assignment(
            assignment.incident_id,
            assignment.id,
            assignment.unit_id,
            EventKind::of_assignment(status),
            detail,
        ),
    )
    .await
}

impl Store {
    /// The kind of the assignment's unit (immutable, so read without a
    /// lock to know which dispatch lock to take first).
    async fn assignment_kind(&self, id: AssignmentId) -> Result<UnitKind, StoreError> {
        let kind: String =
            sqlx::query_scalar!("SELECT unit_kind FROM assignments WHERE id = $1", id.uuid(),)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| StoreError::not_found("assignment", id))?;
        decode::<UnitKind>(&kind)
    }

    /// The unit that holds an assignment (for authorising a crew's call).
    pub async fn assignment_unit(&self, id: AssignmentId) -> Result<UnitId, StoreError> {
        let unit: Uuid =
            sqlx::query_scalar!("SELECT unit_id FROM assignments WHERE id = $1", id.uuid(),)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| StoreError::not_found("assignment", id))?;
        Ok(UnitId::from_uuid(unit))
    }

    /// The way by road from an assignment's unit (its last position) to
    /// its incident, with the unit (the caller checks it may see it).
    /// FAILED_PRECONDITION without roads; NOT_FOUND when no road connects
    /// them.
    pub async fn assignment_route(&self, id: AssignmentId) -> Result<(UnitId, Route), StoreError> {
        let Some(roads) = self.config.roads.clone() else {
            return Err(StoreError::FailedPrecondition(
                "the server runs without roads (serve --roads FILE.osm.pbf)".to_owned(),
            ));
        };
        let ends = sqlx::query!(
            "SELECT a.unit_id, u.lat AS unit_lat, u.lon AS unit_lon, i.lat, i.lon \
             FROM assignments a JOIN units u ON u.id = a.unit_id \
             JOIN incidents i ON i.id = a.incident_id WHERE a.id = $1",
            id.uuid(),
        )
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::not_found("assignment", id))?;
        let point = |lat, lon| {
            GeoPoint::new("location", lat, lon)
                .map_err(|error| StoreError::Internal(error.to_string()))
        };
        let (from, to) = (
            point(ends.unit_lat, ends.unit_lon)?,
            point(ends.lat, ends.lon)?,
        );
        let route = roads
            .route(&from, &to)
            .ok_or_else(|| StoreError::not_found("road route for assignment", id))?;
        Ok((UnitId::from_uuid(ends.unit_id), route))
    }

    /// The unit's open assignment (OFFERED … ON_SCENE) with its incident,
    /// read in one snapshot: a cancel committing between the reads can
    /// never make a closed assignment look open.
    pub async fn open_assignment(
        &self,
        unit_id: UnitId,
    ) -> Result<Option<(AssignmentRecord, IncidentRecord)>, StoreError> {
        let mut connection = self.pool.begin().await?;
        sqlx::query!("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *connection)
            .await?;
        let unit: Option<Option<Uuid>> = sqlx::query_scalar!(
            "SELECT current_assignment_id FROM units WHERE id = $1",
            unit_id.uuid(),
        )
        .fetch_optional(&mut *connection)
        .await?;
        let Some(current) = unit else {
            return Err(StoreError::not_found("unit", unit_id));
        };
        let Some(assignment_uuid) = current else {
            return Ok(None);
        };
        let assignment = load_assignment(&mut connection, assignment_uuid).await?;
        let incident = load_incident(&mut connection, assignment.incident_id).await?;
        connection.commit().await?;
        Ok(Some((assignment, incident)))
    }

    /// OFFERED → ACCEPTED.
    pub async fn accept_assignment(
        &self,
        id: AssignmentId,
        actor: &Actor,
    ) -> Result<AssignmentRecord, StoreError> {
        self.retrying(move || async move {
            let mut transaction = self.pool.begin().await?;
            let assignment = lock_assignment(&mut transaction, id).await?;
            require_open_offer(&assignment, "accepted")?;
            let first_accept: bool = sqlx::query_scalar!(
                r#"SELECT NOT EXISTS (SELECT 1 FROM assignments WHERE incident_id = $1
                   AND status IN ('accepted', 'en_route', 'on_scene', 'completed')) AS "first!""#,
                assignment.incident_id.uuid(),
            )
            .fetch_one(&mut *transaction)
            .await?;
            if first_accept {
                assignment
                    .incident
                    .record("ngalam112_call_to_first_accept_seconds");
            }
            let accepted = AssignmentStatus::Accepted;
            set_assignment_status(&mut transaction, actor, &assignment, accepted, "").await?;
            let record = load_assignment(&mut transaction, id.uuid()).await?;
            transaction.commit().await?;
            Ok(record)
        })
        .await
    }

    /// OFFERED → DECLINED: the unit is available again and the incident
    /// goes at once to the next nearest unit that has not refused it.
    pub async fn decline_assignment(
        &self,
        id: AssignmentId,
        reason: &str,
        actor: &Actor,
    ) -> Result<AssignmentRecord, StoreError> {
        let kind = self.assignment_kind(id).await?;
        self.retrying(move || async move {
            let mut transaction = self.dispatcher().exclusive(&[kind], actor).await?;
            let assignment = lock_assignment(&mut transaction, id).await?;
            require_open_offer(&assignment, "declined")?;
            end_assignment(
                &mut transaction,
                actor,
                &assignment,
                AssignmentStatus::Declined,
                reason,
            )
            .await?;
            let record = load_assignment(&mut transaction, id.uuid()).await?;
            transaction.finish().await?;
            Ok(record)
        })
        .await
    }

    /// A crew's progress report: forward only along ACCEPTED → EN_ROUTE →
    /// ON_SCENE → COMPLETED. ON_SCENE puts the incident on scene; COMPLETED
    /// frees the unit for the next need.
    pub async fn update_assignment_status(
        &self,
        id: AssignmentId,
        next: AssignmentStatus,
        actor: &Actor,
    ) -> Result<AssignmentRecord, StoreError> {
        let kind = self.assignment_kind(id).await?;
        // Only completing frees the unit: only then the kind's lock.
        let frees: &[UnitKind] = if next == AssignmentStatus::Completed {
            &[kind]
        } else {
            &[]
        };
        self.retrying(move || async move {
            let mut transaction = self.dispatcher().exclusive(frees, actor).await?;
            let assignment = lock_assignment(&mut transaction, id).await?;
            if !assignment.status.can_progress_to(next) {
                let hint = if assignment.status == AssignmentStatus::Offered {
                    "; accept the offer first"
                } else {
                    ""
                };
                return Err(StoreError::FailedPrecondition(format!(
                    "assignment is {}; it cannot become {next}{hint}",
                    assignment.status
                )));
            }
            if next == AssignmentStatus::Completed {
                end_assignment(&mut transaction, actor, &assignment, next, "").await?;
            } else {
                set_assignment_status(&mut transaction, actor, &assignment, next, "").await?;
                if next == AssignmentStatus::OnScene {
                    if !assignment.incident.ever_on_scene {
                        assignment
                            .incident
                            .record("ngalam112_call_to_on_scene_seconds");
                    }
                    sqlx::query!(
                        "UPDATE incidents SET ever_on_scene = true WHERE id = $1",
                        assignment.incident_id.uuid(),
                    )
                    .execute(&mut *transaction)
                    .await?;
                    dispatch::refresh_incident(&mut transaction, actor, assignment.incident_id)
                        .await?;
                }
            }
            let record = load_assignment(&mut transaction, id.uuid()).await?;
            transaction.finish().await?;
            Ok(record)
        })
        .await
    }

    /// Times out every OFFERED assignment whose deadline has passed (rule
    /// 4): TIMED_OUT, its unit OUT_OF_SERVICE, the incident offered to the
    /// next nearest unit. Safe to run in any number of server processes at
    /// once: each offer is re-checked under its row lock, so it times out
    /// exactly once. Returns how many offers timed out here.
    pub async fn expire_due_offers(&self) -> Result<usize, StoreError> {
        let due = sqlx::query!(
            "SELECT id, unit_kind FROM assignments \
             WHERE status = 'offered' AND offer_deadline <= now() \
             ORDER BY offer_deadline LIMIT 500",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut expired = 0;
        for row in due {
            let (id, kind) = (row.id, row.unit_kind);
            let kind = decode::<UnitKind>(&kind)?;
            let id = AssignmentId::from_uuid(id);
            let timed_out = self
                .retrying(move || async move {
                    let mut transaction = self
                        .dispatcher()
                        .exclusive(&[kind], &Actor::system())
                        .await?;
                    let assignment = lock_assignment(&mut transaction, id).await?;
                    if assignment.status != AssignmentStatus::Offered || !assignment.deadline_passed
                    {
                        // Accepted, declined or expired meanwhile (perhaps by
                        // another server process).
                        return Ok(None);
                    }
                    end_assignment(
                        &mut transaction,
                        &Actor::system(),
                        &assignment,
                        AssignmentStatus::TimedOut,
                        "no answer before the offer deadline; unit set out of service",
                    )
                    .await?;
                    transaction.finish().await?;
                    Ok(Some(()))
                })
                .await?;
            if timed_out.is_some() {
                tracing::info!(assignment_id = %id, "offer timed out");
                expired += 1;
            }
        }
        Ok(expired)
    }

    /// Seconds from now (the database's clock) to the earliest deadline of
    /// an open offer; negative when one is overdue, None when no offer is
    /// open.
    pub async fn seconds_to_next_offer_deadline(&self) -> Result<Option<f64>, StoreError> {
        let seconds: Option<f64> = sqlx::query_scalar!(
            "SELECT extract(epoch FROM min(offer_deadline) - now())::float8 \
             FROM assignments WHERE status = 'offered'"
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(seconds)
    }
}

/// Ends an open assignment (completed, declined, timed out), frees its
/// unit, re-derives the incident and settles the kind. The transaction
/// holds the kind's lock; the assignment's row is locked.
async fn end_assignment(
    transaction: &mut DispatchTx<'_, Exclusive>,
    actor: &Actor,
    assignment: &LockedAssignment,
    end: AssignmentStatus,
    detail: &str,
) -> Result<(), StoreError> {
    set_assignment_status(transaction, actor, assignment, end, detail).await?;
    // Rule 4: a crew that did not answer gets no more emergencies until it
    // is put back in service.
    let unit_status = if end == AssignmentStatus::TimedOut {
        UnitStatus::OutOfService
    } else {
        UnitStatus::Available
    };
    dispatch::release_unit(transaction, assignment.unit_id, unit_status).await?;
    if end != AssignmentStatus::Completed {
        metrics::counter!("ngalam112_offers_refused_total", "outcome" => end.as_str()).increment(1);
    }
    dispatch::refresh_incident(transaction, actor, assignment.incident_id).await?;
    transaction.settle(&[assignment.kind]).await?;
    Ok(())
}
