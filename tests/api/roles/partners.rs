//! The role matrix: CallerService, partner agencies, cameras and the
//! phone system (TelephonyService).

use ngalam112_proto::v1 as proto;
use tonic::Code;

use super::{Fixture, Matrix, STAFF, Who, code};
use crate::helpers::{Clients, places};

pub(super) async fn check(m: &mut Matrix, c: &mut Clients, _: &Fixture) {
    let incidents = &mut c.incidents;
    let callers = &mut c.callers;
    let cameras = &mut c.cameras;
    let agencies = &mut c.agencies;
    let telephony = &mut c.telephony;
    // TelephonyService: the exchange's gateway signals; staff watch.
    m.expect(
        "SignalCall",
        code(
            telephony
                .signal_call(proto::SignalCallRequest {
                    call_id: format!("roles-{:?}", m.who),
                    line: "112-1".to_owned(),
                    caller_phone: "0812 9999 0001".to_owned(),
                    signal: proto::CallSignal::Ringing.into(),
                    ..Default::default()
                })
                .await,
        ),
        &[Who::Admin, Who::Gateway],
        Code::Ok,
    );
    m.expect(
        "ListCalls",
        code(
            telephony
                .list_calls(proto::ListCallsRequest::default())
                .await,
        ),
        &STAFF,
        Code::Ok,
    );
    m.expect(
        "WatchCalls",
        code(telephony.watch_calls(proto::WatchCallsRequest {}).await),
        &STAFF,
        Code::Ok,
    );
    // CallerService: staff; unflagging is the admin's.
    let phone = "0812 9999 0000".to_owned();
    m.expect(
        "GetCallerHistory",
        code(
            callers
                .get_caller_history(proto::GetCallerHistoryRequest {
                    caller_phone: phone.clone(),
                    days: 0,
                })
                .await,
        ),
        &STAFF,
        Code::Ok,
    );
    m.expect(
        "FlagCaller",
        code(
            callers
                .flag_caller(proto::FlagCallerRequest {
                    caller_phone: phone.clone(),
                    reason: "test".to_owned(),
                })
                .await,
        ),
        &STAFF,
        Code::Ok,
    );
    m.expect(
        "UnflagCaller",
        code(
            callers
                .unflag_caller(proto::UnflagCallerRequest {
                    caller_phone: phone.clone(),
                })
                .await,
        ),
        &[Who::Admin],
        Code::Ok,
    );
    m.expect(
        "ListFlaggedCallers",
        code(
            callers
                .list_flagged_callers(proto::ListFlaggedCallersRequest {})
                .await,
        ),
        &STAFF,
        Code::Ok,
    );

    // Partner agencies: staff refer and read, liaisons answer.
    m.expect(
        "ReferIncident",
        code(
            incidents
                .refer_incident(proto::ReferIncidentRequest {
                    incident_id: uuid::Uuid::new_v4().to_string(),
                    agency_id: uuid::Uuid::new_v4().to_string(),
                    note: String::new(),
                })
                .await,
        ),
        &STAFF,
        Code::NotFound,
    );
    m.expect(
        "RegisterAgency",
        code(
            agencies
                .register_agency(proto::RegisterAgencyRequest::default())
                .await,
        ),
        &[Who::Admin],
        Code::InvalidArgument, // no name: nothing stored
    );
    m.expect(
        "ListAgencies",
        code(agencies.list_agencies(proto::ListAgenciesRequest {}).await),
        &STAFF,
        Code::Ok,
    );
    m.expect(
        "ListReferrals",
        code(
            agencies
                .list_referrals(proto::ListReferralsRequest::default())
                .await,
        ),
        &[Who::Admin, Who::Operator, Who::OperatorSession, Who::Agency],
        Code::Ok,
    );
    m.expect(
        "UpdateReferral",
        code(
            agencies
                .update_referral(proto::UpdateReferralRequest {
                    referral_id: uuid::Uuid::new_v4().to_string(),
                    status: proto::ReferralStatus::Acknowledged.into(),
                    answer: String::new(),
                })
                .await,
        ),
        &[Who::Admin, Who::Agency],
        Code::NotFound,
    );

    // CameraService: admins register, staff look.
    m.expect(
        "RegisterCamera",
        code(
            cameras
                .register_camera(proto::RegisterCameraRequest {
                    name: "Tugu".to_owned(),
                    location: Some(proto::GeoPoint {
                        lat: places::BALAI_KOTA.0,
                        lon: places::BALAI_KOTA.1,
                    }),
                    stream_url: "ftp://not.allowed/x".to_owned(),
                })
                .await,
        ),
        &[Who::Admin],
        Code::InvalidArgument, // nothing stored, whoever asks
    );
    m.expect(
        "ListCameras",
        code(cameras.list_cameras(proto::ListCamerasRequest {}).await),
        &STAFF,
        Code::Ok,
    );
    m.expect(
        "FindNearbyCameras",
        code(
            cameras
                .find_nearby_cameras(proto::FindNearbyCamerasRequest {
                    location: Some(proto::GeoPoint {
                        lat: places::BALAI_KOTA.0,
                        lon: places::BALAI_KOTA.1,
                    }),
                    ..Default::default()
                })
                .await,
        ),
        &STAFF,
        Code::Ok,
    );
}
