//! Bounds on the long-lived streams (`WatchIncidents`, `WatchUnits`,
//! `WatchAlarms`, `WatchCalls`): a stream carries callers' names and numbers, so it lives
//! only as long as its token does (it ends UNAUTHENTICATED as soon as the
//! change feed announces the token's revocation, and expiry is checked
//! every few seconds), and one token holds at most a few at once
//! (RESOURCE_EXHAUSTED beyond).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::watch;
use tonic::Status;

use crate::auth::Caller;

/// How often a stream re-checks that its token is still live besides
/// the revocations it hears (expiry, a feed that was down).
pub const RECHECK_EVERY: Duration = Duration::from_secs(5);

/// The RPCs that stream until the client leaves.
const WATCH_PATHS: [&str; 4] = [
    "/ngalam112.v1.IncidentService/WatchIncidents",
    "/ngalam112.v1.IncidentService/WatchAlarms",
    "/ngalam112.v1.UnitService/WatchUnits",
    "/ngalam112.v1.TelephonyService/WatchCalls",
];

pub fn is_watch(path: &str) -> bool {
    WATCH_PATHS.contains(&path)
}

/// Open streams per token, in this process.
#[derive(Clone, Debug)]
pub struct Watchers {
    open: Arc<Mutex<HashMap<uuid::Uuid, usize>>>,
    per_token: usize,
}

impl Watchers {
    pub fn new(per_token: usize) -> Self {
        Self {
            open: Arc::default(),
            per_token,
        }
    }

    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<uuid::Uuid, usize>> {
        // A poisoned map still holds valid counts.
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A place for one more stream of `token_id`, or RESOURCE_EXHAUSTED.
    pub fn admit(&self, token_id: uuid::Uuid) -> Result<WatchPermit, Status> {
        let mut open = self.open();
        let count = open.entry(token_id).or_default();
        if *count >= self.per_token {
            return Err(Status::resource_exhausted(format!(
                "this token already has {} open watch streams (the most allowed); \
                 close one first",
                self.per_token
            )));
        }
        *count += 1;
        Ok(WatchPermit {
            watchers: self.clone(),
            token_id,
        })
    }
}

/// Held for as long as the stream's response body lives.
#[derive(Debug)]
pub struct WatchPermit {
    watchers: Watchers,
    token_id: uuid::Uuid,
}

impl Drop for WatchPermit {
    fn drop(&mut self) {
        let mut open = self.watchers.open();
        if let Some(count) = open.get_mut(&self.token_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.token_id);
            }
        }
    }
}

/// A response body that gives its stream's place back when the client
/// leaves (hyper drops the body) or the stream ends.
pub struct PermittedBody {
    body: tonic::body::Body,
    _permit: WatchPermit,
}

impl PermittedBody {
    pub fn wrap(body: tonic::body::Body, permit: WatchPermit) -> tonic::body::Body {
        tonic::body::Body::new(PermittedBody {
            body,
            _permit: permit,
        })
    }
}

impl http_body::Body for PermittedBody {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(context)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// Resolves with the status a stream must end with: the server is
/// stopping, or the caller's token was revoked (heard at once), expired,
/// or its user disabled (checked every [`RECHECK_EVERY`]). A database that
/// does not answer ends nothing: the stream's own feed reports that.
pub async fn end_of_stream(mut stopping: watch::Receiver<bool>, caller: Option<Caller>) -> Status {
    let revoked = async {
        let Some(caller) = caller else {
            return std::future::pending().await;
        };
        caller.until_revoked(RECHECK_EVERY).await;
    };
    tokio::select! {
        _ = stopping.wait_for(|stopping| *stopping) => Status::unavailable(
            "the server is shutting down; watch again (another server will answer)",
        ),
        () = revoked => Status::unauthenticated(
            "the token was revoked or expired (or its user disabled); log in again",
        ),
    }
}
