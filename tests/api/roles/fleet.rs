//! The role matrix: UnitService, FieldService, the live map and the crews' alarms.

use ngalam112_proto::v1 as proto;
use proto::{AssignmentStatus, UnitKind};
use tonic::Code;

use super::{CREW, Fixture, Matrix, STAFF, Who, code};
use crate::helpers::{Clients, places};

pub(super) async fn check(m: &mut Matrix, c: &mut Clients, f: &Fixture) {
    let incidents = &mut c.incidents;
    let units = &mut c.units;
    let field = &mut c.field;
    // UnitService: registering is the admin's; reads and service
    // status are staff's.
    m.expect(
        "RegisterUnit",
        code(
            units
                .register_unit(proto::RegisterUnitRequest {
                    call_sign: "AMB-OWN".to_owned(),
                    kind: UnitKind::Ambulance.into(),
                    agency: String::new(),
                    location: Some(proto::GeoPoint {
                        lat: -7.97,
                        lon: 112.63,
                    }),
                })
                .await,
        ),
        &[Who::Admin],
        Code::AlreadyExists,
    );
    m.expect(
        "GetUnit",
        code(
            units
                .get_unit(proto::GetUnitRequest {
                    id: f.own.id.clone(),
                })
                .await,
        ),
        &STAFF,
        Code::Ok,
    );
    m.expect(
        "ListUnits",
        code(units.list_units(proto::ListUnitsRequest::default()).await),
        &STAFF,
        Code::Ok,
    );
    m.expect(
        "SetUnitInService",
        code(
            units
                .set_unit_in_service(proto::SetUnitInServiceRequest {
                    unit_id: f.other.id.clone(),
                    in_service: true,
                })
                .await,
        ),
        &STAFF,
        Code::Ok,
    );

    // FieldService: the own unit (and admins) only.
    m.expect(
        "ReportLocation",
        code(
            field
                .report_location(proto::ReportLocationRequest {
                    unit_id: f.own.id.clone(),
                    location: Some(proto::GeoPoint {
                        lat: places::RSSA.0,
                        lon: places::RSSA.1,
                    }),
                })
                .await,
        ),
        &CREW,
        Code::Ok,
    );
    m.expect(
        "PollAssignment",
        code(
            field
                .poll_assignment(proto::PollAssignmentRequest {
                    unit_id: f.own.id.clone(),
                    wait_seconds: 0,
                })
                .await,
        ),
        &CREW,
        Code::Ok,
    );
    m.expect(
        "AcceptAssignment",
        code(
            field
                .accept_assignment(proto::AcceptAssignmentRequest {
                    assignment_id: f.assignment.clone(),
                })
                .await,
        ),
        &CREW,
        Code::FailedPrecondition, // it is completed
    );
    m.expect(
        "DeclineAssignment",
        code(
            field
                .decline_assignment(proto::DeclineAssignmentRequest {
                    assignment_id: f.assignment.clone(),
                    reason: String::new(),
                })
                .await,
        ),
        &CREW,
        Code::FailedPrecondition,
    );
    m.expect(
        "UpdateAssignmentStatus",
        code(
            field
                .update_assignment_status(proto::UpdateAssignmentStatusRequest {
                    assignment_id: f.assignment.clone(),
                    status: AssignmentStatus::OnScene.into(),
                })
                .await,
        ),
        &CREW,
        Code::FailedPrecondition,
    );

    // The console's live map and the crews' alarms.
    m.expect(
        "WatchUnits",
        code(units.watch_units(proto::WatchUnitsRequest {}).await),
        &STAFF,
        Code::Ok,
    );
    m.expect(
        "RaiseAlarm",
        code(
            field
                .raise_alarm(proto::RaiseAlarmRequest {
                    unit_id: f.own.id.clone(),
                    location: Some(proto::GeoPoint {
                        lat: places::RSSA.0,
                        lon: places::RSSA.1,
                    }),
                    note: String::new(),
                })
                .await,
        ),
        &CREW,
        Code::Ok,
    );
    // Without roads (this server has none): refused for what it is, to
    // those who may ask.
    m.expect(
        "GetRoute",
        code(
            field
                .get_route(proto::GetRouteRequest {
                    assignment_id: f.assignment.clone(),
                })
                .await,
        ),
        &[
            Who::Admin,
            Who::Operator,
            Who::OperatorSession,
            Who::OwnUnit,
        ],
        Code::FailedPrecondition,
    );
    m.expect(
        "WatchAlarms",
        code(incidents.watch_alarms(proto::WatchAlarmsRequest {}).await),
        &STAFF,
        Code::Ok,
    );
    m.expect(
        "ListAlarms",
        code(
            incidents
                .list_alarms(proto::ListAlarmsRequest { open_only: true })
                .await,
        ),
        &STAFF,
        Code::Ok,
    );
    m.expect(
        "AcknowledgeAlarm",
        code(
            incidents
                .acknowledge_alarm(proto::AcknowledgeAlarmRequest {
                    alarm_id: uuid::Uuid::new_v4().to_string(),
                })
                .await,
        ),
        &STAFF,
        Code::NotFound,
    );
}
