//! The role matrix: IncidentService: staff only.

use ngalam112_proto::v1 as proto;
use tonic::Code;

use super::{Fixture, Matrix, STAFF, Who, code};
use crate::helpers::{Clients, medical_call, places};

pub(super) async fn check(m: &mut Matrix, c: &mut Clients, f: &Fixture) {
    let incidents = &mut c.incidents;
    // IncidentService: staff only.
    let mut held = medical_call(places::BALAI_KOTA);
    held.hold = true;
    m.expect(
        "CreateIncident",
        code(incidents.create_incident(held).await),
        &STAFF,
        Code::Ok,
    );
    m.expect(
        "GetIncident",
        code(
            incidents
                .get_incident(proto::GetIncidentRequest {
                    id: f.incident.id.clone(),
                })
                .await,
        ),
        &STAFF,
        Code::Ok,
    );
    m.expect(
        "ListIncidents",
        code(
            incidents
                .list_incidents(proto::ListIncidentsRequest::default())
                .await,
        ),
        &STAFF,
        Code::Ok,
    );
    m.expect(
        "FindNearbyIncidents",
        code(
            incidents
                .find_nearby_incidents(proto::FindNearbyIncidentsRequest {
                    location: Some(proto::GeoPoint {
                        lat: places::BALAI_KOTA.0,
                        lon: places::BALAI_KOTA.1,
                    }),
                    radius_m: 300.0,
                    category: 0,
                })
                .await,
        ),
        &STAFF,
        Code::Ok,
    );
    m.expect(
        "RecommendUnits",
        code(
            incidents
                .recommend_units(proto::RecommendUnitsRequest {
                    incident_id: f.incident.id.clone(),
                    kind: 0,
                    limit: 0,
                })
                .await,
        ),
        &STAFF,
        Code::Ok,
    );
    m.expect(
        "AssignUnit",
        code(
            incidents
                .assign_unit(proto::AssignUnitRequest {
                    incident_id: f.incident.id.clone(),
                    unit_id: f.spare.id.clone(),
                })
                .await,
        ),
        &STAFF,
        Code::FailedPrecondition, // the spare is out of service
    );
    m.expect(
        "CancelIncident",
        code(
            incidents
                .cancel_incident(proto::CancelIncidentRequest {
                    id: uuid::Uuid::new_v4().to_string(),
                    reason: String::new(),
                    ..Default::default()
                })
                .await,
        ),
        &STAFF,
        Code::NotFound,
    );
    m.expect(
        "ReleaseHold",
        code(
            incidents
                .release_hold(proto::ReleaseHoldRequest {
                    id: f.incident.id.clone(),
                })
                .await,
        ),
        &STAFF,
        Code::FailedPrecondition, // not on hold
    );
    m.expect(
        "ResolveIncident",
        code(
            incidents
                .resolve_incident(proto::ResolveIncidentRequest {
                    id: uuid::Uuid::new_v4().to_string(),
                    resolution: String::new(),
                    ..Default::default()
                })
                .await,
        ),
        &STAFF,
        Code::NotFound,
    );
    m.expect(
        "GetIncidentTimeline",
        code(
            incidents
                .get_incident_timeline(proto::GetIncidentTimelineRequest {
                    id: f.incident.id.clone(),
                })
                .await,
        ),
        &STAFF,
        Code::Ok,
    );
    m.expect(
        "GetResponseTimeReport",
        code(
            incidents
                .get_response_time_report(proto::GetResponseTimeReportRequest {
                    since: Some(prost_types::Timestamp {
                        seconds: 0,
                        nanos: 0,
                    }),
                    until: None,
                    target_seconds: 0.0,
                })
                .await,
        ),
        &STAFF,
        Code::Ok,
    );
    m.expect(
        "GetIncidentEido",
        code(
            incidents
                .get_incident_eido(proto::GetIncidentEidoRequest {
                    id: f.incident.id.clone(),
                })
                .await,
        ),
        &STAFF,
        Code::Ok,
    );
    m.expect(
        "IngestDeviceLocation",
        code(
            incidents
                .ingest_device_location(proto::IngestDeviceLocationRequest {
                    caller_phone: "0812 0000 0000".to_owned(),
                    payload: format!(
                        "location_latitude=-7.97&location_longitude=112.63&location_accuracy=20\
                         &location_time={}&location_source=gps",
                        chrono::Utc::now().timestamp_millis()
                    ),
                })
                .await,
        ),
        &[Who::Admin, Who::Gateway],
        Code::Ok,
    );
    m.expect(
        "WatchIncidents",
        code(
            incidents
                .watch_incidents(proto::WatchIncidentsRequest::default())
                .await,
        ),
        &STAFF,
        Code::Ok,
    );
}
