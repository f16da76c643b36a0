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
