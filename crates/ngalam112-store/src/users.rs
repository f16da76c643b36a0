//! People who log in: users, their sessions, and the failed-login counter
//! that every server process shares.
//!
//! Password hashes are made and checked by the server (argon2id); this
//! module only stores the PHC strings and never sees a password.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ngalam112_core::AgencyId;
use uuid::Uuid;

use crate::tokens::insert_token_row;
use crate::{Role, SessionUser, Store, StoreError, TokenRecord};

/// Failed logins of one username allowed within [`LOGIN_FAILURE_WINDOW`];
/// past them every attempt is refused until the window passes.
pub const LOGIN_FAILURES_ALLOWED: i64 = 5;
/// How far back failed logins count.
pub const LOGIN_FAILURE_WINDOW: Duration = Duration::from_secs(5 * 60);

/// A validated new user (the password already hashed).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// argon2id PHC string.
    pub password_hash: String,
}

/// A stored user, without the password hash.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// What a login attempt came to.
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    /// Too many failures for this username lately; not even checked.
    Locked,
    /// Unknown user, wrong password or disabled user (one answer for all).
    Refused,
    /// A new session.
    Session(TokenRecord),
}

/// `SELECT` a user's columns, then `$sql` (`FROM users …`), checked at
/// build time.
macro_rules! select_users {
    ($sql:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            UserRow,
            "SELECT id, username, display_name, role, unit_id, agency_id, password_hash, \
               disabled_at, created_at "
                + $sql
            $(, $arg)*
        )
    };
}

struct UserRow {
    id: Uuid,
    username: String,
    display_name: String,
    role: String,
    unit_id: Option<Uuid>,
    agency_id: Option<Uuid>,
    password_hash: String,
    disabled_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for UserRecord {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(UserRecord {
            id: row.id,
            role: Role::from_stored(&row.role, row.unit_id, row.agency_id)?,
            username: row.username,
            display_name: row.display_name,
            disabled_at: row.disabled_at,
            created_at: row.created_at,
        })
    }
}

impl Store {
    /// Stores a new user. ALREADY_EXISTS for a username in use; NOT_FOUND
    /// for a unit or agency that does not exist.
    pub async fn add_user(&self, new: &NewUser) -> Result<UserRecord, StoreError> {
        if let Role::Unit(unit) = new.role {
            self.unit(unit).await?;
        }
        if let Role::Agency(agency) = new.role {
            self.agency_exists(agency).await?;
        }
        let (unit_id, agency_id) = match new.role {
            Role::Unit(unit) => (Some(unit.0), None),
            Role::Agency(agency) => (None, Some(agency.0)),
            _ => (None, None),
        };
        let row = sqlx::query_as!(
            UserRow,
            "INSERT INTO users (id, username, display_name, role, unit_id, agency_id, \
             password_hash) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             RETURNING id, username, display_name, role, unit_id, agency_id, password_hash, \
               disabled_at, created_at",
            Uuid::new_v4(),
            &new.username,
            &new.display_name,
            new.role.name(),
            unit_id,
            agency_id,
            &new.password_hash,
        )
        .fetch_one(&self.pool)
        .await?;
        UserRecord::try_from(row)
    }

    /// Every user, by username.
    pub async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let rows = select_users!("FROM users ORDER BY username")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(UserRecord::try_from).collect()
    }

    /// Disables a user: no more logins, and every session of theirs ends at
    /// once (token checks join the user; the sessions are also revoked so
    /// that enabling the user again would not revive them).
    pub async fn disable_user(&self, username: &str) -> Result<(), StoreError> {
        let mut transaction = self.pool.begin().await?;
        let id: Uuid = sqlx::query_scalar!(
            "UPDATE users SET disabled_at = coalesce(disabled_at, now()), updated_at = now() \
             WHERE username = $1 RETURNING id",
            username,
        )
        .fetch_optional(&mut *transaction)
        .await?
        .ok_or_else(|| StoreError::not_found("user", username))?;
        sqlx::query!(
            "UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
            id,
        )
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Replaces a user's password hash. Sessions already open stay open.
    pub async fn set_password(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        let result = sqlx::query!(
            "UPDATE users SET password_hash = $2, updated_at = now() WHERE username = $1",
            username,
            password_hash,
        )
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::not_found("user", username));
        }
        Ok(())
    }

    /// One login attempt. Attempts for one username are taken one at a
    /// time (an advisory lock held while the password is checked), so the
    /// failure count is exact across server processes. `password_matches`
    /// gets the stored hash, or None for an unknown username (it should
    /// then check a dummy hash, so both take the same time).
    pub async fn login<F, Fut>(
        &self,
        username: &str,
        password_matches: F,
        session_secret_hash: &[u8],
        session_lifetime: Duration,
    ) -> Result<LoginOutcome, StoreError>
    where
        F: FnOnce(Option<String>) -> Fut,
        Fut: Future<Output = bool>,
    {
        let mut transaction = self.pool.begin().await?;
        sqlx::query!(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            crate::locks::LOGIN,
            username,
        )
        .execute(&mut *transaction)
        .await?;
        let failures: i64 = sqlx::query_scalar!(
            r#"SELECT count(*) AS "failures!" FROM login_failures
               WHERE username = $1 AND at > now() - $2 * interval '1 second'"#,
            username,
            LOGIN_FAILURE_WINDOW.as_secs_f64(),
        )
        .fetch_one(&mut *transaction)
        .await?;
        if failures >= LOGIN_FAILURES_ALLOWED {
            transaction.rollback().await?;
            return Ok(LoginOutcome::Locked);
        }
        let row = select_users!("FROM users WHERE username = $1", username)
            .fetch_optional(&mut *transaction)
            .await?;
        let matches = password_matches(row.as_ref().map(|row| row.password_hash.clone())).await;
        let user = match row {
            Some(row) if matches && row.disabled_at.is_none() => row,
            _ => {
                sqlx::query!(
                    "INSERT INTO login_failures (username) VALUES ($1)",
                    username,
                )
                .execute(&mut *transaction)
                .await?;
                transaction.commit().await?;
                return Ok(LoginOutcome::Refused);
            }
        };
        sqlx::query!("DELETE FROM login_failures WHERE username = $1", username,)
            .execute(&mut *transaction)
            .await?;
        let lifetime = chrono::Duration::from_std(session_lifetime)
            .map_err(|error| StoreError::Internal(error.to_string()))?;
        let role = Role::from_stored(&user.role, user.unit_id, user.agency_id)?;
        let mut session = insert_token_row(
            &mut transaction,
            role,
            session_secret_hash,
            Some(user.id),
            Some(Utc::now() + lifetime),
        )
        .await?;
        transaction.commit().await?;
        session.user = Some(SessionUser {
            username: user.username,
            display_name: user.display_name,
        });
        Ok(LoginOutcome::Session(session))
    }

    /// NOT_FOUND unless the agency exists.
    pub async fn agency_exists(&self, agency: AgencyId) -> Result<(), StoreError> {
        let found: Option<Uuid> =
            sqlx::query_scalar!("SELECT id FROM agencies WHERE id = $1", agency.0,)
                .fetch_optional(&self.pool)
                .await?;
        found
            .map(|_| ())
            .ok_or_else(|| StoreError::not_found("agency", agency))
    }
}
