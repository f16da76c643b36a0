//! The Ngalam 112 domain core: validated values ("parse, don't validate"),
//! the incident and assignment state machines, and the rule that picks the
//! nearest unit.
//!
//! It must never do I/O: no database, no network, no clock of its own (times
//! are passed in). Everything here is unit-tested in place.

pub mod aml;
pub mod calls;
pub mod drive;
pub mod enums;
pub mod geo_point;
pub mod ids;
pub mod incident;
pub mod intake;
pub mod phone;
pub mod plan;
pub mod ranking;
pub mod role;
pub mod validation;

pub use calls::{CallId, CallSignal, CallState};
pub use enums::{
    AssignmentStatus, EventKind, IncidentCategory, IncidentStatus, Priority, ReferralStatus,
    ResolutionCode, StoredName, UnitKind, UnitStatus,
};
pub use geo_point::GeoPoint;
pub use ids::{AgencyId, AlarmId, AssignmentId, IncidentId, ReferralId, UnitId, UserId};
pub use intake::{IncidentDraft, NewIncident};
pub use phone::{CallerNumber, PhoneNumber};
pub use role::Role;
pub use validation::ValidationError;
