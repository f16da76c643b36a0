//! The timeline read in Indonesian: every sentence the server writes for a
//! busy incident (held and released, another caller, a handset fix, an
//! offer declined and another made, a referral answered, resolved) is said
//! in Indonesian, none left as written.

use super::*;
use crate::helpers::connect_as;

async fn untranslated(browser: &Browser) -> Value {
    browser
        .client
        .execute("return [...document.querySelectorAll('.timeline [lang=en]')].map((e) => e.textContent)", vec![])
        .await
        .expect("the timeline")
}

#[tokio::test]
async fn every_sentence_of_a_busy_incidents_timeline_is_read_in_indonesian() {
    let app = TestApp::spawn().await;
    app.add_user("sri", Role::Operator, "kopi-tubruk-2026")
        .await;
    let near = app
        .register_at("AMB-RSSA-1", proto::UnitKind::Ambulance, places::RSSA)
        .await;
    app.register_at("AMB-UNISMA-1", proto::UnitKind::Ambulance, places::UNISMA)
        .await;
    let mut operator = app.operator.clone();
    let mut held = medical_call(places::BALAI_KOTA);
    held.hold = true;
    let incident = app.create(held).await;
    let mut again = medical_call(places::BALAI_KOTA);
    again.duplicate_of = incident.id.clone();
    again.caller_phone = "0813 1111 2222".to_owned();
    app.create(again).await;
    let gateway = app.token(Role::Gateway).await.expect("gateway token");
    connect_as(app.channel.clone(), Some(&gateway))
        .incidents
        .ingest_device_location(proto::IngestDeviceLocationRequest {
            caller_phone: "0812 3456 7890".to_owned(),
            payload: format!(
                "location_latitude=-7.9900&location_longitude=112.6500&location_accuracy=20\
                 &location_time={}&location_source=gps",
                chrono::Utc::now().timestamp_millis()
            ),
        })
        .await
        .expect("AML, far from the entered location");
    operator
        .incidents
        .release_hold(proto::ReleaseHoldRequest {
            id: incident.id.clone(),
        })
        .await
        .expect("release");
    let offered = app.incident(&incident.id).await.assignments[0].clone();
    assert_eq!(offered.unit_id, near.id);
    app.unit_clients(&near.id)
        .await
        .field
        .decline_assignment(proto::DeclineAssignmentRequest {
            assignment_id: offered.id,
            reason: "ban bocor".to_owned(),
        })
        .await
        .expect("declined");
    let pln = app.agency("PLN").await;
    let referral = operator
        .incidents
        .refer_incident(proto::ReferIncidentRequest {
            incident_id: incident.id.clone(),
            agency_id: pln.to_string(),
            note: String::new(),
        })
        .await
        .expect("referred")
        .into_inner();
    let liaison = app.token(Role::Agency(pln)).await.expect("agency token");
    app.clients_with_token(Some(&liaison))
        .agencies
        .update_referral(proto::UpdateReferralRequest {
            referral_id: referral.id,
            status: proto::ReferralStatus::Acknowledged.into(),
            answer: "petugas menuju lokasi".to_owned(),
        })
        .await
        .expect("answered");

    let browser = Browser::open(1366, 900).await;
    browser
        .log_in(&format!("{}/", base(&app)), "sri", "kopi-tubruk-2026")
        .await;
    browser
        .click(&format!(
            "[data-testid=incident-row][data-incident-id='{}']",
            incident.id
        ))
        .await;
    browser
        .until(
            "the whole timeline",
            "return document.querySelectorAll('.timeline li').length >= 10",
        )
        .await;
    assert_eq!(
        untranslated(&browser).await,
        json!([]),
        "English sentences in the Indonesian timeline"
    );
    let timeline = browser.text(".timeline").await;
    for said in [
        "ditahan",
        "dilepas untuk dikirim",
        "penelepon lain",
        "BERBEDA dengan lokasi",
        "ban bocor",
        "dirujuk ke PLN",
        "PLN: dibaca — petugas menuju lokasi",
        "menunggu unit → unit dikirim",
    ] {
        assert!(timeline.contains(said), "{said:?} in {timeline}");
    }
    browser.click("[data-testid=resolve-button]").await;
    browser
        .until(
            "resolved",
            "return !!document.querySelector('[data-event-kind=incident_resolved]')",
        )
        .await;
    assert_eq!(untranslated(&browser).await, json!([]), "after resolving");
    browser.screenshot("console-timeline-id.png").await;
    browser.close().await;
}
