//! `AuthService`: people log in with a username and password and get a
//! session token; `Logout` ends it; `WhoAmI` says whose a token is.

use std::time::Duration;

use ngalam112_core::ValidationError;
use ngalam112_core::validation::{self, PASSWORD_MAX_CHARS};
use ngalam112_proto::v1 as proto;
use ngalam112_proto::v1::auth_service_server::AuthService;
use ngalam112_store::{LOGIN_FAILURE_WINDOW, LoginOutcome, Role, Store};
use tonic::{Request, Response, Status};

use crate::auth::{caller, hash_secret, new_secret};
use crate::convert::{role_to_proto, timestamp};
use crate::error::{ApiError, answer};

/// One answer for an unknown user, a wrong password and a disabled user,
/// so that the answer does not tell which usernames exist.
const REFUSED: &str = "wrong username or password";

pub struct AuthApi {
    store: Store,
    session_lifetime: Duration,
}

impl AuthApi {
    pub fn new(store: Store, session_lifetime: Duration) -> Self {
        Self {
            store,
            session_lifetime,
        }
    }
}

fn bound_ids(role: &Role) -> (String, String) {
    match role {
        Role::Unit(unit) => (unit.to_string(), String::new()),
        Role::Agency(agency) => (String::new(), agency.to_string()),
        _ => (String::new(), String::new()),
    }
}

#[tonic::async_trait]
impl AuthService for AuthApi {
    #[tracing::instrument(skip_all)]
    async fn login(
        &self,
        request: Request<proto::LoginRequest>,
    ) -> Result<Response<proto::LoginResponse>, Status> {
        answer(async {
            let request = request.into_inner();
            // Any text may be tried as a username; only its form is checked
            // here (a name that cannot exist simply fails to log in).
            let username =
                validation::required_text("username", request.username.trim(), 200)?.to_lowercase();
            if request.password.is_empty() {
                return Err(ValidationError::new("password", "must not be empty").into());
            }
            if request.password.chars().count() > PASSWORD_MAX_CHARS {
                return Err(ValidationError::new(
                    "password",
                    format!("must be at most {PASSWORD_MAX_CHARS} characters"),
                )
                .into());
            }
            let secret = new_secret("n112s")?;
            let password = request.password;
            let outcome = self
                .store
                .login(
                    &username,
                    move |stored| async move {
                        tokio::task::spawn_blocking(move || {
                            crate::passwords::verify_password(stored.as_deref(), &password)
                        })
                        .await
                        .unwrap_or(false)
                    },
                    &hash_secret(&secret),
                    self.session_lifetime,
                )
                .await?;
            let session = match outcome {
                LoginOutcome::Locked => {
                    tracing::warn!(%username, "login refused: too many failures");
                    return Err(ApiError::ResourceExhausted(format!(
                        "too many failed logins for this username; wait {} minutes",
                        LOGIN_FAILURE_WINDOW.as_secs() / 60
                    )));
                }
                LoginOutcome::Refused => {
                    tracing::info!(%username, "login failed");
                    return Err(ApiError::Unauthenticated(REFUSED.to_owned()));
                }
                LoginOutcome::Session(session) => session,
            };
            tracing::info!(%username, role = session.role.name(), "logged in");
            let (unit_id, agency_id) = bound_ids(&session.role);
            let user = session.user.unwrap_or_default();
            Ok(proto::LoginResponse {
                token: secret,
                expires_at: session.expires_at.map(timestamp),
                role: role_to_proto(&session.role).into(),
                username: user.username,
                display_name: user.display_name,
                unit_id,
                agency_id,
            })
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn logout(
        &self,
        request: Request<proto::LogoutRequest>,
    ) -> Result<Response<proto::LogoutResponse>, Status> {
        answer(async {
            let caller = caller(&request)?;
            self.store.revoke_token(caller.token_id).await?;
            tracing::info!(actor = %caller.actor().0, "logged out");
            Ok(proto::LogoutResponse {})
        })
        .await
    }

    async fn who_am_i(
        &self,
        request: Request<proto::WhoAmIRequest>,
    ) -> Result<Response<proto::WhoAmIResponse>, Status> {
        let caller = caller(&request).map_err(Status::from)?;
        let (unit_id, agency_id) = bound_ids(&caller.role);
        let user = caller.user.clone().unwrap_or_default();
        Ok(Response::new(proto::WhoAmIResponse {
            role: role_to_proto(&caller.role).into(),
            username: user.username,
            display_name: user.display_name,
            unit_id,
            agency_id,
            expires_at: caller.expires_at.map(timestamp),
            token_id: caller.token_id.to_string(),
        }))
    }
}
