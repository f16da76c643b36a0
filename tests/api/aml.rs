//! AML: the caller's handset location, sent by the telco gateway.

use ngalam112_proto::v1 as proto;
use ngalam112_store::Role;
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{TestApp, code_of, connect_as, medical_call, places};

/// An AML SMS for a fix at (lat, lon) with the given radius, its `ml` right.
fn sms(lat: f64, lon: f64, radius_m: u32, method: char) -> String {
    sms_taken(lat, lon, radius_m, method, chrono::Utc::now())
}

/// An AML SMS for a fix taken at `taken`.
fn sms_taken(
    lat: f64,
    lon: f64,
    radius_m: u32,
    method: char,
    taken: chrono::DateTime<chrono::Utc>,
) -> String {
    let top = taken.format("%Y%m%d%H%M%S");
    let without = format!(
        "A\"ML=1;lt={lat:+.5};lg={lon:+.5};rd={radius_m};top={top};lc=68;pm={method};si=510101234567890;ei=356938035643809;mcc=510;mnc=10;ml="
    );
    let mut length = without.chars().count() + 2;
    loop {
        let candidate = format!("{without}{length}");
        if candidate.chars().count() == length {
            return candidate;
        }
        length = candidate.chars().count();
    }
}

async fn gateway(app: &TestApp) -> ngalam112_testkit::Clients {
    let token = app.token(Role::Gateway).await.expect("gateway token");
    connect_as(app.channel.clone(), Some(&token))
}

fn ingest(phone: &str, payload: String) -> proto::IngestDeviceLocationRequest {
    proto::IngestDeviceLocationRequest {
        caller_phone: phone.to_owned(),
        payload,
    }
}

#[tokio::test]
async fn a_handset_fix_is_attached_beside_the_entered_location_of_the_callers_incident() {
    let app = TestApp::spawn().await;
    let incident = app.create(medical_call(places::BALAI_KOTA)).await; // caller 0812 3456 7890
    let mut gateway = gateway(&app).await;
    let answer = gateway
        .incidents
        .ingest_device_location(ingest(
            "+62 812-3456-7890",
            sms(-7.97705, 112.63405, 20, 'G'),
        ))
        .await
        .expect("ingest")
        .into_inner();
    assert_eq!(answer.incident_ids, vec![incident.id.clone()]);
    assert!(!answer.held);

    let incident = app.incident(&incident.id).await;
    let location = incident.location.expect("entered location");
    assert_eq!(
        (location.lat, location.lon),
        places::BALAI_KOTA,
        "the entered location is never overwritten"
    );
    let device = incident.device_location.expect("a device location");
    assert_eq!(device.method, "GNSS");
    assert_eq!(device.radius_m, 20.0);
    assert_eq!(device.confidence_pct, 68);
    assert!(device.fix_time.is_some() && device.received_at.is_some());
    assert!(!incident.location_disagrees);
    assert!(
        app.timeline_kinds(&incident.id)
            .await
            .contains(&"device_location".to_owned())
    );
}

#[tokio::test]
async fn a_fix_that_arrives_before_the_call_is_recorded_is_attached_when_it_is() {
    let app = TestApp::spawn().await;
    // A free ambulance: the call could be served at once, and must still
    // get its kept fix (an intake group leaves such a call to its own
    // transaction, which attaches it).
    app.register_at("AMB-1", proto::UnitKind::Ambulance, places::RSSA)
        .await;
    let mut gateway = gateway(&app).await;
    let answer = gateway
        .incidents
        .ingest_device_location(ingest("081234567890", sms(-7.97702, 112.63402, 30, 'W')))
        .await
        .expect("ingest")
        .into_inner();
    assert!(answer.held && answer.incident_ids.is_empty());

    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    let device = incident.device_location.expect("attached at creation");
    assert_eq!(device.method, "Wi-Fi");
    assert_eq!(incident.assignments.len(), 1, "and dispatched at once");
    assert!(
        app.timeline_kinds(&incident.id)
            .await
            .contains(&"device_location".to_owned())
    );

    // A fix older than 10 minutes is not used.
    sqlx::query("UPDATE device_fixes SET received_at = now() - interval '11 minutes'")
        .execute(&app.pool)
        .await
        .expect("age the kept fix");
    let later = app.create(medical_call(places::UNISMA)).await;
    assert!(later.device_location.is_none());
}

#[tokio::test]
async fn a_fix_far_from_the_entered_location_raises_the_disagreement_flag() {
    let app = TestApp::spawn().await;
    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    let mut gateway = gateway(&app).await;
    // About 1 km north of Balai Kota, ±50 m: cannot both be right.
    gateway
        .incidents
        .ingest_device_location(ingest("0812 3456 7890", sms(-7.9680, 112.6340, 50, 'G')))
        .await
        .expect("ingest");
    let incident = app.incident(&incident.id).await;
    assert!(incident.location_disagrees);
    let events = app
        .operator
        .incidents
        .clone()
        .get_incident_timeline(proto::GetIncidentTimelineRequest {
            id: incident.id.clone(),
        })
        .await
        .expect("timeline")
        .into_inner()
        .events;
    let event = events
        .iter()
        .find(|e| e.kind == "device_location")
        .expect("event");
    assert!(event.detail.contains("DISAGREES"), "{}", event.detail);

    // A cell fix ±2 km covers the entered location: no conflict.
    gateway
        .incidents
        .ingest_device_location(ingest("0812 3456 7890", sms(-7.9680, 112.6340, 2000, 'C')))
        .await
        .expect("ingest");
    assert!(!app.incident(&incident.id).await.location_disagrees);
}

#[tokio::test]
async fn only_the_callers_active_incidents_of_the_last_hour_get_the_fix() {
    let app = TestApp::spawn().await;
    let old = app.create(medical_call(places::BALAI_KOTA)).await;
    sqlx::query("UPDATE incidents SET created_at = now() - interval '2 hours' WHERE id = $1::uuid")
        .bind(&old.id)
        .execute(&app.pool)
        .await
        .expect("age it");
    let mut other_caller = medical_call(places::RSSA);
    other_caller.caller_phone = "0813 1111 2222".to_owned();
    let other = app.create(other_caller).await;
    let answer = gateway(&app)
        .await
        .incidents
        .ingest_device_location(ingest("0812 3456 7890", sms(-7.977, 112.634, 20, 'G')))
        .await
        .expect("ingest")
        .into_inner();
    assert!(answer.incident_ids.is_empty() && answer.held);
    assert!(app.incident(&old.id).await.device_location.is_none());
    assert!(app.incident(&other.id).await.device_location.is_none());
}

#[tokio::test]
async fn bad_payloads_are_refused_naming_the_field_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    let mut gateway = gateway(&app).await;
    let good = sms(-7.977, 112.634, 20, 'G');
    let cases = [
        ("payload.ml", good.replace("rd=20", "rd=200")),
        ("payload.lt", sms(-97.0, 112.634, 20, 'G')),
        ("payload.pm", sms(-7.977, 112.634, 20, 'N')),
        ("payload.rd", sms(-7.977, 112.634, 0, 'G')),
        ("payload", "hello".to_owned()),
        ("payload.location_source", "location_latitude=-7.9&location_longitude=112.6&location_accuracy=10&location_time=1795775400000&location_source=radio".to_owned()),
    ];
    for (field, payload) in cases {
        let status = gateway
            .incidents
            .ingest_device_location(ingest("0812 3456 7890", payload))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        let named = status
            .get_details_bad_request()
            .and_then(|b| b.field_violations.first().map(|v| v.field.clone()));
        assert_eq!(named.as_deref(), Some(field));
    }
    let status = gateway
        .incidents
        .ingest_device_location(ingest("no phone", good))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(app.incident(&incident.id).await.device_location.is_none());
    assert_eq!(app.count("device_fixes").await, 0);
    assert!(
        !app.timeline_kinds(&incident.id)
            .await
            .contains(&"device_location".to_owned())
    );
}

#[tokio::test]
async fn the_gateway_may_send_locations_and_nothing_else() {
    let app = TestApp::spawn().await;
    let unit = app
        .register_at("AMB-1", proto::UnitKind::Ambulance, places::RSSA)
        .await;
    let mut gateway = gateway(&app).await;
    let denied = Code::PermissionDenied;
    assert_eq!(
        code_of(
            gateway
                .incidents
                .create_incident(medical_call(places::BALAI_KOTA))
                .await
        ),
        denied
    );
    assert_eq!(
        code_of(
            gateway
                .incidents
                .list_incidents(proto::ListIncidentsRequest::default())
                .await
        ),
        denied
    );
    assert_eq!(
        code_of(
            gateway
                .units
                .list_units(proto::ListUnitsRequest::default())
                .await
        ),
        denied
    );
    assert_eq!(
        code_of(
            gateway
                .field
                .poll_assignment(proto::PollAssignmentRequest {
                    unit_id: unit.id.clone(),
                    wait_seconds: 0
                })
                .await
        ),
        denied
    );
    // And operators may not pose as the gateway.
    let mut operator = app.operator.clone();
    assert_eq!(
        code_of(
            operator
                .incidents
                .ingest_device_location(ingest("0812 3456 7890", sms(-7.977, 112.634, 20, 'G')))
                .await
        ),
        denied
    );
    gateway
        .incidents
        .ingest_device_location(ingest("0812 3456 7890", sms(-7.977, 112.634, 20, 'G')))
        .await
        .expect("the gateway's one call");
}

#[tokio::test]
async fn an_older_fix_delivered_late_never_replaces_a_newer_one() {
    let app = TestApp::spawn().await;
    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    let mut gateway = gateway(&app).await;
    let now = chrono::Utc::now();
    let newer = sms_taken(-7.97705, 112.63405, 20, 'G', now);
    let older = sms_taken(
        -7.98500,
        112.62000,
        900,
        'C',
        now - chrono::Duration::minutes(5),
    );
    for payload in [newer, older] {
        gateway
            .incidents
            .ingest_device_location(ingest("+62 812-3456-7890", payload))
            .await
            .expect("ingest");
    }
    let incident = app.incident(&incident.id).await;
    let device = incident.device_location.expect("a device location");
    assert_eq!(device.method, "GNSS", "the newer GNSS fix is kept");
    assert_eq!(device.radius_m, 20.0);
    assert!(!incident.location_disagrees);
    let details: Vec<String> = app
        .timeline(&incident.id)
        .await
        .into_iter()
        .map(|event| event.detail)
        .collect();
    assert!(
        details
            .iter()
            .any(|detail| detail.contains("older handset cell fix") && detail.contains("ignored")),
        "the operator can see that a late, older fix arrived: {details:?}"
    );
}

#[tokio::test]
async fn a_kept_fix_goes_once_it_found_its_call_and_unclaimed_fixes_go_after_ten_minutes() {
    let app = TestApp::spawn().await;
    let mut gateway = gateway(&app).await;
    for phone in ["+62 812-3456-7890", "+62 811-1111-2222"] {
        let answer = gateway
            .incidents
            .ingest_device_location(ingest(phone, sms(-7.97705, 112.63405, 20, 'G')))
            .await
            .expect("ingest")
            .into_inner();
        assert!(answer.held);
    }
    assert_eq!(app.count("device_fixes").await, 2);
    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    assert!(app.incident(&incident.id).await.device_location.is_some());
    assert_eq!(
        app.count("device_fixes").await,
        1,
        "the fix that found its call is no longer kept"
    );

    // The other caller never called: after 10 minutes it goes.
    sqlx::query("UPDATE device_fixes SET received_at = now() - interval '11 minutes'")
        .execute(&app.pool)
        .await
        .expect("age the fix");
    assert_eq!(app.store.purge_kept_fixes().await.expect("purge"), 1);
    assert_eq!(app.count("device_fixes").await, 0);
}
