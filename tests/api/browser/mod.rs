//! The web console and the crew page in a real browser: headless Chromium
//! driven over WebDriver (chromedriver), against a real server and
//! database. Screenshots land in `target/screenshots/` (and in the
//! directory named by `NGALAM112_SCREENSHOTS`, which the README's come
//! from).

mod console;
mod crew;
mod forward;
mod pages;
mod record;
mod roads;
mod shift;
mod stale;

use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

use ngalam112_proto::v1 as proto;
use ngalam112_store::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, free_port, medical_call, places};

pub(super) const WAIT: Duration = Duration::from_secs(20);

/// A chromedriver of its own (killed with the test) and one browser
/// session.
pub(super) struct Browser {
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
        Self::open_with(width, height, &[]).await
    }

    /// A browser with extra Chromium flags (e.g. `--host-resolver-rules`).
    async fn open_with(width: u32, height: u32, extra: &[String]) -> Browser {
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
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ]
        .map(str::to_owned)
        .into();
        args.push(format!("--window-size={width},{height}"));
        args.push(format!("--user-data-dir={}", profile.display()));
        args.extend(extra.iter().cloned());
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args },
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

    /// Types `keys` (text and `fantoccini::key::Key`s) into whatever has
    /// the keyboard focus, as a call-taker would.
    async fn press(&self, keys: &str) {
        self.client
            .active_element()
            .await
            .expect("a focused element")
            .send_keys(keys)
            .await
            .expect("keys");
    }

    /// The `data-testid` of the focused element.
    async fn focused(&self) -> String {
        let answer = self
            .client
            .execute(
                "return document.activeElement?.dataset?.testid ?? ''",
                vec![],
            )
            .await
            .expect("the focused element");
        answer.as_str().unwrap_or_default().to_owned()
    }

    /// Runs axe-core (web/node_modules, from npm; never in the served
    /// bundle) on the page: its serious and critical violations.
    async fn accessibility_violations(&self) -> Vec<String> {
        let axe = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/web/node_modules/axe-core/axe.min.js"
        ))
        .expect("axe-core is installed: (cd web && npm ci), as scripts/test.sh does");
        self.client.execute(&axe, vec![]).await.expect("load axe");
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] })
                   .then((result) => done(result.violations
                     .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                     .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`)))
                   .catch((error) => done([`axe failed: ${error}`]));",
                vec![],
            )
            .await
            .expect("run axe");
        serde_json::from_value(found).expect("a list")
    }

    /// English enum words (proto names as a reader would see them, and
    /// timeline kinds) in the page's text, but for what is marked English
    /// (`lang="en"`: the server's own record sentences in the timeline).
    async fn english_enum_words(&self) -> Vec<String> {
        let text = self
            .client
            .execute(
                "const page = document.body.cloneNode(true);
                 page.querySelectorAll('[lang=en]').forEach((element) => element.remove());
                 return page.textContent",
                vec![],
            )
            .await
            .expect("the page's text");
        let text = text.as_str().unwrap_or_default();
        ENGLISH_ENUM_WORDS
            .iter()
            .filter(|word| {
                text.split(|c: char| !c.is_alphanumeric() && c != '_')
                    .any(|token| token == **word)
            })
            .map(|word| (*word).to_owned())
            .collect()
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

    /// Picks the new call's category and priority in the intake form.
    async fn choose_call(&self, category: &str, priority: &str) {
        for (select, value) in [
            ("[data-testid=intake-category]", category),
            ("[data-testid=intake-priority]", priority),
        ] {
            self.find(select)
                .await
                .select_by_value(value)
                .await
                .expect("an option of the form");
        }
    }

    /// The id of the incident the detail panel shows, once it shows one
    /// (read in the page: the panel re-renders as updates arrive).
    async fn detail_incident_id(&self) -> String {
        self.find("[data-testid=incident-detail]").await;
        let id = self
            .client
            .execute(
                "return document.querySelector('[data-testid=incident-detail]').dataset.incidentId",
                vec![],
            )
            .await
            .expect("the detail's incident id");
        id.as_str().expect("an id").to_owned()
    }

    async fn log_in(&self, url: &str, username: &str, password: &str) {
        self.client.goto(url).await.expect("open the page");
        self.type_into("[data-testid=login-username]", username)
            .await;
        self.type_into("[data-testid=login-password]", password)
            .await;
        self.click("[data-testid=login-submit]").await;
    }

    /// A crew's phone (360 px) at `origin`/crew, placed at (lat, lon),
    /// logged in as andi (`ambulance_with_crew`).
    async fn crew_phone(origin: &str, lat: f64, lon: f64) -> Browser {
        let phone = Browser::open(360, 740).await;
        let page = format!("{origin}/crew");
        phone.client.goto(&page).await.expect("crew page");
        phone.place_phone(origin, lat, lon).await;
        phone.log_in(&page, "andi", "sate-ayam-2026").await;
        phone
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

/// AMB-RSSA-1 at RSSA, with its crew's login (andi / sate-ayam-2026).
pub(super) async fn ambulance_with_crew(app: &TestApp) -> proto::Unit {
    let ambulance = app
        .register_at("AMB-RSSA-1", proto::UnitKind::Ambulance, places::RSSA)
        .await;
    let unit = ngalam112_core::UnitId::parse("unit_id", &ambulance.id).expect("id");
    app.add_user("andi", Role::Unit(unit), "sate-ayam-2026")
        .await;
    ambulance
}

/// Waits until the database says so (a user's check in psql).
pub(super) async fn until_sql(app: &TestApp, what: &str, query: &str) {
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

pub(super) fn base(app: &TestApp) -> String {
    format!("http://{}", app.address)
}

/// What an English-only console showed in Indonesian mode: enum values as
/// proto names and timeline kinds as stored.
const ENGLISH_ENUM_WORDS: &[&str] = &[
    "MEDICAL",
    "Medical",
    "FIRE",
    "Fire",
    "TRAFFIC",
    "CRIME",
    "Crime",
    "RESCUE",
    "DISASTER",
    "OTHER",
    "CRITICAL",
    "HIGH",
    "NORMAL",
    "LOW",
    "PENDING",
    "DISPATCHED",
    "dispatched",
    "SCENE",
    "RESOLVED",
    "resolved",
    "CANCELLED",
    "cancelled",
    "AMBULANCE",
    "Ambulance",
    "ENGINE",
    "POLICE",
    "Police",
    "AVAILABLE",
    "available",
    "ASSIGNED",
    "assigned",
    "SERVICE",
    "OFFERED",
    "offered",
    "ACCEPTED",
    "accepted",
    "ROUTE",
    "COMPLETED",
    "completed",
    "DECLINED",
    "declined",
    "TIMED",
    "HANDLED",
    "Handled",
    "TRANSPORTED",
    "PRANK",
    "Prank",
    "REFERRED",
    "DUPLICATE",
    "SENT",
    "ACKNOWLEDGED",
    "REJECTED",
    "DONE",
    "RINGING",
    "ringing",
    "ANSWERED",
    "answered",
    "ENDED",
    "ABANDONED",
    "OPERATOR",
    "ADMIN",
    "UNIT",
    "incident_created",
    "call_received",
    "assignment_offered",
    "assignment_accepted",
    "caller_added",
    "status_changed",
    "device_location",
    "hold_released",
];
