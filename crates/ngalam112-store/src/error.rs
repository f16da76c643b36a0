//! Store errors, and the one place where PostgreSQL errors become domain
//! errors.

/// What went wrong in the store, in the terms the server maps to gRPC codes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Unknown id (`what` names the kind of thing: "incident", "unit", …).
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    /// A unique value already in use (call sign).
    #[error("{0}")]
    AlreadyExists(String),
    /// The state forbids the change (rule 7, illegal transition, …).
    #[error("{0}")]
    FailedPrecondition(String),
    /// PostgreSQL cannot be reached right now.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The connection broke while a call was being stored and it was
    /// found out that it was not stored (the message is for the client).
    #[error("{0}")]
    CallNotStored(String),
    /// The connection broke while a call's commit was under way and the
    /// database stayed away too long to find out whether it committed (the
    /// message is for the client: retry with the same request id).
    #[error("{0}")]
    OutcomeUnknown(String),
    /// Deadlock or serialization failure: the transaction may be retried.
    #[error("transaction conflict: {0}")]
    Conflict(String),
    /// A bug or corrupt data; logged, never shown to a client in detail.
    #[error("internal store error: {0}")]
    Internal(String),
}

impl StoreError {
    /// The same error for another waiter of a failed batch.
    pub(crate) fn duplicate(&self) -> StoreError {
        match self {
            StoreError::NotFound { what, id } => StoreError::NotFound {
                what,
                id: id.clone(),
            },
            StoreError::AlreadyExists(message) => StoreError::AlreadyExists(message.clone()),
            StoreError::FailedPrecondition(message) => {
                StoreError::FailedPrecondition(message.clone())
            }
            StoreError::Unavailable(message) => StoreError::Unavailable(message.clone()),
            StoreError::Conflict(message) => StoreError::Conflict(message.clone()),
            StoreError::CallNotStored(message) => StoreError::CallNotStored(message.clone()),
            StoreError::OutcomeUnknown(message) => StoreError::OutcomeUnknown(message.clone()),
            StoreError::Internal(message) => StoreError::Internal(message.clone()),
        }
    }

    pub(crate) fn not_found(what: &'static str, id: impl ToString) -> Self {
        StoreError::NotFound {
            what,
            id: id.to_string(),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            // A protocol error here means the connection broke mid-message.
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
            sqlx::Error::Database(database_error) => {
                let code = database_error.code().unwrap_or_default();
                match code.as_ref() {
                    // serialization_failure, deadlock_detected
                    "40001" | "40P01" => StoreError::Conflict(database_error.message().to_owned()),
                    // admin_shutdown, crash_shutdown, cannot_connect_now,
                    // too_many_connections, read-only (a standby during
                    // failover), connection exceptions (class 08)
                    "57P01" | "57P02" | "57P03" | "53300" | "25006" => {
                        StoreError::Unavailable(database_error.message().to_owned())
                    }
                    code if code.starts_with("08") => {
                        StoreError::Unavailable(database_error.message().to_owned())
                    }
                    "23505" if database_error.constraint() == Some("units_call_sign_key") => {
                        StoreError::AlreadyExists("call_sign is already in use".to_owned())
                    }
                    "23505" if database_error.constraint() == Some("agencies_short_name_key") => {
                        StoreError::AlreadyExists("short_name is already in use".to_owned())
                    }
                    "23505" if database_error.constraint() == Some("users_username_key") => {
                        StoreError::AlreadyExists("username is already in use".to_owned())
                    }
                    // A call with this request id was stored (by an intake
                    // group, `intake_group`) while this try was under way:
                    // the retry returns it.
                    "23505" if database_error.constraint() == Some("intake_requests_pkey") => {
                        StoreError::Conflict(database_error.message().to_owned())
                    }
                    "23505"
                        if database_error.constraint() == Some("one_open_assignment_per_unit") =>
                    {
                        StoreError::FailedPrecondition(
                            "unit already has an open assignment".to_owned(),
                        )
                    }
                    _ => StoreError::Internal(error.to_string()),
                }
            }
            _ => StoreError::Internal(error.to_string()),
        }
    }
}
