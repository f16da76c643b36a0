//! Who may do what: every RPC × every kind of caller, each answered with
//! its exact code. The RPCs are checked service by service (`incidents`,
//! `fleet`, `partners`); this module makes the callers and the state.

mod fleet;
mod incidents;
mod partners;

use ngalam112_core::UnitId;
use ngalam112_proto::v1 as proto;
use ngalam112_store::Role;
use proto::{AssignmentStatus, UnitKind};
use tonic::Code;

use crate::helpers::{TestApp, medical_call, places};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Who {
    Admin,
    Operator,
    OwnUnit,
    OtherUnit,
    NoToken,
    BadToken,
    RevokedToken,
    Gateway,
    Agency,
    /// An operator logged in with a password.
    OperatorSession,
}

const EVERYONE: [Who; 10] = [
    Who::Admin,
    Who::Operator,
    Who::OwnUnit,
    Who::OtherUnit,
    Who::NoToken,
    Who::BadToken,
    Who::RevokedToken,
    Who::Gateway,
    Who::Agency,
    Who::OperatorSession,
];

/// What an RPC answers each caller: `allowed` is the code for callers the
/// role table lets in (fixed by the request's state), the rest are
/// refused.
fn expected(who: Who, allowed_roles: &[Who], allowed: Code) -> Code {
    match who {
        Who::NoToken | Who::BadToken | Who::RevokedToken => Code::Unauthenticated,
        who if allowed_roles.contains(&who) => allowed,
        _ => Code::PermissionDenied,
    }
}

pub(super) fn code<T>(result: Result<tonic::Response<T>, tonic::Status>) -> Code {
    match result {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

/// The call-takers and dispatchers.
pub(super) const STAFF: [Who; 3] = [Who::Admin, Who::Operator, Who::OperatorSession];
/// Every caller with a live token.
pub(super) const ANYONE_KNOWN: [Who; 7] = [
    Who::Admin,
    Who::Operator,
    Who::OwnUnit,
    Who::OtherUnit,
    Who::Gateway,
    Who::Agency,
    Who::OperatorSession,
];
/// The unit's own crew (and admins).
pub(super) const CREW: [Who; 2] = [Who::Admin, Who::OwnUnit];

/// One caller's pass through the matrix: who calls, and how many RPCs
/// have been checked.
pub(super) struct Matrix {
    who: Who,
    checked: usize,
}

impl Matrix {
    pub(super) fn expect(&mut self, rpc: &str, got: Code, roles: &[Who], allowed: Code) {
        assert_eq!(
            got,
            expected(self.who, roles, allowed),
            "{rpc} as {:?}",
            self.who
        );
        self.checked += 1;
    }
}

/// The state the RPCs are called against.
pub(super) struct Fixture {
    /// An incident whose ambulance assignment (the own unit's) is completed.
    pub(super) incident: proto::Incident,
    pub(super) assignment: String,
    pub(super) own: proto::Unit,
    pub(super) other: proto::Unit,
    /// Out of service.
    pub(super) spare: proto::Unit,
}

#[tokio::test]
async fn every_rpc_answers_every_kind_of_caller_with_the_exact_code() {
    let app = TestApp::spawn().await;
    let own = app
        .register_at("AMB-OWN", UnitKind::Ambulance, places::RSSA)
        .await;
    let other = app
        .register_at("POL-OTHER", UnitKind::Police, places::POLRESTA)
        .await;
    let spare = app
        .register_at("DMK-SPARE", UnitKind::FireEngine, places::DAMKAR)
        .await;
    app.operator
        .units
        .clone()
        .set_unit_in_service(proto::SetUnitInServiceRequest {
            unit_id: spare.id.clone(),
            in_service: false,
        })
        .await
        .expect("spare out of service");
    // An incident whose ambulance assignment (the own unit's) is completed.
    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    let assignment = incident.assignments[0].id.clone();
    let mut own_device = app.unit_clients(&own.id).await.field;
    own_device
        .accept_assignment(proto::AcceptAssignmentRequest {
            assignment_id: assignment.clone(),
        })
        .await
        .expect("accept");
    own_device
        .update_assignment_status(proto::UpdateAssignmentStatusRequest {
            assignment_id: assignment.clone(),
            status: AssignmentStatus::Completed.into(),
        })
        .await
        .expect("complete");

    let revoked = {
        let (secret, record) = ngalam112::auth::issue_token(&app.store, Role::Admin)
            .await
            .expect("token");
        app.store.revoke_token(record.id).await.expect("revoke");
        secret
    };
    let unit_token = |unit: &str| {
        let unit = UnitId::parse("unit_id", unit).expect("id");
        ngalam112::auth::issue_token(&app.store, Role::Unit(unit))
    };
    let own_token = unit_token(&own.id).await.expect("token").0;
    let other_token = unit_token(&other.id).await.expect("token").0;
    let admin_token = app.token(Role::Admin).await.expect("token");
    let gateway_token = app.token(Role::Gateway).await.expect("token");
    let operator_token = app.token(Role::Operator).await.expect("token");
    let agency = app.agency("PLN").await;
    let agency_token = app.token(Role::Agency(agency)).await.expect("token");
    app.add_user("sri", Role::Operator, "kopi-tubruk-2026")
        .await;
    app.add_user("joko", Role::Operator, "rawon-setan-2026")
        .await;
    let session = app
        .login("sri", "kopi-tubruk-2026")
        .await
        .expect("login")
        .token;

    let fixture = Fixture {
        incident,
        assignment,
        own,
        other,
        spare,
    };
    let mut checked = 0;
    for who in EVERYONE {
        let token = match who {
            Who::Admin => Some(admin_token.as_str()),
            Who::Operator => Some(operator_token.as_str()),
            Who::OwnUnit => Some(own_token.as_str()),
            Who::OtherUnit => Some(other_token.as_str()),
            Who::NoToken => None,
            Who::BadToken => {
                Some("n112_0000000000000000000000000000000000000000000000000000000000000000")
            }
            Who::RevokedToken => Some(revoked.as_str()),
            Who::Gateway => Some(gateway_token.as_str()),
            Who::Agency => Some(agency_token.as_str()),
            Who::OperatorSession => Some(session.as_str()),
        };
        let mut clients = app.clients_with_token(token);
        // AuthService: Login is open to all (whatever token comes with it).
        let login = clients
            .auth
            .login(proto::LoginRequest {
                username: "joko".to_owned(),
                password: "rawon-setan-2026".to_owned(),
            })
            .await;
        assert_eq!(code(login), Code::Ok, "Login as {who:?}");
        checked += 1;
        // PublicService: anyone, even with a bad or revoked token.
        let stats = clients
            .public
            .get_public_stats(proto::GetPublicStatsRequest::default())
            .await;
        assert_eq!(code(stats), Code::Ok, "GetPublicStats as {who:?}");
        checked += 1;

        let mut m = Matrix { who, checked: 0 };
        incidents::check(&mut m, &mut clients, &fixture).await;
        fleet::check(&mut m, &mut clients, &fixture).await;
        partners::check(&mut m, &mut clients, &fixture).await;
        let auth = &mut clients.auth;

        // AuthService: any valid token; Logout last, it ends the token.
        m.expect(
            "WhoAmI",
            code(auth.who_am_i(proto::WhoAmIRequest {}).await),
            &ANYONE_KNOWN,
            Code::Ok,
        );
        m.expect(
            "Logout",
            code(auth.logout(proto::LogoutRequest {}).await),
            &ANYONE_KNOWN,
            Code::Ok,
        );
        checked += m.checked;
    }
    assert_eq!(checked, 48 * 10, "every RPC for every caller");

    // Health and reflection stay open.
    let mut health = tonic_health::pb::health_client::HealthClient::new(app.channel.clone());
    health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health needs no token");
}
