//! Guarantees under attack: a flood of logins and public calls never
//! stalls dispatch; failed logins lock an account from one address only;
//! a changed password or a disabled user ends every session; a revoked
//! token's streams end at once; markup never gets into names; browsers
//! are answered only for our own host names; open services are capped.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ngalam112::ServerConfig;
use ngalam112::client_address::TrustedProxies;
use ngalam112_proto::v1 as proto;
use ngalam112_store::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;

use crate::helpers::{TestApp, code_of, medical_call, places};

/// The code of an answer, OK included.
fn code<T>(answer: Result<T, tonic::Status>) -> Code {
    answer.map_or_else(|status| status.code(), |_| Code::Ok)
}

const SRI_PASSWORD: &str = "kopi-tubruk-2026";

/// A server that believes `X-Forwarded-For` from 127.0.0.1, so a test can
/// speak from any client address.
async fn behind_a_balancer() -> TestApp {
    let loopback: IpAddr = "127.0.0.1".parse().expect("ip");
    TestApp::spawn_with_server_config(ServerConfig {
        trusted_proxies: TrustedProxies::new(vec![loopback]),
        ..ServerConfig::default()
    })
    .await
}

async fn login_from(
    app: &TestApp,
    address: &str,
    username: &str,
    password: &str,
) -> Result<proto::LoginResponse, tonic::Status> {
    let mut request = tonic::Request::new(proto::LoginRequest {
        username: username.to_owned(),
        password: password.to_owned(),
    });
    request
        .metadata_mut()
        .insert("x-forwarded-for", address.parse().expect("ascii"));
    app.clients_with_token(None)
        .auth
        .login(request)
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn failures_from_one_address_never_lock_the_person_out_from_another() {
    let app = behind_a_balancer().await;
    app.add_user("sri", Role::Operator, SRI_PASSWORD).await;
    let attacker = "203.0.113.66";
    for attempt in 1..=5 {
        let status = login_from(&app, attacker, "sri", "tebakan")
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "attempt {attempt}");
    }
    // From the attacker's address even the right password is refused now.
    let locked = login_from(&app, attacker, "sri", SRI_PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(locked.code(), Code::ResourceExhausted, "{locked:?}");
    // Sri, at the centre, logs in as usual.
    let session = login_from(&app, "10.112.0.21", "sri", SRI_PASSWORD)
        .await
        .expect("not locked out from her own desk");
    assert_eq!(session.username, "sri");
    // The failures are kept per address.
    let addresses: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT client_address FROM login_failures WHERE username = 'sri'",
    )
    .fetch_all(&app.pool)
    .await
    .expect("failures");
    assert_eq!(addresses, vec![attacker.to_owned()]);
}

#[tokio::test]
async fn a_forwarded_address_is_ignored_unless_the_proxy_is_trusted() {
    let app = TestApp::spawn().await;
    app.add_user("sri", Role::Operator, SRI_PASSWORD).await;
    for attempt in 0..5 {
        // A different made-up address each time: it must not help.
        let status = login_from(&app, &format!("198.51.100.{attempt}"), "sri", "tebakan")
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    let locked = login_from(&app, "198.51.100.99", "sri", SRI_PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(locked.code(), Code::ResourceExhausted, "{locked:?}");
}

#[tokio::test]
async fn a_changed_password_ends_every_session_and_a_disabled_user_can_be_enabled_again() {
    let app = TestApp::spawn().await;
    app.add_user("sri", Role::Operator, SRI_PASSWORD).await;
    let mut old_session = app.session("sri", SRI_PASSWORD).await;
    let hash = ngalam112::passwords::hash_password("es-dawet-2027").expect("hash");
    app.store.set_password("sri", &hash).await.expect("set");
    let refused = old_session
        .auth
        .who_am_i(proto::WhoAmIRequest {})
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert_eq!(
        code_of(app.login("sri", SRI_PASSWORD).await),
        Code::Unauthenticated
    );
    let mut new_session = app.session("sri", "es-dawet-2027").await;

    // `ngalam112 user disable` then `user enable`, as the ops engineer runs them.
    for command in ["disable", "enable"] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_ngalam112"))
            .env("DATABASE_URL", &app.database_url)
            .env("RUST_LOG", "error")
            .args(["user", command, "sri"])
            .output()
            .expect("run ngalam112 user");
        assert!(
            output.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        if command == "disable" {
            assert_eq!(
                code_of(new_session.auth.who_am_i(proto::WhoAmIRequest {}).await),
                Code::Unauthenticated
            );
            assert_eq!(
                code_of(app.login("sri", "es-dawet-2027").await),
                Code::Unauthenticated
            );
        }
    }
    let mut again = app.session("sri", "es-dawet-2027").await;
    assert!(again.auth.who_am_i(proto::WhoAmIRequest {}).await.is_ok());
    // The sessions from before the disable stay ended.
    assert_eq!(
        code_of(new_session.auth.who_am_i(proto::WhoAmIRequest {}).await),
        Code::Unauthenticated
    );
}

#[tokio::test]
async fn a_revoked_tokens_streams_end_at_once_on_every_server_before_the_next_call_reaches_them() {
    let first = TestApp::spawn().await;
    let second = first
        .another_server(ngalam112_store::StoreConfig::default())
        .await;
    first.add_user("sri", Role::Operator, SRI_PASSWORD).await;
    let login = first.login("sri", SRI_PASSWORD).await.expect("login");
    let mut on_second = second.clients_with_token(Some(&login.token));
    let mut stream = on_second
        .incidents
        .watch_incidents(proto::WatchIncidentsRequest::default())
        .await
        .expect("watch")
        .into_inner();
    first.create(medical_call(places::BALAI_KOTA)).await;
    assert!(stream.message().await.expect("an event").is_some());

    // Sri logs out on the first server; the stream is on the second.
    first
        .clients_with_token(Some(&login.token))
        .auth
        .logout(proto::LogoutRequest {})
        .await
        .expect("logout");
    let ended = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match stream.message().await {
                Ok(Some(update)) => {
                    let name = update.incident.map(|incident| incident.caller_name);
                    assert_ne!(
                        name.as_deref(),
                        Some("Rahasia"),
                        "a revoked token saw a caller"
                    );
                }
                Ok(None) => panic!("the stream must end with a status"),
                Err(status) => return status,
            }
        }
    });
    let mut secret_call = medical_call(places::RSSA);
    secret_call.caller_name = "Rahasia".to_owned();
    let ended = tokio::join!(ended, async {
        // The next call comes a moment after the logout.
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        first.create(secret_call).await
    })
    .0
    .expect("ended well within the old 5 s re-check");
    assert_eq!(ended.code(), Code::Unauthenticated, "{ended:?}");
}

#[tokio::test]
async fn a_flood_of_logins_and_public_calls_leaves_every_call_answered() {
    let app = behind_a_balancer().await;
    app.add_user("sri", Role::Operator, SRI_PASSWORD).await;
    for index in 0..4 {
        app.register_at(
            &format!("AMB-{index}"),
            proto::UnitKind::Ambulance,
            places::RSSA,
        )
        .await;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut flooders = Vec::new();
    for flooder in 0..100u32 {
        // Each flooder on its own connection, from many addresses, so
        // neither the per-address limit nor HTTP/2 flow spares the server.
        let channel = tonic::transport::Channel::from_shared(format!("http://{}", app.address))
            .expect("uri")
            .connect()
            .await
            .expect("connect");
        let clients = crate::helpers::connect_as(channel, None);
        let stop = stop.clone();
        flooders.push(tokio::spawn(async move {
            let mut codes = Vec::new();
            let mut round = 0u32;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                let mut login = tonic::Request::new(proto::LoginRequest {
                    username: format!("nobody-{flooder}-{round}"),
                    password: "tebakan-salah".to_owned(),
                });
                let address = format!("10.{}.{}.{}", flooder % 200, round % 250, round / 250 % 250);
                login
                    .metadata_mut()
                    .insert("x-forwarded-for", address.parse().expect("ascii"));
                codes.push(code(clients.auth.clone().login(login).await));
                codes.push(code(
                    clients
                        .public
                        .clone()
                        .get_public_stats(proto::GetPublicStatsRequest::default())
                        .await,
                ));
            }
            codes
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut slowest = Duration::ZERO;
    for index in 0..30 {
        let started = std::time::Instant::now();
        let mut call = medical_call((-7.96 - 0.001 * f64::from(index), 112.62));
        call.request_id = format!("flood-{index}");
        let answer = app.operator.incidents.clone().create_incident(call).await;
        slowest = slowest.max(started.elapsed());
        assert!(answer.is_ok(), "call {index} under the flood: {answer:?}");
        let who = app
            .operator
            .auth
            .clone()
            .who_am_i(proto::WhoAmIRequest {})
            .await;
        assert!(who.is_ok(), "token checks under the flood: {who:?}");
    }
    stop.store(true, Ordering::Relaxed);
    let mut codes = Vec::new();
    for flooder in flooders {
        codes.extend(flooder.await.expect("flooder"));
    }
    // The flood itself was answered, with refusals only: never a stall
    // that ends UNAVAILABLE, never INTERNAL.
    assert!(
        codes.iter().all(|code| matches!(
            code,
            Code::Ok | Code::Unauthenticated | Code::ResourceExhausted
        )),
        "flood answers: {:?}",
        codes
            .iter()
            .filter(|code| !matches!(
                code,
                Code::Ok | Code::Unauthenticated | Code::ResourceExhausted
            ))
            .take(5)
            .collect::<Vec<_>>()
    );
    assert!(
        codes.contains(&Code::ResourceExhausted),
        "the flood was bounded"
    );
    println!(
        "flood: {} answers to the flood; 30 calls all OK, the slowest in {:.0} ms",
        codes.len(),
        slowest.as_secs_f64() * 1000.0
    );
    // Sri can still log in from her own desk after the flood.
    assert!(
        login_from(&app, "10.112.0.21", "sri", SRI_PASSWORD)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn markup_in_call_signs_agency_and_camera_names_is_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let mut units = app.admin.units.clone();
    let mut unit = crate::helpers::unit_at("AMB-1", proto::UnitKind::Ambulance, places::RSSA);
    unit.call_sign = "<a href=//evil.example>AMB</a>".to_owned();
    let refused = units.register_unit(unit).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().starts_with("call_sign"),
        "{}",
        refused.message()
    );
    let agency = app
        .admin
        .agencies
        .clone()
        .register_agency(proto::RegisterAgencyRequest {
            name: "PMI \"Kota\" Malang".to_owned(),
            short_name: "PMI".to_owned(),
            contact: "0341".to_owned(),
        })
        .await
        .unwrap_err();
    assert!(agency.message().starts_with("name"), "{}", agency.message());
    let camera = app
        .admin
        .cameras
        .clone()
        .register_camera(proto::RegisterCameraRequest {
            name: "Tugu <script>".to_owned(),
            location: Some(proto::GeoPoint {
                lat: places::BALAI_KOTA.0,
                lon: places::BALAI_KOTA.1,
            }),
            stream_url: "https://cctv.malangkota.go.id/tugu".to_owned(),
        })
        .await
        .unwrap_err();
    assert!(camera.message().starts_with("name"), "{}", camera.message());
    for table in ["units", "agencies", "cameras"] {
        assert_eq!(app.count(table).await, 0, "{table}");
    }
}

/// An HTTP/1.1 request to the test server with this `Host`; the status line.
async fn status_line(app: &TestApp, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(app.address)
        .await
        .expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = vec![0u8; 512];
    let read = stream.read(&mut answer).await.expect("answer");
    String::from_utf8_lossy(&answer[..read])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn browsers_are_answered_only_for_our_own_host_names() {
    let app = TestApp::spawn().await;
    let page = |host: &str| format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let own = format!("127.0.0.1:{}", app.address.port());
    assert!(status_line(&app, &page(&own)).await.contains(" 200"));
    assert!(status_line(&app, &page("localhost")).await.contains(" 200"));
    let rebound = status_line(&app, &page("evil.example")).await;
    assert!(rebound.contains(" 421"), "{rebound}");
    // gRPC-Web from a rebound page, with a matching Origin, is refused too.
    let grpc_web = "POST /ngalam112.v1.PublicService/GetPublicStats HTTP/1.1\r\n\
                    Host: evil.example\r\nOrigin: http://evil.example\r\n\
                    Content-Type: application/grpc-web+proto\r\nContent-Length: 5\r\n\
                    Connection: close\r\n\r\n\0\0\0\0\0";
    let refused = status_line(&app, grpc_web).await;
    assert!(refused.contains(" 421"), "{refused}");
    // Native gRPC clients are not browsers: they still work.
    assert!(
        app.operator
            .incidents
            .clone()
            .list_incidents(proto::ListIncidentsRequest::default())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn health_and_reflection_refuse_messages_larger_than_every_other_service_takes() {
    let app = TestApp::spawn().await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(app.channel.clone());
    let oversized = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "x".repeat(200 * 1024),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(oversized.code(), Code::OutOfRange | Code::ResourceExhausted),
        "{oversized:?}"
    );
    // A normal check still answers.
    assert!(
        health
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .is_ok()
    );
    // Reflection, also open to anyone: an oversized request is not
    // decoded, so it gets no answer (tonic-reflection ends the stream);
    // the same request of a normal size is answered.
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    let mut reflection = ServerReflectionClient::new(app.channel.clone());
    for (host_bytes, answered) in [(200 * 1024, false), (16, true)] {
        let request = ServerReflectionRequest {
            host: "x".repeat(host_bytes),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let outcome = match reflection
            .server_reflection_info(tokio_stream::once(request))
            .await
        {
            Err(status) => Err(status),
            Ok(responses) => responses.into_inner().message().await,
        };
        assert_eq!(
            matches!(outcome, Ok(Some(_))),
            answered,
            "{host_bytes} bytes: {outcome:?}"
        );
    }
}

#[tokio::test]
async fn a_retried_request_id_in_a_group_leaves_the_nearest_unit_to_the_next_call() {
    let app = TestApp::spawn().await;
    let first_unit = app
        .register("AMB-1", proto::UnitKind::Ambulance, -7.9775, 112.6340)
        .await;
    let second_unit = app
        .register("AMB-2", proto::UnitKind::Ambulance, -7.9790, 112.6340)
        .await;
    app.register("AMB-3", proto::UnitKind::Ambulance, -7.9900, 112.6340)
        .await;
    let mut critical = medical_call(places::BALAI_KOTA);
    critical.priority = proto::Priority::Critical.into();
    critical.request_id = "console-retry-1".to_owned();
    let stored = app.create(critical.clone()).await;
    assert_eq!(stored.assignments[0].unit_id, first_unit.id);

    // The console retries the critical call while a less urgent call comes
    // in: they can share a group. The retry must not hold AMB-2 for itself.
    let mut low = medical_call(places::BALAI_KOTA);
    low.priority = proto::Priority::Low.into();
    low.request_id = "console-low-1".to_owned();
    let mut calls = Vec::new();
    for _ in 0..8 {
        let mut incidents = app.operator.incidents.clone();
        let retry = critical.clone();
        calls.push(tokio::spawn(async move {
            incidents
                .create_incident(retry)
                .await
                .map(|r| r.into_inner())
        }));
    }
    let mut incidents = app.operator.incidents.clone();
    let low = incidents
        .create_incident(low)
        .await
        .expect("low call")
        .into_inner();
    for call in calls {
        let retried = call.await.expect("task").expect("retry answered");
        assert_eq!(retried.id, stored.id, "the retry returns the stored call");
    }
    assert_eq!(low.assignments[0].unit_id, second_unit.id, "{low:?}");
    assert_eq!(app.count("incidents").await, 2);
}

#[tokio::test]
async fn failed_logins_past_their_window_are_purged_and_recent_ones_kept() {
    let app = TestApp::spawn().await;
    // A flood of made-up usernames long ago, and one failure just now.
    sqlx::query(
        "INSERT INTO login_failures (username, client_address, at) \
         SELECT 'nobody-' || n, '203.0.113.9', now() - interval '6 minutes' \
         FROM generate_series(1, 500) AS n",
    )
    .execute(&app.pool)
    .await
    .expect("old failures");
    assert_eq!(
        code_of(app.login("sri", "tebakan-salah").await),
        Code::Unauthenticated
    );
    let purged = app.store.purge_login_failures().await.expect("purge");
    // The server's own housekeeping (its first pass runs as it starts) may
    // have purged them a moment before this call: then it finds none.
    assert!(purged == 500 || purged == 0, "purged {purged}");
    assert_eq!(
        app.count("login_failures").await,
        1,
        "the recent one stays, the old go"
    );
}
