//! A console that never shows a stale picture, and a phone page that never
//! loses an alarm: the network between the browser and the server is cut
//! and restored (a forwarder the test controls), and the console is opened
//! by a host name over plain HTTP as on the centre's LAN.

use super::forward::Forwarder;
use super::*;

#[tokio::test]
async fn an_alarm_acknowledged_elsewhere_while_this_console_was_away_is_gone_after_it_reconnects() {
    let app = TestApp::spawn().await;
    let unit = app
        .register_at("POL-KLOJEN-1", proto::UnitKind::Police, places::POLRESTA)
        .await;
    app.add_user("sri", Role::Operator, "kopi-tubruk-2026")
        .await;
    let network = Forwarder::start(app.address).await;
    let console = Browser::open(1280, 800).await;
    let through = format!("http://{}/", network.address);
    console.log_in(&through, "sri", "kopi-tubruk-2026").await;
    console
        .until("live", "return document.querySelector('[data-testid=connection-state]').dataset.state === 'live'")
        .await;
    let crew = app.unit_clients(&unit.id).await;
    let alarm = crew
        .field
        .clone()
        .raise_alarm(proto::RaiseAlarmRequest {
            unit_id: unit.id.clone(),
            location: Some(proto::GeoPoint {
                lat: places::POLRESTA.0,
                lon: places::POLRESTA.1,
            }),
            note: "dikeroyok".to_owned(),
        })
        .await
        .expect("alarm")
        .into_inner();
    let banner = format!("[data-testid=alarm-banner][data-alarm-id='{}']", alarm.id);
    console.find(&banner).await;

    network.cut();
    console
        .until("the console knows it is cut off", "return document.querySelector('[data-testid=connection-state]').dataset.state !== 'live'")
        .await;
    // Another console acknowledges it meanwhile.
    app.operator
        .clone()
        .incidents
        .acknowledge_alarm(proto::AcknowledgeAlarmRequest {
            alarm_id: alarm.id.clone(),
        })
        .await
        .expect("acknowledged elsewhere");
    assert!(
        console
            .client
            .find(fantoccini::Locator::Css(&banner))
            .await
            .is_ok(),
        "still shown while cut off (nothing could tell it)"
    );
    network.restore();
    console
        .until("live again", "return document.querySelector('[data-testid=connection-state]').dataset.state === 'live'")
        .await;
    console
        .until(
            "the stale banner is gone",
            &format!("return !document.querySelector(\"{banner}\")"),
        )
        .await;
    console.close().await;
}

#[tokio::test]
async fn the_crews_alarm_pressed_offline_is_kept_and_sent_on_reconnect_with_the_last_position() {
    let app = TestApp::spawn().await;
    let ambulance = ambulance_with_crew(&app).await;
    let network = Forwarder::start(app.address).await;
    let origin = format!("http://{}", network.address);
    let phone = Browser::crew_phone(&origin, -7.9811, 112.6322).await;
    phone.find("[data-testid=crew-alarm]").await;
    // The phone knows where it is.
    phone
        .until(
            "a GPS fix",
            "return document.querySelector('[data-testid=crew-gps]')?.textContent.length > 0",
        )
        .await;

    network.cut();
    phone
        .hold("[data-testid=crew-alarm]", Duration::from_millis(2_400))
        .await;
    phone
        .until(
            "kept, and the crew told so",
            "return document.body.innerText.includes('alarm disimpan')",
        )
        .await;
    phone.screenshot("crew-alarm-offline.png").await;
    assert_eq!(app.count("alarms").await, 0, "nothing reached the server");

    network.restore();
    until_sql(
        &app,
        "the kept alarm arrives, at the phone's last position",
        &format!(
            "SELECT lat = -7.9811 AND lon = 112.6322 AND note LIKE 'ditekan %' \
             FROM alarms WHERE unit_id = '{}'",
            ambulance.id
        ),
    )
    .await;
    phone
        .until(
            "sent",
            "return document.body.innerText.includes('Alarm terkirim')",
        )
        .await;
    phone.close().await;
}

#[tokio::test]
async fn intake_works_over_plain_http_by_a_host_name_on_the_lan() {
    let app = TestApp::spawn_with_server_config(ngalam112::ServerConfig {
        public_hosts: vec!["ngalam112.test".to_owned()],
        ..Default::default()
    })
    .await;
    app.register_at("AMB-RSSA-1", proto::UnitKind::Ambulance, places::RSSA)
        .await;
    app.add_user("sri", Role::Operator, "kopi-tubruk-2026")
        .await;
    let console = Browser::open_with(
        1280,
        800,
        &["--host-resolver-rules=MAP ngalam112.test 127.0.0.1".to_owned()],
    )
    .await;
    let url = format!("http://ngalam112.test:{}/", app.address.port());
    console.log_in(&url, "sri", "kopi-tubruk-2026").await;
    console.find("[data-testid=new-incident]").await;
    let secure = console
        .client
        .execute("return window.isSecureContext", vec![])
        .await
        .expect("context");
    assert_eq!(
        secure,
        json!(false),
        "plain HTTP by name is not a secure context"
    );
    console.click("[data-testid=new-incident]").await;
    console
        .type_into("[data-testid=intake-phone]", "0812 3456 7890")
        .await;
    console
        .type_into("[data-testid=intake-location]", "-7.97700, 112.63400")
        .await;
    console
        .type_into("[data-testid=intake-address]", "Jl. Tugu 1")
        .await;
    console.click("[data-testid=intake-submit]").await;
    let id = console.detail_incident_id().await;
    let request_id: String =
        sqlx::query_scalar("SELECT request_id FROM intake_requests WHERE incident_id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .expect("the call's request id");
    assert!(
        uuid::Uuid::parse_str(&request_id).is_ok_and(|uuid| uuid.get_version_num() == 4),
        "a UUID v4 made without crypto.randomUUID: {request_id}"
    );
    console.close().await;
}
