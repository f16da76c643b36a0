//! The gRPC services of docs/api.md. Each handler reads and validates the
//! request (`convert`), checks who may do it (`auth`), calls the store, and
//! writes the answer; errors go through `error::ApiError`.

pub mod agencies;
pub mod auth;
pub mod board;
pub mod callers;
pub mod cameras;
pub mod field;
pub mod fleet;
pub mod incident;
pub mod public;
pub mod telephony;
pub mod unit;

pub use agencies::AgencyApi;
pub use auth::AuthApi;
pub use callers::CallerApi;
pub use cameras::CameraApi;
pub use field::FieldApi;
pub use incident::IncidentApi;
pub use public::PublicApi;
pub use telephony::TelephonyApi;
pub use unit::UnitApi;
