//! API tokens: only a hash of each secret is stored.

use chrono::{DateTime, Utc};
use ngalam112_core::{AgencyId, Role, UnitId};
use uuid::Uuid;

use crate::batch::Batcher;
use crate::{Store, StoreError};

/// Checks bearer tokens for every call against the database, grouping the
/// calls that arrive together into one lookup. Nothing is cached: a
/// revoked token fails on the next call, on every server process.
#[derive(Clone)]
pub struct TokenVerifier {
    batcher: Batcher<Vec<u8>, Option<TokenRecord>>,
}

impl TokenVerifier {
    pub fn start(store: Store) -> TokenVerifier {
        TokenVerifier {
            batcher: Batcher::start(2, 500, move |hashes: Vec<Vec<u8>>| {
                let store = store.clone();
                async move {
                    let found = store.tokens_by_hashes(&hashes).await?;
                    Ok(hashes
                        .iter()
                        .map(|hash| {
                            Ok(found
                                .iter()
                                .find(|(found_hash, _)| found_hash == hash)
                                .map(|(_, token)| token.clone()))
                        })
                        .collect())
                }
            }),
        }
    }

    /// The live token with this secret hash, if any.
    pub async fn verify(&self, secret_hash: Vec<u8>) -> Result<Option<TokenRecord>, StoreError> {
        let lane = secret_hash.first().copied().map_or(0, u64::from);
        self.batcher.submit(lane, secret_hash).await
    }
}

/// A stored role with the unit or agency it is bound to.
pub(crate) fn stored_role(
    name: &str,
    unit_id: Option<Uuid>,
    agency_id: Option<Uuid>,
) -> Result<Role, StoreError> {
    Role::from_stored(
        name,
        unit_id.map(UnitId::from_uuid),
        agency_id.map(AgencyId::from_uuid),
    )
    .ok_or_else(|| StoreError::Internal(format!("bad stored role {name:?} in database")))
}

/// The person a session token belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionUser {
    pub username: String,
    pub display_name: String,
}

/// A stored token, without its secret.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub id: Uuid,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Sessions expire; tokens from `token issue` do not.
    pub expires_at: Option<DateTime<Utc>>,
    /// Set for a person's session (from `Login`).
    pub user: Option<SessionUser>,
}

/// `SELECT` a token with its session's user (`t` = api_tokens, `u` =
/// users), then `$sql` (`WHERE …`), checked at build time. The user's
/// columns are marked nullable (`?`): a token from `token issue` has none,
/// and sqlx does not infer that from every plan of the LEFT JOIN.
macro_rules! select_tokens {
    ($sql:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            TokenRow,
            "SELECT t.secret_hash, t.id, t.role, t.unit_id, t.agency_id, t.created_at, \
               t.revoked_at, t.expires_at, u.username AS \"username?\", \
               u.display_name AS \"display_name?\" \
             FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id "
                + $sql
            $(, $arg)*
        )
    };
}

struct TokenRow {
    secret_hash: Vec<u8>,
    id: Uuid,
    role: String,
    unit_id: Option<Uuid>,
    agency_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    username: Option<String>,
    display_name: Option<String>,
}

impl TryFrom<TokenRow> for TokenRecord {
    type Error = StoreError;

    fn try_from(row: TokenRow) -> Result<Self, StoreError> {
        Ok(TokenRecord {
            id: row.id,
            role: crate::tokens::stored_role(&row.role, row.unit_id, row.agency_id)?,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
            expires_at: row.expires_at,
            user: row.username.map(|username| SessionUser {
                username,
                display_name: row.display_name.unwrap_or_default(),
            }),
        })
    }
}

impl Store {
    /// Stores a new token given the hash of its secret.
    pub async fn insert_token(
        &self,
        role: Role,
        secret_hash: &[u8],
    ) -> Result<TokenRecord, StoreError> {
        if let Role::Unit(unit) = role {
            self.unit(unit).await?;
        }
        if let Role::Agency(agency) = role {
            self.agency_exists(agency).await?;
        }
        let mut connection = self.pool.acquire().await?;
        insert_token_row(&mut connection, role, secret_hash, None, None).await
    }

    /// The live tokens among these secret hashes, in one statement (the
    /// auth layer's batches: see `TokenVerifier`). A token is live when not
    /// revoked, not expired, and (for a session) its user is not disabled;
    /// checked here, in SQL, so that every server process agrees at once.
    pub(crate) async fn tokens_by_hashes(
        &self,
        hashes: &[Vec<u8>],
    ) -> Result<Vec<(Vec<u8>, TokenRecord)>, StoreError> {
        let rows = select_tokens!(
            "WHERE t.secret_hash = ANY($1) \
               AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now()) \
               AND (t.user_id IS NULL OR u.disabled_at IS NULL)",
            hashes,
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let hash = row.secret_hash.clone();
                Ok((hash, TokenRecord::try_from(row)?))
            })
            .collect()
    }

    /// The live token with this secret hash, if any.
    pub async fn token_by_hash(
        &self,
        secret_hash: &[u8],
    ) -> Result<Option<TokenRecord>, StoreError> {
        Ok(self
            .tokens_by_hashes(&[secret_hash.to_vec()])
            .await?
            .into_iter()
            .next()
            .map(|(_, token)| token))
    }

    /// Every token, oldest first, without secrets.
    pub async fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let rows = select_tokens!("ORDER BY t.created_at")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(TokenRecord::try_from).collect()
    }

    /// Revokes a token; it stops working on the next call.
    pub async fn revoke_token(&self, id: Uuid) -> Result<(), StoreError> {
        let result = sqlx::query!(
            "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1",
            id,
        )
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::not_found("token", id));
        }
        Ok(())
    }
}

/// Inserts a token row; a session names its user and expiry.
pub(crate) async fn insert_token_row(
    connection: &mut sqlx::PgConnection,
    role: Role,
    secret_hash: &[u8],
    user_id: Option<Uuid>,
    expires_at: Option<DateTime<Utc>>,
) -> Result<TokenRecord, StoreError> {
    let id = Uuid::new_v4();
    sqlx::query!(
        "INSERT INTO api_tokens (id, role, unit_id, agency_id, secret_hash, user_id, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        id,
        role.name(),
        role.unit_id().map(|unit| unit.uuid()),
        role.agency_id().map(|agency| agency.uuid()),
        secret_hash,
        user_id,
        expires_at,
    )
    .execute(&mut *connection)
    .await?;
    let row = select_tokens!("WHERE t.id = $1", id)
        .fetch_one(&mut *connection)
        .await?;
    TokenRecord::try_from(row)
}
