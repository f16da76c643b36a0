//! Answers never in doubt: a proxy between the server and PostgreSQL cuts
//! the connection while a call's transaction commits, for a call served at
//! once (a unit is free) and for one that waits (no unit free). The answer
//! must say what happened: OK for a call that was stored; a call found not
//! stored is written again (UNAVAILABLE only if that keeps failing); and a
//! retry with the same request id never stores a call twice.

use ngalam112_proto::v1 as proto;

use crate::helpers::{TestApp, medical_call, places, proxy::Cut};

fn call(request_id: &str) -> proto::CreateIncidentRequest {
    let mut call = medical_call(places::BALAI_KOTA);
    call.request_id = request_id.to_owned();
    call
}

async fn incidents_with_request(app: &TestApp, request_id: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM intake_requests WHERE request_id = $1")
        .bind(request_id)
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

async fn offers_to(app: &TestApp, unit_id: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM assignments WHERE unit_id = $1::uuid")
        .bind(unit_id)
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn a_group_commit_whose_answer_is_lost_is_answered_ok_and_the_retry_sends_no_second_crew() {
    let direct = TestApp::spawn().await;
    let (app, proxy) = direct.another_server_behind_proxy().await;
    let near = app
        .register("AMB-NEAR", proto::UnitKind::Ambulance, -7.9775, 112.6340)
        .await;
    let next = app
        .register("AMB-NEXT", proto::UnitKind::Ambulance, -7.9800, 112.6340)
        .await;

    proxy.arm(Cut::AfterCommit);
    let first = app
        .operator
        .incidents
        .clone()
        .create_incident(call("console-7f3a"))
        .await;
    assert_eq!(proxy.cuts(), 1, "the commit was cut");
    let incident = first.expect("stored, so answered OK").into_inner();
    assert_eq!(incident.assignments.len(), 1);
    assert_eq!(incident.assignments[0].unit_id, near.id);

    // The operator's client retries with the same request id anyway.
    let again = app.create(call("console-7f3a")).await;
    assert_eq!(again.id, incident.id);
    assert_eq!(direct.count("incidents").await, 1);
    assert_eq!(incidents_with_request(&direct, "console-7f3a").await, 1);
    assert_eq!(offers_to(&direct, &near.id).await, 1);
    assert_eq!(offers_to(&direct, &next.id).await, 0, "no second crew");
}

#[tokio::test]
async fn a_group_commit_cut_before_it_reached_the_database_is_written_again_once() {
    let direct = TestApp::spawn().await;
    let (app, proxy) = direct.another_server_behind_proxy().await;
    let near = app
        .register("AMB-NEAR", proto::UnitKind::Ambulance, -7.9775, 112.6340)
        .await;

    proxy.arm(Cut::BeforeCommit);
    let incident = app
        .operator
        .incidents
        .clone()
        .create_incident(call("console-8b21"))
        .await
        .expect("found not stored, so written again")
        .into_inner();
    assert_eq!(proxy.cuts(), 1, "the commit was cut");
    assert_eq!(incident.assignments[0].unit_id, near.id);
    assert_eq!(direct.count("incidents").await, 1);
    assert_eq!(offers_to(&direct, &near.id).await, 1);
}

#[tokio::test]
async fn a_waiting_call_whose_commit_answer_is_lost_is_answered_ok_and_stored_once() {
    let direct = TestApp::spawn().await;
    let (app, proxy) = direct.another_server_behind_proxy().await;

    // No ambulance at all: the call takes the single path and waits.
    proxy.arm(Cut::AfterCommit);
    let incident = app
        .operator
        .incidents
        .clone()
        .create_incident(call("console-91c0"))
        .await
        .expect("stored, so answered OK")
        .into_inner();
    assert_eq!(proxy.cuts(), 1, "the commit was cut");
    assert_eq!(incident.status(), proto::IncidentStatus::Pending);
    let again = app.create(call("console-91c0")).await;
    assert_eq!(again.id, incident.id);
    assert_eq!(direct.count("incidents").await, 1);
}

#[tokio::test]
async fn a_waiting_call_cut_before_its_commit_is_found_not_stored_and_stored_once() {
    let direct = TestApp::spawn().await;
    let (app, proxy) = direct.another_server_behind_proxy().await;

    // No ambulance at all: the call is stored waiting.
    proxy.arm(Cut::BeforeCommit);
    let incident = app
        .operator
        .incidents
        .clone()
        .create_incident(call("console-a400"))
        .await
        .expect("found not stored, so written again and answered OK")
        .into_inner();
    assert_eq!(proxy.cuts(), 1, "the commit was cut");
    assert_eq!(incident.status(), proto::IncidentStatus::Pending);
    assert_eq!(direct.count("incidents").await, 1);
    assert_eq!(incidents_with_request(&direct, "console-a400").await, 1);
    assert_eq!(app.create(call("console-a400")).await.id, incident.id);
    assert_eq!(direct.count("incidents").await, 1);
}

#[tokio::test]
async fn a_call_the_database_never_takes_is_answered_unavailable_and_was_not_stored() {
    let direct = TestApp::spawn().await;
    let (app, proxy) = direct.another_server_behind_proxy().await;

    // Every one of the server's tries is cut before its commit.
    proxy.arm_times(Cut::BeforeCommit, 3);
    let status = app
        .operator
        .incidents
        .clone()
        .create_incident(call("console-b7d2"))
        .await
        .expect_err("not stored, so not OK");
    assert_eq!(proxy.cuts(), 3, "three tries, each cut");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("not stored"),
        "{}",
        status.message()
    );
    assert_eq!(
        direct.count("incidents").await,
        0,
        "UNAVAILABLE means not stored"
    );
    let retried = app.create(call("console-b7d2")).await;
    assert_eq!(app.create(call("console-b7d2")).await.id, retried.id);
    assert_eq!(direct.count("incidents").await, 1);
}

#[tokio::test]
async fn a_call_without_a_request_id_gets_one_from_the_server() {
    let app = TestApp::spawn().await;
    let mut without = medical_call(places::BALAI_KOTA);
    without.request_id = String::new();
    let incident = app.create(without).await;
    let stored: String =
        sqlx::query_scalar("SELECT request_id FROM intake_requests WHERE incident_id = $1::uuid")
            .bind(&incident.id)
            .fetch_one(&app.pool)
            .await
            .expect("every call has a request id");
    assert!(stored.starts_with("server-"), "{stored}");
}
