//! Transparency: the city's monthly figures for anyone, without a token,
//! with nothing in them that points at a caller or a place.

use ngalam112_proto::v1 as proto;
use prost::Message;
use proto::{AssignmentStatus, IncidentCategory, UnitKind};
use tonic::Code;

use crate::helpers::{TestApp, medical_call, places};

#[tokio::test]
async fn anyone_reads_the_months_figures_per_category_and_nothing_personal_leaves() {
    let app = TestApp::spawn().await;
    // Five ambulances each reach a medical call: enough incidents for
    // every figure to be published.
    let mut reached_ids = Vec::new();
    let mut units = Vec::new();
    for index in 0..5 {
        let unit = app
            .register_at(&format!("AMB-{index}"), UnitKind::Ambulance, places::RSSA)
            .await;
        units.push(unit.id.clone());
        let mut crew = app.unit_clients(&unit.id).await.field;
        let mut call = medical_call((-7.96613, 112.61872));
        call.caller_name = "Sri Wahyuningsih".to_owned();
        call.caller_phone = "0812 9988 7766".to_owned();
        call.address = "Jl. Kawi Atas 17".to_owned();
        call.description = "ibu jatuh dari tangga".to_owned();
        let reached = app.create(call).await;
        let offer = reached.assignments[0].id.clone();
        crew.accept_assignment(proto::AcceptAssignmentRequest {
            assignment_id: offer.clone(),
        })
        .await
        .expect("accept");
        for status in [AssignmentStatus::EnRoute, AssignmentStatus::OnScene] {
            crew.update_assignment_status(proto::UpdateAssignmentStatusRequest {
                assignment_id: offer.clone(),
                status: status.into(),
            })
            .await
            .expect("progress");
        }
        reached_ids.push(reached.id);
    }
    let prank = app.create(medical_call(places::BALAI_KOTA)).await;
    app.operator
        .incidents
        .clone()
        .cancel_incident(proto::CancelIncidentRequest {
            id: prank.id.clone(),
            reason: "iseng".to_owned(),
            resolution_code: proto::ResolutionCode::Prank.into(),
        })
        .await
        .expect("cancel");
    let mut fire = medical_call(places::DAMKAR);
    fire.category = IncidentCategory::Fire.into();
    let fire = app.create(fire).await;
    let month = app.incidents_as_if_yesterday().await;

    // No token at all.
    let mut public = app.clients_with_token(None).public;
    let answer = public
        .get_public_stats(proto::GetPublicStatsRequest {
            month: month.clone(),
        })
        .await
        .expect("stats without a token")
        .into_inner();
    assert_eq!(answer.month, month);
    let medical = answer
        .categories
        .iter()
        .find(|row| row.category() == IncidentCategory::Medical)
        .expect("a medical row");
    assert!(!medical.suppressed);
    assert_eq!(medical.incidents, 6);
    assert_eq!(medical.dispatched, 5, "no ambulance was left for the prank");
    assert_eq!(medical.prank, 1);
    assert!(medical.median_call_to_on_scene_s > 0.0);
    assert!(medical.p90_call_to_on_scene_s >= medical.median_call_to_on_scene_s);
    assert_eq!(medical.share_offered_within_60s, 1.0);
    // One fire call: too few to publish anything of it.
    let fire_row = answer
        .categories
        .iter()
        .find(|row| row.category() == IncidentCategory::Fire)
        .expect("a fire row");
    assert!(fire_row.suppressed);
    assert_eq!(
        (
            fire_row.incidents,
            fire_row.dispatched,
            fire_row.prank,
            fire_row.median_call_to_on_scene_s
        ),
        (0, 0, 0, 0.0)
    );
    let reached = &reached_ids[0];
    let unit = &units[0];
    // On the wire: no id, name, number, address, coordinate or free text.
    let bytes = answer.encode_to_vec();
    let mut secrets: Vec<Vec<u8>> = [
        reached.as_str(),
        prank.id.as_str(),
        fire.id.as_str(),
        unit.as_str(),
        "Sri",
        "Wahyuningsih",
        "99887766",
        "6281234567890",
        "Kawi",
        "Tugu",
        "jatuh",
        "pingsan",
        "iseng",
        "AMB-1",
    ]
    .iter()
    .map(|text| text.as_bytes().to_vec())
    .collect();
    for coordinate in [
        -7.96613_f64,
        112.61872,
        places::BALAI_KOTA.0,
        places::RSSA.1,
    ] {
        secrets.push(coordinate.to_le_bytes().to_vec());
        secrets.push(format!("{coordinate}").into_bytes());
    }
    for secret in &secrets {
        assert!(
            !bytes
                .windows(secret.len())
                .any(|window| window == secret.as_slice()),
            "{:?} left in the public answer",
            String::from_utf8_lossy(secret)
        );
    }

    // Another month has nothing yet; a malformed one is refused.
    let empty = public
        .get_public_stats(proto::GetPublicStatsRequest {
            month: "2020-01".to_owned(),
        })
        .await
        .expect("an old month")
        .into_inner();
    assert_eq!(empty.month, "2020-01");
    assert!(empty.categories.is_empty());
    let bad = public
        .get_public_stats(proto::GetPublicStatsRequest {
            month: "2026-13".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().starts_with("month"), "{}", bad.message());
}

#[tokio::test]
async fn a_call_recorded_today_changes_no_published_figure_until_tomorrow() {
    // Figures computed afresh for every call, so that only the rule can
    // keep them still.
    let app = TestApp::spawn_with_server_config(ngalam112::ServerConfig {
        public_figures_fresh_for: std::time::Duration::ZERO,
        ..ngalam112::ServerConfig::default()
    })
    .await;
    for _ in 0..6 {
        app.create(medical_call(places::BALAI_KOTA)).await;
    }
    let month = app.incidents_as_if_yesterday().await;
    let mut public = app.clients_with_token(None).public;
    let ask = |month: &str| proto::GetPublicStatsRequest {
        month: month.to_owned(),
    };
    let before = public.get_public_stats(ask(&month)).await.expect("stats");
    let current_before = public.get_public_stats(ask("")).await.expect("stats");
    // Today: one more call, closed as a prank.
    let today = app.create(medical_call(places::BALAI_KOTA)).await;
    app.operator
        .incidents
        .clone()
        .cancel_incident(proto::CancelIncidentRequest {
            id: today.id.clone(),
            reason: "iseng".to_owned(),
            resolution_code: proto::ResolutionCode::Prank.into(),
        })
        .await
        .expect("cancel");
    let after = public.get_public_stats(ask(&month)).await.expect("stats");
    let current_after = public.get_public_stats(ask("")).await.expect("stats");
    assert_eq!(before.into_inner(), after.into_inner());
    assert_eq!(current_before.into_inner(), current_after.into_inner());
    // Tomorrow (today's call moved back a day, rather than waited for), the
    // call is in: the figures do move, so the checks above could fail.
    sqlx::query(
        "UPDATE incidents SET created_at = created_at - interval '1 day' WHERE id = $1::uuid",
    )
    .bind(&today.id)
    .execute(&app.pool)
    .await
    .expect("backdate today's call");
    let later = public.get_public_stats(ask(&month)).await.expect("stats");
    let medical = |answer: &proto::GetPublicStatsResponse| {
        answer
            .categories
            .iter()
            .find(|row| row.category() == IncidentCategory::Medical)
            .map(|row| (row.incidents, row.prank))
    };
    assert_eq!(medical(later.get_ref()), Some((7, 1)));
}

#[tokio::test]
async fn one_address_gets_ten_answers_a_second_then_resource_exhausted() {
    let app = TestApp::spawn().await;
    let mut public = app.clients_with_token(None).public;
    let mut codes = Vec::new();
    for _ in 0..30 {
        codes.push(
            public
                .get_public_stats(proto::GetPublicStatsRequest::default())
                .await
                .map_or_else(|status| status.code(), |_| Code::Ok),
        );
    }
    let answered = codes.iter().filter(|code| **code == Code::Ok).count();
    assert!(answered >= 10, "at least a second's allowance: {codes:?}");
    assert!(
        codes.contains(&Code::ResourceExhausted),
        "a burst of 30 is limited: {codes:?}"
    );
    assert!(
        codes
            .iter()
            .all(|code| matches!(code, Code::Ok | Code::ResourceExhausted))
    );
    // The allowance comes back.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    public
        .get_public_stats(proto::GetPublicStatsRequest::default())
        .await
        .expect("answered again after a second");
}
