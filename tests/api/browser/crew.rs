//! The crews' phone page: an offer taken or declined, the console following.

use super::*;
use ngalam112_core::UnitId;

#[tokio::test]
async fn a_crew_takes_the_offer_on_the_phone_page_and_the_console_follows_live() {
    let app = TestApp::spawn().await;
    let ambulance = ambulance_with_crew(&app).await;
    app.add_user("sri", Role::Operator, "kopi-tubruk-2026")
        .await;

    let console = Browser::open(1280, 800).await;
    console
        .log_in(&format!("{}/", base(&app)), "sri", "kopi-tubruk-2026")
        .await;
    console
        .until(
            "live",
            "return document.querySelector('[data-testid=connection-state]').dataset.state === 'live'",
        )
        .await;

    let phone = Browser::crew_phone(&base(&app), -7.9801, 112.6302).await;
    // The phone reports its position (at most every 10 s).
    until_sql(
        &app,
        "the phone's position",
        &format!("SELECT abs(lat - (-7.9801)) < 1e-6 AND abs(lon - 112.6302) < 1e-6 FROM units WHERE id = '{}'", ambulance.id),
    )
    .await;

    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    let offer = phone.find("[data-testid=crew-offer]").await;
    let text = offer.text().await.expect("text");
    assert!(
        text.contains("Jl. Tugu 1") && text.contains("TUGAS BARU"),
        "{text}"
    );
    assert!(
        phone
            .text("[data-testid=crew-countdown]")
            .await
            .contains("dtk")
    );
    let width: f64 = phone
        .client
        .execute("return document.documentElement.scrollWidth", vec![])
        .await
        .expect("width")
        .as_f64()
        .expect("a number");
    assert!(width <= 360.0, "no sideways scrolling at 360 px ({width})");
    phone.screenshot("crew.png").await;

    phone.click("[data-testid=crew-accept]").await;
    let row = format!(
        "[data-testid=incident-row][data-incident-id='{}']",
        incident.id
    );
    console
        .until(
            "the console shows the acceptance",
            &format!("return document.querySelector(\"{row}\").textContent.includes('AMB-RSSA-1 menerima')"),
        )
        .await;
    phone.click("[data-testid=crew-en-route]").await;
    phone.click("[data-testid=crew-on-scene]").await;
    console
        .until(
            "on scene, live",
            &format!("return document.querySelector(\"{row}\").dataset.status === 'INCIDENT_STATUS_ON_SCENE'"),
        )
        .await;

    // DARURAT: held for two seconds, it alarms every console until an
    // operator acknowledges it.
    phone
        .hold("[data-testid=crew-alarm]", Duration::from_millis(2_300))
        .await;
    let banner = console.find("[data-testid=alarm-banner]").await;
    assert!(banner.text().await.expect("text").contains("AMB-RSSA-1"));
    console.screenshot("console-alarm.png").await;
    console.click("[data-testid=alarm-ack]").await;
    console
        .until(
            "the banner goes",
            "return !document.querySelector('[data-testid=alarm-banner]')",
        )
        .await;
    until_sql(
        &app,
        "acknowledged by sri",
        "SELECT acknowledged_by = 'operator:sri' FROM alarms",
    )
    .await;

    phone.click("[data-testid=crew-completed]").await;
    until_sql(
        &app,
        "the unit free again",
        &format!(
            "SELECT status = 'available' FROM units WHERE id = '{}'",
            ambulance.id
        ),
    )
    .await;
    phone.close().await;
    console.close().await;
}

#[tokio::test]
async fn a_crew_declines_with_a_reason_and_the_next_unit_gets_the_call() {
    let app = TestApp::spawn().await;
    let nearest = app
        .register_at("AMB-RSSA-1", proto::UnitKind::Ambulance, places::RSSA)
        .await;
    let next = app
        .register_at("AMB-UNISMA-1", proto::UnitKind::Ambulance, places::UNISMA)
        .await;
    let unit_token = {
        let unit = UnitId::parse("unit_id", &nearest.id).expect("id");
        app.token(Role::Unit(unit)).await.expect("token")
    };
    let phone = Browser::open(360, 740).await;
    phone
        .client
        .goto(&format!("{}/crew", base(&app)))
        .await
        .expect("crew page");
    // A pasted unit token instead of a password.
    phone
        .type_into("[data-testid=login-token]", &unit_token)
        .await;
    phone.click("[data-testid=login-submit]").await;
    phone.find(".waiting").await;

    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    phone.find("[data-testid=crew-offer]").await;
    phone
        .type_into("[data-testid=crew-decline-reason]", "ban bocor")
        .await;
    phone.click("[data-testid=crew-decline]").await;
    until_sql(
        &app,
        "offered to the next unit",
        &format!(
            "SELECT EXISTS (SELECT 1 FROM assignments WHERE incident_id = '{}' AND unit_id = '{}' AND status = 'offered')",
            incident.id, next.id
        ),
    )
    .await;
    let timeline = app.timeline(&incident.id).await;
    assert!(
        timeline
            .iter()
            .any(|event| event.kind == "assignment_declined" && event.detail.contains("ban bocor")),
        "{timeline:?}"
    );
    phone.find(".waiting").await;
    phone.close().await;
}
