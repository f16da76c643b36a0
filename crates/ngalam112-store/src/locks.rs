//! Every advisory-lock namespace the store uses, in one place (the first
//! key of `pg_advisory_xact_lock(namespace, key)`). The order in which a
//! transaction may take them is in docs/ARCHITECTURE.md ("Lock order").

use ngalam112_core::UnitKind;
use sqlx::PgConnection;

use crate::StoreError;

/// Dispatch of one unit kind (second key: [`kind_key`]).
pub const DISPATCH: i32 = 112;
/// One CreateIncident `request_id` (second key: `hashtext(request_id)`).
pub const REQUEST_ID: i32 = 113;
/// Failed logins of one username (second key: `hashtext(username)`).
pub const LOGIN: i32 = 114;

/// The second key of a kind's dispatch lock.
pub fn kind_key(kind: UnitKind) -> i32 {
    match kind {
        UnitKind::Ambulance => 1,
        UnitKind::FireEngine => 2,
        UnitKind::Police => 3,
        UnitKind::Rescue => 4,
    }
}

/// Takes the dispatch locks of `kinds` for the rest of the transaction, in
/// one global order so that two transactions never wait on each other.
pub(crate) async fn lock_kinds(
    connection: &mut PgConnection,
    kinds: &[UnitKind],
) -> Result<(), StoreError> {
    lock_kind_keys(connection, kinds, false).await
}

/// Takes the dispatch locks of `kinds` in shared mode: it waits for every
/// transaction holding one exclusively (freeing a unit of that kind) to
/// commit, but shared holders never wait for each other. A new call's
/// second pass takes it (see `unit_of_work`).
pub(crate) async fn lock_kinds_shared(
    connection: &mut PgConnection,
    kinds: &[UnitKind],
) -> Result<(), StoreError> {
    lock_kind_keys(connection, kinds, true).await
}

async fn lock_kind_keys(
    connection: &mut PgConnection,
    kinds: &[UnitKind],
    shared: bool,
) -> Result<(), StoreError> {
    let mut keys: Vec<i32> = kinds.iter().copied().map(kind_key).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        let namespace = DISPATCH;
        if shared {
            sqlx::query!(
                "SELECT pg_advisory_xact_lock_shared($1, $2)",
                namespace,
                key
            )
            .execute(&mut *connection)
            .await?;
        } else {
            sqlx::query!("SELECT pg_advisory_xact_lock($1, $2)", namespace, key)
                .execute(&mut *connection)
                .await?;
        }
    }
    Ok(())
}
