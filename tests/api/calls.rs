//! The phone system rings into the console (TelephonyService): calls
//! signalled by the exchange's gateway, watched by consoles, linked to the
//! incidents recorded from them, and counted in the report.

use std::time::Duration;

use ngalam112_proto::v1 as proto;
use ngalam112_store::Role;
use proto::{CallSignal, CallState};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{Clients, TestApp, code_of, connect_as, earlier_prank, medical_call, places};

async fn gateway(app: &TestApp) -> Clients {
    let token = app.token(Role::Gateway).await.expect("gateway token");
    connect_as(app.channel.clone(), Some(&token))
}

fn signal(call_id: &str, signal: CallSignal) -> proto::SignalCallRequest {
    proto::SignalCallRequest {
        call_id: call_id.to_owned(),
        line: "112-1".to_owned(),
        caller_phone: "0812 3456 7890".to_owned(),
        signal: signal.into(),
        position: "P3".to_owned(),
        ..Default::default()
    }
}

async fn send(gateway: &mut Clients, request: proto::SignalCallRequest) -> proto::Call {
    gateway
        .telephony
        .signal_call(request)
        .await
        .expect("signal")
        .into_inner()
}

async fn next_call(stream: &mut tonic::Streaming<proto::Call>) -> proto::Call {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("a call in time")
        .expect("open")
        .expect("ok")
}

fn bad_field(status: &tonic::Status) -> Option<String> {
    status
        .get_details_bad_request()
        .and_then(|bad| bad.field_violations.first().map(|v| v.field.clone()))
}

#[tokio::test]
async fn a_call_rings_is_answered_and_ends_and_every_signal_may_be_sent_twice() {
    let app = TestApp::spawn().await;
    let mut gateway = gateway(&app).await;
    let rang = send(&mut gateway, signal("pbx-1", CallSignal::Ringing)).await;
    assert_eq!(rang.state(), CallState::Ringing);
    assert_eq!(rang.caller_phone, "+6281234567890", "stored in E.164");
    assert_eq!(rang.line, "112-1");
    assert!(rang.answered_at.is_none() && rang.ended_at.is_none());
    let again = send(&mut gateway, signal("pbx-1", CallSignal::Ringing)).await;
    assert_eq!(
        again.rang_at, rang.rang_at,
        "a repeated RINGING changes nothing"
    );

    let answered = send(&mut gateway, signal("pbx-1", CallSignal::Answered)).await;
    assert_eq!(answered.state(), CallState::Answered);
    assert_eq!(answered.position, "P3");
    let answered_at = answered.answered_at.expect("answered at");
    let again = send(&mut gateway, signal("pbx-1", CallSignal::Answered)).await;
    assert_eq!(again.answered_at, Some(answered_at), "answered once");

    let ended = send(&mut gateway, signal("pbx-1", CallSignal::Ended)).await;
    assert_eq!(ended.state(), CallState::Ended);
    let again = send(&mut gateway, signal("pbx-1", CallSignal::Ended)).await;
    assert_eq!(again.ended_at, ended.ended_at, "ended once");

    let late = gateway
        .telephony
        .signal_call(signal("pbx-1", CallSignal::Answered))
        .await;
    assert_eq!(
        code_of(late),
        Code::FailedPrecondition,
        "ANSWERED after ENDED"
    );
    let never = gateway
        .telephony
        .signal_call(signal("pbx-never-rang", CallSignal::Ended))
        .await;
    assert_eq!(code_of(never), Code::NotFound);
    assert_eq!(app.count("calls").await, 1);
}

#[tokio::test]
async fn bad_signals_and_unknown_calls_are_refused_naming_the_field_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let mut gateway = gateway(&app).await;
    type Mutation = fn(&mut proto::SignalCallRequest);
    let cases: Vec<(&str, Mutation)> = vec![
        ("call_id", |r| r.call_id = String::new()),
        ("call_id", |r| r.call_id = "two words".to_owned()),
        ("call_id", |r| r.call_id = "c".repeat(201)),
        ("position", |r| r.position = "p".repeat(201)),
        ("caller_phone", |r| r.caller_phone = "12ab".to_owned()),
        ("caller_phone", |r| r.caller_phone = String::new()),
        ("caller_phone", |r| r.caller_id_withheld = true),
        ("signal", |r| r.signal = 0),
        ("signal", |r| r.signal = 9),
        ("line", |r| r.line = "\u{7}".to_owned()),
    ];
    for (field, mutate) in cases {
        let mut request = signal("pbx-bad", CallSignal::Ringing);
        mutate(&mut request);
        let status = gateway
            .telephony
            .signal_call(request)
            .await
            .expect_err(field);
        assert_eq!(status.code(), Code::InvalidArgument, "{field}");
        assert_eq!(bad_field(&status).as_deref(), Some(field), "{status:?}");
    }
    assert_eq!(app.count("calls").await, 0);

    let mut call = medical_call(places::BALAI_KOTA);
    call.call_id = "pbx-unknown".to_owned();
    let status = app
        .operator
        .clone()
        .incidents
        .create_incident(call)
        .await
        .expect_err("an unknown call");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(bad_field(&status).as_deref(), Some("call_id"));
    assert_eq!(app.count("incidents").await, 0);
}

#[tokio::test]
async fn the_strip_shows_ringing_calls_at_once_with_the_callers_history_then_each_change() {
    let app = TestApp::spawn().await;
    let mut gateway = gateway(&app).await;
    let mut operator = app.operator.clone();
    // The number called before: one incident closed as a prank, flagged.
    earlier_prank(&app, "sering iseng").await;
    send(&mut gateway, signal("pbx-old", CallSignal::Ringing)).await;
    send(&mut gateway, signal("pbx-old", CallSignal::Ended)).await;
    send(&mut gateway, signal("pbx-ringing", CallSignal::Ringing)).await;

    let mut stream = operator
        .telephony
        .watch_calls(proto::WatchCallsRequest {})
        .await
        .expect("watch")
        .into_inner();
    let first = next_call(&mut stream).await;
    assert_eq!(
        first.call_id, "pbx-ringing",
        "only calls not ended, at once"
    );
    let caller = first.caller.expect("the number's history");
    assert_eq!((caller.calls, caller.incidents, caller.pranks), (2, 1, 1));
    assert!(caller.flagged);
    assert_eq!(caller.flag_reason, "sering iseng");
    assert!(first.device_location.is_none());

    // The handset's fix arrives while it rings: the strip shows it.
    gateway
        .incidents
        .ingest_device_location(proto::IngestDeviceLocationRequest {
            caller_phone: "+6281234567890".to_owned(),
            payload: format!(
                "location_latitude=-7.9771&location_longitude=112.6341&location_accuracy=15\
                 &location_time={}&location_source=gps",
                chrono::Utc::now().timestamp_millis()
            ),
        })
        .await
        .expect("AML");
    let fixed = next_call(&mut stream).await;
    let device = fixed.device_location.expect("the handset's fix");
    let point = device.location.expect("point");
    assert_eq!((point.lat, point.lon), (-7.9771, 112.6341));

    // A withheld number rings: no history to show.
    let mut withheld = signal("pbx-withheld", CallSignal::Ringing);
    withheld.caller_phone = String::new();
    withheld.caller_id_withheld = true;
    send(&mut gateway, withheld).await;
    let hidden = next_call(&mut stream).await;
    assert_eq!(hidden.call_id, "pbx-withheld");
    assert!(hidden.caller_id_withheld && hidden.caller_phone.is_empty());
    assert!(hidden.caller.is_none());

    let answered = send(&mut gateway, signal("pbx-ringing", CallSignal::Answered)).await;
    let seen = next_call(&mut stream).await;
    assert_eq!(seen.call_id, "pbx-ringing");
    assert_eq!(seen.state(), CallState::Answered);
    assert_eq!(seen.answered_at, answered.answered_at);

    let listed = operator
        .telephony
        .list_calls(proto::ListCallsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .calls;
    let ids: Vec<&str> = listed.iter().map(|c| c.call_id.as_str()).collect();
    assert_eq!(
        ids,
        ["pbx-withheld", "pbx-ringing", "pbx-old"],
        "newest first"
    );
    assert_eq!(listed[2].state(), CallState::Abandoned);
}

#[tokio::test]
async fn an_incident_recorded_from_a_call_is_linked_and_its_timeline_says_when_it_rang() {
    let app = TestApp::spawn().await;
    let mut gateway = gateway(&app).await;
    send(&mut gateway, signal("pbx-7", CallSignal::Ringing)).await;
    send(&mut gateway, signal("pbx-7", CallSignal::Answered)).await;
    let mut call = medical_call(places::BALAI_KOTA);
    call.call_id = "pbx-7".to_owned();
    call.request_id = "intake-pbx-7".to_owned();
    let incident = app.create(call.clone()).await;
    // A retry of the same call links nothing twice.
    let retried = app.create(call).await;
    assert_eq!(retried.id, incident.id);

    let linked = send(&mut gateway, signal("pbx-7", CallSignal::Ended)).await;
    assert_eq!(linked.incident_id, incident.id);
    let timeline = app.timeline(&incident.id).await;
    let received: Vec<&proto::TimelineEvent> = timeline
        .iter()
        .filter(|event| event.kind == "call_received")
        .collect();
    assert_eq!(received.len(), 1, "{timeline:?}");
    let detail = &received[0].detail;
    assert!(
        detail.contains("call pbx-7 on line 112-1 rang at")
            && detail.contains("answered at")
            && detail.contains("at position P3"),
        "{detail}"
    );
}

#[tokio::test]
async fn the_report_counts_calls_abandoned_answered_within_10_and_20_s_and_answer_to_incident() {
    let app = TestApp::spawn().await;
    let since = chrono::Utc::now() - chrono::Duration::minutes(5);
    let mut gateway = gateway(&app).await;
    // Four calls: answered at once, after 15 s, after 30 s, and never.
    for (id, waited_s) in [("fast", 0), ("slow", 15), ("slower", 30), ("gone", 0)] {
        send(&mut gateway, signal(id, CallSignal::Ringing)).await;
        sqlx::query(
            "UPDATE calls SET rang_at = rang_at - make_interval(secs => $2) WHERE call_id = $1",
        )
        .bind(id)
        .bind(f64::from(waited_s))
        .execute(&app.pool)
        .await
        .expect("back-date the ring");
    }
    for id in ["fast", "slow", "slower"] {
        send(&mut gateway, signal(id, CallSignal::Answered)).await;
    }
    send(&mut gateway, signal("gone", CallSignal::Ended)).await;
    // The call answered at once is recorded about 1 s after it was answered.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut call = medical_call(places::BALAI_KOTA);
    call.call_id = "fast".to_owned();
    app.create(call).await;

    let report = app
        .operator
        .clone()
        .incidents
        .get_response_time_report(proto::GetResponseTimeReportRequest {
            since: Some(prost_types::Timestamp {
                seconds: since.timestamp(),
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .expect("report")
        .into_inner();
    assert_eq!((report.calls, report.abandoned_calls), (4, 1));
    assert_eq!(report.answered_within_10s_share, 0.25);
    assert_eq!(report.answered_within_20s_share, 0.5);
    assert_eq!(report.calls_recorded, 1);
    let p50 = report.p50_answer_to_incident_s;
    assert!((1.0..10.0).contains(&p50), "answer → recorded {p50} s");
    assert_eq!(report.p90_answer_to_incident_s, p50, "one call: one figure");
}

#[tokio::test]
async fn a_watch_asked_to_mark_subscribed_says_so_first_and_misses_nothing_after() {
    let app = TestApp::spawn().await;
    let mut stream = app
        .operator
        .clone()
        .incidents
        .watch_incidents(proto::WatchIncidentsRequest {
            mark_subscribed: true,
        })
        .await
        .expect("watch")
        .into_inner();
    let first = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("the marker in time")
        .expect("open")
        .expect("ok");
    assert_eq!(first.kind, "subscribed");
    assert!(first.incident.is_none());
    // Anything made once the marker came is on the stream.
    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    let event = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an event in time")
        .expect("open")
        .expect("ok");
    assert_eq!(event.kind, "incident_created");
    assert_eq!(event.incident.expect("incident").id, incident.id);
}

#[tokio::test]
async fn the_numbers_of_calls_past_the_retention_period_are_blanked_and_the_calls_stay() {
    let app = TestApp::spawn().await;
    let mut gateway = gateway(&app).await;
    for id in ["old", "recent"] {
        send(&mut gateway, signal(id, CallSignal::Ringing)).await;
        send(&mut gateway, signal(id, CallSignal::Ended)).await;
    }
    sqlx::query(
        "UPDATE calls SET rang_at = rang_at - interval '400 days', \
           ended_at = ended_at - interval '400 days' WHERE call_id = 'old'",
    )
    .execute(&app.pool)
    .await
    .expect("age the call");
    let year = Duration::from_secs(365 * 24 * 3600);
    assert_eq!(app.store.redact_old_calls(year).await.expect("redact"), 1);
    assert_eq!(
        app.store.redact_old_calls(year).await.expect("again"),
        0,
        "once"
    );
    let phones: Vec<(String, String)> =
        sqlx::query_as("SELECT call_id, caller_phone FROM calls ORDER BY call_id")
            .fetch_all(&app.pool)
            .await
            .expect("calls");
    assert_eq!(
        phones,
        [
            ("old".to_owned(), String::new()),
            ("recent".to_owned(), "+6281234567890".to_owned())
        ]
    );
}

#[tokio::test]
async fn the_strip_is_a_watch_stream_like_the_others_bounded_per_token_and_ended_by_logout() {
    let app = TestApp::spawn().await;
    app.add_user("sri", Role::Operator, "kopi-tubruk-2026")
        .await;
    let login = app.login("sri", "kopi-tubruk-2026").await.expect("login");
    let mut clients = app.clients_with_token(Some(&login.token));
    let mut streams = Vec::new();
    for _ in 0..16 {
        let stream = clients
            .telephony
            .watch_calls(proto::WatchCallsRequest {})
            .await
            .expect("one of 16 streams")
            .into_inner();
        streams.push(stream);
    }
    let seventeenth = clients
        .telephony
        .watch_calls(proto::WatchCallsRequest {})
        .await;
    assert_eq!(code_of(seventeenth), Code::ResourceExhausted);

    clients
        .auth
        .logout(proto::LogoutRequest {})
        .await
        .expect("logout");
    let ended = tokio::time::timeout(Duration::from_secs(5), streams[0].message())
        .await
        .expect("ended in time")
        .expect_err("ended with a status");
    assert_eq!(ended.code(), Code::Unauthenticated, "{ended:?}");
}
