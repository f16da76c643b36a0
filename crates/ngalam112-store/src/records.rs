//! Rows as domain values. Stored names are read back through the core's
//! enums; a name the core does not know is corrupt data (Internal).

use chrono::{DateTime, Utc};
use ngalam112_core::{
    AssignmentId, AssignmentStatus, GeoPoint, IncidentCategory, IncidentId, IncidentStatus,
    Priority, ResolutionCode, UnitId, UnitKind, UnitStatus,
};
use sqlx::FromRow;
use uuid::Uuid;

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
#[derive(Debug, Clone, FromRow)]
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

pub(crate) fn stored<T>(
    parse: impl Fn(&str) -> Option<T>,
    text: &str,
    column: &str,
) -> Result<T, StoreError> {
    parse(text)
        .ok_or_else(|| StoreError::Internal(format!("unknown {column} {text:?} in database")))
}

fn stored_point(lat: f64, lon: f64) -> Result<GeoPoint, StoreError> {
    GeoPoint::new("location", lat, lon).map_err(|error| StoreError::Internal(error.to_string()))
}

pub(crate) fn stored_kinds(texts: &[String]) -> Result<Vec<UnitKind>, StoreError> {
    texts
        .iter()
        .map(|text| stored(UnitKind::from_stored, text, "unit kind"))
        .collect()
}

/// The columns every unit query selects.
macro_rules! unit_columns {
    () => {
        "id, call_sign, kind, agency, status, lat, lon, \
     location_updated_at, current_assignment_id, available_since"
    };
}

/// The same columns qualified by `u.` (for statements that join).
macro_rules! prefixed_unit_columns {
    () => {
        "u.id, u.call_sign, u.kind, u.agency, u.status, u.lat, u.lon, \
         u.location_updated_at, u.current_assignment_id, u.available_since"
    };
}

#[derive(FromRow)]
pub(crate) struct UnitRow {
    pub(crate) id: Uuid,
    call_sign: String,
    kind: String,
    agency: String,
    status: String,
    lat: f64,
    lon: f64,
    location_updated_at: DateTime<Utc>,
    current_assignment_id: Option<Uuid>,
    available_since: DateTime<Utc>,
}

impl TryFrom<UnitRow> for UnitRecord {
    type Error = StoreError;

    fn try_from(row: UnitRow) -> Result<Self, StoreError> {
        Ok(UnitRecord {
            id: UnitId(row.id),
            call_sign: row.call_sign,
            kind: stored(UnitKind::from_stored, &row.kind, "unit kind")?,
            agency: row.agency,
            status: stored(UnitStatus::from_stored, &row.status, "unit status")?,
            location: stored_point(row.lat, row.lon)?,
            location_updated_at: row.location_updated_at,
            current_assignment_id: row.current_assignment_id.map(AssignmentId),
            available_since: row.available_since,
        })
    }
}

/// The columns every assignment query selects (`a` = assignments, `u` =
/// units).
macro_rules! assignment_columns {
    () => {
        "a.id, a.incident_id, a.unit_id, \
     u.call_sign AS unit_call_sign, a.unit_kind, a.status, a.distance_m, a.offered_at, a.updated_at, \
     a.offer_deadline"
    };
}

#[derive(FromRow)]
pub(crate) struct AssignmentRow {
    id: Uuid,
    incident_id: Uuid,
    unit_id: Uuid,
    unit_call_sign: String,
    unit_kind: String,
    status: String,
    distance_m: f64,
    offered_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    offer_deadline: Option<DateTime<Utc>>,
}

impl TryFrom<AssignmentRow> for AssignmentRecord {
    type Error = StoreError;

    fn try_from(row: AssignmentRow) -> Result<Self, StoreError> {
        let status = stored(
            AssignmentStatus::from_stored,
            &row.status,
            "assignment status",
        )?;
        Ok(AssignmentRecord {
            id: AssignmentId(row.id),
            incident_id: IncidentId(row.incident_id),
            unit_id: UnitId(row.unit_id),
            unit_call_sign: row.unit_call_sign,
            unit_kind: stored(UnitKind::from_stored, &row.unit_kind, "unit kind")?,
            status,
            distance_m: row.distance_m,
            offered_at: row.offered_at,
            updated_at: row.updated_at,
            offer_deadline: row
                .offer_deadline
                .filter(|_| status == AssignmentStatus::Offered),
        })
    }
}

/// The columns every incident query selects.
macro_rules! incident_columns {
    () => {
        "id, status, category, priority, caller_phone, \
     caller_name, lat, lon, address, description, required_kinds, pending_kinds, hold, \
     created_at, updated_at, resolved_at, resolution, caller_count, duplicate_of, device_lat, \
     device_lon, device_radius_m, device_confidence_pct, device_method, device_fix_time, \
     device_received_at, location_disagrees, caller_id_withheld, caller_flagged, resolution_code, \
     callers_redacted_at"
    };
}

#[derive(FromRow)]
pub(crate) struct IncidentRow {
    pub(crate) id: Uuid,
    status: String,
    category: String,
    priority: i16,
    caller_phone: String,
    caller_name: String,
    lat: f64,
    lon: f64,
    address: String,
    description: String,
    required_kinds: Vec<String>,
    pending_kinds: Vec<String>,
    hold: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    resolution: String,
    caller_count: i32,
    duplicate_of: Option<Uuid>,
    device_lat: Option<f64>,
    device_lon: Option<f64>,
    device_radius_m: Option<f64>,
    device_confidence_pct: Option<i16>,
    device_method: Option<String>,
    device_fix_time: Option<DateTime<Utc>>,
    device_received_at: Option<DateTime<Utc>>,
    location_disagrees: bool,
    caller_id_withheld: bool,
    caller_flagged: bool,
    resolution_code: Option<String>,
    callers_redacted_at: Option<DateTime<Utc>>,
}

impl IncidentRow {
    fn device_location(&self) -> Result<Option<DeviceLocation>, StoreError> {
        let (
            Some(lat),
            Some(lon),
            Some(radius_m),
            Some(confidence),
            Some(method),
            Some(fix_time),
            Some(received_at),
        ) = (
            self.device_lat,
            self.device_lon,
            self.device_radius_m,
            self.device_confidence_pct,
            self.device_method.as_deref(),
            self.device_fix_time,
            self.device_received_at,
        )
        else {
            return Ok(None);
        };
        Ok(Some(DeviceLocation {
            fix: ngalam112_core::aml::DeviceFix {
                location: stored_point(lat, lon)?,
                radius_m,
                confidence_pct: u8::try_from(confidence).unwrap_or(100),
                method: stored(
                    ngalam112_core::aml::FixMethod::from_stored,
                    method,
                    "fix method",
                )?,
                fix_time,
            },
            received_at,
        }))
    }

    pub(crate) fn into_record(
        self,
        assignments: Vec<AssignmentRecord>,
    ) -> Result<IncidentRecord, StoreError> {
        let device_location = self.device_location()?;
        Ok(IncidentRecord {
            id: IncidentId(self.id),
            status: stored(IncidentStatus::from_stored, &self.status, "incident status")?,
            category: stored(IncidentCategory::from_stored, &self.category, "category")?,
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
            duplicate_of: self.duplicate_of.map(IncidentId),
            device_location,
            location_disagrees: self.location_disagrees,
            caller_id_withheld: self.caller_id_withheld,
            caller_flagged: self.caller_flagged,
            resolution_code: self
                .resolution_code
                .as_deref()
                .map(|code| stored(ResolutionCode::from_stored, code, "resolution code"))
                .transpose()?,
            other_callers: Vec::new(),
            referrals: Vec::new(),
            callers_redacted_at: self.callers_redacted_at,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct TimelineRow {
    at: DateTime<Utc>,
    kind: String,
    actor: String,
    detail: String,
    assignment_id: Option<Uuid>,
    unit_id: Option<Uuid>,
}

impl From<TimelineRow> for TimelineRecord {
    fn from(row: TimelineRow) -> Self {
        TimelineRecord {
            at: row.at,
            kind: row.kind,
            actor: row.actor,
            detail: row.detail,
            assignment_id: row.assignment_id.map(AssignmentId),
            unit_id: row.unit_id.map(UnitId),
        }
    }
}
