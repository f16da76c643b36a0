//! Partner agencies: a call handed to PLN or PDAM, the agency's liaison
//! answering it, and nothing personal about the caller reaching them.

use ngalam112_core::AgencyId;
use ngalam112_proto::v1 as proto;
use ngalam112_store::Role;
use prost::Message;
use proto::ReferralStatus;
use tonic::Code;

use crate::helpers::{Clients, TestApp, medical_call, places};

async fn liaison(app: &TestApp, agency: &str) -> Clients {
    let id = AgencyId::from_uuid(agency.parse().expect("agency id"));
    let token = app.token(Role::Agency(id)).await.expect("agency token");
    app.clients_with_token(Some(&token))
}

/// PLN, registered by the admin.
async fn register_pln(app: &TestApp) -> proto::Agency {
    app.admin
        .agencies
        .clone()
        .register_agency(proto::RegisterAgencyRequest {
            name: "PLN UP3 Malang".to_owned(),
            short_name: "PLN".to_owned(),
            contact: "123".to_owned(),
        })
        .await
        .expect("register")
        .into_inner()
}

fn update(id: &str, status: ReferralStatus, answer: &str) -> proto::UpdateReferralRequest {
    proto::UpdateReferralRequest {
        referral_id: id.to_owned(),
        status: status.into(),
        answer: answer.to_owned(),
    }
}

#[tokio::test]
async fn a_referral_reaches_only_its_agency_without_the_callers_data_and_moves_forward_only() {
    let app = TestApp::spawn().await;
    let mut admin = app.admin.agencies.clone();
    let register = |name: &str, short: &str| {
        let mut admin = admin.clone();
        let request = proto::RegisterAgencyRequest {
            name: name.to_owned(),
            short_name: short.to_owned(),
            contact: "123".to_owned(),
        };
        async move {
            admin
                .register_agency(request)
                .await
                .expect("register")
                .into_inner()
        }
    };
    let pln = register("PLN UP3 Malang", "PLN").await;
    let pdam = register("Perumda Tugu Tirta", "PDAM").await;
    let taken = admin
        .register_agency(proto::RegisterAgencyRequest {
            name: "another".to_owned(),
            short_name: "PLN".to_owned(),
            contact: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists);

    let mut call = medical_call(places::BALAI_KOTA);
    call.caller_name = "Sri Wahyuningsih".to_owned();
    call.caller_phone = "0812 9988 7766".to_owned();
    call.category = proto::IncidentCategory::Other.into();
    call.required_kinds = vec![proto::UnitKind::Police.into()];
    call.address = "Jl. Semeru 12".to_owned();
    call.description = "kabel listrik putus melintang jalan".to_owned();
    let incident = app.create(call).await;
    let mut board = app
        .operator
        .incidents
        .clone()
        .watch_incidents(proto::WatchIncidentsRequest::default())
        .await
        .expect("watch")
        .into_inner();
    let mut incidents = app.operator.incidents.clone();
    let referral = incidents
        .refer_incident(proto::ReferIncidentRequest {
            incident_id: incident.id.clone(),
            agency_id: pln.id.clone(),
            note: "tolong segera".to_owned(),
        })
        .await
        .expect("refer")
        .into_inner();
    assert_eq!(referral.status(), ReferralStatus::Sent);
    assert_eq!(referral.agency_short_name, "PLN");
    assert!(referral.acknowledged_at.is_none());
    let pushed = board.message().await.expect("event").expect("open");
    assert_eq!(pushed.kind, "referral_sent", "every board hears of it");

    // PLN's liaison sees it, with what it needs and nothing personal.
    let mut pln_desk = liaison(&app, &pln.id).await.agencies;
    let listed = pln_desk
        .list_referrals(proto::ListReferralsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.referrals.len(), 1);
    let seen = &listed.referrals[0];
    assert_eq!(seen.address, "Jl. Semeru 12");
    assert_eq!(seen.description, "kabel listrik putus melintang jalan");
    assert!(seen.location.is_some());
    let bytes = listed.encode_to_vec();
    for secret in ["Sri", "Wahyuningsih", "99887766", "812"] {
        assert!(
            !bytes
                .windows(secret.len())
                .any(|window| window == secret.as_bytes()),
            "{secret} reached the agency"
        );
    }
    // PDAM sees none of PLN's, and may not answer them.
    let mut pdam_desk = liaison(&app, &pdam.id).await.agencies;
    let theirs = pdam_desk
        .list_referrals(proto::ListReferralsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(theirs.referrals.is_empty());
    let refused = pdam_desk
        .update_referral(update(&referral.id, ReferralStatus::Acknowledged, ""))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    // An agency may not read incidents.
    let no = liaison(&app, &pln.id)
        .await
        .incidents
        .get_incident(proto::GetIncidentRequest {
            id: incident.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(no.code(), Code::PermissionDenied);

    // Forward only.
    let acknowledged = pln_desk
        .update_referral(update(
            &referral.id,
            ReferralStatus::Acknowledged,
            "tim meluncur",
        ))
        .await
        .expect("ack")
        .into_inner();
    assert!(acknowledged.acknowledged_at.is_some());
    let backwards = pln_desk
        .update_referral(update(&referral.id, ReferralStatus::Sent, ""))
        .await
        .unwrap_err();
    assert_eq!(
        backwards.code(),
        Code::InvalidArgument,
        "SENT is not an answer"
    );
    pln_desk
        .update_referral(update(&referral.id, ReferralStatus::Accepted, ""))
        .await
        .expect("accept");
    let done = pln_desk
        .update_referral(update(
            &referral.id,
            ReferralStatus::Done,
            "kabel sudah diamankan",
        ))
        .await
        .expect("done")
        .into_inner();
    assert_eq!(done.answer, "kabel sudah diamankan");
    let again = pln_desk
        .update_referral(update(&referral.id, ReferralStatus::Rejected, ""))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);

    // The operator sees the answers on the incident and its timeline.
    let shown = app.incident(&incident.id).await;
    assert_eq!(shown.referrals.len(), 1);
    assert_eq!(shown.referrals[0].status(), ReferralStatus::Done);
    let kinds = app.timeline_kinds(&incident.id).await;
    for kind in [
        "referral_sent",
        "referral_acknowledged",
        "referral_accepted",
        "referral_done",
    ] {
        assert!(kinds.contains(&kind.to_owned()), "{kind} in {kinds:?}");
    }
    let actors: Vec<String> = app
        .timeline(&incident.id)
        .await
        .into_iter()
        .filter(|event| event.kind == "referral_done")
        .map(|event| event.actor)
        .collect();
    assert!(actors[0].starts_with("agency:"), "{actors:?}");

    // The standard's report counts it and how fast PLN answered.
    let report = app
        .operator
        .incidents
        .clone()
        .get_response_time_report(proto::GetResponseTimeReportRequest {
            since: Some(prost_types::Timestamp {
                seconds: chrono::Utc::now().timestamp() - 3600,
                nanos: 0,
            }),
            until: Some(prost_types::Timestamp {
                seconds: chrono::Utc::now().timestamp() + 60,
                nanos: 0,
            }),
            target_seconds: 0.0,
        })
        .await
        .expect("report")
        .into_inner();
    assert_eq!(report.referrals, 1);
    assert_eq!(report.referrals_acknowledged_within_target, 1);
    assert_eq!(report.referrals_unanswered, 0);
    assert!(report.p90_referral_to_acknowledge_s.is_finite());
    assert!(report.p90_referral_to_acknowledge_s < report.target_seconds);
}

#[tokio::test]
async fn referrals_of_closed_or_unknown_things_are_refused() {
    let app = TestApp::spawn().await;
    let pln = register_pln(&app).await;
    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    let mut incidents = app.operator.incidents.clone();
    let unknown_agency = incidents
        .refer_incident(proto::ReferIncidentRequest {
            incident_id: incident.id.clone(),
            agency_id: uuid::Uuid::new_v4().to_string(),
            note: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown_agency.code(), Code::NotFound);
    let bad = incidents
        .refer_incident(proto::ReferIncidentRequest {
            incident_id: incident.id.clone(),
            agency_id: "PLN".to_owned(),
            note: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().starts_with("agency_id"));
    incidents
        .cancel_incident(proto::CancelIncidentRequest {
            id: incident.id.clone(),
            reason: String::new(),
            resolution_code: proto::ResolutionCode::FalseAlarm.into(),
        })
        .await
        .expect("cancel");
    let closed = incidents
        .refer_incident(proto::ReferIncidentRequest {
            incident_id: incident.id.clone(),
            agency_id: pln.id.clone(),
            note: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(closed.code(), Code::FailedPrecondition);
    assert_eq!(app.count("referrals").await, 0, "nothing stored");
}

/// 112's part ends before the agency's (PLN repairs the line after the
/// ambulance has left): the agency's answer is still accepted and put on
/// the closed incident's timeline; nothing of 112's response changes.
#[tokio::test]
async fn an_agency_answers_a_referral_after_the_incident_closed() {
    let app = TestApp::spawn().await;
    let pln = register_pln(&app).await;
    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    let mut incidents = app.operator.incidents.clone();
    let referral = incidents
        .refer_incident(proto::ReferIncidentRequest {
            incident_id: incident.id.clone(),
            agency_id: pln.id.clone(),
            note: "kabel putus".to_owned(),
        })
        .await
        .expect("refer")
        .into_inner();
    incidents
        .resolve_incident(proto::ResolveIncidentRequest {
            id: incident.id.clone(),
            resolution: "pasien dibawa ke RSSA".to_owned(),
            resolution_code: proto::ResolutionCode::Handled.into(),
        })
        .await
        .expect("resolve");

    let mut liaison = liaison(&app, &pln.id).await.agencies;
    let answered = liaison
        .update_referral(update(&referral.id, ReferralStatus::Done, "kabel diganti"))
        .await
        .expect("the agency's answer after the close")
        .into_inner();
    assert_eq!(answered.status(), ReferralStatus::Done);
    let closed = app.incident(&incident.id).await;
    assert_eq!(closed.status(), proto::IncidentStatus::Resolved);
    let kinds = app.timeline_kinds(&incident.id).await;
    assert_eq!(
        kinds
            .iter()
            .rev()
            .take(2)
            .map(String::as_str)
            .collect::<Vec<_>>(),
        vec!["referral_done", "incident_resolved"],
        "{kinds:?}"
    );
}
