//! Proto ⇄ domain conversions. Reading a client's message validates it
//! (every error names the field); writing a record never fails.

use chrono::{DateTime, Utc};
use ngalam112_core::{
    AssignmentStatus, CallSignal, CallState, GeoPoint, IncidentCategory, IncidentStatus, Priority,
    ReferralStatus, ResolutionCode, UnitKind, UnitStatus, ValidationError,
};
use ngalam112_proto::v1 as proto;
use ngalam112_store::{AssignmentRecord, IncidentRecord, TimelineRecord, UnitRecord};

pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// A required point in time.
pub fn required_time(
    field: &str,
    time: Option<&prost_types::Timestamp>,
) -> Result<DateTime<Utc>, ValidationError> {
    let time = time.ok_or_else(|| ValidationError::new(field, "is required"))?;
    let at = u32::try_from(time.nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(time.seconds, nanos))
        .ok_or_else(|| ValidationError::new(field, "is not a valid time"))?;
    ngalam112_core::validation::time_in_range(field, at)
}

/// A required position: present, finite and in range.
pub fn geo_point(
    field: &str,
    point: Option<&proto::GeoPoint>,
) -> Result<GeoPoint, ValidationError> {
    let point = point.ok_or_else(|| ValidationError::new(field, "is required"))?;
    GeoPoint::new(field, point.lat, point.lon)
}

pub fn geo_point_to_proto(point: &GeoPoint) -> proto::GeoPoint {
    proto::GeoPoint {
        lat: point.lat(),
        lon: point.lon(),
    }
}

/// Maps between a proto enum and the core's, in both directions.
macro_rules! enum_mapping {
    ($read:ident, $write:ident, $proto:ident, $core:ident { $($proto_variant:ident <=> $core_variant:ident),+ $(,)? }) => {
        /// Reads a required enum: UNSPECIFIED and unknown numbers are
        /// refused naming `field`.
        pub fn $read(field: &str, value: i32) -> Result<$core, ValidationError> {
            match proto::$proto::try_from(value) {
                $(Ok(proto::$proto::$proto_variant) => Ok($core::$core_variant),)+
                Ok(proto::$proto::Unspecified) => Err(ValidationError::new(field, "must be set")),
                Err(_) => Err(ValidationError::new(field, format!("has no value {value}"))),
            }
        }

        pub fn $write(value: $core) -> proto::$proto {
            match value {
                $($core::$core_variant => proto::$proto::$proto_variant),+
            }
        }
    };
}

enum_mapping!(category, category_to_proto, IncidentCategory, IncidentCategory {
    Medical <=> Medical,
    Fire <=> Fire,
    TrafficAccident <=> TrafficAccident,
    Crime <=> Crime,
    Rescue <=> Rescue,
    Disaster <=> Disaster,
    Other <=> Other,
});

enum_mapping!(priority, priority_to_proto, Priority, Priority {
    Critical <=> Critical,
    High <=> High,
    Normal <=> Normal,
    Low <=> Low,
});

enum_mapping!(incident_status, incident_status_to_proto, IncidentStatus, IncidentStatus {
    Pending <=> Pending,
    Dispatched <=> Dispatched,
    OnScene <=> OnScene,
    Resolved <=> Resolved,
    Cancelled <=> Cancelled,
});

enum_mapping!(unit_kind, unit_kind_to_proto, UnitKind, UnitKind {
    Ambulance <=> Ambulance,
    FireEngine <=> FireEngine,
    Police <=> Police,
    Rescue <=> Rescue,
});

enum_mapping!(unit_status, unit_status_to_proto, UnitStatus, UnitStatus {
    Available <=> Available,
    Assigned <=> Assigned,
    OutOfService <=> OutOfService,
});

enum_mapping!(assignment_status, assignment_status_to_proto, AssignmentStatus, AssignmentStatus {
    Offered <=> Offered,
    Accepted <=> Accepted,
    EnRoute <=> EnRoute,
    OnScene <=> OnScene,
    Completed <=> Completed,
    Declined <=> Declined,
    TimedOut <=> TimedOut,
    Cancelled <=> Cancelled,
});

enum_mapping!(resolution_code, resolution_code_to_proto, ResolutionCode, ResolutionCode {
    Handled <=> Handled,
    Transported <=> Transported,
    FalseAlarm <=> FalseAlarm,
    Prank <=> Prank,
    Referred <=> Referred,
    Duplicate <=> Duplicate,
    Other <=> Other,
});

enum_mapping!(referral_status, referral_status_to_proto, ReferralStatus, ReferralStatus {
    Sent <=> Sent,
    Acknowledged <=> Acknowledged,
    Accepted <=> Accepted,
    Rejected <=> Rejected,
    Done <=> Done,
});

enum_mapping!(call_signal, call_signal_to_proto, CallSignal, CallSignal {
    Ringing <=> Ringing,
    Answered <=> Answered,
    Ended <=> Ended,
});

enum_mapping!(call_state, call_state_to_proto, CallState, CallState {
    Ringing <=> Ringing,
    Answered <=> Answered,
    Ended <=> Ended,
    Abandoned <=> Abandoned,
});

/// A referral as an agency may see it (no caller data is in it at all).
pub fn referral_to_proto(referral: &ngalam112_store::ReferralRecord) -> proto::Referral {
    proto::Referral {
        id: referral.id.to_string(),
        incident_id: referral.incident_id.to_string(),
        agency_id: referral.agency_id.to_string(),
        agency_short_name: referral.agency_short_name.clone(),
        status: referral_status_to_proto(referral.status).into(),
        note: referral.note.clone(),
        answer: referral.answer.clone(),
        sent_at: Some(timestamp(referral.sent_at)),
        updated_at: Some(timestamp(referral.updated_at)),
        category: category_to_proto(referral.category).into(),
        location: Some(geo_point_to_proto(&referral.location)),
        address: referral.address.clone(),
        description: referral.description.clone(),
        acknowledged_at: referral.acknowledged_at.map(timestamp),
    }
}

/// A closing's code: UNSPECIFIED means OTHER (older clients send none).
pub fn closing_code(value: i32) -> Result<ResolutionCode, ValidationError> {
    Ok(optional(resolution_code, "resolution_code", value)?.unwrap_or(ResolutionCode::Other))
}

pub fn role_to_proto(role: &ngalam112_store::Role) -> proto::Role {
    use ngalam112_store::Role;
    match role {
        Role::Admin => proto::Role::Admin,
        Role::Operator => proto::Role::Operator,
        Role::Unit(_) => proto::Role::Unit,
        Role::Gateway => proto::Role::Gateway,
        Role::Agency(_) => proto::Role::Agency,
    }
}

/// An optional enum filter (`kind` of RecommendUnits, `category` of
/// FindNearbyIncidents): UNSPECIFIED means "any".
pub fn optional<T>(
    read: impl Fn(&str, i32) -> Result<T, ValidationError>,
    field: &str,
    value: i32,
) -> Result<Option<T>, ValidationError> {
    if value == 0 {
        return Ok(None);
    }
    read(field, value).map(Some)
}

/// A repeated enum filter; each entry must be a real value.
pub fn each<T>(
    read: impl Fn(&str, i32) -> Result<T, ValidationError>,
    field: &str,
    values: &[i32],
) -> Result<Vec<T>, ValidationError> {
    values
        .iter()
        .enumerate()
        .map(|(index, value)| read(&format!("{field}[{index}]"), *value))
        .collect()
}

pub fn unit_to_proto(unit: &UnitRecord) -> proto::Unit {
    proto::Unit {
        id: unit.id.to_string(),
        call_sign: unit.call_sign.clone(),
        kind: unit_kind_to_proto(unit.kind).into(),
        agency: unit.agency.clone(),
        status: unit_status_to_proto(unit.status).into(),
        location: Some(geo_point_to_proto(&unit.location)),
        location_updated_at: Some(timestamp(unit.location_updated_at)),
        current_assignment_id: unit
            .current_assignment_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
    }
}

pub fn assignment_to_proto(assignment: &AssignmentRecord) -> proto::Assignment {
    proto::Assignment {
        id: assignment.id.to_string(),
        incident_id: assignment.incident_id.to_string(),
        unit_id: assignment.unit_id.to_string(),
        unit_call_sign: assignment.unit_call_sign.clone(),
        unit_kind: unit_kind_to_proto(assignment.unit_kind).into(),
        status: assignment_status_to_proto(assignment.status).into(),
        distance_m: assignment.distance_m,
        eta_s: assignment.eta_s,
        road_distance_m: assignment.road_distance_m,
        straight_line_eta_s: assignment.straight_line_eta_s,
        offered_at: Some(timestamp(assignment.offered_at)),
        updated_at: Some(timestamp(assignment.updated_at)),
        offer_expires_at: assignment.offer_deadline.map(timestamp),
    }
}

pub fn incident_to_proto(incident: &IncidentRecord) -> proto::Incident {
    let kinds = |kinds: &[UnitKind]| {
        kinds
            .iter()
            .map(|kind| i32::from(unit_kind_to_proto(*kind)))
            .collect()
    };
    proto::Incident {
        id: incident.id.to_string(),
        status: incident_status_to_proto(incident.status).into(),
        category: category_to_proto(incident.category).into(),
        priority: priority_to_proto(incident.priority).into(),
        caller_phone: incident.caller_phone.clone(),
        caller_name: incident.caller_name.clone(),
        location: Some(geo_point_to_proto(&incident.location)),
        address: incident.address.clone(),
        description: incident.description.clone(),
        required_kinds: kinds(&incident.required_kinds),
        assignments: incident
            .assignments
            .iter()
            .map(assignment_to_proto)
            .collect(),
        created_at: Some(timestamp(incident.created_at)),
        updated_at: Some(timestamp(incident.updated_at)),
        resolved_at: incident.resolved_at.map(timestamp),
        resolution: incident.resolution.clone(),
        caller_count: incident.caller_count,
        duplicate_of: incident
            .duplicate_of
            .map(|id| id.to_string())
            .unwrap_or_default(),
        pending_kinds: kinds(&incident.pending_kinds),
        hold: incident.hold,
        device_location: incident
            .device_location
            .as_ref()
            .map(device_location_to_proto),
        location_disagrees: incident.location_disagrees,
        caller_id_withheld: incident.caller_id_withheld,
        resolution_code: incident
            .resolution_code
            .map_or(0, |code| resolution_code_to_proto(code).into()),
        caller_flagged: incident.caller_flagged,
        other_callers: incident
            .other_callers
            .iter()
            .map(|other| proto::OtherCaller {
                caller_phone: other.caller_phone.clone(),
                caller_name: other.caller_name.clone(),
                caller_id_withheld: other.caller_id_withheld,
                added_at: Some(timestamp(other.added_at)),
            })
            .collect(),
        callers_redacted_at: incident.callers_redacted_at.map(timestamp),
        referrals: incident.referrals.iter().map(referral_to_proto).collect(),
    }
}

pub fn alarm_to_proto(alarm: &ngalam112_store::AlarmRecord) -> proto::Alarm {
    proto::Alarm {
        id: alarm.id.to_string(),
        unit_id: alarm.unit_id.to_string(),
        unit_call_sign: alarm.unit_call_sign.clone(),
        location: Some(geo_point_to_proto(&alarm.location)),
        note: alarm.note.clone(),
        raised_at: Some(timestamp(alarm.raised_at)),
        acknowledged_by: alarm.acknowledged_by.clone().unwrap_or_default(),
        acknowledged_at: alarm.acknowledged_at.map(timestamp),
    }
}

pub fn timeline_event_to_proto(event: &TimelineRecord) -> proto::TimelineEvent {
    proto::TimelineEvent {
        at: Some(timestamp(event.at)),
        kind: event.kind.clone(),
        actor: event.actor.clone(),
        detail: event.detail.clone(),
        assignment_id: event
            .assignment_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        unit_id: event.unit_id.map(|id| id.to_string()).unwrap_or_default(),
    }
}

fn device_location_to_proto(device: &ngalam112_store::DeviceLocation) -> proto::DeviceLocation {
    proto::DeviceLocation {
        location: Some(geo_point_to_proto(&device.fix.location)),
        radius_m: device.fix.radius_m,
        confidence_pct: i32::from(device.fix.confidence_pct),
        method: device.fix.method.as_str().to_owned(),
        fix_time: Some(timestamp(device.fix.fix_time)),
        received_at: Some(timestamp(device.received_at)),
    }
}

pub fn call_to_proto(call: &ngalam112_store::CallRecord) -> proto::Call {
    proto::Call {
        call_id: call.call_id.clone(),
        line: call.line.clone(),
        caller_phone: call.caller_phone.clone(),
        caller_id_withheld: call.caller_id_withheld,
        state: call_state_to_proto(call.state).into(),
        position: call.position.clone(),
        rang_at: Some(timestamp(call.rang_at)),
        answered_at: call.answered_at.map(timestamp),
        ended_at: call.ended_at.map(timestamp),
        caller: call.caller.as_ref().map(|caller| proto::CallerSummary {
            calls: saturating_i32(caller.calls),
            incidents: saturating_i32(caller.incidents),
            pranks: saturating_i32(caller.pranks),
            flagged: caller.flag_reason.is_some(),
            flag_reason: caller.flag_reason.clone().unwrap_or_default(),
        }),
        device_location: call.device_location.as_ref().map(device_location_to_proto),
        incident_id: call
            .incident_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
    }
}

/// A count for an int32 field (counts beyond it read as its maximum).
pub fn saturating_i32(count: i64) -> i32 {
    i32::try_from(count).unwrap_or(i32::MAX)
}
