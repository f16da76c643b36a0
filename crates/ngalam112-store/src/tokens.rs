//! API tokens: only a hash of each secret is stored.

use chrono::{DateTime, Utc};
use ngalam112_core::UnitId;
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

/// Who a token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Operator,
    /// A crew's device, bound to one unit.
    Unit(UnitId),
    /// The telco's AML gateway: may only send device locations.
    Gateway,
}

impl Role {
    pub fn name(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Unit(_) => "unit",
            Role::Gateway => "gateway",
        }
    }
}

/// A stored token, without its secret.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub id: Uuid,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

fn to_record(
    id: Uuid,
    role: &str,
    unit_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
) -> Result<TokenRecord, StoreError> {
    let role = match (role, unit_id) {
        ("admin", _) => Role::Admin,
        ("operator", _) => Role::Operator,
        ("unit", Some(unit)) => Role::Unit(UnitId(unit)),
        ("gateway", _) => Role::Gateway,
        _ => return Err(StoreError::Internal(format!("bad token role {role}"))),
    };
    Ok(TokenRecord {
        id,
        role,
        created_at,
        revoked_at,
    })
}

#[derive(sqlx::FromRow)]
struct HashedTokenRow {
    secret_hash: Vec<u8>,
    id: Uuid,
    role: String,
    unit_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

type TokenRow = (
    Uuid,
    String,
    Option<Uuid>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

impl Store {
    /// Stores a new token given the hash of its secret.
    pub async fn insert_token(
        &self,
        role: Role,
        secret_hash: &[u8],
    ) -> Result<TokenRecord, StoreError> {
        let unit_id = match role {
            Role::Unit(unit) => {
                self.unit(unit).await?;
                Some(unit.0)
            }
            _ => None,
        };
        let (id, role_name, unit, created_at, revoked_at): TokenRow = sqlx::query_as(
            "INSERT INTO api_tokens (id, role, unit_id, secret_hash) VALUES ($1, $2, $3, $4) \
             RETURNING id, role, unit_id, created_at, revoked_at",
        )
        .bind(Uuid::new_v4())
        .bind(role.name())
        .bind(unit_id)
        .bind(secret_hash)
        .fetch_one(&self.pool)
        .await?;
        to_record(id, &role_name, unit, created_at, revoked_at)
    }

    /// The live (not revoked) tokens among these secret hashes, in one
    /// statement (the auth layer's batches: see `TokenVerifier`).
    pub(crate) async fn tokens_by_hashes(
        &self,
        hashes: &[Vec<u8>],
    ) -> Result<Vec<(Vec<u8>, TokenRecord)>, StoreError> {
        let rows: Vec<HashedTokenRow> = sqlx::query_as(
            "SELECT secret_hash, id, role, unit_id, created_at, revoked_at FROM api_tokens \
                 WHERE secret_hash = ANY($1) AND revoked_at IS NULL",
        )
        .bind(hashes)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let token = to_record(
                    row.id,
                    &row.role,
                    row.unit_id,
                    row.created_at,
                    row.revoked_at,
                )?;
                Ok((row.secret_hash, token))
            })
            .collect()
    }

    /// The live (not revoked) token with this secret hash, if any.
    pub async fn token_by_hash(
        &self,
        secret_hash: &[u8],
    ) -> Result<Option<TokenRecord>, StoreError> {
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT id, role, unit_id, created_at, revoked_at FROM api_tokens \
             WHERE secret_hash = $1 AND revoked_at IS NULL",
        )
        .bind(secret_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(id, role, unit, created_at, revoked_at)| {
            to_record(id, &role, unit, created_at, revoked_at)
        })
        .transpose()
    }

    /// Every token, oldest first, without secrets.
    pub async fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let rows: Vec<TokenRow> = sqlx::query_as(
            "SELECT id, role, unit_id, created_at, revoked_at FROM api_tokens ORDER BY created_at",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, role, unit, created_at, revoked_at)| {
                to_record(id, &role, unit, created_at, revoked_at)
            })
            .collect()
    }

    /// Revokes a token; it stops working on the next call.
    pub async fn revoke_token(&self, id: Uuid) -> Result<(), StoreError> {
        let result = sqlx::query(
            "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::not_found("token", id));
        }
        Ok(())
    }
}
