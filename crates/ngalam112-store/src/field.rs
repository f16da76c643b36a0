//! The crews' side: polling for the open assignment, accepting, declining
//! and reporting progress.

use ngalam112_core::{AssignmentId, AssignmentStatus, IncidentId, UnitId, UnitKind, UnitStatus};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::dispatch;
use crate::records::{load_assignment, load_incident};
use crate::timeline::{self, Event};
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
    let incident: Uuid =
        sqlx::query_scalar!("SELECT incident_id FROM assignments WHERE id = $1", id.0,)
            .fetch_optional(&mut *connection)
            .await?
            .ok_or_else(|| StoreError::not_found("assignment", id))?;
    let locked_incident = dispatch::lock_incident(connection, IncidentId(incident)).await?;
    let row = sqlx::query!(
        r#"SELECT incident_id, unit_id, unit_kind, status,
             coalesce(offer_deadline < now(), false) AS "deadline_passed!"
           FROM assignments WHERE id = $1 FOR UPDATE"#,
        id.0,
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
        incident_id: IncidentId(incident_id),
        unit_id: UnitId(unit_id),
        kind: UnitKind::from_stored(&kind)
            .ok_or_else(|| StoreError::Internal(format!("unknown kind {kind}")))?,
        status: AssignmentStatus::from_stored(&status)
            .ok_or_else(|| StoreError::Internal(format!("unknown status {status}")))?,
        deadline_passed,
    })
}

async fn set_assignment_status(
    connection: &mut PgConnection,
    id: AssignmentId,
    status: AssignmentStatus,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE assignments SET status = $2, updated_at = now() WHERE id = $1",
        id.0,
        status.as_str(),
    )
    .execute(&mut *connection)
    .await?;
    Ok(())
}

impl Store {
    /// The kind of the assignment's unit (immutable, so read without a
    /// lock to know which dispatch lock to take first).
    async fn assignment_kind(&self, id: AssignmentId) -> Result<UnitKind, StoreError> {
        let kind: String =
            sqlx::query_scalar!("SELECT unit_kind FROM assignments WHERE id = $1", id.0,)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| StoreError::not_found("assignment", id))?;
        UnitKind::from_stored(&kind)
            .ok_or_else(|| StoreError::Internal(format!("unknown kind {kind}")))
    }

    /// The unit that holds an assignment (for authorising a crew's call).
    pub async fn assignment_unit(&self, id: AssignmentId) -> Result<UnitId, StoreError> {
        let unit: Uuid =
            sqlx::query_scalar!("SELECT unit_id FROM assignments WHERE id = $1", id.0,)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| StoreError::not_found("assignment", id))?;
        Ok(UnitId(unit))
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
            unit_id.0,
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
            if assignment.status != AssignmentStatus::Offered {
                return Err(StoreError::FailedPrecondition(format!(
                    "assignment is {}; only an offered assignment can be accepted",
                    assignment.status
                )));
            }
            if assignment.deadline_passed {
                return Err(StoreError::FailedPrecondition(
                    "the offer has expired; it goes to another unit".to_owned(),
                ));
            }
            let first_accept: bool = sqlx::query_scalar!(
                r#"SELECT NOT EXISTS (SELECT 1 FROM assignments WHERE incident_id = $1
                   AND status IN ('accepted', 'en_route', 'on_scene', 'completed')) AS "first!""#,
                assignment.incident_id.0,
            )
            .fetch_one(&mut *transaction)
            .await?;
            if first_accept {
                assignment
                    .incident
                    .record("ngalam112_call_to_first_accept_seconds");
            }
            set_assignment_status(&mut transaction, id, AssignmentStatus::Accepted).await?;
            timeline::append(
                &mut transaction,
                actor,
                Event::assignment(
                    assignment.incident_id,
                    id,
                    assignment.unit_id,
                    "assignment_accepted",
                    "",
                ),
            )
            .await?;
            let record = load_assignment(&mut transaction, id.0).await?;
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
        let (record, again) = self
            .retrying(move || async move {
                let mut transaction = self.pool.begin().await?;
                dispatch::lock_kinds(&mut transaction, &[kind]).await?;
                let assignment = lock_assignment(&mut transaction, id).await?;
                if assignment.status != AssignmentStatus::Offered {
                    return Err(StoreError::FailedPrecondition(format!(
                        "assignment is {}; only an offered assignment can be declined",
                        assignment.status
                    )));
                }
                // Rule 4: past its deadline an offer is unanswered, whatever
                // comes after; the offer timer times it out (unit out of
                // service), a late decline does not free the unit.
                if assignment.deadline_passed {
                    return Err(StoreError::FailedPrecondition(
                        "the offer has expired; it times out and goes to another unit".to_owned(),
                    ));
                }
                let again = self
                    .end_assignment(
                        &mut transaction,
                        actor,
                        &assignment,
                        AssignmentStatus::Declined,
                        reason,
                    )
                    .await?;
                let record = load_assignment(&mut transaction, id.0).await?;
                transaction.commit().await?;
                Ok((record, again))
            })
            .await?;
        self.settle_again(&again, actor).await;
        Ok(record)
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
        let (record, again) = self
            .retrying(move || async move {
                let mut transaction = self.pool.begin().await?;
                let mut again = Vec::new();
                if next == AssignmentStatus::Completed {
                    dispatch::lock_kinds(&mut transaction, &[kind]).await?;
                }
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
                    again = self
                        .end_assignment(&mut transaction, actor, &assignment, next, "")
                        .await?;
                } else {
                    set_assignment_status(&mut transaction, id, next).await?;
                    timeline::append(
                        &mut transaction,
                        actor,
                        Event::assignment(
                            assignment.incident_id,
                            id,
                            assignment.unit_id,
                            match next {
                                AssignmentStatus::EnRoute => "assignment_en_route",
                                _ => "assignment_on_scene",
                            },
                            "",
                        ),
                    )
                    .await?;
                    if next == AssignmentStatus::OnScene {
                        if !assignment.incident.ever_on_scene {
                            assignment
                                .incident
                                .record("ngalam112_call_to_on_scene_seconds");
                        }
                        sqlx::query!(
                            "UPDATE incidents SET ever_on_scene = true WHERE id = $1",
                            assignment.incident_id.0,
                        )
                        .execute(&mut *transaction)
                        .await?;
                        dispatch::refresh_incident(&mut transaction, actor, assignment.incident_id)
                            .await?;
                    }
                }
                let record = load_assignment(&mut transaction, id.0).await?;
                transaction.commit().await?;
                Ok((record, again))
            })
            .await?;
        self.settle_again(&again, actor).await;
        Ok(record)
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
            let kind = UnitKind::from_stored(&kind)
                .ok_or_else(|| StoreError::Internal(format!("unknown kind {kind}")))?;
            let id = AssignmentId(id);
            let timed_out = self
                .retrying(move || async move {
                    let mut transaction = self.pool.begin().await?;
                    dispatch::lock_kinds(&mut transaction, &[kind]).await?;
                    let assignment = lock_assignment(&mut transaction, id).await?;
                    if assignment.status != AssignmentStatus::Offered || !assignment.deadline_passed
                    {
                        // Accepted, declined or expired meanwhile (perhaps by
                        // another server process).
                        return Ok(None);
                    }
                    let again = self
                        .end_assignment(
                            &mut transaction,
                            &Actor::system(),
                            &assignment,
                            AssignmentStatus::TimedOut,
                            "no answer before the offer deadline; unit set out of service",
                        )
                        .await?;
                    transaction.commit().await?;
                    Ok(Some(again))
                })
                .await?;
            if let Some(again) = timed_out {
                self.settle_again(&again, &Actor::system()).await;
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

    /// Ends an open assignment (completed, declined, timed out), frees its
    /// unit, re-derives the incident and lets the kind's dispatch settle.
    /// The caller holds the kind's lock and the assignment's row lock;
    /// returns the kinds to settle again after the commit.
    async fn end_assignment(
        &self,
        connection: &mut PgConnection,
        actor: &Actor,
        assignment: &LockedAssignment,
        end: AssignmentStatus,
        detail: &str,
    ) -> Result<Vec<UnitKind>, StoreError> {
        set_assignment_status(connection, assignment.id, end).await?;
        // Rule 4: a crew that did not answer gets no more emergencies until
        // it is put back in service.
        let unit_status = if end == AssignmentStatus::TimedOut {
            UnitStatus::OutOfService
        } else {
            UnitStatus::Available
        };
        dispatch::release_unit(connection, assignment.unit_id, unit_status).await?;
        if end != AssignmentStatus::Completed {
            metrics::counter!("ngalam112_offers_refused_total", "outcome" => end.as_str())
                .increment(1);
        }
        timeline::append(
            connection,
            actor,
            Event::assignment(
                assignment.incident_id,
                assignment.id,
                assignment.unit_id,
                match end {
                    AssignmentStatus::Completed => "assignment_completed",
                    AssignmentStatus::Declined => "assignment_declined",
                    _ => "assignment_timed_out",
                },
                detail,
            ),
        )
        .await?;
        dispatch::refresh_incident(connection, actor, assignment.incident_id).await?;
        dispatch::settle_kinds(connection, actor, &[assignment.kind], &self.config).await
    }
}
