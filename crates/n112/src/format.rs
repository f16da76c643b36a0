//! How things look to an operator: WIB times, kilometres, short enum names,
//! tables; and one JSON object per line for scripts.

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use ngalam112_proto::v1 as proto;
use serde_json::{Value, json};

/// Western Indonesia Time, UTC+7 (Asia/Jakarta has no daylight saving).
pub fn wib() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("UTC+7 is a valid offset")
}

pub fn to_datetime(timestamp: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    let timestamp = timestamp?;
    Utc.timestamp_opt(timestamp.seconds, u32::try_from(timestamp.nanos).ok()?)
        .single()
}

/// Seconds from `from` to `to`; None when either is unset.
pub fn seconds_between(
    from: Option<&prost_types::Timestamp>,
    to: Option<&prost_types::Timestamp>,
) -> Option<f64> {
    Some((to_datetime(to)? - to_datetime(from)?).as_seconds_f64())
}

/// `27 Nov 14:05:09 WIB`
pub fn local_time(timestamp: Option<&prost_types::Timestamp>) -> String {
    to_datetime(timestamp)
        .map(|at| {
            at.with_timezone(&wib())
                .format("%d %b %H:%M:%S WIB")
                .to_string()
        })
        .unwrap_or_else(|| "-".to_owned())
}

pub fn rfc3339(timestamp: Option<&prost_types::Timestamp>) -> Value {
    to_datetime(timestamp).map_or(Value::Null, |at| Value::String(at.to_rfc3339()))
}

/// `3 m 20 s`, `1 h 05 m`
pub fn age(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "never".to_owned();
    }
    if seconds < 10.0 {
        return format!("{:.1} s", seconds.max(0.0));
    }
    let seconds = seconds as u64;
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} m {:02} s", seconds / 60, seconds % 60),
        _ => format!("{} h {:02} m", seconds / 3600, (seconds % 3600) / 60),
    }
}

pub fn km(metres: f64) -> String {
    format!("{:.1} km", metres / 1000.0)
}

/// The drive by road, when the server runs on roads, in the timeline's
/// words (`2.4 km by road, about 4 min`); "" without (eta 0).
pub fn drive(eta_s: f64, road_distance_m: f64) -> String {
    if eta_s <= 0.0 {
        return String::new();
    }
    ngalam112_core::drive::Leg {
        eta_s,
        distance_m: road_distance_m,
    }
    .describe()
}

/// `INCIDENT_STATUS_ON_SCENE` → `ON_SCENE`
pub fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_owned()
}

pub fn status(incident: &proto::Incident) -> String {
    short(incident.status().as_str_name(), "INCIDENT_STATUS_")
}

pub fn priority(incident: &proto::Incident) -> String {
    short(incident.priority().as_str_name(), "PRIORITY_")
}

pub fn category(incident: &proto::Incident) -> String {
    short(incident.category().as_str_name(), "INCIDENT_CATEGORY_")
}

pub fn kind(kind: proto::UnitKind) -> String {
    short(kind.as_str_name(), "UNIT_KIND_")
}

pub fn unit_status(unit: &proto::Unit) -> String {
    short(unit.status().as_str_name(), "UNIT_STATUS_")
}

pub fn assignment_status(assignment: &proto::Assignment) -> String {
    short(assignment.status().as_str_name(), "ASSIGNMENT_STATUS_")
}

/// A fixed-width text table; the last column is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (index, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(index) {
                *width = (*width).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let last = cells.len().saturating_sub(1);
        cells
            .into_iter()
            .enumerate()
            .map(|(index, cell)| {
                if index == last {
                    cell
                } else {
                    let pad = widths[index].saturating_sub(cell.chars().count());
                    format!("{cell}{}", " ".repeat(pad))
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = line(headers.iter().map(|h| (*h).to_owned()).collect());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.clone()));
        out.push('\n');
    }
    out
}

pub fn point_json(point: Option<&proto::GeoPoint>) -> Value {
    point.map_or(Value::Null, |p| json!({ "lat": p.lat, "lon": p.lon }))
}

pub fn assignment_json(assignment: &proto::Assignment) -> Value {
    json!({
        "id": assignment.id,
        "incident_id": assignment.incident_id,
        "unit_id": assignment.unit_id,
        "unit_call_sign": assignment.unit_call_sign,
        "unit_kind": kind(assignment.unit_kind()),
        "status": assignment_status(assignment),
        "distance_m": assignment.distance_m,
        "eta_s": assignment.eta_s,
        "road_distance_m": assignment.road_distance_m,
        "offered_at": rfc3339(assignment.offered_at.as_ref()),
        "updated_at": rfc3339(assignment.updated_at.as_ref()),
    })
}

/// What the call-taker calls a withheld number, in both languages.
pub const WITHHELD: &str = "nomor disembunyikan / number withheld";

/// The caller's number as shown: the number, or that it was withheld.
pub fn caller_phone(incident: &proto::Incident) -> String {
    if incident.caller_id_withheld {
        WITHHELD.to_owned()
    } else {
        incident.caller_phone.clone()
    }
}

/// `prank`, `false_alarm`, …; empty while the incident is open.
pub fn resolution_code(incident: &proto::Incident) -> String {
    match incident.resolution_code() {
        proto::ResolutionCode::Unspecified => String::new(),
        code => short(code.as_str_name(), "RESOLUTION_CODE_"),
    }
}

pub fn incident_json(incident: &proto::Incident) -> Value {
    json!({
        "id": incident.id,
        "status": status(incident),
        "category": category(incident),
        "priority": priority(incident),
        "caller_phone": incident.caller_phone,
        "caller_name": incident.caller_name,
        "location": point_json(incident.location.as_ref()),
        "address": incident.address,
        "description": incident.description,
        "required_kinds": incident.required_kinds().map(kind).collect::<Vec<_>>(),
        "pending_kinds": incident.pending_kinds().map(kind).collect::<Vec<_>>(),
        "hold": incident.hold,
        "assignments": incident.assignments.iter().map(assignment_json).collect::<Vec<_>>(),
        "created_at": rfc3339(incident.created_at.as_ref()),
        "updated_at": rfc3339(incident.updated_at.as_ref()),
        "resolved_at": rfc3339(incident.resolved_at.as_ref()),
        "resolution": incident.resolution,
        "resolution_code": resolution_code(incident),
        "caller_id_withheld": incident.caller_id_withheld,
        "caller_flagged": incident.caller_flagged,
        "caller_count": incident.caller_count,
        "duplicate_of": incident.duplicate_of,
        "device_location": incident.device_location.as_ref().map_or(Value::Null, |device| json!({
            "location": point_json(device.location.as_ref()),
            "radius_m": device.radius_m,
            "confidence_pct": device.confidence_pct,
            "method": device.method,
            "fix_time": rfc3339(device.fix_time.as_ref()),
            "received_at": rfc3339(device.received_at.as_ref()),
        })),
        "location_disagrees": incident.location_disagrees,
        "other_callers": incident.other_callers.iter().map(|other| json!({
            "caller_phone": other.caller_phone,
            "caller_name": other.caller_name,
            "caller_id_withheld": other.caller_id_withheld,
            "added_at": rfc3339(other.added_at.as_ref()),
        })).collect::<Vec<_>>(),
        "callers_redacted_at": rfc3339(incident.callers_redacted_at.as_ref()),
        "referrals": incident.referrals.iter().map(|referral| json!({
            "id": referral.id,
            "agency": referral.agency_short_name,
            "status": short(referral.status().as_str_name(), "REFERRAL_STATUS_"),
            "answer": referral.answer,
        })).collect::<Vec<_>>(),
    })
}

/// `handset GNSS ±20 m (68 %), 40 m away, fix 12 s old`
pub fn device_location(incident: &proto::Incident) -> Option<String> {
    let device = incident.device_location.as_ref()?;
    let point = device.location.as_ref()?;
    let away = match &incident.location {
        Some(entered) => {
            let a = ngalam112_core::GeoPoint::new("a", entered.lat, entered.lon).ok()?;
            let b = ngalam112_core::GeoPoint::new("b", point.lat, point.lon).ok()?;
            format!(", {:.0} m from the entered location", a.distance_m(&b))
        }
        None => String::new(),
    };
    Some(format!(
        "handset {} fix at {:.5}, {:.5} ±{:.0} m ({} %){away}, {} old",
        device.method,
        point.lat,
        point.lon,
        device.radius_m,
        device.confidence_pct,
        age(seconds_since(device.fix_time.as_ref()))
    ))
}

pub fn unit_json(unit: &proto::Unit) -> Value {
    json!({
        "id": unit.id,
        "call_sign": unit.call_sign,
        "kind": kind(unit.kind()),
        "agency": unit.agency,
        "status": unit_status(unit),
        "location": point_json(unit.location.as_ref()),
        "location_updated_at": rfc3339(unit.location_updated_at.as_ref()),
        "current_assignment_id": unit.current_assignment_id,
    })
}

pub fn timeline_json(event: &proto::TimelineEvent) -> Value {
    json!({
        "at": rfc3339(event.at.as_ref()),
        "kind": event.kind,
        "actor": event.actor,
        "detail": event.detail,
        "assignment_id": event.assignment_id,
        "unit_id": event.unit_id,
    })
}

/// Seconds since `timestamp`.
pub fn seconds_since(timestamp: Option<&prost_types::Timestamp>) -> f64 {
    to_datetime(timestamp).map_or(f64::NAN, |at| (Utc::now() - at).as_seconds_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_show_in_wib() {
        let at = prost_types::Timestamp {
            seconds: 1_795_000_000,
            nanos: 0,
        }; // 2026-11-18 07:06:40 UTC
        assert_eq!(local_time(Some(&at)), "18 Nov 18:06:40 WIB");
    }

    #[test]
    fn ages_and_distances_read_naturally() {
        assert_eq!(age(42.0), "42 s");
        assert_eq!(age(0.0123), "0.0 s");
        assert_eq!(age(2.46), "2.5 s");
        assert_eq!(age(200.0), "3 m 20 s");
        assert_eq!(age(3_900.0), "1 h 05 m");
        assert_eq!(age(f64::INFINITY), "never");
        assert_eq!(km(1_234.0), "1.2 km");
    }

    #[test]
    fn tables_align_columns() {
        let text = table(
            &["A", "LONG"],
            &[
                vec!["xyz".into(), "1".into()],
                vec!["q".into(), "22".into()],
            ],
        );
        assert_eq!(text, "A    LONG\nxyz  1\nq    22\n");
    }
}
