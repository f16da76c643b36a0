//! Every advisory-lock namespace the store uses, in one place (the first
//! key of `pg_advisory_xact_lock(namespace, key)`). The order in which a
//! transaction may take them is in docs/ARCHITECTURE.md ("Lock order").

use ngalam112_core::UnitKind;

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
