//! Advanced Mobile Location (AML, ETSI TS 103 625): the position a caller's
//! handset sends by itself when it dials 112, relayed by the telco's
//! gateway. Two forms are read:
//!
//! - the SMS text: `A"ML=1;lt=-7.97700;lg=+112.63400;rd=25;top=20261127103000;
//!   lc=68;pm=G;si=…;ei=…;mcc=510;mnc=10;ml=…`, where `ml` is the length of
//!   the whole message, itself included;
//! - the HTTPS form's fields (`application/x-www-form-urlencoded`):
//!   `location_latitude`, `location_longitude`, `location_accuracy`,
//!   `location_time` (epoch milliseconds), `location_confidence`,
//!   `location_source` (gps / wifi / cell).
//!
//! Every refusal names the field (`payload.lt`, `payload.location_accuracy`,
//! …). Parsing only: no I/O.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

use crate::{GeoPoint, ValidationError};

/// How the handset found itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixMethod {
    Gnss,
    WiFi,
    Cell,
}

impl FixMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            FixMethod::Gnss => "GNSS",
            FixMethod::WiFi => "Wi-Fi",
            FixMethod::Cell => "cell",
        }
    }

    pub fn from_stored(text: &str) -> Option<Self> {
        [FixMethod::Gnss, FixMethod::WiFi, FixMethod::Cell]
            .into_iter()
            .find(|method| method.as_str() == text)
    }
}

impl crate::StoredName for FixMethod {
    const WHAT: &'static str = "FixMethod";

    fn from_stored(text: &str) -> Option<Self> {
        FixMethod::from_stored(text)
    }
}

/// A handset's own fix.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceFix {
    pub location: GeoPoint,
    /// Radius of the uncertainty circle, metres.
    pub radius_m: f64,
    /// Confidence that the caller is inside the circle, percent.
    pub confidence_pct: u8,
    pub method: FixMethod,
    pub fix_time: DateTime<Utc>,
}

/// Largest uncertainty radius taken (a cell fix can be kilometres wide).
const MAX_RADIUS_M: f64 = 50_000.0;

fn invalid(field: &str, message: impl Into<String>) -> ValidationError {
    ValidationError::new(format!("payload.{field}"), message)
}

fn number(field: &str, text: &str) -> Result<f64, ValidationError> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|value| value.is_finite())
        .ok_or_else(|| invalid(field, format!("is not a number ({text:?})")))
}

/// A fix as read, before its ranges are checked.
struct RawFix {
    lat: f64,
    lon: f64,
    radius_m: f64,
    confidence: f64,
    method: FixMethod,
    fix_time: DateTime<Utc>,
}

/// Checks the ranges; `names` are the payload's field names for lat, lon,
/// radius and confidence.
fn fix(raw: RawFix, names: [&str; 4], now: DateTime<Utc>) -> Result<DeviceFix, ValidationError> {
    let RawFix {
        lat,
        lon,
        radius_m,
        confidence,
        method,
        fix_time,
    } = raw;
    let [lat_name, lon_name, radius_name, confidence_name] = names;
    if !(-90.0..=90.0).contains(&lat) {
        return Err(invalid(lat_name, "must be within [-90, 90]"));
    }
    if !(-180.0..=180.0).contains(&lon) {
        return Err(invalid(lon_name, "must be within [-180, 180]"));
    }
    if !(radius_m > 0.0 && radius_m <= MAX_RADIUS_M) {
        return Err(invalid(
            radius_name,
            format!("must be within (0, {MAX_RADIUS_M}] metres"),
        ));
    }
    if !(1.0..=100.0).contains(&confidence) || confidence.fract() != 0.0 {
        return Err(invalid(
            confidence_name,
            "must be a whole percentage in [1, 100]",
        ));
    }
    if fix_time > now + chrono::Duration::minutes(5) {
        return Err(invalid("time", "is in the future"));
    }
    // A fix this old says nothing about where the caller is now (and a
    // time far in the past is no time at all).
    if fix_time < now - MAX_FIX_AGE {
        return Err(invalid("time", "is more than an hour old"));
    }
    let location = GeoPoint::new("payload", lat, lon)?;
    Ok(DeviceFix {
        location,
        radius_m,
        confidence_pct: confidence as u8,
        method,
        fix_time,
    })
}

/// The oldest fix accepted.
pub const MAX_FIX_AGE: chrono::Duration = chrono::Duration::hours(1);

/// Reads an AML payload in either form. `now` bounds the fix time.
pub fn parse(payload: &str, now: DateTime<Utc>) -> Result<DeviceFix, ValidationError> {
    let payload = payload.trim();
    if payload.starts_with("A\"ML=") {
        parse_sms(payload, now)
    } else if payload.contains("location_latitude=") {
        parse_https(payload, now)
    } else {
        Err(ValidationError::new(
            "payload",
            "is not an AML message (neither the SMS form A\"ML=… nor the HTTPS form fields)",
        ))
    }
}

fn parse_sms(payload: &str, now: DateTime<Utc>) -> Result<DeviceFix, ValidationError> {
    let mut fields = std::collections::HashMap::new();
    for part in payload.split(';') {
        let Some((key, value)) = part.split_once('=') else {
            return Err(invalid("format", format!("{part:?} is not key=value")));
        };
        if fields.insert(key, value).is_some() {
            return Err(invalid(key, "appears twice"));
        }
    }
    let get = |key: &str| {
        fields
            .get(key)
            .copied()
            .ok_or_else(|| invalid(key, "is missing"))
    };
    if get("A\"ML")? != "1" {
        return Err(invalid("version", "must be A\"ML=1"));
    }
    let declared: usize = get("ml")?
        .parse()
        .map_err(|_| invalid("ml", "is not a length"))?;
    let actual = payload.chars().count();
    if declared != actual {
        return Err(invalid(
            "ml",
            format!("says {declared} characters, the message has {actual}"),
        ));
    }
    let method = match get("pm")? {
        "G" => FixMethod::Gnss,
        "W" => FixMethod::WiFi,
        "C" => FixMethod::Cell,
        "N" => return Err(invalid("pm", "N: the handset had no position")),
        other => return Err(invalid("pm", format!("{other:?} is not G, W, C or N"))),
    };
    let top = get("top")?;
    let fix_time = NaiveDateTime::parse_from_str(top, "%Y%m%d%H%M%S")
        .map(|naive| Utc.from_utc_datetime(&naive))
        .map_err(|_| invalid("top", "is not a time YYYYMMDDhhmmss (UTC)"))?;
    let raw = RawFix {
        lat: number("lt", get("lt")?)?,
        lon: number("lg", get("lg")?)?,
        radius_m: number("rd", get("rd")?)?,
        confidence: number("lc", get("lc")?)?,
        method,
        fix_time,
    };
    fix(raw, ["lt", "lg", "rd", "lc"], now).map_err(|error| {
        if error.field == "payload.time" {
            invalid("top", error.message)
        } else {
            error
        }
    })
}

/// Percent-decoding of one form value (`+` is a space).
fn form_value(field: &str, raw: &str) -> Result<String, ValidationError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = raw
                    .get(index + 1..index + 3)
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    .ok_or_else(|| invalid(field, "has a bad %-escape"))?;
                out.push(hex);
                index += 2;
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8(out).map_err(|_| invalid(field, "is not UTF-8"))
}

fn parse_https(payload: &str, now: DateTime<Utc>) -> Result<DeviceFix, ValidationError> {
    let mut fields = std::collections::HashMap::new();
    for part in payload.split('&').filter(|part| !part.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        let value = form_value(key, value)?;
        if fields.insert(key, value).is_some() {
            return Err(invalid(key, "appears twice"));
        }
    }
    let get = |key: &str| {
        fields
            .get(key)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| invalid(key, "is missing"))
    };
    let method = match get("location_source")?.to_ascii_lowercase().as_str() {
        "gps" | "gnss" => FixMethod::Gnss,
        "wifi" => FixMethod::WiFi,
        "cell" => FixMethod::Cell,
        other => {
            return Err(invalid(
                "location_source",
                format!("{other:?} is not gps, wifi or cell"),
            ));
        }
    };
    let millis: i64 = get("location_time")?
        .parse()
        .map_err(|_| invalid("location_time", "is not epoch milliseconds"))?;
    let fix_time = Utc
        .timestamp_millis_opt(millis)
        .single()
        .ok_or_else(|| invalid("location_time", "is out of range"))?;
    let confidence = match fields.get("location_confidence") {
        Some(value) if !value.is_empty() => number("location_confidence", value)?,
        _ => 68.0,
    };
    let raw = RawFix {
        lat: number("location_latitude", get("location_latitude")?)?,
        lon: number("location_longitude", get("location_longitude")?)?,
        radius_m: number("location_accuracy", get("location_accuracy")?)?,
        confidence,
        method,
        fix_time,
    };
    fix(
        raw,
        [
            "location_latitude",
            "location_longitude",
            "location_accuracy",
            "location_confidence",
        ],
        now,
    )
    .map_err(|error| {
        if error.field == "payload.time" {
            invalid("location_time", error.message)
        } else {
            error
        }
    })
}

/// Whether a device fix and the location the call-taker entered cannot
/// both be right: farther apart than the fix's radius plus 200 m.
pub fn disagrees(entered: &GeoPoint, fix: &DeviceFix) -> bool {
    entered.distance_m(&fix.location) > fix.radius_m + 200.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 10, 31, 0).unwrap()
    }

    /// An SMS payload with its `ml` computed.
    fn sms(fields: &str) -> String {
        let without = format!("A\"ML=1;{fields};ml=");
        let mut length = without.chars().count() + 1;
        loop {
            let candidate = format!("{without}{length}");
            if candidate.chars().count() == length {
                return candidate;
            }
            length = candidate.chars().count();
        }
    }

    const GOOD: &str = "lt=-7.97700;lg=+112.63400;rd=25;top=20261127103000;lc=68;pm=G;si=510101234567890;ei=356938035643809;mcc=510;mnc=10";

    #[test]
    fn an_sms_gnss_fix_is_read() {
        let fix = parse(&sms(GOOD), now()).unwrap();
        assert_eq!((fix.location.lat(), fix.location.lon()), (-7.977, 112.634));
        assert_eq!(fix.radius_m, 25.0);
        assert_eq!(fix.confidence_pct, 68);
        assert_eq!(fix.method, FixMethod::Gnss);
        assert_eq!(
            fix.fix_time,
            Utc.with_ymd_and_hms(2026, 11, 27, 10, 30, 0).unwrap()
        );
    }

    #[test]
    fn every_method_of_the_sms_form_is_read() {
        for (code, method) in [
            ("G", FixMethod::Gnss),
            ("W", FixMethod::WiFi),
            ("C", FixMethod::Cell),
        ] {
            let fields = GOOD.replace("pm=G", &format!("pm={code}"));
            assert_eq!(parse(&sms(&fields), now()).unwrap().method, method);
        }
    }

    #[test]
    fn a_wrong_length_is_refused() {
        let message = sms(GOOD);
        let tampered = message.replace("rd=25", "rd=250");
        assert_eq!(parse(&tampered, now()).unwrap_err().field, "payload.ml");
    }

    #[test]
    fn every_malformed_sms_field_is_named() {
        let cases = [
            ("lt=-7.97700", "lt=-97.5", "payload.lt"),
            ("lt=-7.97700", "lt=abc", "payload.lt"),
            ("lg=+112.63400", "lg=+181", "payload.lg"),
            ("rd=25", "rd=0", "payload.rd"),
            ("rd=25", "rd=-5", "payload.rd"),
            ("lc=68", "lc=101", "payload.lc"),
            ("lc=68", "lc=0", "payload.lc"),
            ("top=20261127103000", "top=2026-11-27", "payload.top"),
            ("top=20261127103000", "top=20301127103000", "payload.top"),
            ("pm=G", "pm=X", "payload.pm"),
            ("pm=G", "pm=N", "payload.pm"),
            (";mcc=510", "", "payload.ml"),
        ];
        for (from, to, field) in cases {
            let fields = GOOD.replace(from, to);
            let payload = if field == "payload.ml" {
                sms(GOOD).replace(from, to)
            } else {
                sms(&fields)
            };
            assert_eq!(
                parse(&payload, now()).unwrap_err().field,
                field,
                "{from} -> {to}"
            );
        }
        assert_eq!(
            parse(&sms(&GOOD.replace(";lc=68", "")), now())
                .unwrap_err()
                .field,
            "payload.lc"
        );
        assert_eq!(
            parse(&sms("garbage").replace("A\"ML=1", "A\"ML=2"), now())
                .unwrap_err()
                .field,
            "payload.format"
        );
        assert_eq!(parse("hello", now()).unwrap_err().field, "payload");
    }

    #[test]
    fn the_https_form_is_read_for_each_source() {
        for (source, method) in [
            ("gps", FixMethod::Gnss),
            ("wifi", FixMethod::WiFi),
            ("cell", FixMethod::Cell),
        ] {
            let payload = format!(
                "v=3&emergency_number=112&location_latitude=-7.9770&location_longitude=112.6340\
                 &location_accuracy=35.5&location_time=1795775400000&location_source={source}\
                 &location_confidence=90&device_number=%2B6281234567890"
            );
            let fix = parse(&payload, now()).unwrap();
            assert_eq!(fix.method, method);
            assert_eq!(fix.radius_m, 35.5);
            assert_eq!(fix.confidence_pct, 90);
        }
    }

    #[test]
    fn malformed_https_fields_are_named() {
        let base = "location_latitude=-7.977&location_longitude=112.634&location_accuracy=30\
                    &location_time=1795775400000&location_source=gps";
        for (from, to, field) in [
            (
                "location_latitude=-7.977",
                "location_latitude=-91",
                "payload.location_latitude",
            ),
            (
                "location_accuracy=30",
                "location_accuracy=NaN",
                "payload.location_accuracy",
            ),
            (
                "location_accuracy=30",
                "location_accuracy=",
                "payload.location_accuracy",
            ),
            (
                "location_source=gps",
                "location_source=radio",
                "payload.location_source",
            ),
            (
                "location_time=1795775400000",
                "location_time=soon",
                "payload.location_time",
            ),
            (
                "location_time=1795775400000",
                "location_time=1895775400000",
                "payload.location_time",
            ),
        ] {
            assert_eq!(
                parse(&base.replace(from, to), now()).unwrap_err().field,
                field,
                "{to}"
            );
        }
    }

    #[test]
    fn a_fix_disagrees_only_beyond_its_radius_plus_200_m() {
        let entered = GeoPoint::new("l", -7.9770, 112.6340).unwrap();
        let mut fix = parse(&sms(GOOD), now()).unwrap();
        assert!(!disagrees(&entered, &fix));
        fix.location = GeoPoint::new("l", -7.9770 + 0.003, 112.6340).unwrap(); // ~333 m
        assert!(disagrees(&entered, &fix));
        fix.radius_m = 150.0;
        assert!(!disagrees(&entered, &fix));
    }
}
