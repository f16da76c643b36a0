//! A whole call at the console, as a call-taker works a shift: the phone
//! system rings it in, she answers it and records it with the keyboard
//! only, the crew accepts on the phone page, and the report shows how fast
//! the call was answered and recorded. All in Indonesian, with no English
//! enum word on screen and no serious accessibility fault.

use fantoccini::key::Key;

use super::*;
use crate::helpers::connect_as;

async fn signal(gateway: &mut crate::helpers::Clients, call_id: &str, signal: proto::CallSignal) {
    gateway
        .telephony
        .signal_call(proto::SignalCallRequest {
            call_id: call_id.to_owned(),
            line: "112-1".to_owned(),
            caller_phone: "0812 3456 7890".to_owned(),
            signal: signal.into(),
            position: "P1".to_owned(),
            ..Default::default()
        })
        .await
        .expect("signal");
}

/// Checks the page as it is now: Indonesian only, accessible.
async fn check_page(browser: &Browser, what: &str) {
    let english = browser.english_enum_words().await;
    assert!(
        english.is_empty(),
        "{what}: English enum words on the Indonesian page: {english:?}"
    );
    let violations = browser.accessibility_violations().await;
    assert!(
        violations.is_empty(),
        "{what}: axe-core found {violations:#?}"
    );
}

#[tokio::test]
async fn a_call_rings_in_is_recorded_by_keyboard_the_crew_accepts_and_the_report_shows_its_times() {
    let app = TestApp::spawn().await;
    ambulance_with_crew(&app).await;
    app.add_user("sri", Role::Operator, "kopi-tubruk-2026")
        .await;
    crate::helpers::earlier_prank(&app, "pernah iseng").await;
    let token = app.token(Role::Gateway).await.expect("gateway token");
    let mut gateway = connect_as(app.channel.clone(), Some(&token));

    let console = Browser::open(1366, 820).await;
    console
        .log_in(&format!("{}/", base(&app)), "sri", "kopi-tubruk-2026")
        .await;
    console
        .until("live", "return document.querySelector('[data-testid=connection-state]').dataset.state === 'live'")
        .await;
    check_page(&console, "the empty console").await;

    // The phone rings, and the handset's fix comes while it rings.
    signal(&mut gateway, "pbx-42", proto::CallSignal::Ringing).await;
    gateway
        .incidents
        .ingest_device_location(proto::IngestDeviceLocationRequest {
            caller_phone: "0812 3456 7890".to_owned(),
            payload: format!(
                "location_latitude=-7.97705&location_longitude=112.63405&location_accuracy=12\
                 &location_time={}&location_source=gps",
                chrono::Utc::now().timestamp_millis()
            ),
        })
        .await
        .expect("AML");
    let ringing = "[data-testid=ringing-call][data-call-id='pbx-42']";
    console
        .until(
            "the ringing call with its history, flag and handset fix",
            &format!(
                "const c = document.querySelector(\"{ringing}\"); return !!c && c.dataset.state === 'CALL_STATE_RINGING' \
                 && c.textContent.includes('+6281234567890') && c.textContent.includes('pernah iseng') \
                 && c.textContent.includes('1 kejadian, 1 iseng') && c.textContent.includes('lokasi ponsel ±12 m')"
            ),
        )
        .await;
    console.screenshot("console-ringing.png").await;
    check_page(&console, "a call ringing").await;
    signal(&mut gateway, "pbx-42", proto::CallSignal::Answered).await;
    console
        .until("answered", &format!("return document.querySelector(\"{ringing}\")?.dataset.state === 'CALL_STATE_ANSWERED'"))
        .await;

    // Keys only from here: F4 answers into a filled form.
    console.press(&char::from(Key::F4).to_string()).await;
    console
        .find("[data-testid=intake-call][data-call-id='pbx-42']")
        .await;
    let filled = console
        .client
        .execute(
            "const v = (id) => document.querySelector(`[data-testid=${id}]`).value;
             return [v('intake-phone'), v('intake-lat'), v('intake-lon'), document.activeElement.dataset.testid]",
            vec![],
        )
        .await
        .expect("the form");
    assert_eq!(
        filled,
        json!(["+6281234567890", "-7.97705", "112.63405", "intake-category"])
    );
    // Category stays Medis; Tab to priority, "K" picks KRITIS; Tab to the
    // location (the handset's fix, kept); Tab to the address and the
    // description; Enter saves.
    console.press(&format!("{}K{}", Key::Tab, Key::Tab)).await;
    assert_eq!(console.focused().await, "intake-location");
    console
        .press(&format!("{}Jl. Tugu 1, depan Balai Kota", Key::Tab))
        .await;
    assert_eq!(console.focused().await, "intake-address");
    console
        .press(&format!("{}bapak pingsan, napas lemah", Key::Tab))
        .await;
    assert_eq!(console.focused().await, "intake-description");
    console.screenshot("console-intake-from-call.png").await;
    check_page(&console, "the intake filled from the call").await;
    console.press(&Key::Enter.to_string()).await;
    let incident_id = console.detail_incident_id().await;
    until_sql(
        &app,
        "the incident linked to its call",
        &format!("SELECT incident_id = '{incident_id}' FROM calls WHERE call_id = 'pbx-42'"),
    )
    .await;
    let stored = app.incident(&incident_id).await;
    assert_eq!(stored.priority(), proto::Priority::Critical);
    assert_eq!(stored.category(), proto::IncidentCategory::Medical);
    assert_eq!(stored.description, "bapak pingsan, napas lemah");
    console
        .until(
            "the timeline says when the call rang",
            "return !!document.querySelector('[data-event-kind=call_received]')?.textContent.includes('panggilan 112 masuk')",
        )
        .await;
    check_page(&console, "the incident's detail").await;
    // Every sentence of the record is read back in Indonesian: none is
    // left as the server wrote it.
    let untranslated = console
        .client
        .execute("return [...document.querySelectorAll('.timeline [lang=en]')].map((e) => e.textContent)", vec![])
        .await
        .expect("the timeline");
    assert_eq!(
        untranslated,
        json!([]),
        "English sentences in the Indonesian timeline"
    );

    // The crew accepts on the phone page.
    let phone = Browser::crew_phone(&base(&app), -7.9801, 112.6302).await;
    phone.click("[data-testid=crew-accept]").await;
    check_page(&phone, "the crew page").await;
    signal(&mut gateway, "pbx-42", proto::CallSignal::Ended).await;
    console
        .until(
            "the call leaves the strip",
            &format!("return !document.querySelector(\"{ringing}\")"),
        )
        .await;

    // Esc closes; F3 and Enter open the incident again from the queue.
    console.press(&Key::Escape.to_string()).await;
    console
        .until(
            "the panel closed",
            "return !document.querySelector('[data-testid=incident-detail]')",
        )
        .await;
    console.press(&char::from(Key::F3).to_string()).await;
    assert_eq!(console.focused().await, "incident-row");
    console
        .until("the queue shows the acceptance", "return document.querySelector('[data-testid=incident-row]').textContent.includes('AMB-RSSA-1 menerima')")
        .await;
    console.press(&Key::Enter.to_string()).await;
    assert_eq!(console.detail_incident_id().await, incident_id);
    console.screenshot("console-detail-from-queue.png").await;

    // The report: one call, answered at once, recorded seconds later.
    console.click("nav .tab[data-view=reports]").await;
    console
        .until(
            "the call figures",
            "return !!document.querySelector('[data-testid=report-calls] [data-figure=calls]')",
        )
        .await;
    let figures = console.text("[data-testid=report-calls]").await;
    assert!(figures.contains("Panggilan 112"), "{figures}");
    let cell = |name: &str| format!("[data-testid=report-calls] [data-figure={name}] td");
    assert_eq!(console.text(&cell("calls")).await, "1");
    assert_eq!(console.text(&cell("abandoned")).await, "0");
    assert_eq!(console.text(&cell("answered-10s")).await, "100.0 %");
    let recorded = console.text(&cell("answer-to-recorded")).await;
    assert!(
        recorded.ends_with("dtk") && recorded.contains(" / "),
        "answer → recorded: {recorded}"
    );
    console.screenshot("console-report-calls.png").await;
    check_page(&console, "the report").await;
    console.click("nav .tab[data-view=units]").await;
    console.find("[data-testid=unit-row]").await;
    check_page(&console, "the units").await;
    phone.close().await;
    console.close().await;
}

#[tokio::test]
async fn the_public_page_and_the_login_pass_axe_and_keyboard_assigns_the_first_recommended_unit() {
    let app = TestApp::spawn().await;
    app.add_user("sri", Role::Operator, "kopi-tubruk-2026")
        .await;
    let browser = Browser::open(1280, 800).await;
    browser
        .client
        .goto(&format!("{}/publik", base(&app)))
        .await
        .expect("public page");
    browser
        .find("[data-testid=public-empty], [data-testid=public-table]")
        .await;
    check_page(&browser, "/publik").await;
    browser
        .client
        .goto(&format!("{}/crew", base(&app)))
        .await
        .expect("crew login");
    browser.find("[data-testid=login-username]").await;
    check_page(&browser, "the crew login").await;
    browser
        .client
        .goto(&format!("{}/", base(&app)))
        .await
        .expect("console login");
    browser.find("[data-testid=login-username]").await;
    check_page(&browser, "the console login").await;

    // A call held (nothing offered), opened; F8 sends the nearest unit.
    let unit = app
        .register_at("AMB-RSSA-1", proto::UnitKind::Ambulance, places::RSSA)
        .await;
    let mut held = medical_call(places::BALAI_KOTA);
    held.hold = true;
    let incident = app.create(held).await;
    browser
        .log_in(&format!("{}/", base(&app)), "sri", "kopi-tubruk-2026")
        .await;
    browser
        .find(&format!(
            "[data-testid=incident-row][data-incident-id='{}']",
            incident.id
        ))
        .await;
    browser.press(&char::from(Key::F3).to_string()).await;
    browser.press(&Key::Enter.to_string()).await;
    browser
        .find(&format!(
            "[data-testid=assign-unit][data-unit-id='{}']",
            unit.id
        ))
        .await;
    browser.press(&char::from(Key::F8).to_string()).await;
    until_sql(
        &app,
        "the unit offered the call",
        &format!(
            "SELECT count(*) = 1 FROM assignments WHERE unit_id = '{}'",
            unit.id
        ),
    )
    .await;
    browser.close().await;
}
