//! The shared test support (crates/ngalam112-testkit).

pub use ngalam112_testkit::*;
