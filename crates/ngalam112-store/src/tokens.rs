//! API tokens: only a hash of each secret is stored.

use chrono::{DateTime, Utc};
use ngalam112_core::UnitId;
use uuid::Uuid;

use crate::{Store, StoreError};

/// Who a token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Operator,
    /// A crew's device, bound to one unit.
    Unit(UnitId),
}

impl Role {
    pub fn name(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Unit(_) => "unit",
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
        _ => return Err(StoreError::Internal(format!("bad token role {role}"))),
    };
    Ok(TokenRecord {
        id,
        role,
        created_at,
        revoked_at,
    })
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
