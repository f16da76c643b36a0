//! NENA EIDO export, validated against NENA's schema for incidents in
//! every status.

use ngalam112_proto::v1 as proto;
use ngalam112_store::Role;
use proto::{AssignmentStatus, UnitKind};

use crate::helpers::{TestApp, connect_as, eido_validator, jsonschema, medical_call, places};

async fn eido(app: &TestApp, id: &str) -> serde_json::Value {
    let text = app
        .operator
        .incidents
        .clone()
        .get_incident_eido(proto::GetIncidentEidoRequest { id: id.to_owned() })
        .await
        .expect("export")
        .into_inner()
        .eido_json;
    serde_json::from_str(&text).expect("the export is JSON")
}

fn assert_valid(validator: &jsonschema::Validator, document: &serde_json::Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(document)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: the EIDO does not validate:\n{}\n{document:#}",
        errors.join("\n")
    );
}

#[tokio::test]
async fn exported_eidos_validate_against_the_nena_schema_in_every_status() {
    let app = TestApp::spawn().await;
    let validator = eido_validator();
    let ambulance = app
        .register_at("AMB-RSSA-1", UnitKind::Ambulance, places::RSSA)
        .await;
    app.register_at("POL-KOTA-1", UnitKind::Police, places::POLRESTA)
        .await;

    let mut waiting = medical_call(places::UNISMA);
    waiting.category = proto::IncidentCategory::Fire.into(); // no fire engine: PENDING
    waiting.caller_phone = String::new();
    waiting.caller_id_withheld = true;
    waiting.caller_name = String::new();
    let pending = app.create(waiting).await;

    let mut crash = medical_call(places::BALAI_KOTA);
    crash.category = proto::IncidentCategory::TrafficAccident.into();
    crash.description = "tabrakan <motor> & mobil \"Avanza\"".to_owned();
    let dispatched = app.create(crash).await;

    // One on scene, with a handset location that disagrees.
    let gateway = app.token(Role::Gateway).await.expect("token");
    let top = chrono::Utc::now().format("%Y%m%d%H%M%S");
    let without = format!("A\"ML=1;lt=-7.96800;lg=+112.63400;rd=30;top={top};lc=68;pm=G;ml=");
    let sms = format!("{without}{}", without.chars().count() + 2);
    connect_as(app.channel.clone(), Some(&gateway))
        .incidents
        .ingest_device_location(proto::IngestDeviceLocationRequest {
            caller_phone: "0812 3456 7890".to_owned(),
            payload: sms,
        })
        .await
        .expect("ingest");
    let assignment = dispatched
        .assignments
        .iter()
        .find(|a| a.unit_id == ambulance.id)
        .expect("the ambulance")
        .clone();
    let mut device = app.unit_clients(&ambulance.id).await.field;
    for status in [AssignmentStatus::Accepted, AssignmentStatus::OnScene] {
        device
            .update_assignment_status(proto::UpdateAssignmentStatusRequest {
                assignment_id: assignment.id.clone(),
                status: status.into(),
            })
            .await
            .expect("progress");
    }

    let resolved = app.create(medical_call(places::RSSA)).await;
    let mut incidents = app.operator.incidents.clone();
    incidents
        .resolve_incident(proto::ResolveIncidentRequest {
            id: resolved.id.clone(),
            resolution: "selesai".to_owned(),
            ..Default::default()
        })
        .await
        .expect("resolve");
    app.register("AMB-LAV-1", UnitKind::Ambulance, -7.9690, 112.6390)
        .await;
    let still_dispatched = app.create(medical_call((-7.9691, 112.6391))).await;
    assert_eq!(still_dispatched.status(), proto::IncidentStatus::Dispatched);
    let cancelled = app.create(medical_call(places::PANTI_WALUYA)).await;
    incidents
        .cancel_incident(proto::CancelIncidentRequest {
            id: cancelled.id.clone(),
            reason: "iseng".to_owned(),
            ..Default::default()
        })
        .await
        .expect("cancel");

    // The pending fire is also handed to PLN, who answers.
    let pln = app
        .admin
        .agencies
        .clone()
        .register_agency(proto::RegisterAgencyRequest {
            name: "PLN UP3 Malang".to_owned(),
            short_name: "PLN".to_owned(),
            contact: "123".to_owned(),
        })
        .await
        .expect("agency")
        .into_inner();
    let referral = incidents
        .refer_incident(proto::ReferIncidentRequest {
            incident_id: pending.id.clone(),
            agency_id: pln.id.clone(),
            note: "kabel".to_owned(),
        })
        .await
        .expect("refer")
        .into_inner();
    app.admin
        .agencies
        .clone()
        .update_referral(proto::UpdateReferralRequest {
            referral_id: referral.id,
            status: proto::ReferralStatus::Accepted.into(),
            answer: "tim dikirim".to_owned(),
        })
        .await
        .expect("answer");
    let referred = eido(&app, &pending.id).await;
    let agencies = referred["agencyComponent"].as_array().expect("agencies");
    assert_eq!(agencies.len(), 2, "the PSAP and PLN");
    assert!(
        agencies[1]["agencyJcard"]
            .as_str()
            .unwrap_or_default()
            .contains("PLN")
    );
    assert!(
        referred["notesComponent"]
            .to_string()
            .contains("referral_accepted"),
        "the answer is in the notes"
    );

    for (what, id, status) in [
        ("pending", &pending.id, "Pending"),
        ("dispatched", &still_dispatched.id, "Dispatched"),
        ("on scene", &dispatched.id, "OnScene"),
        ("resolved", &resolved.id, "Closed"),
        ("cancelled", &cancelled.id, "Cancelled"),
    ] {
        let document = eido(&app, id).await;
        assert_valid(&validator, &document, what);
        assert_eq!(
            document["incidentComponent"]["incidentStatusCommonRegistryText"][0], status,
            "{what}"
        );
        assert_eq!(document["eidoVersion"], "1.0");
        let stamp = document["lastUpdateTimeStamp"].as_str().expect("a time");
        assert!(
            stamp.ends_with("+07:00"),
            "RFC 3339 with the WIB offset: {stamp}"
        );
        assert!(
            !document["notesComponent"]
                .as_array()
                .expect("notes")
                .is_empty(),
            "{what}: the timeline"
        );
        assert_eq!(document["agencyComponent"][0]["agencyType"][0], "psap");
    }

    let document = eido(&app, &dispatched.id).await;
    let incident = &document["incidentComponent"];
    assert_eq!(incident["incidentTypeInternalCode"], "traffic_accident");
    assert_eq!(
        incident["incidentTypeCommonRegistryText"],
        "Traffic Collision"
    );
    assert_eq!(incident["incidentCommonPriorityNumber"], 2);
    assert_eq!(
        document["callbackComponent"][0]["callBackInformationUri"][0],
        "tel:+6281234567890"
    );
    let locations = document["locationComponent"].as_array().expect("locations");
    let entered = &locations[0];
    let pidf = entered["locationByValue"].as_str().expect("PIDF-LO");
    assert!(
        pidf.contains(
            "<gml:Point srsName=\"urn:ogc:def:crs:EPSG::4326\"><gml:pos>-7.977 112.634</gml:pos>"
        ),
        "{pidf}"
    );
    assert!(pidf.contains("Jl. Tugu 1"));
    assert!(
        locations
            .iter()
            .any(|l| l["locationTypeDescriptionRegistryText"] == "Caller"),
        "the handset fix"
    );
    assert!(
        locations
            .iter()
            .any(|l| l["locationTypeDescriptionRegistryText"] == "Unit"),
        "the units' positions"
    );
    let resources = document["emergencyResourceComponent"]
        .as_array()
        .expect("resources");
    assert_eq!(resources.len(), 2, "one per assignment");
    let ambulance = resources
        .iter()
        .find(|r| r["emergencyResourceName"] == "AMB-RSSA-1")
        .expect("the ambulance");
    assert_eq!(ambulance["primaryUnitStatusRegistryText"], "OnScene");
    assert_eq!(
        ambulance["emergencyResourceTypeCommonRegistryText"],
        "Ambulance"
    );
    assert!(ambulance["unitLocationReference"]["$ref"].is_string());
    // The XML-sensitive description is carried verbatim in JSON.
    assert_eq!(
        incident["documentIdentification"][0],
        "tabrakan <motor> & mobil \"Avanza\""
    );

    // NENA's own sample validates too (the converted schema is sound).
    let sample: serde_json::Value =
        serde_json::from_str(crate::helpers::EIDO_SAMPLE).expect("NENA's sample is JSON");
    assert_valid(&validator, &sample, "NENA's sample");

    // And a broken document does not.
    let mut broken = document.clone();
    broken
        .as_object_mut()
        .expect("object")
        .remove("agencyComponent");
    assert!(!validator.is_valid(&broken));
}
