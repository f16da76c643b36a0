//! Rows as domain values. Stored names are read back through the core's
//! enums; a name the core does not know is corrupt data (Internal).

use chrono::{DateTime, Utc};
use ngalam112_core::{
    AssignmentId, AssignmentStatus, GeoPoint, IncidentCategory, IncidentId, IncidentStatus,
    Priority, ResolutionCode, StoredName, UnitId, UnitKind, UnitStatus,
};
use uuid::Uuid;

use sqlx::PgConnection;

use crate::StoreError;

#[derive(Debug, Clone)]
pub struct UnitRecord {
    pub id: UnitId,
    pub call_sign: String,
    pub kind: UnitKind,
    pub agency: String,
    pub status: UnitStatus,
    pub location: GeoPoint,
    pub location_updated_at: DateTime<Utc>,
    pub current_assignment_id: Option<AssignmentId>,
    /// When it last became available (ties in distance go to the unit idle
    /// longest).
    pub available_since: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct AssignmentRecord {
    pub id: AssignmentId,
    pub incident_id: IncidentId,
    pub unit_id: UnitId,
    pub unit_call_sign: String,
    pub unit_kind: UnitKind,
    pub status: AssignmentStatus,
    pub distance_m: f64,
    /// Drive time (s) and road distance (m) at the time of the offer; 0
    /// without roads.
    pub eta_s: f64,
    pub road_distance_m: f64,
    /// For an automatic choice on roads: the drive time of the unit the
    /// straight-line rule would have sent; 0 otherwise.
    pub straight_line_eta_s: f64,
    pub offered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// While OFFERED: when the offer times out.
    pub offer_deadline: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct IncidentRecord {
    pub id: IncidentId,
    pub status: IncidentStatus,
    pub category: IncidentCategory,
    pub priority: Priority,
    pub caller_phone: String,
    pub caller_name: String,
    pub location: GeoPoint,
    pub address: String,
    pub description: String,
    pub required_kinds: Vec<UnitKind>,
    pub pending_kinds: Vec<UnitKind>,
    pub hold: bool,
    /// Oldest first.
    pub assignments: Vec<AssignmentRecord>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: String,
    pub caller_count: i32,
    pub duplicate_of: Option<IncidentId>,
    /// Where the caller's handset said it was (AML), beside the entered
    /// location, never over it.
    pub device_location: Option<DeviceLocation>,
    /// The device fix and the entered location cannot both be right.
    pub location_disagrees: bool,
    /// The network gave no number (`caller_phone` is empty).
    pub caller_id_withheld: bool,
    /// The number was flagged when the call came in.
    pub caller_flagged: bool,
    /// Why it was closed; set exactly when RESOLVED or CANCELLED.
    pub resolution_code: Option<ResolutionCode>,
    /// The further callers (`duplicate_of`), oldest first; filled by
    /// `Store::incident_detail`, empty elsewhere.
    pub other_callers: Vec<OtherCaller>,
    /// When retention blanked the callers' names and numbers.
    pub callers_redacted_at: Option<DateTime<Utc>>,
    /// Its referrals to partner agencies, oldest first; filled by
    /// `Store::incident_detail`, empty elsewhere.
    pub referrals: Vec<crate::ReferralRecord>,
}

/// Another person who called about the same incident.
#[derive(Debug, Clone)]
pub struct OtherCaller {
    /// E.164, or empty when withheld (or redacted).
    pub caller_phone: String,
    pub caller_name: String,
    pub caller_id_withheld: bool,
    pub added_at: DateTime<Utc>,
}

/// A handset's fix as stored with an incident.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceLocation {
    pub fix: ngalam112_core::aml::DeviceFix,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct TimelineRecord {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub actor: String,
    pub detail: String,
    pub assignment_id: Option<AssignmentId>,
    pub unit_id: Option<UnitId>,
}

/// The one decoder of stored enums: a name this binary does not know is
/// an error, never skipped (a newer release may have written it; the
/// operator must hear of it).
pub(crate) fn decode<T: StoredName>(text: &str) -> Result<T, StoreError> {
    T::from_stored(text)
        .ok_or_else(|| StoreError::Internal(format!("unknown {} {text:?} in database", T::WHAT)))
}

fn stored_point(lat: f64, lon: f64) -> Result<GeoPoint, StoreError> {
    GeoPoint::new("location", lat, lon).map_err(|error| StoreError::Internal(error.to_string()))
}

pub(crate) fn stored_kinds(texts: &[String]) -> Result<Vec<UnitKind>, StoreError> {
    texts.iter().map(|text| decode(text)).collect()
}

/// `SELECT` the unit columns and then `$sql` (`FROM units …`), as a
/// `UnitRow` query checked against the schema at build time.
macro_rules! select_units {
    ($sql:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            $crate::records::UnitRow,
            "SELECT id, call_sign, kind, agency, status, lat, lon, \
             location_updated_at, current_assignment_id, available_since "
            + $sql $(, $arg)*
        )
    };
}

/// `$sql` (an UPDATE of `units`) `RETURNING` the unit columns, checked at
/// build time.
macro_rules! returning_units {
    ($sql:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            $crate::records::UnitRow,
            $sql + " RETURNING id, call_sign, kind, agency, status, lat, lon, \
             location_updated_at, current_assignment_id, available_since"
            $(, $arg)*
        )
    };
}

pub(crate) struct UnitRow {
    pub(crate) id: Uuid,
    pub(crate) call_sign: String,
    pub(crate) kind: String,
    pub(crate) agency: String,
    pub(crate) status: String,
    pub(crate) lat: f64,
    pub(crate) lon: f64,
    pub(crate) location_updated_at: DateTime<Utc>,
    pub(crate) current_assignment_id: Option<Uuid>,
    pub(crate) available_since: DateTime<Utc>,
}

impl TryFrom<UnitRow> for UnitRecord {
    type Error = StoreError;

    fn try_from(row: UnitRow) -> Result<Self, StoreError> {
        Ok(UnitRecord {
            id: UnitId::from_uuid(row.id),
            call_sign: row.call_sign,
            kind: decode::<UnitKind>(&row.kind)?,
            agency: row.agency,
            status: decode::<UnitStatus>(&row.status)?,
            location: stored_point(row.lat, row.lon)?,
            location_updated_at: row.location_updated_at,
            current_assignment_id: row.current_assignment_id.map(AssignmentId::from_uuid),
            available_since: row.available_since,
        })
    }
}

/// `SELECT` the assignment columns from assignments `a` joined with their
/// units, then `$sql` (`WHERE …`), as an `AssignmentRow` query checked at
/// build time.
macro_rules! select_assignments {
    ($sql:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            $crate::records::AssignmentRow,
            "SELECT a.id, a.incident_id, a.unit_id, u.call_sign AS unit_call_sign, a.unit_kind, \
             a.status, a.distance_m, a.eta_s, a.road_distance_m, a.straight_line_eta_s, \
             a.offered_at, a.updated_at, \
             a.offer_deadline \
             FROM assignments a JOIN units u ON u.id = a.unit_id "
            + $sql $(, $arg)*
        )
    };
}

pub(crate) struct AssignmentRow {
    pub(crate) id: Uuid,
    pub(crate) incident_id: Uuid,
    pub(crate) unit_id: Uuid,
    pub(crate) unit_call_sign: String,
    pub(crate) unit_kind: String,
    pub(crate) status: String,
    pub(crate) distance_m: f64,
    pub(crate) eta_s: f64,
    pub(crate) road_distance_m: f64,
    pub(crate) straight_line_eta_s: f64,
    pub(crate) offered_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) offer_deadline: Option<DateTime<Utc>>,
}

impl TryFrom<AssignmentRow> for AssignmentRecord {
    type Error = StoreError;

    fn try_from(row: AssignmentRow) -> Result<Self, StoreError> {
        let status = decode::<AssignmentStatus>(&row.status)?;
        Ok(AssignmentRecord {
            id: AssignmentId::from_uuid(row.id),
            incident_id: IncidentId::from_uuid(row.incident_id),
            unit_id: UnitId::from_uuid(row.unit_id),
            unit_call_sign: row.unit_call_sign,
            unit_kind: decode::<UnitKind>(&row.unit_kind)?,
            status,
            distance_m: row.distance_m,
            eta_s: row.eta_s,
            road_distance_m: row.road_distance_m,
            straight_line_eta_s: row.straight_line_eta_s,
            offered_at: row.offered_at,
            updated_at: row.updated_at,
            offer_deadline: row
                .offer_deadline
                .filter(|_| status == AssignmentStatus::Offered),
        })
    }
}

/// `SELECT` the incident columns and then `$sql` (`FROM incidents …`), as
/// an `IncidentRow` query checked against the schema at build time.
macro_rules! select_incidents {
    ($sql:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            $crate::records::IncidentRow,
            "SELECT id, status, category, priority, caller_phone, \
             caller_name, lat, lon, address, description, required_kinds, pending_kinds, hold, \
             created_at, updated_at, resolved_at, resolution, caller_count, duplicate_of, \
             device_lat, device_lon, device_radius_m, device_confidence_pct, device_method, \
             device_fix_time, device_received_at, location_disagrees, caller_id_withheld, \
             caller_flagged, resolution_code, callers_redacted_at "
            + $sql $(, $arg)*
        )
    };
}

pub(crate) struct IncidentRow {
    pub(crate) id: Uuid,
    pub(crate) status: String,
    pub(crate) category: String,
    pub(crate) priority: i16,
    pub(crate) caller_phone: String,
    pub(crate) caller_name: String,
    pub(crate) lat: f64,
    pub(crate) lon: f64,
    pub(crate) address: String,
    pub(crate) description: String,
    pub(crate) required_kinds: Vec<String>,
    pub(crate) pending_kinds: Vec<String>,
    pub(crate) hold: bool,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) resolved_at: Option<DateTime<Utc>>,
    pub(crate) resolution: String,
    pub(crate) caller_count: i32,
    pub(crate) duplicate_of: Option<Uuid>,
    pub(crate) device_lat: Option<f64>,
    pub(crate) device_lon: Option<f64>,
    pub(crate) device_radius_m: Option<f64>,
    pub(crate) device_confidence_pct: Option<i16>,
    pub(crate) device_method: Option<String>,
    pub(crate) device_fix_time: Option<DateTime<Utc>>,
    pub(crate) device_received_at: Option<DateTime<Utc>>,
    pub(crate) location_disagrees: bool,
    pub(crate) caller_id_withheld: bool,
    pub(crate) caller_flagged: bool,
    pub(crate) resolution_code: Option<String>,
    pub(crate) callers_redacted_at: Option<DateTime<Utc>>,
}

/// A handset fix's nullable columns (an incident's, or a call's newest),
/// as stored: all present, or none.
pub(crate) struct FixColumns<'a> {
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub radius_m: Option<f64>,
    pub confidence_pct: Option<i16>,
    pub method: Option<&'a str>,
    pub fix_time: Option<DateTime<Utc>>,
    pub received_at: Option<DateTime<Utc>>,
}

impl FixColumns<'_> {
    pub(crate) fn decode(self) -> Result<Option<DeviceLocation>, StoreError> {
        let (
            Some(lat),
            Some(lon),
            Some(radius_m),
            Some(confidence),
            Some(method),
            Some(fix_time),
            Some(received_at),
        ) = (
            self.lat,
            self.lon,
            self.radius_m,
            self.confidence_pct,
            self.method,
            self.fix_time,
            self.received_at,
        )
        else {
            return Ok(None);
        };
        Ok(Some(DeviceLocation {
            fix: ngalam112_core::aml::DeviceFix {
                location: stored_point(lat, lon)?,
                radius_m,
                confidence_pct: u8::try_from(confidence).unwrap_or(100),
                method: decode::<ngalam112_core::aml::FixMethod>(method)?,
                fix_time,
            },
            received_at,
        }))
    }
}

impl IncidentRow {
    fn device_location(&self) -> Result<Option<DeviceLocation>, StoreError> {
        FixColumns {
            lat: self.device_lat,
            lon: self.device_lon,
            radius_m: self.device_radius_m,
            confidence_pct: self.device_confidence_pct,
            method: self.device_method.as_deref(),
            fix_time: self.device_fix_time,
            received_at: self.device_received_at,
        }
        .decode()
    }

    pub(crate) fn into_record(
        self,
        assignments: Vec<AssignmentRecord>,
    ) -> Result<IncidentRecord, StoreError> {
        let device_location = self.device_location()?;
        Ok(IncidentRecord {
            id: IncidentId::from_uuid(self.id),
            status: decode::<IncidentStatus>(&self.status)?,
            category: decode::<IncidentCategory>(&self.category)?,
            priority: Priority::from_rank(self.priority).ok_or_else(|| {
                StoreError::Internal(format!("unknown priority {}", self.priority))
            })?,
            caller_phone: self.caller_phone,
            caller_name: self.caller_name,
            location: stored_point(self.lat, self.lon)?,
            address: self.address,
            description: self.description,
            required_kinds: stored_kinds(&self.required_kinds)?,
            pending_kinds: stored_kinds(&self.pending_kinds)?,
            hold: self.hold,
            assignments,
            created_at: self.created_at,
            updated_at: self.updated_at,
            resolved_at: self.resolved_at,
            resolution: self.resolution,
            caller_count: self.caller_count,
            duplicate_of: self.duplicate_of.map(IncidentId::from_uuid),
            device_location,
            location_disagrees: self.location_disagrees,
            caller_id_withheld: self.caller_id_withheld,
            caller_flagged: self.caller_flagged,
            resolution_code: self
                .resolution_code
                .as_deref()
                .map(decode::<ResolutionCode>)
                .transpose()?,
            other_callers: Vec::new(),
            referrals: Vec::new(),
            callers_redacted_at: self.callers_redacted_at,
        })
    }
}

pub(crate) struct TimelineRow {
    pub(crate) at: DateTime<Utc>,
    pub(crate) kind: String,
    pub(crate) actor: String,
    pub(crate) detail: String,
    pub(crate) assignment_id: Option<Uuid>,
    pub(crate) unit_id: Option<Uuid>,
}

impl From<TimelineRow> for TimelineRecord {
    fn from(row: TimelineRow) -> Self {
        TimelineRecord {
            at: row.at,
            kind: row.kind,
            actor: row.actor,
            detail: row.detail,
            assignment_id: row.assignment_id.map(AssignmentId::from_uuid),
            unit_id: row.unit_id.map(UnitId::from_uuid),
        }
    }
}

/// One incident with its assignments, oldest first.
pub(crate) async fn load_incident(
    connection: &mut PgConnection,
    id: IncidentId,
) -> Result<IncidentRecord, StoreError> {
    let row = select_incidents!("FROM incidents WHERE id = $1", id.uuid())
        .fetch_optional(&mut *connection)
        .await?
        .ok_or_else(|| StoreError::not_found("incident", id))?;
    let assignment_rows = select_assignments!(
        "WHERE a.incident_id = $1 ORDER BY a.offered_at, a.id",
        id.uuid(),
    )
    .fetch_all(&mut *connection)
    .await?;
    let assignments = assignment_rows
        .into_iter()
        .map(AssignmentRecord::try_from)
        .collect::<Result<_, _>>()?;
    row.into_record(assignments)
}

pub(crate) async fn load_assignment(
    connection: &mut PgConnection,
    id: Uuid,
) -> Result<AssignmentRecord, StoreError> {
    let row = select_assignments!("WHERE a.id = $1", id)
        .fetch_optional(&mut *connection)
        .await?
        .ok_or_else(|| StoreError::not_found("assignment", id))?;
    AssignmentRecord::try_from(row)
}
