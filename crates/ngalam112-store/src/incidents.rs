//! Incidents: intake (with idempotency and duplicate callers), reads, and
//! the dispatcher's changes (override, cancel, resolve).

use chrono::{DateTime, Utc};
use ngalam112_core::{
    AssignmentId, AssignmentStatus, EventKind, GeoPoint, IncidentCategory, IncidentId,
    IncidentStatus, NewIncident, ResolutionCode, UnitId, UnitKind, UnitStatus,
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::dispatch::{self, Offer};
use crate::intake_group::{GROUP_ATTEMPTS, GroupAnswer};
use crate::outcome::InFlight;
use crate::records::decode;
use crate::records::{IncidentRow, load_assignment, load_incident};
use crate::timeline::{self, Event};
use crate::{Actor, AssignmentRecord, IncidentRecord, Store, StoreError};

/// What CreateIncident did.
#[derive(Debug, Clone)]
pub struct CreateOutcome {
    pub incident: IncidentRecord,
    /// False when the request_id was seen before or the call was linked to
    /// an existing incident as another caller.
    pub created: bool,
}

/// Where the next page of ListIncidents starts (exclusive): newest first
/// by creation time, then id.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IncidentPageCursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Store {
    /// Stores a new call and dispatches it at once (unless held): the
    /// nearest available unit of each kind it needs, the kinds it cannot
    /// fill waiting in the queue. Every new call goes with the calls
    /// arriving with it (`intake_group`: one writer for groups of one and
    /// of 64). With `duplicate_of` it records another caller for that
    /// incident instead. A `request_id` seen before returns that first
    /// outcome.
    pub async fn create_incident(
        &self,
        new: &NewIncident,
        actor: &Actor,
    ) -> Result<CreateOutcome, StoreError> {
        // Every call has a request id, so whether it was stored can always
        // be looked up (`outcome`).
        let new = &new
            .clone()
            .with_request_id_or(|| format!("server-{}", Uuid::new_v4()));
        if let Some(original) = new.duplicate_of() {
            return self.add_another_caller(original, new, actor).await;
        }
        for _ in 0..GROUP_ATTEMPTS {
            match self.create_in_group(new, actor).await? {
                GroupAnswer::Stored {
                    mut incident,
                    second_pass,
                } => {
                    if let Some(second_pass) = second_pass
                        && second_pass.served().await.contains(&incident.id)
                    {
                        // The answer shows the offer the pass made (the
                        // call is stored: a failed read keeps the
                        // answer as it was, never an error).
                        if let Ok(fresh) = self.incident(incident.id).await {
                            *incident = fresh;
                        }
                    }
                    let outcome = if incident.hold {
                        "held"
                    } else if incident.pending_kinds.is_empty() {
                        "dispatched"
                    } else {
                        "queued"
                    };
                    metrics::counter!("ngalam112_intake_total", "outcome" => outcome).increment(1);
                    return Ok(CreateOutcome {
                        incident: *incident,
                        created: true,
                    });
                }
                GroupAnswer::Seen(id) => {
                    return Ok(CreateOutcome {
                        incident: self.incident(id).await?,
                        created: false,
                    });
                }
                GroupAnswer::Again => {}
            }
        }
        Err(StoreError::CallNotStored(
            "the database did not take the call; it was not stored: try again".to_owned(),
        ))
    }

    /// Another caller for an active incident, in a transaction of its own
    /// (nothing is dispatched).
    async fn add_another_caller(
        &self,
        original: IncidentId,
        new: &NewIncident,
        actor: &Actor,
    ) -> Result<CreateOutcome, StoreError> {
        let _turn = self
            .intake
            .acquire()
            .await
            .map_err(|_| StoreError::Unavailable("the server is shutting down".to_owned()))?;
        let request_id = new.request_id().unwrap_or_default();
        self.retrying(move || async move {
            let mut transaction = self.pool.begin().await?;
            let in_flight = InFlight::note(&mut transaction).await?;
            if let Some(existing) = claim_request_id(&mut transaction, request_id).await? {
                transaction.rollback().await?;
                return Ok(CreateOutcome {
                    incident: self.incident(existing).await?,
                    created: false,
                });
            }
            add_caller(&mut transaction, actor, original, new).await?;
            if let Some(call_id) = new.call_id() {
                crate::calls::link(&mut transaction, actor, original, call_id).await?;
            }
            sqlx::query!(
                "INSERT INTO intake_requests (request_id, incident_id) VALUES ($1, $2)",
                request_id,
                original.uuid(),
            )
            .execute(&mut *transaction)
            .await?;
            if let Err(error) = transaction.commit().await {
                // The answer is lost, not necessarily the commit: find out.
                let found = in_flight
                    .find_out(&self.pool, error.into(), &[request_id.to_owned()])
                    .await?;
                if found.first().copied().flatten().is_none() {
                    return Err(StoreError::CallNotStored(
                        "the connection to the database broke before the call was stored; \
                         it was not stored: try again"
                            .to_owned(),
                    ));
                }
            }
            Ok(CreateOutcome {
                incident: self.incident(original).await?,
                created: false,
            })
        })
        .await
    }

    /// One incident with its assignments, oldest first.
    pub async fn incident(&self, id: IncidentId) -> Result<IncidentRecord, StoreError> {
        let mut connection = self.pool.acquire().await?;
        load_incident(&mut connection, id).await
    }

    /// [`Store::incident`] with what only a reader of the one incident
    /// needs (GetIncident, EIDO): its further callers and its referrals.
    /// Intake answers, polls and live streams do without the two queries.
    pub async fn incident_detail(&self, id: IncidentId) -> Result<IncidentRecord, StoreError> {
        let mut connection = self.pool.acquire().await?;
        let mut record = load_incident(&mut connection, id).await?;
        if record.caller_count > 1 {
            record.other_callers = sqlx::query_as!(
                crate::OtherCaller,
                "SELECT caller_phone, caller_name, caller_id_withheld, added_at \
                 FROM incident_callers WHERE incident_id = $1 ORDER BY id",
                id.uuid(),
            )
            .fetch_all(&mut *connection)
            .await?;
        }
        record.referrals = crate::referrals::referrals_of(&mut connection, id).await?;
        Ok(record)
    }

    /// Incidents newest first, filtered by status (empty = all).
    pub async fn list_incidents(
        &self,
        statuses: &[IncidentStatus],
        page_size: u32,
        after: Option<IncidentPageCursor>,
    ) -> Result<Vec<IncidentRecord>, StoreError> {
        let status_names: Vec<&str> = statuses.iter().map(|status| status.as_str()).collect();
        let rows = select_incidents!(
            "FROM incidents \
             WHERE (cardinality($1::text[]) = 0 OR status = ANY($1)) \
               AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3)) \
             ORDER BY created_at DESC, id DESC LIMIT $4",
            &status_names as &[&str],
            after.map(|cursor| cursor.created_at),
            after.map(|cursor| cursor.id),
            i64::from(page_size),
        )
        .fetch_all(&self.pool)
        .await?;
        self.with_assignments(rows).await
    }

    /// Active incidents within `radius_m` of `location`, nearest first.
    pub async fn find_nearby_incidents(
        &self,
        location: GeoPoint,
        radius_m: f64,
        category: Option<IncidentCategory>,
    ) -> Result<Vec<IncidentRecord>, StoreError> {
        // A bounding box in degrees narrows the scan; the exact great-circle
        // test is the core's.
        let lat_delta = radius_m / 111_000.0 + 0.001;
        let lon_delta = lat_delta / location.lat().to_radians().cos().abs().max(0.01);
        let rows = select_incidents!(
            "FROM incidents \
             WHERE status IN ('pending', 'dispatched', 'on_scene') \
               AND lat BETWEEN $1 AND $2 AND lon BETWEEN $3 AND $4 \
               AND ($5::text IS NULL OR category = $5)",
            location.lat() - lat_delta,
            location.lat() + lat_delta,
            location.lon() - lon_delta,
            location.lon() + lon_delta,
            category.map(|category| category.as_str()),
        )
        .fetch_all(&self.pool)
        .await?;
        let mut incidents: Vec<(f64, IncidentRecord)> = self
            .with_assignments(rows)
            .await?
            .into_iter()
            .map(|incident| (incident.location.distance_m(&location), incident))
            .filter(|(distance, _)| *distance <= radius_m)
            .collect();
        incidents.sort_by(|(a, _), (b, _)| a.total_cmp(b));
        Ok(incidents
            .into_iter()
            .map(|(_, incident)| incident)
            .collect())
    }

    /// Dispatcher override: offers `unit_id` to the incident.
    pub async fn assign_unit(
        &self,
        incident_id: IncidentId,
        unit_id: UnitId,
        actor: &Actor,
    ) -> Result<AssignmentRecord, StoreError> {
        self.retrying(move || async move {
            let mut transaction = self.dispatcher().exclusive(UnitKind::ALL, actor).await?;
            let incident = sqlx::query!(
                "SELECT status, lat, lon, required_kinds FROM incidents WHERE id = $1 FOR NO KEY UPDATE",
                incident_id.uuid(),
            )
            .fetch_optional(&mut *transaction)
            .await?
            .ok_or_else(|| StoreError::not_found("incident", incident_id))?;
            let (status, lat, lon, required) =
                (incident.status, incident.lat, incident.lon, incident.required_kinds);
            refuse_if_closed(&status)?;
            let unit = sqlx::query!(
                "SELECT status, kind, call_sign, lat, lon FROM units WHERE id = $1 FOR UPDATE",
                unit_id.uuid(),
            )
            .fetch_optional(&mut *transaction)
            .await?
            .ok_or_else(|| StoreError::not_found("unit", unit_id))?;
            let (unit_status, unit_kind, call_sign, unit_lat, unit_lon) =
                (unit.status, unit.kind, unit.call_sign, unit.lat, unit.lon);
            if decode::<UnitStatus>(&unit_status)?
                != UnitStatus::Available
            {
                return Err(StoreError::FailedPrecondition(format!(
                    "unit {unit_id} is not available (it is {unit_status})"
                )));
            }
            let kind = decode::<UnitKind>(&unit_kind)?;
            if !required.contains(&unit_kind) {
                // The dispatcher sends a kind the call-taker did not ask for:
                // the incident now needs it too.
                sqlx::query!(
                    "UPDATE incidents SET required_kinds = array_append(required_kinds, $2) \
                     WHERE id = $1",
                    incident_id.uuid(),
                    &unit_kind,
                )
                .execute(&mut *transaction)
                .await?;
            }
            let to_point = |lat, lon| {
                GeoPoint::new("location", lat, lon)
                    .map_err(|error| StoreError::Internal(error.to_string()))
            };
            let (unit_at, incident_at) = (to_point(unit_lat, unit_lon)?, to_point(lat, lon)?);
            let distance_m = unit_at.distance_m(&incident_at);
            // The same figures the ranking shows (RecommendUnits).
            let road = self.config.roads.as_deref().and_then(|roads| {
                roads
                    .drive_times(&incident_at, &[unit_at])
                    .into_iter()
                    .next()
                    .flatten()
            });
            let assignment_id = dispatch::make_offer(
                &mut transaction,
                actor,
                &Offer {
                    incident_id,
                    unit_id,
                    kind,
                    call_sign,
                    distance_m,
                    road,
                    // The dispatcher's own choice: no automatic one to
                    // compare with.
                    straight_line_eta_s: None,
                },
                &self.config,
            )
            .await?;
            let assignment = load_assignment(&mut transaction, assignment_id.uuid()).await?;
            transaction.finish().await?;
            Ok(assignment)
        })
        .await
    }

    /// CANCELLED: every open assignment cancelled, its unit available again
    /// (and offered to whatever waits for it).
    pub async fn cancel_incident(
        &self,
        incident_id: IncidentId,
        code: ResolutionCode,
        reason: &str,
        actor: &Actor,
    ) -> Result<IncidentRecord, StoreError> {
        self.close_incident(incident_id, Closing::Cancel, code, reason, actor)
            .await
    }

    /// RESOLVED: open assignments completed, units available again.
    pub async fn resolve_incident(
        &self,
        incident_id: IncidentId,
        code: ResolutionCode,
        resolution: &str,
        actor: &Actor,
    ) -> Result<IncidentRecord, StoreError> {
        self.close_incident(incident_id, Closing::Resolve, code, resolution, actor)
            .await
    }

    async fn close_incident(
        &self,
        incident_id: IncidentId,
        closing: Closing,
        code: ResolutionCode,
        text: &str,
        actor: &Actor,
    ) -> Result<IncidentRecord, StoreError> {
        self.retrying(move || async move {
            let mut transaction = self.dispatcher().exclusive(UnitKind::ALL, actor).await?;
            let incident = sqlx::query!(
                "SELECT status, caller_phone FROM incidents WHERE id = $1 FOR NO KEY UPDATE",
                incident_id.uuid(),
            )
            .fetch_optional(&mut *transaction)
            .await?
            .ok_or_else(|| StoreError::not_found("incident", incident_id))?;
            refuse_if_closed(&incident.status)?;
            let freed = close_assignments(&mut transaction, actor, incident_id, closing).await?;
            close_record(&mut transaction, actor, incident_id, closing, code, text).await?;
            if code == ResolutionCode::Prank {
                crate::callers::flag_after_pranks(&mut transaction, &incident.caller_phone).await?;
            }
            transaction.settle(&freed).await?;
            transaction.finish().await?;
            Ok(())
        })
        .await?;
        self.incident(incident_id).await
    }

    pub(crate) async fn with_assignments(
        &self,
        rows: Vec<IncidentRow>,
    ) -> Result<Vec<IncidentRecord>, StoreError> {
        let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
        let assignment_rows = select_assignments!(
            "WHERE a.incident_id = ANY($1) ORDER BY a.offered_at, a.id",
            &ids,
        )
        .fetch_all(&self.pool)
        .await?;
        let mut assignments: Vec<AssignmentRecord> = assignment_rows
            .into_iter()
            .map(AssignmentRecord::try_from)
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|row| {
                let id = IncidentId::from_uuid(row.id);
                let (own, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut assignments)
                    .into_iter()
                    .partition(|assignment| assignment.incident_id == id);
                assignments = rest;
                row.into_record(own)
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy)]
enum Closing {
    Cancel,
    Resolve,
}

impl Closing {
    /// What the incident and its open assignments become.
    fn statuses(self) -> (IncidentStatus, AssignmentStatus, EventKind) {
        match self {
            Closing::Cancel => (
                IncidentStatus::Cancelled,
                AssignmentStatus::Cancelled,
                EventKind::IncidentCancelled,
            ),
            Closing::Resolve => (
                IncidentStatus::Resolved,
                AssignmentStatus::Completed,
                EventKind::IncidentResolved,
            ),
        }
    }
}

/// Ends every open assignment of a closing incident and frees its unit;
/// returns the kinds freed (to settle).
async fn close_assignments(
    connection: &mut PgConnection,
    actor: &Actor,
    incident_id: IncidentId,
    closing: Closing,
) -> Result<Vec<UnitKind>, StoreError> {
    let (_, assignment_status, _) = closing.statuses();
    let open = sqlx::query!(
        "UPDATE assignments SET status = $2, updated_at = now() \
         WHERE incident_id = $1 AND status IN ('offered', 'accepted', 'en_route', 'on_scene') \
         RETURNING id, unit_id, unit_kind",
        incident_id.uuid(),
        assignment_status.as_str(),
    )
    .fetch_all(&mut *connection)
    .await?;
    let mut freed = Vec::new();
    let mut events = Vec::new();
    for row in &open {
        let unit_id = UnitId::from_uuid(row.unit_id);
        dispatch::release_unit(connection, unit_id, UnitStatus::Available).await?;
        events.push((
            actor,
            Event::assignment(
                incident_id,
                AssignmentId::from_uuid(row.id),
                unit_id,
                EventKind::of_assignment(assignment_status),
                "closed with the incident",
            ),
        ));
        let kind: UnitKind = decode(&row.unit_kind)?;
        if !freed.contains(&kind) {
            freed.push(kind);
        }
    }
    timeline::append_all(connection, &events).await?;
    Ok(freed)
}

/// The incident's closing: its status, resolution and timeline event.
async fn close_record(
    connection: &mut PgConnection,
    actor: &Actor,
    incident_id: IncidentId,
    closing: Closing,
    code: ResolutionCode,
    text: &str,
) -> Result<(), StoreError> {
    let (incident_status, _, event_kind) = closing.statuses();
    sqlx::query!(
        "UPDATE incidents SET status = $2, resolution = $3, resolution_code = $4, \
         pending_kinds = '{}', resolved_at = now(), updated_at = now() WHERE id = $1",
        incident_id.uuid(),
        incident_status.as_str(),
        text,
        code.as_str(),
    )
    .execute(&mut *connection)
    .await?;
    let detail = if text.is_empty() {
        code.as_str().to_owned()
    } else {
        format!("{code}: {text}")
    };
    timeline::append(
        connection,
        actor,
        Event::incident(incident_id, event_kind, detail),
    )
    .await
}

/// Rule 7: RESOLVED and CANCELLED are final. `status` as stored.
pub(crate) fn refuse_if_closed(status: &str) -> Result<(), StoreError> {
    let status = decode::<IncidentStatus>(status)?;
    if status.is_closed() {
        return Err(StoreError::FailedPrecondition(format!(
            "incident is {status}; closed incidents cannot change"
        )));
    }
    Ok(())
}

/// Returns the incident a request_id already belongs to; otherwise waits
/// for any concurrent try with the same id to finish and returns None.
async fn claim_request_id(
    connection: &mut PgConnection,
    request_id: &str,
) -> Result<Option<IncidentId>, StoreError> {
    // A try still in flight holds the key's advisory lock until it commits
    // or rolls back, so a racing retry waits here instead of dispatching
    // twice.
    sqlx::query!(
        "SELECT pg_advisory_xact_lock($2, hashtext($1))",
        request_id,
        crate::locks::REQUEST_ID,
    )
    .execute(&mut *connection)
    .await?;
    let existing: Option<Uuid> = sqlx::query_scalar!(
        "SELECT incident_id FROM intake_requests WHERE request_id = $1",
        request_id,
    )
    .fetch_optional(&mut *connection)
    .await?;
    Ok(existing.map(IncidentId::from_uuid))
}

/// Another caller for an active incident: nothing is dispatched.
async fn add_caller(
    connection: &mut PgConnection,
    actor: &Actor,
    original: IncidentId,
    new: &NewIncident,
) -> Result<(), StoreError> {
    let status: String = sqlx::query_scalar!(
        "SELECT status FROM incidents WHERE id = $1 FOR NO KEY UPDATE",
        original.uuid(),
    )
    .fetch_optional(&mut *connection)
    .await?
    .ok_or_else(|| StoreError::not_found("incident", original))?;
    refuse_if_closed(&status)?;
    let number: i32 = sqlx::query_scalar!(
        "UPDATE incidents SET caller_count = caller_count + 1, updated_at = now() WHERE id = $1 \
         RETURNING caller_count",
        original.uuid(),
    )
    .fetch_one(&mut *connection)
    .await?;
    // Who rang goes to `incident_callers` (which retention can redact),
    // not into the append-only timeline.
    sqlx::query!(
        "INSERT INTO incident_callers (incident_id, caller_phone, caller_name, caller_id_withheld) \
         VALUES ($1, $2, $3, $4)",
        original.uuid(),
        new.caller_phone(),
        new.caller_name(),
        new.caller_id_withheld(),
    )
    .execute(&mut *connection)
    .await?;
    timeline::append(
        connection,
        actor,
        Event::incident(
            original,
            EventKind::CallerAdded,
            format!("another caller (caller {number}); see the incident's callers"),
        ),
    )
    .await
}
