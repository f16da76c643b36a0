//! `AuthService`: people log in with a username and password and get a
//! session token; `Logout` ends it; `WhoAmI` says whose a token is.

//!
//! Logins are kept apart from the work that dispatches: they use the
//! store's side connections and hold none while the password is checked;
//! at most [`hashing_slots`] passwords are checked at once (a login that
//! cannot get a slot within [`HASHING_WAIT`] is answered
//! RESOURCE_EXHAUSTED); each client address may try [`LOGINS_PER_SECOND`]
//! a second; and each failure of an account from an address makes its
//! next try from there wait longer ([`failure_delay`]), until more than
//! five in five minutes lock that account *from that address* only.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{Quota, RateLimiter};
use ngalam112_core::ValidationError;
use ngalam112_core::validation::{self, PASSWORD_MAX_CHARS};
use ngalam112_proto::v1 as proto;
use ngalam112_proto::v1::auth_service_server::AuthService;
use ngalam112_store::{LOGIN_FAILURE_WINDOW, LoginAdmission, LoginOutcome, Role, Store};
use tokio::sync::Semaphore;
use tonic::{Request, Response, Status};

use crate::auth::{caller, hash_secret, new_secret};
use crate::client_address::TrustedProxies;
use crate::convert::{role_to_proto, timestamp};
use crate::error::{ApiError, answer};

/// One answer for an unknown user, a wrong password and a disabled user,
/// so that the answer does not tell which usernames exist.
const REFUSED: &str = "wrong username or password";

/// Login attempts one client address may make per second (a burst of
/// [`LOGIN_BURST`] first: a shift change behind one NAT logs in at once).
pub const LOGINS_PER_SECOND: u32 = 5;
pub const LOGIN_BURST: u32 = 30;

/// How long a login waits for a free password check before it is
/// answered RESOURCE_EXHAUSTED.
pub const HASHING_WAIT: Duration = Duration::from_millis(500);

/// Password checks at once: half the cores (at least one); they run at
/// the lowest CPU priority besides (`passwords::PasswordChecker`), so that
/// dispatch keeps the CPU whatever the login traffic.
pub fn hashing_slots() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| (cores.get() / 2).max(1))
}

/// How long a try waits after `prior_failures` recent failures of the
/// same account from the same address: none after none, then 0.25 s,
/// doubling each time, at most 4 s.
pub fn failure_delay(prior_failures: i64) -> Duration {
    match prior_failures {
        ..=0 => Duration::ZERO,
        failures => Duration::from_millis(250 << (failures - 1).min(4)),
    }
}

type Limiter = RateLimiter<
    IpAddr,
    governor::state::keyed::HashMapStateStore<IpAddr>,
    governor::clock::DefaultClock,
>;

pub struct AuthApi {
    store: Store,
    session_lifetime: Duration,
    proxies: TrustedProxies,
    limiter: Limiter,
    hashing: Arc<Semaphore>,
    checker: crate::passwords::PasswordChecker,
}

impl AuthApi {
    pub fn new(store: Store, session_lifetime: Duration, proxies: TrustedProxies) -> Self {
        let per_second = NonZeroU32::new(LOGINS_PER_SECOND).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(LOGIN_BURST).unwrap_or(NonZeroU32::MIN);
        Self {
            store,
            session_lifetime,
            proxies,
            limiter: RateLimiter::hashmap(Quota::per_second(per_second).allow_burst(burst)),
            hashing: Arc::new(Semaphore::new(hashing_slots())),
            checker: crate::passwords::PasswordChecker::start(hashing_slots()),
        }
    }

    fn admit(&self, client: IpAddr) -> Result<(), ApiError> {
        // Forget addresses whose allowance is full again, now and then.
        if self.limiter.len() > 10_000 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&client).map_err(|_| {
            ApiError::ResourceExhausted(format!(
                "more than {LOGINS_PER_SECOND} logins a second from this address; \
                 try again shortly"
            ))
        })
    }

    /// Checks `password` against `stored` on a password-check thread (at
    /// the lowest CPU priority), once a slot is free (RESOURCE_EXHAUSTED if
    /// none frees in time).
    async fn password_matches(
        &self,
        stored: Option<String>,
        password: String,
    ) -> Result<bool, ApiError> {
        let busy = || {
            ApiError::ResourceExhausted(
                "too many logins are being checked right now; try again in a moment".to_owned(),
            )
        };
        let _slot = tokio::time::timeout(HASHING_WAIT, self.hashing.clone().acquire_owned())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())?;
        Ok(self.checker.matches(stored, password).await)
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
            let fields = request.get_ref();
            // Any text may be tried as a username; only its form is checked
            // here (a name that cannot exist simply fails to log in).
            let username =
                validation::required_text("username", fields.username.trim(), 200)?.to_lowercase();
            if fields.password.is_empty() {
                return Err(ValidationError::new("password", "must not be empty").into());
            }
            if fields.password.chars().count() > PASSWORD_MAX_CHARS {
                return Err(ValidationError::new(
                    "password",
                    format!("must be at most {PASSWORD_MAX_CHARS} characters"),
                )
                .into());
            }
            let client = self.proxies.client_of(&request);
            self.admit(client)?;
            let request = request.into_inner();
            let secret = new_secret("n112s")?;
            let pending = match self
                .store
                .begin_login(&username, &client.to_string())
                .await?
            {
                LoginAdmission::Locked => {
                    tracing::warn!(%username, %client, "login refused: too many failures");
                    return Err(ApiError::ResourceExhausted(format!(
                        "too many failed logins for this username from this address; \
                         wait {} minutes",
                        LOGIN_FAILURE_WINDOW.as_secs() / 60
                    )));
                }
                LoginAdmission::Admitted(pending) => pending,
            };
            // Slows guessing down; holds no connection and no slot.
            tokio::time::sleep(failure_delay(pending.prior_failures())).await;
            let matched = self
                .password_matches(pending.stored_hash(), request.password)
                .await?;
            let outcome = self
                .store
                .finish_login(
                    pending,
                    matched,
                    &hash_secret(&secret),
                    self.session_lifetime,
                )
                .await?;
            let session = match outcome {
                LoginOutcome::Refused => {
                    tracing::info!(%username, %client, "login failed");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_makes_the_next_try_wait_longer_up_to_four_seconds() {
        let delays: Vec<u128> = (0..8).map(|n| failure_delay(n).as_millis()).collect();
        assert_eq!(delays, vec![0, 250, 500, 1000, 2000, 4000, 4000, 4000]);
        assert!(hashing_slots() >= 1);
    }
}
