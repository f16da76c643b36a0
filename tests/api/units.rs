//! UnitService reads.

use ngalam112_proto::v1 as proto;
use proto::{UnitKind, UnitStatus};

use crate::helpers::{TestApp, medical_call, places};

#[tokio::test]
async fn units_are_listed_by_call_sign_and_filtered_by_status_and_kind() {
    let app = TestApp::spawn().await;
    app.register_at("POL-KOTA-1", UnitKind::Police, places::POLRESTA)
        .await;
    app.register_at("AMB-RSSA-2", UnitKind::Ambulance, places::RSSA)
        .await;
    app.register_at("AMB-RSSA-1", UnitKind::Ambulance, places::RSSA)
        .await;
    app.create(medical_call(places::BALAI_KOTA)).await;

    let mut units = app.operator.units.clone();
    let all = units
        .list_units(proto::ListUnitsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .units;
    let call_signs: Vec<_> = all.iter().map(|u| u.call_sign.as_str()).collect();
    assert_eq!(call_signs, vec!["AMB-RSSA-1", "AMB-RSSA-2", "POL-KOTA-1"]);

    let available_ambulances = units
        .list_units(proto::ListUnitsRequest {
            statuses: vec![UnitStatus::Available.into()],
            kinds: vec![UnitKind::Ambulance.into()],
        })
        .await
        .expect("list")
        .into_inner()
        .units;
    assert_eq!(available_ambulances.len(), 1);
    assert_eq!(available_ambulances[0].kind(), UnitKind::Ambulance);
    assert_eq!(available_ambulances[0].status(), UnitStatus::Available);
}

#[tokio::test]
async fn a_registered_unit_is_available_at_once_with_its_details() {
    let app = TestApp::spawn().await;
    let unit = app
        .register("SAR-BPBD-1", UnitKind::Rescue, -8.0200, 112.6500)
        .await;
    assert_eq!(unit.status(), UnitStatus::Available);
    assert!(unit.current_assignment_id.is_empty());
    let fetched = app.unit(&unit.id).await;
    assert_eq!(fetched.call_sign, "SAR-BPBD-1");
    assert_eq!(fetched.agency, "test agency");
    assert_eq!(fetched.kind(), UnitKind::Rescue);
    assert!(fetched.location_updated_at.is_some());
}

#[tokio::test]
async fn recommend_units_lists_available_units_nearest_first() {
    let app = TestApp::spawn().await;
    let mut call = medical_call(places::BALAI_KOTA);
    call.hold = true;
    let incident = app.create(call).await;
    let far = app
        .register_at("AMB-FAR", UnitKind::Ambulance, places::UNISMA)
        .await;
    let near = app
        .register_at("AMB-NEAR", UnitKind::Ambulance, places::RSSA)
        .await;
    app.register_at("POL-1", UnitKind::Police, places::POLRESTA)
        .await;

    let mut incidents = app.operator.incidents.clone();
    let default = incidents
        .recommend_units(proto::RecommendUnitsRequest {
            incident_id: incident.id.clone(),
            kind: 0,
            limit: 0,
        })
        .await
        .expect("recommend")
        .into_inner()
        .recommendations;
    let ids: Vec<_> = default
        .iter()
        .filter_map(|r| r.unit.as_ref())
        .map(|u| u.id.clone())
        .collect();
    assert_eq!(
        ids,
        vec![near.id.clone(), far.id.clone()],
        "only the needed kind, nearest first"
    );
    assert!(default[0].distance_m < default[1].distance_m);

    let police = incidents
        .recommend_units(proto::RecommendUnitsRequest {
            incident_id: incident.id.clone(),
            kind: UnitKind::Police.into(),
            limit: 1,
        })
        .await
        .expect("recommend police")
        .into_inner()
        .recommendations;
    assert_eq!(police.len(), 1);
    assert_eq!(
        police[0].unit.as_ref().map(|u| u.call_sign.as_str()),
        Some("POL-1")
    );
}
