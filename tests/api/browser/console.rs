//! The call-takers' console: login, a call recorded, the queue and the map.

use super::*;

#[tokio::test]
async fn the_console_logs_in_records_a_call_and_shows_it_on_the_queue_and_map() {
    let app = TestApp::spawn().await;
    ngalam112::seed::seed_malang(&app.store)
        .await
        .expect("demo fleet");
    ngalam112::seed::seed_cameras(&app.store)
        .await
        .expect("demo cameras");
    ngalam112::seed::seed_agencies(&app.store)
        .await
        .expect("partner agencies");
    app.add_user("sri", Role::Operator, "kopi-tubruk-2026")
        .await;
    // A caller with a flag and an active incident nearby, to be found.
    app.admin
        .callers
        .clone()
        .flag_caller(proto::FlagCallerRequest {
            caller_phone: "0813 3333 4444".to_owned(),
            reason: "sering iseng".to_owned(),
        })
        .await
        .expect("flag");
    let earlier = app.create(medical_call(places::BALAI_KOTA)).await;
    let mut crash = medical_call(places::UNISMA);
    crash.category = proto::IncidentCategory::TrafficAccident.into();
    crash.priority = proto::Priority::Critical.into();
    crash.address = "Jl. MT Haryono 193".to_owned();
    app.create(crash).await;

    let browser = Browser::open(1400, 900).await;
    let console = format!("{}/", base(&app));

    // A wrong password: one clear message, no session.
    browser.log_in(&console, "sri", "salah-sandi-123").await;
    // A figure for the record, not a check: these machines are noisy.
    let paint = browser
        .client
        .execute(
            "const p = performance.getEntriesByName('first-contentful-paint')[0]; return p ? p.startTime : null",
            vec![],
        )
        .await
        .expect("paint timing");
    eprintln!("console first contentful paint: {paint} ms");
    browser
        .until(
            "the login error",
            "return document.querySelector('[data-testid=login-error]').textContent.length > 0",
        )
        .await;
    assert!(
        browser
            .text("[data-testid=login-error]")
            .await
            .contains("salah")
    );

    browser.log_in(&console, "sri", "kopi-tubruk-2026").await;
    let whoami = browser.text("[data-testid=whoami]").await;
    assert!(
        whoami.contains("sri (test)") && whoami.contains("(operator)"),
        "{whoami}"
    );
    browser
        .until(
            "live",
            "return document.querySelector('[data-testid=connection-state]').dataset.state === 'live'",
        )
        .await;
    // The session token lives in sessionStorage only, never in the URL.
    let stored = browser
        .client
        .execute(
            "return [sessionStorage.getItem('ngalam112.token') || '', localStorage.getItem('ngalam112.token'), location.href]",
            vec![],
        )
        .await
        .expect("storage");
    let token = stored[0].as_str().expect("token").to_owned();
    assert!(token.starts_with("n112s_"), "{stored}");
    assert!(stored[1].is_null());
    assert!(!stored[2].as_str().expect("url").contains(&token));

    // Bahasa Indonesia by default; the switch turns every string English,
    // and is remembered.
    assert_eq!(
        browser.text("[data-testid=new-incident]").await,
        "Panggilan baru (F2)"
    );
    browser.click("[data-testid=lang-toggle]").await;
    assert_eq!(
        browser.text("[data-testid=new-incident]").await,
        "New call (F2)"
    );
    browser.client.refresh().await.expect("reload");
    assert_eq!(
        browser.text("[data-testid=new-incident]").await,
        "New call (F2)"
    );
    browser.click("[data-testid=lang-toggle]").await;

    // The queue has the earlier calls, most urgent first.
    browser
        .until(
            "two rows",
            "return document.querySelectorAll('[data-testid=incident-row]').length === 2",
        )
        .await;

    // Intake: history of a flagged caller, the nearby same-category
    // incident as a duplicate candidate, then a new incident.
    browser.click("[data-testid=new-incident]").await;
    browser
        .choose_call("INCIDENT_CATEGORY_MEDICAL", "PRIORITY_HIGH")
        .await;
    browser
        .type_into("[data-testid=intake-phone]", "0813 3333 4444")
        .await;
    let flagged = browser.text("[data-testid=caller-flagged]").await;
    assert!(flagged.contains("sering iseng"), "{flagged}");
    browser
        .type_into("[data-testid=intake-name]", "Pak Budi")
        .await;
    browser
        .type_into("[data-testid=intake-address]", "Jl. Tugu 3")
        .await;
    browser
        .type_into("[data-testid=intake-description]", "sesak napas")
        .await;
    browser
        .type_into("[data-testid=intake-lat]", "-7.97710")
        .await;
    browser
        .type_into("[data-testid=intake-lon]", "112.63410\t")
        .await;
    let candidates = browser
        .find(&format!(
            "[data-testid=duplicate-candidates] button[data-incident-id='{}']",
            earlier.id
        ))
        .await;
    assert!(
        candidates
            .text()
            .await
            .expect("text")
            .contains("tambah penelepon")
    );

    // Bad input: the server's field message next to the field.
    browser.type_into("[data-testid=intake-lat]", "95").await;
    browser.click("[data-testid=intake-submit]").await;
    browser
        .until(
            "the field error",
            "return document.querySelector('[data-testid=intake-error]').textContent.startsWith('location.lat')",
        )
        .await;
    assert_eq!(app.count("incidents").await, 2, "nothing stored");

    browser
        .type_into("[data-testid=intake-lat]", "-7.97710")
        .await;
    browser.click("[data-testid=intake-submit]").await;
    let id = browser.detail_incident_id().await;
    let camera = browser.find("[data-testid=camera-link]").await;
    assert!(
        camera
            .text()
            .await
            .expect("text")
            .starts_with("Alun-alun Tugu"),
        "the nearest camera first"
    );
    assert_eq!(
        camera.attr("href").await.expect("attr").as_deref(),
        Some("https://cctv.malang.invalid/tugu")
    );
    // Hand it to PLN as well: the referral shows, unanswered.
    let pln = app
        .store
        .list_agencies()
        .await
        .expect("agencies")
        .into_iter()
        .find(|agency| agency.short_name == "PLN")
        .expect("PLN");
    browser
        .find("[data-testid=refer-agency]")
        .await
        .select_by_value(&pln.id.to_string())
        .await
        .expect("choose PLN");
    browser.click("[data-testid=refer-button]").await;
    let referral = browser
        .find("[data-testid=referral][data-status=REFERRAL_STATUS_SENT]")
        .await;
    let shown = referral.text().await.expect("text");
    assert!(
        shown.contains("PLN") && shown.contains("belum dijawab"),
        "{shown}"
    );
    assert_eq!(app.count("referrals").await, 1);
    // The timeline in the reader's language; the stored name stays on the
    // row for scripts.
    let offered = browser
        .text("[data-testid=incident-detail] .timeline li[data-event-kind=assignment_offered]")
        .await;
    assert!(offered.contains("unit ditawari"), "{offered}");
    assert!(!offered.contains("assignment_offered"), "{offered}");
    let created = app.incident(&id).await;
    assert_eq!(created.caller_phone, "+6281333334444");
    assert!(created.caller_flagged);
    assert_eq!(created.assignments.len(), 1, "offered at once");
    let row = browser
        .find(&format!(
            "[data-testid=incident-row][data-incident-id='{id}']"
        ))
        .await;
    assert_eq!(
        row.attr("data-status").await.expect("attr").as_deref(),
        Some("INCIDENT_STATUS_DISPATCHED")
    );
    browser
        .find(&format!(".leaflet-marker-icon[data-incident-id='{id}']"))
        .await;
    browser
        .until(
            "the fleet on the map",
            "return document.querySelectorAll('.leaflet-marker-icon[data-unit-id]').length === 20",
        )
        .await;

    // An incident made elsewhere appears without reloading.
    let mut elsewhere = medical_call(places::PANTI_WALUYA);
    elsewhere.category = proto::IncidentCategory::Fire.into();
    let fire = app.create(elsewhere).await;
    browser
        .find(&format!(
            "[data-testid=incident-row][data-incident-id='{}']",
            fire.id
        ))
        .await;
    browser.screenshot("console.png").await;

    // Units: the whole fleet, put out of service from its row.
    browser.click("[data-view=units]").await;
    browser
        .until(
            "twenty unit rows",
            "return document.querySelectorAll('[data-testid=unit-row]').length === 20",
        )
        .await;
    let unit = app
        .operator
        .units
        .clone()
        .list_units(proto::ListUnitsRequest {
            statuses: vec![proto::UnitStatus::Available.into()],
            kinds: vec![proto::UnitKind::Police.into()],
        })
        .await
        .expect("units")
        .into_inner()
        .units
        .remove(0);
    browser
        .click(&format!(
            "[data-testid=unit-service][data-unit-id='{}']",
            unit.id
        ))
        .await;
    browser
        .until(
            "out of service",
            &format!(
                "return document.querySelector(\"[data-testid=unit-row][data-unit-id='{}']\").dataset.status === 'UNIT_STATUS_OUT_OF_SERVICE'",
                unit.id
            ),
        )
        .await;
    assert_eq!(
        app.unit(&unit.id).await.status(),
        proto::UnitStatus::OutOfService
    );

    // Reports: the response-time table of the last 24 hours.
    browser.click("[data-view=reports]").await;
    browser
        .until(
            "the report's rows",
            "return document.querySelector('[data-testid=report]')?.textContent.includes('SEMUA')",
        )
        .await;
    let report = browser.text("[data-testid=report]").await;
    assert!(
        report.contains("SEMUA") && report.contains("iseng"),
        "{report}"
    );
    browser.screenshot("console-report.png").await;
    browser.click("[data-view=queue]").await;

    // Resolve from the detail panel with a code.
    browser
        .find("[data-testid=resolution-code]")
        .await
        .select_by_value("RESOLUTION_CODE_TRANSPORTED")
        .await
        .expect("code");
    browser.click("[data-testid=resolve-button]").await;
    until_sql(
        &app,
        "resolved",
        &format!("SELECT status = 'resolved' AND resolution_code = 'transported' FROM incidents WHERE id = '{id}'"),
    )
    .await;
    browser
        .until(
            "the row leaves the queue",
            &format!("return !document.querySelector(\"[data-testid=incident-row][data-incident-id='{id}']\")"),
        )
        .await;

    // A call recorded on hold: marked in the queue, released from its
    // detail, then dispatched like any other.
    let mut held = medical_call(places::UNISMA);
    held.hold = true;
    let held = app.create(held).await;
    let held_row = format!("[data-testid=incident-row][data-incident-id='{}']", held.id);
    browser
        .find(&format!("{held_row} [data-testid=held-badge]"))
        .await;
    browser.click(&held_row).await;
    browser.find("[data-testid=release-hold]").await;
    browser.screenshot("console-held.png").await;
    browser.click("[data-testid=release-hold]").await;
    browser
        .until(
            "the released call is dispatched",
            &format!(
                "return document.querySelector(\"{}\")?.dataset.status === 'INCIDENT_STATUS_DISPATCHED'",
                held_row
            ),
        )
        .await;
    let released = app.incident(&held.id).await;
    assert!(!released.hold);
    assert_eq!(released.assignments.len(), 1);
    browser.close().await;
}

/// The connection to PostgreSQL breaks as the call's commit is sent: the
/// server answers UNAVAILABLE ("not stored"), the console says it retries
/// and retries by itself with the same request id, and the call is stored
/// exactly once.
#[tokio::test]
async fn the_console_retries_an_unavailable_call_by_itself_with_the_same_request_id() {
    let direct = TestApp::spawn().await;
    let (app, proxy) = direct.another_server_behind_proxy().await;
    app.add_user("sri", Role::Operator, "kopi-tubruk-2026")
        .await;
    // A police car whose call sign is markup (stored before the server
    // refused such names): the map shows it as text.
    let police = app
        .register("POL-1", proto::UnitKind::Police, -7.9700, 112.6320)
        .await;
    sqlx::query("UPDATE units SET call_sign = '<b id=injected>POL</b>' WHERE id = $1::uuid")
        .bind(&police.id)
        .execute(&direct.pool)
        .await
        .expect("legacy call sign");
    let browser = Browser::open(1400, 900).await;
    browser
        .log_in(&format!("{}/", base(&app)), "sri", "kopi-tubruk-2026")
        .await;
    browser
        .find(&format!(
            ".leaflet-marker-icon[data-unit-id='{}']",
            police.id
        ))
        .await;
    let tooltip = browser
        .client
        .execute(
            &format!(
                "document.querySelector(\".leaflet-marker-icon[data-unit-id='{}']\") \
                   .dispatchEvent(new MouseEvent('mouseover', {{ bubbles: true }})); \
                 const tip = document.querySelector('.leaflet-tooltip'); \
                 return [tip ? tip.textContent : '', document.getElementById('injected') === null];",
                police.id
            ),
            vec![],
        )
        .await
        .expect("tooltip");
    assert!(
        tooltip[0]
            .as_str()
            .unwrap_or_default()
            .contains("<b id=injected>POL</b>"),
        "the call sign is shown as text: {tooltip}"
    );
    assert_eq!(tooltip[1], Value::Bool(true), "no element made from it");
    browser.click("[data-testid=new-incident]").await;
    browser
        .choose_call("INCIDENT_CATEGORY_MEDICAL", "PRIORITY_HIGH")
        .await;
    browser.click("[data-testid=intake-withheld]").await;
    browser
        .type_into("[data-testid=intake-address]", "Jl. Tugu 3")
        .await;
    browser
        .type_into("[data-testid=intake-lat]", "-7.97710")
        .await;
    browser
        .type_into("[data-testid=intake-lon]", "112.63410\t")
        .await;
    // Remember whether the console ever says it is retrying.
    let request_id = browser
        .client
        .execute(
            "window.sawRetry = false; \
             const status = document.querySelector('[data-testid=intake-error]'); \
             new MutationObserver(() => { if (status.dataset.retrying) { window.sawRetry = true; } }) \
               .observe(status, { attributes: true }); \
             return document.querySelector('form.intake').dataset.requestId;",
            vec![],
        )
        .await
        .expect("request id")
        .as_str()
        .expect("a request id on the form")
        .to_owned();

    // No ambulance: the call waits; each of the server's three tries is
    // cut before its commit, so the server answers UNAVAILABLE.
    proxy.arm_times(crate::helpers::proxy::Cut::BeforeCommit, 3);
    browser.click("[data-testid=intake-submit]").await;
    let id = browser.detail_incident_id().await;
    assert_eq!(proxy.cuts(), 3, "the server's three tries were cut");
    let saw_retry = browser
        .client
        .execute("return window.sawRetry", vec![])
        .await
        .expect("flag");
    assert_eq!(saw_retry, Value::Bool(true), "the console said it retried");
    let stored: Vec<(String, String)> =
        sqlx::query_as("SELECT request_id, incident_id::text FROM intake_requests")
            .fetch_all(&direct.pool)
            .await
            .expect("requests");
    assert_eq!(
        stored,
        vec![(request_id, id)],
        "stored once, under the form's id"
    );
    assert_eq!(direct.count("incidents").await, 1);
    browser.close().await;
}
