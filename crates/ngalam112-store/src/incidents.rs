//! Incidents: intake (with idempotency and duplicate callers), reads, and
//! the dispatcher's changes (override, cancel, resolve).

use chrono::{DateTime, Utc};
use ngalam112_core::{
    AssignmentStatus, GeoPoint, IncidentCategory, IncidentId, IncidentStatus, NewIncident,
    ResolutionCode, UnitId, UnitKind, UnitStatus,
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::dispatch::{self, Offer};
use crate::intake_group::GroupAnswer;
use crate::outcome::InFlight;
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
    /// Stores an incident and dispatches it in the same transaction (unless
    /// held); or, with `duplicate_of`, records another caller for that
    /// incident. A `request_id` seen before returns that first outcome.
    /// A call that can be served at once goes with the calls arriving with
    /// it (`intake_group`); any other, in a transaction of its own.
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
        let settle_again = match self.create_in_group(new, actor).await? {
            GroupAnswer::Stored(incident) => {
                metrics::counter!("ngalam112_intake_total", "path" => "group").increment(1);
                return Ok(CreateOutcome {
                    incident: *incident,
                    created: true,
                });
            }
            GroupAnswer::FullWay { settle_again } => settle_again,
        };
        let _turn = self
            .intake
            .acquire()
            .await
            .map_err(|_| StoreError::Unavailable("the server is shutting down".to_owned()))?;
        let (mut outcome, mut again) = self
            .retrying(move || self.try_create_incident(new, actor))
            .await?;
        if settle_again {
            for kind in new.required_kinds() {
                if !again.contains(kind) {
                    again.push(*kind);
                }
            }
        }
        metrics::counter!("ngalam112_intake_total", "path" => "single").increment(1);
        if !again.is_empty() {
            self.settle_after_intake(&again, actor).await;
            // The answer shows the offer if the second pass made one.
            outcome.incident = self.incident(outcome.incident.id).await?;
        }
        Ok(outcome)
    }

    /// One try of `create_incident`; also returns the kinds to settle again
    /// after the commit.
    async fn try_create_incident(
        &self,
        new: &NewIncident,
        actor: &Actor,
    ) -> Result<(CreateOutcome, Vec<UnitKind>), StoreError> {
        let mut transaction = self.pool.begin().await?;
        let in_flight = InFlight::note(&mut transaction).await?;
        if let Some(request_id) = new.request_id()
            && let Some(existing) = claim_request_id(&mut transaction, request_id).await?
        {
            transaction.rollback().await?;
            let outcome = CreateOutcome {
                incident: self.incident(existing).await?,
                created: false,
            };
            return Ok((outcome, Vec::new()));
        }
        let (incident_id, created) = match new.duplicate_of() {
            Some(original) => {
                add_caller(&mut transaction, actor, original, new).await?;
                (original, false)
            }
            None => {
                let id = IncidentId::new_random();
                insert_incident(&mut transaction, actor, id, new).await?;
                crate::device::attach_kept_fix(&mut transaction, actor, id, new.caller_phone())
                    .await?;
                (id, true)
            }
        };
        if let Some(request_id) = new.request_id() {
            sqlx::query!(
                "INSERT INTO intake_requests (request_id, incident_id) VALUES ($1, $2)",
                request_id,
                incident_id.0,
            )
            .execute(&mut *transaction)
            .await?;
        }
        let mut again = Vec::new();
        if created && !new.hold() {
            // Intake takes no kind lock: calls arriving together are
            // dispatched side by side, each claiming its unit's row
            // (`SKIP LOCKED`, never waiting). A unit freed at the same
            // instant may be invisible to this pass (not committed yet),
            // and our call to the freeing transaction's: so whatever this
            // call still waits for is settled again after our commit,
            // under the kind's lock, which the freeing transaction holds
            // until it commits (see docs/ARCHITECTURE.md, "Lost wake-ups").
            again =
                dispatch::settle_kinds(&mut transaction, actor, new.required_kinds(), &self.config)
                    .await?;
        }
        if let Err(error) = transaction.commit().await {
            // The answer is lost, not necessarily the commit: find out.
            let request_ids: Vec<String> =
                new.request_id().map(str::to_owned).into_iter().collect();
            let found = in_flight
                .find_out(&self.pool, error.into(), &request_ids)
                .await?;
            if found.first().copied().flatten().is_none() {
                return Err(StoreError::CallNotStored(
                    "the connection to the database broke before the call was stored; \
                     it was not stored: try again"
                        .to_owned(),
                ));
            }
        }
        let incident = self.incident(incident_id).await?;
        if created && !new.hold() && !incident.pending_kinds.is_empty() {
            for kind in &incident.pending_kinds {
                if !again.contains(kind) {
                    again.push(*kind);
                }
            }
        }
        let outcome = CreateOutcome { incident, created };
        Ok((outcome, again))
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
                id.0,
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
            let mut transaction = self.pool.begin().await?;
            dispatch::lock_kinds(&mut transaction, UnitKind::ALL).await?;
            let incident = sqlx::query!(
                "SELECT status, lat, lon, required_kinds FROM incidents WHERE id = $1 FOR NO KEY UPDATE",
                incident_id.0,
            )
            .fetch_optional(&mut *transaction)
            .await?
            .ok_or_else(|| StoreError::not_found("incident", incident_id))?;
            let (status, lat, lon, required) =
                (incident.status, incident.lat, incident.lon, incident.required_kinds);
            refuse_if_closed(&status)?;
            let unit = sqlx::query!(
                "SELECT status, kind, lat, lon FROM units WHERE id = $1 FOR UPDATE",
                unit_id.0,
            )
            .fetch_optional(&mut *transaction)
            .await?
            .ok_or_else(|| StoreError::not_found("unit", unit_id))?;
            let (unit_status, unit_kind, unit_lat, unit_lon) =
                (unit.status, unit.kind, unit.lat, unit.lon);
            if crate::records::stored(UnitStatus::from_stored, &unit_status, "unit status")?
                != UnitStatus::Available
            {
                return Err(StoreError::FailedPrecondition(format!(
                    "unit {unit_id} is not available (it is {unit_status})"
                )));
            }
            let kind = UnitKind::from_stored(&unit_kind)
                .ok_or_else(|| StoreError::Internal(format!("unknown kind {unit_kind}")))?;
            if !required.contains(&unit_kind) {
                // The dispatcher sends a kind the call-taker did not ask for:
                // the incident now needs it too.
                sqlx::query!(
                    "UPDATE incidents SET required_kinds = array_append(required_kinds, $2) \
                     WHERE id = $1",
                    incident_id.0,
                    &unit_kind,
                )
                .execute(&mut *transaction)
                .await?;
            }
            let to_point = |lat, lon| {
                GeoPoint::new("location", lat, lon)
                    .map_err(|error| StoreError::Internal(error.to_string()))
            };
            let distance_m = to_point(unit_lat, unit_lon)?.distance_m(&to_point(lat, lon)?);
            let assignment_id = dispatch::make_offer(
                &mut transaction,
                actor,
                &Offer {
                    incident_id,
                    unit_id,
                    kind,
                    distance_m,
                },
                &self.config,
            )
            .await?;
            let assignment = load_assignment(&mut transaction, assignment_id.0).await?;
            transaction.commit().await?;
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
        let (incident_status, assignment_status, event_kind) = match closing {
            Closing::Cancel => (
                IncidentStatus::Cancelled,
                AssignmentStatus::Cancelled,
                "incident_cancelled",
            ),
            Closing::Resolve => (
                IncidentStatus::Resolved,
                AssignmentStatus::Completed,
                "incident_resolved",
            ),
        };
        let again = self
            .retrying(move || async move {
            let mut transaction = self.pool.begin().await?;
            dispatch::lock_kinds(&mut transaction, UnitKind::ALL).await?;
            let incident = sqlx::query!(
                "SELECT status, caller_phone FROM incidents WHERE id = $1 FOR NO KEY UPDATE",
                incident_id.0,
            )
            .fetch_optional(&mut *transaction)
            .await?
            .ok_or_else(|| StoreError::not_found("incident", incident_id))?;
            let (status, caller_phone) = (incident.status, incident.caller_phone);
            refuse_if_closed(&status)?;
            let open: Vec<(Uuid, Uuid, String)> = sqlx::query!(
                "UPDATE assignments SET status = $2, updated_at = now() \
                 WHERE incident_id = $1 AND status IN ('offered', 'accepted', 'en_route', 'on_scene') \
                 RETURNING id, unit_id, unit_kind",
                incident_id.0,
                assignment_status.as_str(),
            )
            .fetch_all(&mut *transaction)
            .await?
            .into_iter()
            .map(|row| (row.id, row.unit_id, row.unit_kind))
            .collect();
            for (assignment_uuid, unit_uuid, _) in &open {
                dispatch::release_unit(&mut transaction, UnitId(*unit_uuid), UnitStatus::Available)
                    .await?;
                timeline::append(
                    &mut transaction,
                    actor,
                    Event::assignment(
                        incident_id,
                        ngalam112_core::AssignmentId(*assignment_uuid),
                        UnitId(*unit_uuid),
                        match closing {
                            Closing::Cancel => "assignment_cancelled",
                            Closing::Resolve => "assignment_completed",
                        },
                        "closed with the incident",
                    ),
                )
                .await?;
            }
            sqlx::query!(
                "UPDATE incidents SET status = $2, resolution = $3, resolution_code = $4, \
                 pending_kinds = '{}', resolved_at = now(), updated_at = now() WHERE id = $1",
                incident_id.0,
                incident_status.as_str(),
                text,
                code.as_str(),
            )
            .execute(&mut *transaction)
            .await?;
            let detail = if text.is_empty() {
                code.as_str().to_owned()
            } else {
                format!("{code}: {text}")
            };
            timeline::append(
                &mut transaction,
                actor,
                Event::incident(incident_id, event_kind, detail),
            )
            .await?;
            if code == ResolutionCode::Prank {
                crate::callers::flag_after_pranks(&mut transaction, &caller_phone).await?;
            }
            let mut freed_kinds: Vec<UnitKind> = open
                .iter()
                .filter_map(|(_, _, kind)| UnitKind::from_stored(kind))
                .collect();
            freed_kinds.sort_unstable();
            freed_kinds.dedup();
            let again =
                dispatch::settle_kinds(&mut transaction, actor, &freed_kinds, &self.config)
                    .await?;
            transaction.commit().await?;
            Ok(again)
        })
        .await?;
        self.settle_again(&again, actor).await;
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
                let id = IncidentId(row.id);
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

/// Rule 7: RESOLVED and CANCELLED are final. `status` as stored.
pub(crate) fn refuse_if_closed(status: &str) -> Result<(), StoreError> {
    let status = crate::records::stored(IncidentStatus::from_stored, status, "incident status")?;
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
    Ok(existing.map(IncidentId))
}

async fn insert_incident(
    connection: &mut PgConnection,
    actor: &Actor,
    id: IncidentId,
    new: &NewIncident,
) -> Result<(), StoreError> {
    let kinds: Vec<&str> = new
        .required_kinds()
        .iter()
        .map(|kind| kind.as_str())
        .collect();
    sqlx::query!(
        "INSERT INTO incidents (id, status, category, priority, caller_phone, caller_name, lat, \
         lon, address, description, required_kinds, pending_kinds, hold, caller_id_withheld, \
         caller_flagged) \
         VALUES ($1, 'pending', $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, \
         EXISTS (SELECT 1 FROM flagged_callers WHERE caller_phone = $4))",
        id.0,
        new.category().as_str(),
        new.priority().rank(),
        new.caller_phone(),
        new.caller_name(),
        new.location().lat(),
        new.location().lon(),
        new.address(),
        new.description(),
        &kinds as &[&str],
        new.hold(),
        new.caller_id_withheld(),
    )
    .execute(&mut *connection)
    .await?;
    timeline::append(
        connection,
        actor,
        Event::incident(id, "incident_created", created_detail(new)),
    )
    .await
}

/// The timeline's words for a new incident.
pub(crate) fn created_detail(new: &NewIncident) -> String {
    let kinds: Vec<&str> = new
        .required_kinds()
        .iter()
        .map(|kind| kind.as_str())
        .collect();
    let hold_note = if new.hold() { ", on hold" } else { "" };
    format!(
        "{} {} needing {}{hold_note}",
        new.priority(),
        new.category(),
        kinds.join(", ")
    )
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
        original.0,
    )
    .fetch_optional(&mut *connection)
    .await?
    .ok_or_else(|| StoreError::not_found("incident", original))?;
    refuse_if_closed(&status)?;
    let number: i32 = sqlx::query_scalar!(
        "UPDATE incidents SET caller_count = caller_count + 1, updated_at = now() WHERE id = $1 \
         RETURNING caller_count",
        original.0,
    )
    .fetch_one(&mut *connection)
    .await?;
    // Who rang goes to `incident_callers` (which retention can redact),
    // not into the append-only timeline.
    sqlx::query!(
        "INSERT INTO incident_callers (incident_id, caller_phone, caller_name, caller_id_withheld) \
         VALUES ($1, $2, $3, $4)",
        original.0,
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
            "caller_added",
            format!("another caller (caller {number}); see the incident's callers"),
        ),
    )
    .await
}
