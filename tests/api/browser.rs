//! The web console and the crew page in a real browser: headless Chromium
//! driven over WebDriver (chromedriver), against a real server and
//! database. Screenshots land in `target/screenshots/` (and in the
//! directory named by `NGALAM112_SCREENSHOTS`, which the README's come
//! from).

use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use ngalam112_core::UnitId;
use ngalam112_proto::v1 as proto;
use ngalam112_store::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, free_port, medical_call, places};

const WAIT: Duration = Duration::from_secs(20);

/// A chromedriver of its own (killed with the test) and one browser
/// session.
struct Browser {
    client: Client,
    _driver: tokio::process::Child,
}

impl Browser {
    /// Ends the WebDriver session, so chromedriver quits its Chromium
    /// (killing chromedriver alone would leave Chromium running).
    async fn close(self) {
        let _ = self.client.close().await;
    }

    async fn open(width: u32, height: u32) -> Browser {
        let port = free_port();
        let driver = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver is installed (apt-get install chromium chromium-driver)");
        let profile =
            std::env::temp_dir().join(format!("ngalam112-chrome-{}", uuid::Uuid::new_v4()));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        });
        let capabilities = match capabilities {
            Value::Object(map) => map,
            _ => unreachable!("an object"),
        };
        let deadline = Instant::now() + WAIT;
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => break client,
                Err(error) => {
                    assert!(
                        Instant::now() < deadline,
                        "chromedriver did not start: {error}"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        client
            .set_window_size(width, height)
            .await
            .expect("window size");
        Browser {
            client,
            _driver: driver,
        }
    }

    async fn find(&self, selector: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(selector))
            .await
        {
            Ok(element) => element,
            Err(error) => {
                self.screenshot("failure.png").await;
                panic!("{selector} did not appear: {error}")
            }
        }
    }

    /// Clicks; the pages redraw as live changes arrive, so an element that
    /// was replaced in between is looked up again.
    async fn click(&self, selector: &str) {
        for _ in 0..5 {
            match self.find(selector).await.click().await {
                Ok(()) => return,
                Err(fantoccini::error::CmdError::Standard(error))
                    if error.error == fantoccini::error::ErrorStatus::StaleElementReference =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("click {selector}: {error}"),
            }
        }
        panic!("{selector} kept being replaced");
    }

    async fn type_into(&self, selector: &str, text: &str) {
        let element = self.find(selector).await;
        element.clear().await.expect("clear");
        element.send_keys(text).await.expect("type");
    }

    async fn text(&self, selector: &str) -> String {
        self.find(selector).await.text().await.expect("text")
    }

    /// Waits until `script` (a function body) returns true.
    async fn until(&self, what: &str, script: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let answer = self.client.execute(script, vec![]).await;
            if matches!(answer, Ok(Value::Bool(true))) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "gave up waiting: {what} ({answer:?})"
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let mut directories =
            vec![std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots")];
        if let Some(extra) = std::env::var_os("NGALAM112_SCREENSHOTS") {
            directories.push(extra.into());
        }
        for directory in directories {
            std::fs::create_dir_all(&directory).expect("screenshot directory");
            std::fs::write(directory.join(name), &png).expect("write screenshot");
        }
    }

    async fn log_in(&self, url: &str, username: &str, password: &str) {
        self.client.goto(url).await.expect("open the page");
        self.type_into("[data-testid=login-username]", username)
            .await;
        self.type_into("[data-testid=login-password]", password)
            .await;
        self.click("[data-testid=login-submit]").await;
    }

    /// Chrome DevTools through chromedriver: grant geolocation and place
    /// the phone.
    async fn place_phone(&self, origin: &str, lat: f64, lon: f64) {
        self.cdp(
            "Browser.grantPermissions",
            json!({ "origin": origin, "permissions": ["geolocation"] }),
        )
        .await;
        self.cdp(
            "Emulation.setGeolocationOverride",
            json!({ "latitude": lat, "longitude": lon, "accuracy": 10 }),
        )
        .await;
    }

    async fn cdp(&self, command: &'static str, params: Value) {
        let session = self
            .client
            .session_id()
            .await
            .expect("session")
            .expect("a session id");
        self.client
            .issue_cmd(Cdp {
                session,
                command,
                params,
            })
            .await
            .unwrap_or_else(|error| panic!("{command}: {error}"));
    }

    /// Presses and holds an element for `hold` (the DARURAT button).
    async fn hold(&self, selector: &str, hold: Duration) {
        use fantoccini::actions::InputSource;
        let element = self.find(selector).await;
        let actions = fantoccini::actions::MouseActions::new("mouse".to_owned())
            .then(fantoccini::actions::PointerAction::MoveToElement {
                element,
                duration: None,
                x: 0.0,
                y: 0.0,
            })
            .then(fantoccini::actions::PointerAction::Down {
                button: fantoccini::actions::MOUSE_BUTTON_LEFT,
            })
            .then(fantoccini::actions::PointerAction::Pause { duration: hold })
            .then(fantoccini::actions::PointerAction::Up {
                button: fantoccini::actions::MOUSE_BUTTON_LEFT,
            });
        self.client
            .perform_actions(actions)
            .await
            .expect("press and hold");
    }
}

#[derive(Debug)]
struct Cdp {
    session: String,
    command: &'static str,
    params: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base_url: &url::Url, _: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/goog/cdp/execute", self.session))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.command, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// Waits until the database says so (a user's check in psql).
async fn until_sql(app: &TestApp, what: &str, query: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let answer: Option<bool> = sqlx::query_scalar(sqlx::AssertSqlSafe(query.to_owned()))
            .fetch_optional(&app.pool)
            .await
            .expect("query");
        if answer == Some(true) {
            return;
        }
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

fn base(app: &TestApp) -> String {
    format!("http://{}", app.address)
}

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
        whoami.contains("sri (test)") && whoami.contains("OPERATOR"),
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
        "Panggilan baru"
    );
    browser.click("[data-testid=lang-toggle]").await;
    assert_eq!(browser.text("[data-testid=new-incident]").await, "New call");
    browser.client.refresh().await.expect("reload");
    assert_eq!(browser.text("[data-testid=new-incident]").await, "New call");
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
        .find("[data-testid=intake-category]")
        .await
        .select_by_value("INCIDENT_CATEGORY_MEDICAL")
        .await
        .expect("category");
    browser
        .find("[data-testid=intake-priority]")
        .await
        .select_by_value("PRIORITY_HIGH")
        .await
        .expect("priority");
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
    let detail = browser.find("[data-testid=incident-detail]").await;
    let id = detail
        .attr("data-incident-id")
        .await
        .expect("attr")
        .expect("an id");
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

#[tokio::test]
async fn a_crew_takes_the_offer_on_the_phone_page_and_the_console_follows_live() {
    let app = TestApp::spawn().await;
    let ambulance = app
        .register_at("AMB-RSSA-1", proto::UnitKind::Ambulance, places::RSSA)
        .await;
    let unit = UnitId::parse("unit_id", &ambulance.id).expect("id");
    app.add_user("andi", Role::Unit(unit), "sate-ayam-2026")
        .await;
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

    let phone = Browser::open(360, 740).await;
    phone
        .client
        .goto(&format!("{}/crew", base(&app)))
        .await
        .expect("crew page");
    phone.place_phone(&base(&app), -7.9801, 112.6302).await;
    phone
        .log_in(&format!("{}/crew", base(&app)), "andi", "sate-ayam-2026")
        .await;
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
            &format!("return document.querySelector(\"{row}\").textContent.includes('AMB-RSSA-1 ACCEPTED')"),
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
async fn the_public_page_shows_the_months_figures_without_a_login_in_both_languages() {
    let app = TestApp::spawn().await;
    app.register_at("AMB-1", proto::UnitKind::Ambulance, places::RSSA)
        .await;
    let mut call = medical_call(places::BALAI_KOTA);
    call.caller_name = "Sri Wahyuningsih".to_owned();
    app.create(call).await;
    let mut fire = medical_call(places::DAMKAR);
    fire.category = proto::IncidentCategory::Fire.into();
    app.create(fire).await;

    let browser = Browser::open(1000, 600).await;
    browser
        .client
        .goto(&format!("{}/publik", base(&app)))
        .await
        .expect("public page");
    browser
        .until(
            "two category rows",
            "return document.querySelectorAll('[data-testid=public-row]').length === 2",
        )
        .await;
    let table = browser.text("[data-testid=public-table]").await;
    assert!(
        table.contains("Medis") && table.contains("Kebakaran"),
        "{table}"
    );
    assert!(table.contains("Kejadian"), "Indonesian by default: {table}");
    let page = browser.text("body").await;
    assert!(!page.contains("Sri") && !page.contains("Tugu"), "{page}");
    browser.screenshot("public.png").await;
    browser.click("[data-testid=lang-toggle]").await;
    browser
        .until(
            "English",
            "return document.querySelector('[data-testid=public-table]')?.textContent.includes('Medical')",
        )
        .await;
    // Another month: nothing yet.
    browser
        .client
        .execute(
            "const input = document.querySelector('[data-testid=public-month]'); \
             input.value = '2020-01'; input.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await
        .expect("pick a month");
    browser.find("[data-testid=public-empty]").await;
    browser.close().await;
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

/// A raw HTTP/1.1 request to the server (what a browser would send).
async fn http(app: &TestApp, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.address)
        .await
        .expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn pages_carry_the_security_headers_and_other_sites_cannot_call_the_api() {
    let app = TestApp::spawn().await;
    for path in [
        "/",
        "/crew",
        "/publik",
        "/assets/console.js",
        "/assets/public.js",
    ] {
        let answer = http(
            &app,
            &format!(
                "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                app.address
            ),
        )
        .await
        .to_ascii_lowercase();
        assert!(answer.starts_with("http/1.1 200"), "{path}: {answer:.200}");
        assert!(answer.contains("content-security-policy: default-src 'self'; script-src 'self';"));
        assert!(answer.contains("connect-src 'self'"));
        assert!(!answer.contains("unsafe-inline"));
        assert!(answer.contains("x-content-type-options: nosniff"));
        assert!(answer.contains("referrer-policy: no-referrer"));
    }
    // A gRPC-Web call from another site's page is refused (grpc-status 7),
    // the same call from the page's own origin is answered.
    let call = |origin: &str| {
        format!(
            "POST /ngalam112.v1.AuthService/Login HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\n\
             Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nContent-Length: 5\r\n\
             Connection: close\r\n\r\n\0\0\0\0\0",
            host = app.address
        )
    };
    let refused = http(&app, &call("http://evil.example")).await;
    assert!(refused.contains("grpc-status: 7"), "{refused}");
    let own = http(&app, &call(&format!("http://{}", app.address))).await;
    // An empty Login is a bad request (3), not a refusal.
    assert!(
        own.contains("grpc-status:3") || own.contains("grpc-status: 3"),
        "{own}"
    );
}
