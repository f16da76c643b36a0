//! Reads and intake features of IncidentService.

use ngalam112_proto::v1 as proto;
use proto::{IncidentStatus, UnitKind};

use crate::helpers::{TestApp, medical_call, places};

#[tokio::test]
async fn list_incidents_pages_newest_first_and_filters_by_status() {
    let app = TestApp::spawn().await;
    let mut created = Vec::new();
    for _ in 0..7 {
        created.push(app.create(medical_call(places::BALAI_KOTA)).await.id);
    }
    let mut incidents = app.operator.incidents.clone();
    incidents
        .cancel_incident(proto::CancelIncidentRequest {
            id: created[0].clone(),
            reason: "test".to_owned(),
            ..Default::default()
        })
        .await
        .expect("cancel");

    let mut seen = Vec::new();
    let mut page_token = String::new();
    let mut pages = 0;
    loop {
        let page = incidents
            .list_incidents(proto::ListIncidentsRequest {
                statuses: vec![],
                page_size: 3,
                page_token,
            })
            .await
            .expect("list")
            .into_inner();
        pages += 1;
        assert!(page.incidents.len() <= 3);
        seen.extend(page.incidents.into_iter().map(|incident| incident.id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(pages, 3);
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);

    let pending = incidents
        .list_incidents(proto::ListIncidentsRequest {
            statuses: vec![IncidentStatus::Pending.into()],
            ..Default::default()
        })
        .await
        .expect("list pending")
        .into_inner()
        .incidents;
    assert_eq!(pending.len(), 6, "no units: all but the cancelled one wait");
    assert!(
        pending
            .iter()
            .all(|incident| incident.status() == IncidentStatus::Pending)
    );
}

#[tokio::test]
async fn the_timeline_is_ordered_and_names_who_made_each_change() {
    let app = TestApp::spawn().await;
    app.register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    let events = app
        .operator
        .incidents
        .clone()
        .get_incident_timeline(proto::GetIncidentTimelineRequest {
            id: incident.id.clone(),
        })
        .await
        .expect("timeline")
        .into_inner()
        .events;
    let kinds: Vec<&str> = events.iter().map(|event| event.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec!["incident_created", "assignment_offered", "status_changed"]
    );
    assert!(
        events[0].actor.starts_with("operator:"),
        "{}",
        events[0].actor
    );
    assert!(events[1].detail.contains("AMB-1"));
    assert_eq!(events[1].assignment_id, incident.assignments[0].id);
    let times: Vec<_> = events
        .iter()
        .map(|e| e.at.map(|t| (t.seconds, t.nanos)))
        .collect();
    assert!(times.windows(2).all(|pair| pair[0] <= pair[1]));

    // Append-only: PostgreSQL refuses to rewrite history.
    let rewrite = sqlx::query("UPDATE timeline_events SET detail = 'edited'")
        .execute(&app.pool)
        .await;
    assert!(rewrite.is_err());
    let erase = sqlx::query("DELETE FROM timeline_events")
        .execute(&app.pool)
        .await;
    assert!(erase.is_err());
}

#[tokio::test]
async fn a_retried_request_id_returns_the_same_incident_and_dispatches_nothing_twice() {
    let app = TestApp::spawn().await;
    app.register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    app.register_at("AMB-2", UnitKind::Ambulance, places::UNISMA)
        .await;
    let mut call = medical_call(places::BALAI_KOTA);
    call.request_id = "ct-07:2026-11-27T10:00:00:0001".to_owned();
    let (first, second) = tokio::join!(app.create(call.clone()), app.create(call.clone()));
    let third = app.create(call).await;
    assert_eq!(first.id, second.id);
    assert_eq!(first.id, third.id);
    assert_eq!(app.count("incidents").await, 1);
    assert_eq!(app.count("assignments").await, 1);
}

#[tokio::test]
async fn another_caller_joins_the_active_incident_without_dispatching_again() {
    let app = TestApp::spawn().await;
    app.register_at("AMB-1", UnitKind::Ambulance, places::RSSA)
        .await;
    app.register_at("AMB-2", UnitKind::Ambulance, places::UNISMA)
        .await;
    let original = app.create(medical_call(places::BALAI_KOTA)).await;
    let mut second_caller = medical_call(places::BALAI_KOTA);
    second_caller.caller_name = "Pak Budi".to_owned();
    second_caller.duplicate_of = original.id.clone();
    let joined = app.create(second_caller).await;
    assert_eq!(joined.id, original.id);
    assert_eq!(joined.caller_count, 2);
    assert_eq!(joined.assignments.len(), 1);
    assert_eq!(app.count("incidents").await, 1);
    let kinds = app.timeline_kinds(&original.id).await;
    assert!(kinds.contains(&"caller_added".to_owned()));
}

#[tokio::test]
async fn nearby_active_incidents_are_found_nearest_first() {
    let app = TestApp::spawn().await;
    let near = app.create(medical_call((-7.9772, 112.6342))).await; // ~30 m
    let further = app.create(medical_call((-7.9790, 112.6340))).await; // ~220 m
    app.create(medical_call(places::UNISMA)).await; // ~5 km
    let mut fire = medical_call((-7.9771, 112.6341));
    fire.category = proto::IncidentCategory::Fire.into();
    let fire = app.create(fire).await;
    let mut incidents = app.operator.incidents.clone();
    incidents
        .cancel_incident(proto::CancelIncidentRequest {
            id: fire.id.clone(),
            reason: String::new(),
            ..Default::default()
        })
        .await
        .expect("cancel");

    let found = incidents
        .find_nearby_incidents(proto::FindNearbyIncidentsRequest {
            location: Some(proto::GeoPoint {
                lat: places::BALAI_KOTA.0,
                lon: places::BALAI_KOTA.1,
            }),
            radius_m: 300.0,
            category: proto::IncidentCategory::Medical.into(),
        })
        .await
        .expect("nearby")
        .into_inner()
        .incidents;
    let ids: Vec<_> = found.iter().map(|incident| incident.id.clone()).collect();
    assert_eq!(ids, vec![near.id, further.id]);
}
