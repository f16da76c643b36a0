//! Who is calling: bearer tokens (issued, or a person's session from
//! `Login`), checked for every RPC by one tower layer (health, reflection
//! and `Login` stay open), and the role table of docs/api.md.
//!
//! Secrets are 256 bits from the OS, shown once when issued and stored
//! only as a SHA-256 hash; a lookup by hash needs no comparison of secrets.

use std::pin::Pin;
use std::task::{Context, Poll};

use ngalam112_core::UnitId;
use ngalam112_store::{
    Actor, Revocation, Role, SessionUser, Store, StoreError, TokenRecord, TokenVerifier,
};
use sha2::{Digest, Sha256};
use tonic::Status;

use crate::error::ApiError;
use crate::streams::{PermittedBody, Watchers};

/// The authenticated caller, put in each request's extensions by
/// [`AuthLayer`].
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: uuid::Uuid,
    pub role: Role,
    /// The person, for a session from `Login`.
    pub user: Option<SessionUser>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// What was presented, to check again later (streams).
    credential: Credential,
}

/// A presented secret's hash, the verifier to re-check it with, and the
/// change feed's revocations (streams end as soon as theirs is heard).
#[derive(Clone)]
struct Credential {
    tokens: TokenVerifier,
    secret_hash: Vec<u8>,
    revocations: tokio::sync::broadcast::Sender<Revocation>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Credential(..)")
    }
}

impl Caller {
    fn from_token(token: TokenRecord, credential: Credential) -> Self {
        Caller {
            token_id: token.id,
            role: token.role,
            user: token.user,
            expires_at: token.expires_at,
            credential,
        }
    }

    /// Whether the token is no longer live (revoked, expired, its user
    /// disabled), asked of the database now. False when the database
    /// cannot answer.
    pub async fn revoked(&self) -> bool {
        matches!(
            self.credential
                .tokens
                .verify(self.credential.secret_hash.clone())
                .await,
            Ok(None)
        )
    }

    /// Resolves once the token is no longer live: at once when the change
    /// feed announces its revocation (from any server process), else at
    /// the next check of `every` (expiry; a feed that missed something).
    pub async fn until_revoked(&self, every: std::time::Duration) {
        let mut revocations = self.credential.revocations.subscribe();
        // A revocation committed before we subscribed is seen here.
        if self.revoked().await {
            return;
        }
        loop {
            let check = tokio::select! {
                heard = revocations.recv() => match heard {
                    Ok(Revocation::Token(id)) => id == self.token_id,
                    Ok(Revocation::MaybeMissed)
                    | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => true,
                    // No feed any more (shutting down): the timer alone.
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        tokio::time::sleep(every).await;
                        true
                    }
                },
                () = tokio::time::sleep(every) => true,
            };
            if check && self.revoked().await {
                return;
            }
        }
    }

    /// How the timeline names this caller: `role:username` for a person,
    /// `role:token-id` for a token; never the secret.
    pub fn actor(&self) -> Actor {
        match &self.user {
            Some(user) => Actor(format!("{}:{}", self.role.name(), user.username)),
            None => Actor(format!("{}:{}", self.role.name(), self.token_id)),
        }
    }

    /// A unit token may act only for its own unit; admins for any.
    pub fn require_unit(&self, unit_id: UnitId) -> Result<(), ApiError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Unit(own) if own == unit_id => Ok(()),
            Role::Unit(_) => Err(ApiError::PermissionDenied(
                "this token belongs to another unit".to_owned(),
            )),
            Role::Operator | Role::Gateway | Role::Agency(_) => Err(ApiError::PermissionDenied(
                "only the unit's own device may act for it".to_owned(),
            )),
        }
    }
}

/// Reads the caller that [`AuthLayer`] attached.
pub fn caller<T>(request: &tonic::Request<T>) -> Result<Caller, ApiError> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| ApiError::Unauthenticated("missing bearer token".to_owned()))
}

/// The hash under which a secret is stored.
pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// A new random secret (256 bits from the OS) with a prefix that says
/// what it is.
pub fn new_secret(prefix: &str) -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|error| StoreError::Internal(format!("no OS randomness: {error}")))?;
    Ok(format!("{prefix}_{}", hex::encode(bytes)))
}

/// Issues a token: returns the secret (shown once) and the stored record.
pub async fn issue_token(store: &Store, role: Role) -> Result<(String, TokenRecord), StoreError> {
    let secret = new_secret("n112")?;
    let record = store.insert_token(role, &hash_secret(&secret)).await?;
    Ok((secret, record))
}

/// Which roles may call a method (the Roles table of api.md). `None`:
/// open to anyone (health, reflection).
fn allowed(path: &str, role: &Role) -> Option<bool> {
    let (service, method) = path.trim_start_matches('/').split_once('/')?;
    let is_admin = matches!(role, Role::Admin);
    let is_operator = matches!(role, Role::Operator);
    let is_unit = matches!(role, Role::Unit(_));
    let is_gateway = matches!(role, Role::Gateway);
    let is_agency = matches!(role, Role::Agency(_));
    Some(match service {
        // Login is open (see `is_open`); the rest is for any valid token.
        "ngalam112.v1.AuthService" => true,
        "ngalam112.v1.CallerService" if method == "UnflagCaller" => is_admin,
        "ngalam112.v1.CallerService" => is_admin || is_operator,
        "ngalam112.v1.AgencyService" => match method {
            "ListAgencies" => is_admin || is_operator,
            "ListReferrals" => is_admin || is_operator || is_agency,
            "UpdateReferral" => is_admin || is_agency,
            _ => is_admin,
        },
        "ngalam112.v1.CameraService" if method == "RegisterCamera" => is_admin,
        "ngalam112.v1.CameraService" => is_admin || is_operator,
        "ngalam112.v1.TelephonyService" if method == "SignalCall" => is_admin || is_gateway,
        "ngalam112.v1.TelephonyService" => is_admin || is_operator,
        "ngalam112.v1.IncidentService" if method == "IngestDeviceLocation" => {
            is_admin || is_gateway
        }
        "ngalam112.v1.IncidentService" => is_admin || is_operator,
        "ngalam112.v1.UnitService" if method == "RegisterUnit" => is_admin,
        "ngalam112.v1.UnitService" => is_admin || is_operator,
        "ngalam112.v1.FieldService" if method == "GetRoute" => is_admin || is_operator || is_unit,
        "ngalam112.v1.FieldService" => is_admin || is_unit,
        _ => is_admin,
    })
}

/// Calls that need no token: health, reflection, `Login`, the public
/// figures (`PublicService`, rate-limited per address), and everything
/// that is not one of our RPCs (the web console's pages and files).
fn is_open(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.")
        || path.starts_with("/grpc.reflection.")
        || path == "/ngalam112.v1.AuthService/Login"
        || path.starts_with("/ngalam112.v1.PublicService/")
        || !path.starts_with("/ngalam112.")
}

/// A browser's call from another site's page is refused: the console's
/// own page always calls its own origin (CSP `connect-src 'self'`).
fn cross_origin(request: &http::request::Parts) -> bool {
    let Some(origin) = request.headers.get(http::header::ORIGIN) else {
        return false;
    };
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|origin| origin.split_once("://"))
        .map(|(_, host)| host.trim_end_matches('/').to_ascii_lowercase());
    let own_host = request
        .uri
        .authority()
        .map(|authority| authority.as_str().to_ascii_lowercase())
        .or_else(|| {
            request
                .headers
                .get(http::header::HOST)
                .and_then(|host| host.to_str().ok())
                .map(str::to_ascii_lowercase)
        });
    origin_host.is_none() || origin_host != own_host
}

async fn authenticate(
    tokens: &TokenVerifier,
    revocations: &tokio::sync::broadcast::Sender<Revocation>,
    request: &http::request::Parts,
) -> Result<Caller, Status> {
    let header = request
        .headers
        .get(http::header::AUTHORIZATION)
        .ok_or_else(|| Status::unauthenticated("missing authorization: Bearer <token>"))?;
    // The scheme is case-insensitive (RFC 7235).
    let secret = header
        .to_str()
        .ok()
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, secret)| secret.trim())
        .filter(|secret| !secret.is_empty())
        .ok_or_else(|| Status::unauthenticated("authorization must be: Bearer <token>"))?;
    let secret_hash = hash_secret(secret);
    let token = tokens
        .verify(secret_hash.clone())
        .await
        .map_err(|error| Status::from(ApiError::Store(error)))?
        .ok_or_else(|| Status::unauthenticated("unknown or revoked token"))?;
    let caller = Caller::from_token(
        token,
        Credential {
            tokens: tokens.clone(),
            secret_hash,
            revocations: revocations.clone(),
        },
    );
    let path = request.uri.path();
    if allowed(path, &caller.role) == Some(false) {
        return Err(Status::permission_denied(format!(
            "role {} may not call {path}",
            caller.role.name()
        )));
    }
    Ok(caller)
}

/// The tower layer that authenticates every call (and gives each watch
/// stream its place under the token's cap).
#[derive(Clone)]
pub struct AuthLayer {
    tokens: TokenVerifier,
    watchers: Watchers,
    revocations: tokio::sync::broadcast::Sender<Revocation>,
}

impl AuthLayer {
    pub fn new(
        store: Store,
        watchers: Watchers,
        revocations: tokio::sync::broadcast::Sender<Revocation>,
    ) -> Self {
        Self {
            tokens: TokenVerifier::start(store),
            watchers,
            revocations,
        }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    layer: AuthLayer,
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S, B> tower::Service<http::Request<B>> for AuthService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // The readied service goes into the future; a clone stays behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let AuthLayer {
            tokens,
            watchers,
            revocations,
        } = self.layer.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            if parts.uri.path().starts_with("/ngalam112.") && cross_origin(&parts) {
                return Ok(
                    Status::permission_denied("calls from another site's page are refused")
                        .into_http(),
                );
            }
            if is_open(parts.uri.path()) {
                return inner.call(http::Request::from_parts(parts, body)).await;
            }
            let caller = match authenticate(&tokens, &revocations, &parts).await {
                Ok(caller) => caller,
                Err(status) => return Ok(status.into_http()),
            };
            let permit = if crate::streams::is_watch(parts.uri.path()) {
                match watchers.admit(caller.token_id) {
                    Ok(permit) => Some(permit),
                    Err(status) => return Ok(status.into_http()),
                }
            } else {
                None
            };
            parts.extensions.insert(caller);
            let response = inner.call(http::Request::from_parts(parts, body)).await?;
            Ok(match permit {
                Some(permit) => response.map(|body| PermittedBody::wrap(body, permit)),
                None => response,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_table_matches_the_contract() {
        let unit = Role::Unit(UnitId::new_random());
        let incident = "/ngalam112.v1.IncidentService/CreateIncident";
        let register = "/ngalam112.v1.UnitService/RegisterUnit";
        let in_service = "/ngalam112.v1.UnitService/SetUnitInService";
        let poll = "/ngalam112.v1.FieldService/PollAssignment";
        assert_eq!(allowed(incident, &Role::Operator), Some(true));
        assert_eq!(allowed(incident, &unit), Some(false));
        assert_eq!(allowed(register, &Role::Operator), Some(false));
        assert_eq!(allowed(register, &Role::Admin), Some(true));
        assert_eq!(allowed(in_service, &Role::Operator), Some(true));
        assert_eq!(allowed(poll, &unit), Some(true));
        assert_eq!(allowed(poll, &Role::Operator), Some(false));
        assert!(is_open("/grpc.health.v1.Health/Check"));
        assert!(is_open("/ngalam112.v1.AuthService/Login"));
        let who_am_i = "/ngalam112.v1.AuthService/WhoAmI";
        assert_eq!(allowed(who_am_i, &unit), Some(true));
        assert_eq!(allowed(who_am_i, &Role::Gateway), Some(true));
        let unflag = "/ngalam112.v1.CallerService/UnflagCaller";
        assert_eq!(allowed(unflag, &Role::Operator), Some(false));
        assert_eq!(allowed(unflag, &Role::Admin), Some(true));
        let agency = Role::Agency(ngalam112_core::AgencyId::new_random());
        assert_eq!(allowed(incident, &agency), Some(false));
    }
}
