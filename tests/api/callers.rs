//! Callers: withheld numbers, resolution codes, history, flags, and the
//! report that leaves pranks and duplicates out.

use ngalam112_proto::v1 as proto;
use proto::{ResolutionCode, UnitKind};
use tonic::Code;

use crate::helpers::{TestApp, code_of, medical_call, places};

const HOAXER: &str = "0813 3333 4444";

fn call_from(phone: &str, at: (f64, f64)) -> proto::CreateIncidentRequest {
    let mut call = medical_call(at);
    call.caller_phone = phone.to_owned();
    call
}

async fn resolve(app: &TestApp, id: &str, code: ResolutionCode) -> proto::Incident {
    app.operator
        .incidents
        .clone()
        .resolve_incident(proto::ResolveIncidentRequest {
            id: id.to_owned(),
            resolution: "ditutup".to_owned(),
            resolution_code: code.into(),
        })
        .await
        .expect("resolve")
        .into_inner()
}

async fn history(app: &TestApp, phone: &str) -> proto::GetCallerHistoryResponse {
    app.operator
        .callers
        .clone()
        .get_caller_history(proto::GetCallerHistoryRequest {
            caller_phone: phone.to_owned(),
            days: 0,
        })
        .await
        .expect("history")
        .into_inner()
}

#[tokio::test]
async fn a_call_has_a_number_or_says_the_network_withheld_it() {
    let app = TestApp::spawn().await;
    let mut operator = app.operator.incidents.clone();

    let mut blank = medical_call(places::BALAI_KOTA);
    blank.caller_phone = String::new();
    let status = operator.create_incident(blank.clone()).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("caller_phone"),
        "{}",
        status.message()
    );

    let mut both = medical_call(places::BALAI_KOTA);
    both.caller_id_withheld = true;
    let status = operator.create_incident(both).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("caller_phone"));
    assert_eq!(app.count("incidents").await, 0, "refusals store nothing");

    blank.caller_id_withheld = true;
    let incident = operator
        .create_incident(blank)
        .await
        .expect("withheld")
        .into_inner();
    assert!(incident.caller_id_withheld);
    assert_eq!(incident.caller_phone, "");
    assert!(!incident.caller_flagged);
}

#[tokio::test]
async fn closings_keep_their_code_and_unspecified_means_other() {
    let app = TestApp::spawn().await;
    let first = app.create(medical_call(places::BALAI_KOTA)).await;
    assert_eq!(first.resolution_code(), ResolutionCode::Unspecified, "open");
    let resolved = resolve(&app, &first.id, ResolutionCode::Transported).await;
    assert_eq!(resolved.resolution_code(), ResolutionCode::Transported);

    let second = app.create(medical_call(places::UNISMA)).await;
    let cancelled = app
        .operator
        .incidents
        .clone()
        .cancel_incident(proto::CancelIncidentRequest {
            id: second.id.clone(),
            reason: "salah sambung".to_owned(),
            ..Default::default()
        })
        .await
        .expect("cancel")
        .into_inner();
    assert_eq!(cancelled.resolution_code(), ResolutionCode::Other);
    let timeline = app.timeline(&second.id).await;
    let last = timeline.last().expect("events");
    assert_eq!(
        (last.kind.as_str(), last.detail.as_str()),
        ("incident_cancelled", "other: salah sambung")
    );

    let third = app.create(medical_call(places::RSSA)).await;
    let status = app
        .operator
        .incidents
        .clone()
        .resolve_incident(proto::ResolveIncidentRequest {
            id: third.id,
            resolution_code: 99,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("resolution_code"));
}

#[tokio::test]
async fn three_prank_closings_flag_the_number_and_its_next_call_is_dispatched_like_anyone_elses() {
    let app = TestApp::spawn().await;
    let nearest = app
        .register_at("AMB-RSSA-1", UnitKind::Ambulance, places::RSSA)
        .await;
    app.register_at("AMB-UNISMA-1", UnitKind::Ambulance, places::UNISMA)
        .await;

    for round in 0..3 {
        let prank = app.create(call_from(HOAXER, places::BALAI_KOTA)).await;
        assert!(!prank.caller_flagged, "not flagged before the third prank");
        resolve(&app, &prank.id, ResolutionCode::Prank).await;
        let history = history(&app, HOAXER).await;
        assert_eq!(history.flagged, round == 2, "after prank {}", round + 1);
    }
    let history = history(&app, "+62 813-3333-4444").await;
    assert_eq!(history.caller_phone, "+6281333334444");
    assert_eq!((history.incident_count, history.prank_count), (3, 3));
    assert!(history.flag_automatic);
    assert!(
        history.flag_reason.contains("prank"),
        "{}",
        history.flag_reason
    );
    assert_eq!(history.recent.len(), 3);
    assert!(
        history
            .recent
            .iter()
            .all(|i| i.resolution_code() == ResolutionCode::Prank),
        "newest first, with their codes"
    );
    let flagged = app
        .operator
        .callers
        .clone()
        .list_flagged_callers(proto::ListFlaggedCallersRequest {})
        .await
        .expect("list")
        .into_inner()
        .callers;
    assert_eq!(flagged.len(), 1);
    assert!(flagged[0].automatic && flagged[0].flagged_by == "system");

    // The hoaxer's next call is a real emergency: it is offered at once to
    // the nearest ambulance, exactly as an unflagged caller's call is.
    let real = app.create(call_from(HOAXER, places::BALAI_KOTA)).await;
    assert!(real.caller_flagged);
    assert_eq!(real.status(), proto::IncidentStatus::Dispatched);
    assert_eq!(real.assignments.len(), 1);
    assert_eq!(real.assignments[0].unit_id, nearest.id);
    resolve(&app, &real.id, ResolutionCode::Handled).await;
    let someone = app
        .create(call_from("0812 1111 2222", places::BALAI_KOTA))
        .await;
    assert!(!someone.caller_flagged);
    assert_eq!(someone.status(), real.status());
    assert_eq!(someone.assignments[0].unit_id, real.assignments[0].unit_id);
    assert_eq!(
        someone.assignments[0].distance_m,
        real.assignments[0].distance_m
    );
}

#[tokio::test]
async fn operators_flag_numbers_and_only_admins_unflag_them() {
    let app = TestApp::spawn().await;
    let mut operator = app.operator.callers.clone();
    let flag = |reason: &str| proto::FlagCallerRequest {
        caller_phone: "0812 5555 6666".to_owned(),
        reason: reason.to_owned(),
    };
    let status = operator.flag_caller(flag("  ")).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("reason"));
    assert_eq!(app.count("flagged_callers").await, 0);

    operator
        .flag_caller(flag("mengancam petugas"))
        .await
        .expect("flag");
    operator
        .flag_caller(flag("again"))
        .await
        .expect("idempotent");
    let history = history(&app, "+6281255556666").await;
    assert!(history.flagged && !history.flag_automatic);
    assert_eq!(
        history.flag_reason, "mengancam petugas",
        "the first flag stays"
    );
    assert!(history.flagged_by.starts_with("operator:"));

    let unflag = proto::UnflagCallerRequest {
        caller_phone: "0812 5555 6666".to_owned(),
    };
    assert_eq!(
        code_of(operator.unflag_caller(unflag.clone()).await),
        Code::PermissionDenied
    );
    app.admin
        .callers
        .clone()
        .unflag_caller(unflag)
        .await
        .expect("unflag");
    assert!(!history_of_flag(&app).await);

    let status = operator
        .get_caller_history(proto::GetCallerHistoryRequest {
            caller_phone: "0812 5555 6666".to_owned(),
            days: 366,
        })
        .await
        .unwrap_err();
    assert!(status.message().starts_with("days"));
    assert_eq!(
        code_of(
            operator
                .get_caller_history(proto::GetCallerHistoryRequest::default())
                .await
        ),
        Code::InvalidArgument
    );
}

async fn history_of_flag(app: &TestApp) -> bool {
    history(app, "0812 5555 6666").await.flagged
}

#[tokio::test]
async fn the_response_time_report_leaves_out_pranks_and_duplicates() {
    let app = TestApp::spawn().await;
    app.register_at("AMB-RSSA-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let real = app.create(medical_call(places::BALAI_KOTA)).await;
    let prank = app.create(call_from(HOAXER, places::UNISMA)).await;
    let duplicate = app.create(medical_call(places::RSSA)).await;
    resolve(&app, &real.id, ResolutionCode::Transported).await;
    resolve(&app, &prank.id, ResolutionCode::Prank).await;
    resolve(&app, &duplicate.id, ResolutionCode::Duplicate).await;

    let report = app
        .operator
        .incidents
        .clone()
        .get_response_time_report(proto::GetResponseTimeReportRequest {
            since: Some(prost_types::Timestamp {
                seconds: chrono::Utc::now().timestamp() - 3600,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .expect("report")
        .into_inner();
    let total = report.rows.last().expect("totals row");
    assert_eq!(total.category, 0);
    assert_eq!(total.incidents, 1, "only the real call counts");
    assert_eq!((report.prank_incidents, report.duplicate_incidents), (1, 1));
}
