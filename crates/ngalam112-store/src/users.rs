//! People who log in: users, their sessions, and the failed-login counter
//! that every server process shares (per account and client address).
//!
//! Password hashes are made and checked by the server (argon2id); this
//! module only stores the PHC strings and never sees a password.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ngalam112_core::{AgencyId, UserId};
use uuid::Uuid;

use crate::tokens::insert_token_row;
use crate::{Role, SessionUser, Store, StoreError, TokenRecord};

/// Failed logins of one account from one client address allowed within
/// [`LOGIN_FAILURE_WINDOW`]; past them every attempt from that address is
/// refused until the window passes (other addresses are not affected).
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
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// What a login attempt came to.
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    /// Unknown user, wrong password or disabled user (one answer for all).
    Refused,
    /// A new session.
    Session(TokenRecord),
}

/// Whether a login attempt may be checked at all.
#[derive(Debug)]
pub enum LoginAdmission {
    /// Too many failures of this account from this address lately; not
    /// even checked.
    Locked,
    /// Counted; the password is to be checked against `stored_hash`.
    Admitted(Box<PendingLogin>),
}

/// A login attempt between [`Store::begin_login`] and
/// [`Store::finish_login`].
#[derive(Debug)]
pub struct PendingLogin {
    username: String,
    client_address: String,
    /// Its row in `login_failures`, deleted if the password matches.
    attempt: i64,
    prior_failures: i64,
    user: Option<UserRow>,
}

impl PendingLogin {
    /// Failures of this account from this address within the window,
    /// before this attempt (the server slows each further try down).
    pub fn prior_failures(&self) -> i64 {
        self.prior_failures
    }

    /// The stored password hash; None for an unknown username (the server
    /// then checks a dummy hash, so both take the same time).
    pub fn stored_hash(&self) -> Option<String> {
        self.user.as_ref().map(|user| user.password_hash.clone())
    }
}

/// Ends every open session of a user (the change feed tells every server
/// process, whose streams of those sessions end at once).
async fn revoke_sessions_of(
    connection: &mut sqlx::PgConnection,
    user_id: UserId,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
        user_id.uuid(),
    )
    .execute(&mut *connection)
    .await?;
    Ok(())
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

#[derive(Debug)]
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
            id: UserId::from_uuid(row.id),
            role: crate::tokens::stored_role(&row.role, row.unit_id, row.agency_id)?,
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
            Role::Unit(unit) => (Some(unit.uuid()), None),
            Role::Agency(agency) => (None, Some(agency.uuid())),
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
        revoke_sessions_of(&mut transaction, UserId::from_uuid(id)).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Replaces a user's password hash and ends every session of theirs
    /// (whoever knew the old password is logged out everywhere).
    pub async fn set_password(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        let mut transaction = self.pool.begin().await?;
        let id: Uuid = sqlx::query_scalar!(
            "UPDATE users SET password_hash = $2, updated_at = now() WHERE username = $1 \
             RETURNING id",
            username,
            password_hash,
        )
        .fetch_optional(&mut *transaction)
        .await?
        .ok_or_else(|| StoreError::not_found("user", username))?;
        revoke_sessions_of(&mut transaction, UserId::from_uuid(id)).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Lets a disabled user log in again (their old sessions stay ended).
    pub async fn enable_user(&self, username: &str) -> Result<(), StoreError> {
        let result = sqlx::query!(
            "UPDATE users SET disabled_at = NULL, updated_at = now() WHERE username = $1",
            username,
        )
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::not_found("user", username));
        }
        Ok(())
    }

    /// The first half of a login attempt: unless this account has failed
    /// too often from this address lately, the attempt is counted as a
    /// failure now (so attempts made at once count too, on every server
    /// process) and the stored hash is returned for the server to check,
    /// outside any transaction. [`Store::finish_login`] takes the failure
    /// back when the password matched. A short transaction on the side
    /// connections: logins never hold a connection that dispatch needs.
    pub async fn begin_login(
        &self,
        username: &str,
        client_address: &str,
    ) -> Result<LoginAdmission, StoreError> {
        let mut transaction = self.side_pool.begin().await?;
        sqlx::query!(
            "SELECT pg_advisory_xact_lock($1, hashtext($2 || ' ' || $3))",
            crate::locks::LOGIN,
            username,
            client_address,
        )
        .execute(&mut *transaction)
        .await?;
        let prior_failures: i64 = sqlx::query_scalar!(
            r#"SELECT count(*) AS "failures!" FROM login_failures
               WHERE username = $1 AND client_address = $2
                 AND at > now() - $3 * interval '1 second'"#,
            username,
            client_address,
            LOGIN_FAILURE_WINDOW.as_secs_f64(),
        )
        .fetch_one(&mut *transaction)
        .await?;
        if prior_failures >= LOGIN_FAILURES_ALLOWED {
            transaction.rollback().await?;
            return Ok(LoginAdmission::Locked);
        }
        let attempt: i64 = sqlx::query_scalar!(
            "INSERT INTO login_failures (username, client_address) VALUES ($1, $2) RETURNING id",
            username,
            client_address,
        )
        .fetch_one(&mut *transaction)
        .await?;
        let user = select_users!("FROM users WHERE username = $1", username)
            .fetch_optional(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(LoginAdmission::Admitted(Box::new(PendingLogin {
            username: username.to_owned(),
            client_address: client_address.to_owned(),
            attempt,
            prior_failures,
            user,
        })))
    }

    /// The second half: with a matching password of an enabled user, the
    /// account's failures from this address are forgotten and a session
    /// begins; otherwise the attempt stays counted as a failure.
    pub async fn finish_login(
        &self,
        pending: Box<PendingLogin>,
        password_matched: bool,
        session_secret_hash: &[u8],
        session_lifetime: Duration,
    ) -> Result<LoginOutcome, StoreError> {
        let user = match pending.user {
            Some(user) if password_matched && user.disabled_at.is_none() => user,
            _ => return Ok(LoginOutcome::Refused),
        };
        let lifetime = chrono::Duration::from_std(session_lifetime)
            .map_err(|error| StoreError::Internal(error.to_string()))?;
        let role = crate::tokens::stored_role(&user.role, user.unit_id, user.agency_id)?;
        let mut transaction = self.side_pool.begin().await?;
        sqlx::query!(
            "DELETE FROM login_failures \
             WHERE (username = $1 AND client_address = $2) OR id = $3",
            pending.username,
            pending.client_address,
            pending.attempt,
        )
        .execute(&mut *transaction)
        .await?;
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

    /// Deletes failed logins older than the window (they count for
    /// nothing any more); returns how many went.
    pub async fn purge_login_failures(&self) -> Result<u64, StoreError> {
        let result = sqlx::query!(
            "DELETE FROM login_failures WHERE at < now() - $1 * interval '1 second'",
            LOGIN_FAILURE_WINDOW.as_secs_f64(),
        )
        .execute(&self.side_pool)
        .await?;
        Ok(result.rows_affected())
    }

    /// NOT_FOUND unless the agency exists.
    pub async fn agency_exists(&self, agency: AgencyId) -> Result<(), StoreError> {
        let found: Option<Uuid> =
            sqlx::query_scalar!("SELECT id FROM agencies WHERE id = $1", agency.uuid(),)
                .fetch_optional(&self.pool)
                .await?;
        found
            .map(|_| ())
            .ok_or_else(|| StoreError::not_found("agency", agency))
    }
}
