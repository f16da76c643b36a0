//! Many call-takers at once, fewer units than calls: rule 3 holds and no
//! incident is lost.

use ngalam112_proto::v1 as proto;
use proto::{IncidentStatus, UnitKind};

use crate::helpers::{TestApp, medical_call, places};

#[tokio::test]
async fn two_calls_racing_for_the_last_ambulance_get_one_offer_and_one_pending() {
    let app = TestApp::spawn().await;
    app.register_at("AMB-LAST", UnitKind::Ambulance, places::RSSA)
        .await;
    let (a, b) = tokio::join!(
        app.create(medical_call(places::BALAI_KOTA)),
        app.create(medical_call(places::UNISMA)),
    );
    let mut statuses = vec![a.status(), b.status()];
    statuses.sort();
    assert_eq!(
        statuses,
        vec![IncidentStatus::Pending, IncidentStatus::Dispatched]
    );
    assert_eq!(a.assignments.len() + b.assignments.len(), 1);
}

#[tokio::test]
async fn sixty_concurrent_calls_at_ten_units_never_double_book_a_unit_or_lose_a_call() {
    let app = TestApp::spawn().await;
    for index in 0..10 {
        let kind = if index % 2 == 0 {
            UnitKind::Ambulance
        } else {
            UnitKind::Police
        };
        let lat = -7.95 - 0.005 * f64::from(index);
        app.register(
            &format!("UNIT-{index:02}"),
            kind,
            lat,
            112.62 + 0.003 * f64::from(index),
        )
        .await;
    }

    let calls = (0..60).map(|index| {
        let app = &app;
        async move {
            let mut call = medical_call((
                -7.93 - 0.002 * f64::from(index),
                112.60 + 0.001 * f64::from(index),
            ));
            call.category = if index % 3 == 0 {
                proto::IncidentCategory::TrafficAccident.into()
            } else {
                proto::IncidentCategory::Medical.into()
            };
            app.operator.incidents.clone().create_incident(call).await
        }
    });
    let results = futures_util::future::join_all(calls).await;
    let created: Vec<proto::Incident> = results
        .into_iter()
        .map(|result| result.expect("every call is accepted").into_inner())
        .collect();
    assert_eq!(created.len(), 60);

    // Checked in SQL, as an auditor would.
    let double_booked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT unit_id FROM assignments \
         WHERE status IN ('offered','accepted','en_route','on_scene') \
         GROUP BY unit_id HAVING count(*) > 1) AS doubles",
    )
    .fetch_one(&app.pool)
    .await
    .expect("query");
    assert_eq!(double_booked, 0, "no unit holds two open assignments");

    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM incidents")
        .fetch_one(&app.pool)
        .await
        .expect("query");
    assert_eq!(stored, 60, "every call is stored");

    // Every incident is either offered a unit for each required kind
    // (DISPATCHED) or PENDING for exactly the kinds it lacks.
    let inconsistent: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM incidents i WHERE NOT ( \
           (i.status = 'dispatched' AND cardinality(i.pending_kinds) = 0 AND NOT EXISTS ( \
              SELECT 1 FROM unnest(i.required_kinds) k WHERE NOT EXISTS ( \
                SELECT 1 FROM assignments a WHERE a.incident_id = i.id AND a.unit_kind = k \
                  AND a.status = 'offered'))) \
           OR (i.status = 'pending' AND cardinality(i.pending_kinds) > 0 AND NOT EXISTS ( \
              SELECT 1 FROM unnest(i.pending_kinds) k WHERE EXISTS ( \
                SELECT 1 FROM assignments a WHERE a.incident_id = i.id AND a.unit_kind = k))))",
    )
    .fetch_one(&app.pool)
    .await
    .expect("query");
    assert_eq!(inconsistent, 0, "every incident is offered or pending");

    let offers: i64 =
        sqlx::query_scalar("SELECT count(*) FROM assignments WHERE status = 'offered'")
            .fetch_one(&app.pool)
            .await
            .expect("query");
    assert_eq!(offers, 10, "every unit got exactly one offer");
    let assigned_units: i64 =
        sqlx::query_scalar("SELECT count(*) FROM units WHERE status = 'assigned' AND current_assignment_id IS NOT NULL")
            .fetch_one(&app.pool)
            .await
            .expect("query");
    assert_eq!(assigned_units, 10);
}
