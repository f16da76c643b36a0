//! The operator and admin commands.

use ngalam112_proto::v1 as proto;
use ngalam112_testkit::Role;
use ngalam112_testkit::{TestApp, places};

use crate::{json_lines, n112, stdout};

#[tokio::test]
async fn a_call_taker_creates_lists_and_reads_incidents_as_tables_and_json() {
    let app = TestApp::spawn().await;
    let operator = app.token(Role::Operator).await.unwrap();
    let admin = app.token(Role::Admin).await.unwrap();
    let registered = json_lines(
        &n112(
            &app,
            &admin,
            &[
                "--json",
                "unit",
                "register",
                "--call-sign",
                "AMB-RSSA-1",
                "--kind",
                "ambulance",
                "--agency",
                "RSSA",
                "--lat",
                "-7.9725",
                "--lon",
                "112.6315",
            ],
        )
        .await,
    );
    assert_eq!(registered[0]["status"], "AVAILABLE");

    let created = json_lines(
        &n112(
            &app,
            &operator,
            &[
                "--json",
                "incident",
                "create",
                "--category",
                "medical",
                "--priority",
                "critical",
                "--lat",
                "-7.9770",
                "--lon",
                "112.6340",
                "--address",
                "Jl. Tugu 1",
                "--description",
                "pingsan",
                "--phone",
                "0812 3456 7890",
                "--name",
                "Bu Sri",
            ],
        )
        .await,
    );
    assert_eq!(created.len(), 1, "one JSON object per line");
    let incident = &created[0];
    assert_eq!(incident["status"], "DISPATCHED");
    assert_eq!(incident["priority"], "CRITICAL");
    assert_eq!(incident["caller_phone"], "+6281234567890");
    assert_eq!(incident["assignments"][0]["unit_call_sign"], "AMB-RSSA-1");
    let id = incident["id"].as_str().unwrap().to_owned();

    let table = stdout(&n112(&app, &operator, &["incident", "list"]).await);
    assert!(table.starts_with("PRIORITY"), "{table}");
    assert!(
        table.contains("CRITICAL")
            && table.contains("DISPATCHED")
            && table.contains("AMB-RSSA-1 OFFERED"),
        "{table}"
    );

    let shown = stdout(&n112(&app, &operator, &["incident", "show", &id]).await);
    assert!(shown.contains("WIB"), "times in WIB: {shown}");
    assert!(shown.contains(" km"), "distances in km: {shown}");

    let timeline =
        json_lines(&n112(&app, &operator, &["--json", "incident", "timeline", &id]).await);
    assert_eq!(timeline[0]["kind"], "incident_created");

    let listed = json_lines(
        &n112(
            &app,
            &operator,
            &["--json", "incident", "list", "--status", "active"],
        )
        .await,
    );
    assert_eq!(listed.len(), 1);
    let units = json_lines(&n112(&app, &operator, &["--json", "unit", "list"]).await);
    assert_eq!(units[0]["status"], "ASSIGNED");

    let resolved = json_lines(
        &n112(
            &app,
            &operator,
            &[
                "--json",
                "incident",
                "resolve",
                &id,
                "--resolution",
                "dibawa ke RSSA",
            ],
        )
        .await,
    );
    assert_eq!(resolved[0]["status"], "RESOLVED");
    let report = json_lines(&n112(&app, &operator, &["--json", "report", "--since", "1h"]).await);
    let all = report
        .iter()
        .find(|row| row["category"] == "ALL")
        .expect("a totals row");
    assert_eq!(all["incidents"], 1);
    assert_eq!(all["offered_within_target"], 1);
}

#[tokio::test]
async fn errors_are_one_clear_line_and_a_non_zero_exit() {
    let app = TestApp::spawn().await;
    let operator = app.token(Role::Operator).await.unwrap();
    let invalid = n112(
        &app,
        &operator,
        &[
            "incident",
            "create",
            "--category",
            "fire",
            "--lat",
            "95",
            "--lon",
            "112.6",
            "--withheld",
            "--yes",
        ],
    )
    .await;
    assert!(!invalid.status.success());
    let stderr = String::from_utf8_lossy(&invalid.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("INVALID_ARGUMENT") && stderr.contains("location.lat"),
        "{stderr}"
    );

    let unknown = n112(
        &app,
        &operator,
        &["incident", "show", &uuid::Uuid::new_v4().to_string()],
    )
    .await;
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("NOT_FOUND"));

    let forbidden = n112(
        &app,
        &operator,
        &[
            "unit",
            "register",
            "--call-sign",
            "X",
            "--kind",
            "police",
            "--lat",
            "-7.9",
            "--lon",
            "112.6",
        ],
    )
    .await;
    assert!(!forbidden.status.success());
    assert!(String::from_utf8_lossy(&forbidden.stderr).contains("PERMISSION_DENIED"));

    let no_token = n112(&app, "", &["incident", "list"]).await;
    assert!(String::from_utf8_lossy(&no_token.stderr).contains("UNAUTHENTICATED"));
}

#[tokio::test]
async fn a_second_caller_nearby_is_caught_before_a_duplicate_incident_is_made() {
    let app = TestApp::spawn().await;
    let operator = app.token(Role::Operator).await.unwrap();
    let first = app
        .create(ngalam112_testkit::medical_call(places::BALAI_KOTA))
        .await;
    let call = async |extra: &[&str]| {
        let mut args = vec![
            "--json",
            "incident",
            "create",
            "--category",
            "medical",
            "--lat",
            "-7.9771",
            "--lon",
            "112.6341",
            "--phone",
            "0856 1234 5678",
        ];
        args.extend_from_slice(extra);
        n112(&app, &operator, &args).await
    };
    // A script (no terminal) is stopped and told what to do.
    let stopped = call(&[]).await;
    assert!(!stopped.status.success());
    let stderr = String::from_utf8_lossy(&stopped.stderr);
    assert!(
        stderr.contains("--duplicate-of") && stderr.contains("--yes"),
        "{stderr}"
    );
    assert_eq!(app.count("incidents").await, 1);

    let linked = json_lines(&call(&["--duplicate-of", &first.id]).await);
    assert_eq!(linked[0]["id"], first.id.as_str());
    assert_eq!(linked[0]["caller_count"], 2);

    let separate = json_lines(&call(&["--yes"]).await);
    assert_ne!(separate[0]["id"], first.id.as_str());
    assert_eq!(app.count("incidents").await, 2);

    // The first incident now lists the second caller.
    let shown = n112(&app, &operator, &["incident", "show", &first.id]).await;
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("also called:  +6285612345678"), "{text}");
}

#[tokio::test]
async fn a_call_recorded_on_hold_is_released_from_the_command_line() {
    let app = TestApp::spawn().await;
    let operator = app.token(Role::Operator).await.unwrap();
    app.register_at(
        "AMB-1",
        ngalam112_proto::v1::UnitKind::Ambulance,
        places::RSSA,
    )
    .await;
    let mut call = ngalam112_testkit::medical_call(places::BALAI_KOTA);
    call.hold = true;
    let held = app.create(call).await;
    app.admin
        .cameras
        .clone()
        .register_camera(ngalam112_proto::v1::RegisterCameraRequest {
            name: "Alun-alun Tugu".to_owned(),
            location: Some(ngalam112_proto::v1::GeoPoint {
                lat: -7.9771,
                lon: 112.6340,
            }),
            stream_url: "rtsp://cctv.malang.invalid/tugu".to_owned(),
        })
        .await
        .unwrap();
    let shown = n112(&app, &operator, &["incident", "show", &held.id]).await;
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("ON HOLD"), "{text}");
    assert!(
        text.contains("camera Alun-alun Tugu (11 m): rtsp://cctv.malang.invalid/tugu"),
        "{text}"
    );
    let json = json_lines(&n112(&app, &operator, &["--json", "incident", "show", &held.id]).await);
    assert_eq!(json.len(), 1, "one object");
    assert_eq!(json[0]["nearby_cameras"][0]["name"], "Alun-alun Tugu");
    let released = json_lines(
        &n112(
            &app,
            &operator,
            &["--json", "incident", "release", &held.id],
        )
        .await,
    );
    assert_eq!(released[0]["hold"], false);
    assert_eq!(released[0]["status"], "DISPATCHED");
    assert_eq!(released[0]["assignments"].as_array().map(Vec::len), Some(1));
    let again = n112(&app, &operator, &["incident", "release", &held.id]).await;
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not on hold"));
}

#[tokio::test]
async fn a_dispatcher_recommends_assigns_and_takes_units_out_of_service() {
    let app = TestApp::spawn().await;
    let operator = app.token(Role::Operator).await.unwrap();
    let mut call = ngalam112_testkit::medical_call(places::BALAI_KOTA);
    call.hold = true;
    let held = app.create(call).await;
    let unit = app
        .register("AMB-PMI-1", proto::UnitKind::Ambulance, -7.9760, 112.6380)
        .await;
    let recommended = json_lines(
        &n112(
            &app,
            &operator,
            &["--json", "incident", "recommend", &held.id],
        )
        .await,
    );
    assert_eq!(recommended[0]["call_sign"], "AMB-PMI-1");
    assert!(recommended[0]["distance_m"].as_f64().unwrap() > 0.0);
    let assigned = json_lines(
        &n112(
            &app,
            &operator,
            &["--json", "incident", "assign", &held.id, &unit.id],
        )
        .await,
    );
    assert_eq!(assigned[0]["status"], "OFFERED");
    let refused = n112(&app, &operator, &["unit", "service", &unit.id, "--out"]).await;
    assert!(String::from_utf8_lossy(&refused.stderr).contains("FAILED_PRECONDITION"));
    let cancelled = json_lines(
        &n112(
            &app,
            &operator,
            &[
                "--json",
                "incident",
                "cancel",
                &held.id,
                "--reason",
                "salah sambung",
            ],
        )
        .await,
    );
    assert_eq!(cancelled[0]["status"], "CANCELLED");
    let out = json_lines(
        &n112(
            &app,
            &operator,
            &["--json", "unit", "service", &unit.id, "--out"],
        )
        .await,
    );
    assert_eq!(out[0]["status"], "OUT_OF_SERVICE");
    let nearby = json_lines(
        &n112(
            &app,
            &operator,
            &[
                "--json", "incident", "nearby", "--lat", "-7.9770", "--lon", "112.6340",
            ],
        )
        .await,
    );
    assert!(nearby.is_empty(), "a cancelled incident is not active");
}

#[tokio::test]
async fn call_takers_see_a_callers_history_and_flag_before_the_call_is_recorded() {
    let app = TestApp::spawn().await;
    let operator = app.token(Role::Operator).await.unwrap();
    let admin = app.token(Role::Admin).await.unwrap();
    let create = async |extra: &[&str]| {
        let mut args = vec![
            "--json",
            "incident",
            "create",
            "--category",
            "crime",
            "--lat",
            "-7.9370",
            "--lon",
            "112.6090",
            "--yes",
        ];
        args.extend_from_slice(extra);
        n112(&app, &operator, &args).await
    };

    // A withheld number is said, not left blank.
    let blank = create(&[]).await;
    assert!(!blank.status.success());
    assert!(String::from_utf8_lossy(&blank.stderr).contains("--withheld"));
    let withheld = json_lines(&create(&["--withheld"]).await);
    assert_eq!(withheld[0]["caller_id_withheld"], true);
    let id = withheld[0]["id"].as_str().unwrap().to_owned();
    let shown = stdout(&n112(&app, &operator, &["incident", "show", &id]).await);
    assert!(
        shown.contains("nomor disembunyikan / number withheld"),
        "{shown}"
    );

    // Three calls closed as pranks flag the number.
    for _ in 0..3 {
        let call = json_lines(&create(&["--phone", "0813 3333 4444"]).await);
        let id = call[0]["id"].as_str().unwrap().to_owned();
        let closed = json_lines(
            &n112(
                &app,
                &operator,
                &["--json", "incident", "resolve", &id, "--code", "prank"],
            )
            .await,
        );
        assert_eq!(closed[0]["resolution_code"], "PRANK");
    }
    let next = create(&["--phone", "+62 813-3333-4444"]).await;
    let stderr = String::from_utf8_lossy(&next.stderr);
    assert!(
        stderr.contains("3 calls in 30 days, 3 closed as prank"),
        "{stderr}"
    );
    assert!(stderr.contains("!! FLAGGED NUMBER"), "{stderr}");
    let next = json_lines(&next);
    assert_eq!(next[0]["caller_flagged"], true, "recorded all the same");

    let listed = stdout(&n112(&app, &operator, &["caller", "list"]).await);
    assert!(
        listed.contains("+6281333334444") && listed.contains("yes"),
        "{listed}"
    );
    let history = stdout(&n112(&app, &operator, &["caller", "show", "0813 3333 4444"]).await);
    assert!(
        history.contains("4 call(s) in 30 days, 3 closed as prank"),
        "{history}"
    );

    let flagged = n112(
        &app,
        &operator,
        &["caller", "flag", "0812 7777 8888", "--reason", "mengancam"],
    )
    .await;
    assert!(flagged.status.success());
    let refused = n112(&app, &operator, &["caller", "unflag", "0812 7777 8888"]).await;
    assert!(String::from_utf8_lossy(&refused.stderr).contains("PERMISSION_DENIED"));
    let unflagged = n112(&app, &admin, &["caller", "unflag", "0812 7777 8888"]).await;
    assert!(unflagged.status.success());
    let listed = stdout(&n112(&app, &operator, &["caller", "list"]).await);
    assert!(!listed.contains("+6281277778888"), "{listed}");

    let report = stdout(&n112(&app, &operator, &["report", "--since", "1h"]).await);
    assert!(
        report.contains("Left out (no emergency response): 3 prank, 0 duplicate"),
        "{report}"
    );
}

#[tokio::test]
async fn a_call_is_referred_to_pln_and_the_liaison_answers_from_the_command_line() {
    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin).await.unwrap();
    let operator = app.token(Role::Operator).await.unwrap();
    let pln = json_lines(
        &n112(
            &app,
            &admin,
            &[
                "--json",
                "agency",
                "add",
                "--name",
                "PLN UP3 Malang",
                "--short-name",
                "PLN",
            ],
        )
        .await,
    );
    let pln_id = pln[0]["id"].as_str().unwrap().to_owned();
    let listed = stdout(&n112(&app, &operator, &["agency", "list"]).await);
    assert!(listed.contains("PLN UP3 Malang"), "{listed}");

    let mut call = ngalam112_testkit::medical_call(places::BALAI_KOTA);
    call.caller_name = "Sri Wahyuningsih".to_owned();
    let incident = app.create(call).await;
    let referred = json_lines(
        &n112(
            &app,
            &operator,
            &[
                "--json",
                "incident",
                "refer",
                &incident.id,
                "--agency-id",
                &pln_id,
                "--note",
                "kabel putus",
            ],
        )
        .await,
    );
    assert_eq!(referred[0]["status"], "SENT");
    let referral_id = referred[0]["id"].as_str().unwrap().to_owned();

    let agency = ngalam112_core::AgencyId::from_uuid(pln_id.parse().unwrap());
    let liaison = app.token(Role::Agency(agency)).await.unwrap();
    let desk = stdout(&n112(&app, &liaison, &["referral", "list", "--unanswered"]).await);
    assert!(
        desk.contains("unanswered") && desk.contains("Jl. Tugu 1"),
        "{desk}"
    );
    assert!(
        !desk.contains("Sri"),
        "no caller data at the agency: {desk}"
    );
    stdout(&n112(&app, &liaison, &["referral", "ack", &referral_id]).await);
    let done = json_lines(
        &n112(
            &app,
            &liaison,
            &[
                "--json",
                "referral",
                "done",
                &referral_id,
                "--answer",
                "sudah diperbaiki",
            ],
        )
        .await,
    );
    assert_eq!(done[0]["status"], "DONE");
    let wrong = n112(&app, &liaison, &["referral", "reject", &referral_id]).await;
    assert!(!wrong.status.success());

    let shown = stdout(&n112(&app, &operator, &["incident", "show", &incident.id]).await);
    assert!(
        shown.contains("referred to PLN") && shown.contains("DONE: sudah diperbaiki"),
        "{shown}"
    );
}

/// The connection to PostgreSQL breaks as the call's commit is sent, every
/// time the server tries (it writes a call found not stored again, three
/// times): the server answers UNAVAILABLE ("not stored"), and `n112
/// incident create` retries by itself with the request id it made for the
/// call; the call is stored exactly once.
#[tokio::test]
async fn incident_create_retries_an_unavailable_call_with_the_same_request_id() {
    let direct = TestApp::spawn().await;
    let (app, proxy) = direct.another_server_behind_proxy().await;
    let operator = app
        .token(ngalam112_testkit::Role::Operator)
        .await
        .expect("token");
    // No ambulance: the call waits; each of the server's three tries is
    // cut before its commit.
    proxy.arm_times(ngalam112_testkit::proxy::Cut::BeforeCommit, 3);
    let output = n112(
        &app,
        &operator,
        &[
            "--json",
            "incident",
            "create",
            "--category",
            "medical",
            "--lat",
            "-7.9770",
            "--lon",
            "112.6340",
            "--address",
            "Jl. Tugu 1",
            "--withheld",
            "--yes",
        ],
    )
    .await;
    let created = json_lines(&output);
    assert_eq!(proxy.cuts(), 3, "the server's three tries were cut");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("retrying with request id n112-"),
        "{stderr}"
    );
    let stored: Vec<(String, String)> =
        sqlx::query_as("SELECT request_id, incident_id::text FROM intake_requests")
            .fetch_all(&direct.pool)
            .await
            .expect("requests");
    assert_eq!(stored.len(), 1, "stored once: {stored:?}");
    assert!(stored[0].0.starts_with("n112-"), "{stored:?}");
    assert_eq!(created[0]["id"], stored[0].1.as_str());
}

#[tokio::test]
async fn on_roads_recommendations_and_offers_show_the_drive() {
    use ngalam112_testkit::roads::{self, river_town::*};
    let app = TestApp::spawn_with(roads::river_town_config()).await;
    let operator = app.token(Role::Operator).await.unwrap();
    // On the north bank, 3 km west of the only bridge; a unit just across
    // the river (7 km by road) and one 1.5 km along the bank.
    let mut call = ngalam112_testkit::medical_call((NORTH_BANK, 112.610));
    call.hold = true;
    let held = app.create(call).await;
    app.register(
        "AMB-SEBERANG",
        proto::UnitKind::Ambulance,
        SOUTH_BANK,
        112.610,
    )
    .await;
    let along = app
        .register(
            "AMB-SEPIHAK",
            proto::UnitKind::Ambulance,
            NORTH_BANK,
            112.6235,
        )
        .await;
    let listed = stdout(&n112(&app, &operator, &["incident", "recommend", &held.id]).await);
    let lines: Vec<&str> = listed.lines().collect();
    assert!(lines[0].contains("DRIVE"), "{listed}");
    assert!(
        lines[1].contains("AMB-SEPIHAK") && lines[1].contains("1.5 km by road, about 3 min"),
        "{listed}"
    );
    assert!(
        lines[2].contains("AMB-SEBERANG") && lines[2].contains("7.1 km by road"),
        "{listed}"
    );
    let json = json_lines(
        &n112(
            &app,
            &operator,
            &["--json", "incident", "recommend", &held.id],
        )
        .await,
    );
    assert!(json[1]["eta_s"].as_f64().unwrap() > json[0]["eta_s"].as_f64().unwrap());
    let assigned = stdout(
        &n112(
            &app,
            &operator,
            &["incident", "assign", &held.id, &along.id],
        )
        .await,
    );
    assert!(
        assigned.contains("(1.5 km by road, about 3 min)"),
        "{assigned}"
    );
}
