//! Feeds arbitrary bytes to everything that reads a client's input: the
//! protobuf decoding of the requests with the most fields, their
//! validation into domain values, and the field validators themselves.
//! Nothing may panic, and whatever validation accepts must respect the
//! contract's limits.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ngalam112::services::incident::{decode_page_token, new_incident};
use ngalam112::services::unit::new_unit;
use ngalam112_core::validation::{
    self, DESCRIPTION_MAX_CHARS, SHORT_TEXT_MAX_CHARS, mask_name, mask_phone,
};
use ngalam112_core::{AssignmentId, GeoPoint, IncidentId};
use ngalam112_proto::v1 as proto;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    match selector % 5 {
        0 => {
            if let Ok(request) = proto::CreateIncidentRequest::decode(bytes)
                && let Ok(incident) = new_incident(&request)
            {
                // A number, or none exactly when it was withheld.
                assert_eq!(incident.caller_phone().is_empty(), incident.caller_id_withheld());
                assert!(incident.caller_phone().is_empty() || incident.caller_phone().starts_with('+'));
                assert!(incident.caller_phone().chars().skip(1).all(|c| c.is_ascii_digit()));
                assert!(incident.description().chars().count() <= DESCRIPTION_MAX_CHARS);
                assert!(incident.address().chars().count() <= SHORT_TEXT_MAX_CHARS);
                assert!(incident.caller_name().chars().count() <= SHORT_TEXT_MAX_CHARS);
                assert!(!incident.required_kinds().is_empty());
                assert!((-90.0..=90.0).contains(&incident.location().lat()));
                assert!((-180.0..=180.0).contains(&incident.location().lon()));
            }
        }
        1 => {
            if let Ok(request) = proto::RegisterUnitRequest::decode(bytes)
                && let Ok(unit) = new_unit(&request)
            {
                assert!(!unit.call_sign.is_empty());
                assert!(!unit.call_sign.chars().any(char::is_control));
            }
        }
        2 => {
            let text = String::from_utf8_lossy(bytes);
            if let Ok(phone) = validation::phone_number("caller_phone", &text) {
                assert!(phone.is_empty() || (phone.len() >= 9 && phone.len() <= 16));
            }
            let _ = validation::text("address", &text, SHORT_TEXT_MAX_CHARS);
            let _ = validation::call_sign(&text);
            assert_eq!(mask_phone(&text).chars().count(), text.chars().count());
            let _ = mask_name(&text);
            let _ = IncidentId::parse("id", &text);
            let _ = AssignmentId::parse("assignment_id", &text);
            let _ = decode_page_token(&text);
            // People and callers.
            if let Ok(name) = validation::username("username", &text) {
                assert!(!name.is_empty() && name.len() <= 64);
                assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c)));
            }
            if let Ok(password) = validation::new_password("password", &text) {
                assert!(password.chars().count() >= validation::PASSWORD_MIN_CHARS);
            }
            for withheld in [false, true] {
                if let Ok(phone) = validation::caller_number(&text, withheld) {
                    assert_eq!(phone.is_empty(), withheld);
                }
            }
            let _ = ngalam112::convert::closing_code(i32::from(bytes.first().copied().unwrap_or(0)));
            // Partners, cameras, the public.
            if let Ok(url) = validation::stream_url("stream_url", &text) {
                assert!(url.starts_with("http://") || url.starts_with("https://") || url.starts_with("rtsp://"));
                assert!(!url.chars().any(|c| c.is_whitespace() || c == '"' || c == '<' || c == '>'));
            }
            let now = chrono::DateTime::from_timestamp(1_795_775_460, 0).unwrap_or_default();
            if let Ok((month, since, until)) = ngalam112::services::public::month_range(&text, now) {
                assert_eq!(month.len(), 7);
                assert!(since < until && (until - since).num_days() <= 31);
            }
            let _ = ngalam112::convert::referral_status("status", i32::from(bytes.first().copied().unwrap_or(0)));
        }
        3 => {
            // AML payloads from the telco gateway (SMS and HTTPS forms).
            let text = String::from_utf8_lossy(bytes);
            let now = chrono::DateTime::from_timestamp(1_795_775_460, 0).unwrap_or_default();
            if let Ok(fix) = ngalam112_core::aml::parse(&text, now) {
                assert!(fix.radius_m > 0.0 && fix.radius_m <= 50_000.0);
                assert!((1..=100).contains(&fix.confidence_pct));
                assert!(fix.fix_time <= now + chrono::Duration::minutes(5));
                if let Ok(entered) = GeoPoint::new("location", -7.977, 112.634) {
                    let _ = ngalam112_core::aml::disagrees(&entered, &fix);
                }
            }
        }
        _ => {
            if bytes.len() >= 16 {
                let lat = f64::from_le_bytes(bytes[..8].try_into().unwrap_or_default());
                let lon = f64::from_le_bytes(bytes[8..16].try_into().unwrap_or_default());
                if let Ok(point) = GeoPoint::new("location", lat, lon)
                    && let Ok(origin) = GeoPoint::new("origin", -7.977, 112.634)
                {
                    let distance = point.distance_m(&origin);
                    assert!(distance.is_finite() && distance >= 0.0 && distance <= 20_100_000.0);
                }
            }
        }
    }
});
