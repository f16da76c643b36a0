//! The three gRPC services of api.md. Each handler reads and validates the
//! request (`convert`), checks who may do it (`auth`), calls the store, and
//! writes the answer; errors go through `error::ApiError`.

pub mod field;
pub mod incident;
pub mod unit;

pub use field::FieldApi;
pub use incident::IncidentApi;
pub use unit::UnitApi;
