//! People who log in: sessions, the shared failed-login lockout, disabled
//! users, the timeline's actor names, and `ngalam112 user …`.

use std::io::Write;
use std::process::{Command, Stdio};

use ngalam112_core::UnitId;
use ngalam112_proto::v1 as proto;
use ngalam112_store::{Role, StoreConfig};
use tonic::Code;

use crate::helpers::{TestApp, code_of, medical_call, places};

const BINARY: &str = env!("CARGO_BIN_EXE_ngalam112");
const SRI_PASSWORD: &str = "kopi-tubruk-2026";

#[tokio::test]
async fn a_person_logs_in_and_the_timeline_names_them() {
    let app = TestApp::spawn().await;
    app.register_at("AMB-RSSA-1", proto::UnitKind::Ambulance, places::RSSA)
        .await;
    app.add_user("sri", Role::Operator, SRI_PASSWORD).await;

    // People type their name in any case.
    let login = app.login("Sri", SRI_PASSWORD).await.expect("login");
    assert_eq!(login.role(), proto::Role::Operator);
    assert_eq!(login.username, "sri");
    assert_eq!(login.display_name, "sri (test)");
    let expires_in =
        login.expires_at.as_ref().expect("expiry").seconds - chrono::Utc::now().timestamp();
    assert!(
        (12 * 3600 - 60..=12 * 3600).contains(&expires_in),
        "a session lasts one 12 h shift, got {expires_in} s"
    );
    assert!(!login.token.contains(SRI_PASSWORD));

    let mut sri = app.clients_with_token(Some(&login.token));
    let me = sri
        .auth
        .who_am_i(proto::WhoAmIRequest {})
        .await
        .expect("who am i")
        .into_inner();
    assert_eq!(
        (me.username.as_str(), me.role()),
        ("sri", proto::Role::Operator)
    );
    assert_eq!(me.expires_at, login.expires_at);

    let incident = sri
        .incidents
        .create_incident(medical_call(places::BALAI_KOTA))
        .await
        .expect("create")
        .into_inner();
    let events = app.timeline(&incident.id).await;
    assert_eq!(events[0].kind, "incident_created");
    assert_eq!(events[0].actor, "operator:sri");

    // A token from `token issue` is still named by its id.
    let resolved = app
        .operator
        .incidents
        .clone()
        .resolve_incident(proto::ResolveIncidentRequest {
            id: incident.id.clone(),
            ..Default::default()
        })
        .await;
    assert!(resolved.is_ok());
    let operator_token_id = app
        .operator
        .auth
        .clone()
        .who_am_i(proto::WhoAmIRequest {})
        .await
        .expect("who am i")
        .into_inner()
        .token_id;
    let events = app.timeline(&incident.id).await;
    let last = events.last().expect("events");
    assert_eq!(last.actor, format!("operator:{operator_token_id}"));

    // The EIDO export's notes name the person too.
    let eido = app
        .operator
        .incidents
        .clone()
        .get_incident_eido(proto::GetIncidentEidoRequest { id: incident.id })
        .await
        .expect("eido")
        .into_inner()
        .eido_json;
    assert!(eido.contains("by operator:sri"), "{eido}");
}

#[tokio::test]
async fn unknown_users_wrong_passwords_and_disabled_users_get_one_answer() {
    let app = TestApp::spawn().await;
    app.add_user("sri", Role::Operator, SRI_PASSWORD).await;
    app.add_user("budi", Role::Operator, "bakso-malang-1").await;
    app.store.disable_user("budi").await.expect("disable");

    let unknown = app.login("nobody", SRI_PASSWORD).await.unwrap_err();
    let wrong = app.login("sri", "not-her-password").await.unwrap_err();
    let disabled = app.login("budi", "bakso-malang-1").await.unwrap_err();
    for status in [&unknown, &wrong, &disabled] {
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(status.message(), unknown.message());
        assert!(!status.message().contains("not-her-password"));
    }
    // Bad input is a bad request, and is not counted as a failure.
    assert_eq!(code_of(app.login("", "x").await), Code::InvalidArgument);
    assert_eq!(code_of(app.login("sri", "").await), Code::InvalidArgument);
    assert_eq!(app.count("login_failures").await, 3);
}

#[tokio::test]
async fn the_sixth_attempt_within_five_minutes_is_refused_on_every_server_even_with_the_right_password()
 {
    let first = TestApp::spawn().await;
    let second = first.another_server(StoreConfig::default()).await;
    first.add_user("sri", Role::Operator, SRI_PASSWORD).await;

    for (attempt, server) in [&first, &second, &first, &second, &first]
        .into_iter()
        .enumerate()
    {
        let status = server.login("sri", "guess-number-x").await.unwrap_err();
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "attempt {}",
            attempt + 1
        );
    }
    for server in [&first, &second] {
        let status = server.login("sri", SRI_PASSWORD).await.unwrap_err();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert!(status.message().contains("wait"), "{}", status.message());
    }
    // Another username is not locked.
    first
        .add_user("joko", Role::Operator, "rawon-setan-2026")
        .await;
    assert!(second.login("joko", "rawon-setan-2026").await.is_ok());

    // Once the failures are older than five minutes, the right password
    // works again (moved back in time rather than waited for).
    sqlx::query("UPDATE login_failures SET at = at - interval '5 minutes 1 second'")
        .execute(&first.pool)
        .await
        .expect("age the failures");
    assert!(second.login("sri", SRI_PASSWORD).await.is_ok());
}

#[tokio::test]
async fn disabling_a_user_ends_their_session_mid_use_on_every_server() {
    let first = TestApp::spawn().await;
    let second = first.another_server(StoreConfig::default()).await;
    first.add_user("sri", Role::Operator, SRI_PASSWORD).await;
    let token = first.login("sri", SRI_PASSWORD).await.expect("login").token;
    let mut on_first = first.clients_with_token(Some(&token));
    let mut on_second = second.clients_with_token(Some(&token));
    let list = proto::ListIncidentsRequest::default();
    assert!(
        on_first
            .incidents
            .list_incidents(list.clone())
            .await
            .is_ok()
    );
    assert!(
        on_second
            .incidents
            .list_incidents(list.clone())
            .await
            .is_ok()
    );

    first.store.disable_user("sri").await.expect("disable");

    assert_eq!(
        code_of(on_first.incidents.list_incidents(list.clone()).await),
        Code::Unauthenticated
    );
    assert_eq!(
        code_of(on_second.incidents.list_incidents(list).await),
        Code::Unauthenticated
    );
    assert_eq!(
        code_of(first.login("sri", SRI_PASSWORD).await),
        Code::Unauthenticated
    );
}

#[tokio::test]
async fn logout_and_expiry_end_a_session_and_tokens_keep_working() {
    let app = TestApp::spawn().await;
    app.add_user("sri", Role::Operator, SRI_PASSWORD).await;
    let mut first = app.session("sri", SRI_PASSWORD).await;
    let mut second = app.session("sri", SRI_PASSWORD).await;
    let list = proto::ListUnitsRequest::default();

    first
        .auth
        .logout(proto::LogoutRequest {})
        .await
        .expect("logout");
    assert_eq!(
        code_of(first.units.list_units(list.clone()).await),
        Code::Unauthenticated
    );
    assert!(
        second.units.list_units(list.clone()).await.is_ok(),
        "only that session ended"
    );

    sqlx::query(
        "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE user_id IS NOT NULL",
    )
    .execute(&app.pool)
    .await
    .expect("expire");
    assert_eq!(
        code_of(second.units.list_units(list.clone()).await),
        Code::Unauthenticated
    );
    // Tokens from `token issue` never expire.
    assert!(app.operator.units.clone().list_units(list).await.is_ok());
    // The session secret is stored only hashed.
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM api_tokens WHERE user_id IS NOT NULL AND length(secret_hash) = 32",
    )
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(stored, 2);
}

#[tokio::test]
async fn a_crew_member_logs_in_for_their_unit_only() {
    let app = TestApp::spawn().await;
    let own = app
        .register_at("AMB-RSSA-1", proto::UnitKind::Ambulance, places::RSSA)
        .await;
    let other = app
        .register_at("AMB-RSSA-2", proto::UnitKind::Ambulance, places::RSSA)
        .await;
    let unit = UnitId::parse("unit_id", &own.id).expect("id");
    app.add_user("andi", Role::Unit(unit), "sate-ayam-2026")
        .await;
    let login = app.login("andi", "sate-ayam-2026").await.expect("login");
    assert_eq!(login.role(), proto::Role::Unit);
    assert_eq!(login.unit_id, own.id);

    let mut crew = app.clients_with_token(Some(&login.token));
    let poll = |unit_id: &str| proto::PollAssignmentRequest {
        unit_id: unit_id.to_owned(),
        wait_seconds: 0,
    };
    assert!(crew.field.poll_assignment(poll(&own.id)).await.is_ok());
    assert_eq!(
        code_of(crew.field.poll_assignment(poll(&other.id)).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code_of(
            crew.incidents
                .list_incidents(proto::ListIncidentsRequest::default())
                .await
        ),
        Code::PermissionDenied
    );

    // An agency user is bound to its agency.
    let agency = app.agency("PLN").await;
    app.add_user("pln", Role::Agency(agency), "listrik-padam-1")
        .await;
    let login = app.login("pln", "listrik-padam-1").await.expect("login");
    assert_eq!(
        (login.role(), login.agency_id.as_str()),
        (proto::Role::Agency, agency.to_string().as_str())
    );
}

/// Runs `ngalam112 user …` against the test database with `stdin`.
fn user_command(app: &TestApp, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(BINARY)
        .env("DATABASE_URL", &app.database_url)
        .env("RUST_LOG", "warn")
        .arg("user")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ngalam112 user");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write the password");
    child.wait_with_output().expect("wait")
}

#[tokio::test]
async fn users_are_added_listed_disabled_and_given_passwords_from_the_command_line() {
    let app = TestApp::spawn().await;
    let add = [
        "add",
        "--username",
        "sri",
        "--name",
        "Sri Wahyuni",
        "--role",
        "operator",
    ];

    let short = user_command(&app, &add, "pendek\n");
    assert!(!short.status.success());
    let error = String::from_utf8_lossy(&short.stderr);
    assert!(error.contains("at least 10 characters"), "{error}");
    assert!(!error.contains("pendek"), "the password is never echoed");
    assert_eq!(app.count("users").await, 0, "nothing stored");

    let added = user_command(&app, &add, "kopi-tubruk-2026\n");
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let again = user_command(&app, &add, "kopi-tubruk-2026\n");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already in use"));
    let stored: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE username = 'sri'")
            .fetch_one(&app.pool)
            .await
            .expect("hash");
    assert!(stored.starts_with("$argon2id$") && !stored.contains("kopi"));
    let token = app
        .login("sri", "kopi-tubruk-2026")
        .await
        .expect("login")
        .token;

    let listing = user_command(&app, &["list"], "");
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    assert!(
        listing.contains("sri\tSri Wahyuni\toperator\t-\tactive"),
        "{listing}"
    );
    assert!(!listing.contains("argon2"));

    let changed = user_command(&app, &["password", "sri"], "es-dawet-2026!\n");
    assert!(changed.status.success());
    assert_eq!(
        code_of(app.login("sri", "kopi-tubruk-2026").await),
        Code::Unauthenticated
    );
    assert!(app.login("sri", "es-dawet-2026!").await.is_ok());

    let unit_without_id = user_command(
        &app,
        &[
            "add",
            "--username",
            "andi",
            "--name",
            "Andi",
            "--role",
            "unit",
        ],
        "sate-ayam-2026\n",
    );
    assert!(String::from_utf8_lossy(&unit_without_id.stderr).contains("--unit-id"));

    let disabled = user_command(&app, &["disable", "sri"], "");
    assert!(disabled.status.success());
    let mut session = app.clients_with_token(Some(&token));
    assert_eq!(
        code_of(session.auth.who_am_i(proto::WhoAmIRequest {}).await),
        Code::Unauthenticated
    );
    let listing = user_command(&app, &["list"], "");
    assert!(String::from_utf8_lossy(&listing.stdout).contains("disabled"));
}
