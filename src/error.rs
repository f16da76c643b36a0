//! The one mapping from domain and store errors to gRPC statuses.
//!
//! Clients see what they can act on: the field they got wrong, the state
//! that forbids a change. Internal causes are logged here and never sent.

use ngalam112_core::ValidationError;
use ngalam112_store::StoreError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Unauthenticated(String),
    /// Too many attempts (logins); the client must wait.
    #[error("{0}")]
    ResourceExhausted(String),
    /// The server cannot serve this now (shutting down, live updates
    /// reconnecting); the client should retry shortly.
    #[error("{0}")]
    Unavailable(String),
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::Invalid(invalid) => Status::with_error_details(
                Code::InvalidArgument,
                invalid.to_string(),
                ErrorDetails::with_bad_request_violation(invalid.field, invalid.message),
            ),
            ApiError::PermissionDenied(message) => Status::permission_denied(message),
            ApiError::Unauthenticated(message) => Status::unauthenticated(message),
            ApiError::ResourceExhausted(message) => Status::resource_exhausted(message),
            ApiError::Unavailable(message) => Status::unavailable(message),
            ApiError::Store(store) => match store {
                StoreError::NotFound { .. } => Status::not_found(store.to_string()),
                StoreError::AlreadyExists(message) => Status::already_exists(message),
                StoreError::FailedPrecondition(message) => Status::failed_precondition(message),
                StoreError::CallNotStored(message) | StoreError::OutcomeUnknown(message) => {
                    Status::unavailable(message)
                }
                StoreError::Unavailable(cause) => {
                    tracing::warn!(%cause, "database unavailable");
                    Status::unavailable("the dispatch database is unreachable; retry shortly")
                }
                StoreError::Conflict(cause) | StoreError::Internal(cause) => {
                    tracing::error!(%cause, "internal error");
                    Status::internal("internal error; the operators' log has the cause")
                }
            },
        }
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;

/// The one frame of every unary handler: runs its body (validation, then
/// the store), and answers with the message or with the status its error
/// maps to (`From<ApiError> for Status` above).
pub async fn answer<T>(
    body: impl std::future::Future<Output = ApiResult<T>>,
) -> Result<tonic::Response<T>, Status> {
    Ok(tonic::Response::new(body.await?))
}
