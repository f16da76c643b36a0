//! The Ngalam 112 dispatch server: tonic services that translate between
//! the wire (`ngalam112-proto`) and the domain (`ngalam112-core`), call the
//! store (`ngalam112-store`), and map errors to gRPC codes in one place
//! (`error`).
//!
//! Nothing here decides dispatch policy or writes SQL.

pub mod auth;
pub mod cli;
pub mod client_address;
pub mod convert;
pub mod demo_server;
pub mod eido;
pub mod embedded_postgres;
pub mod error;
pub mod hosts;
pub mod housekeeping;
pub mod metrics;
pub mod offer_timer;
pub mod passwords;
pub mod roads;
pub mod seed;
pub mod server;
pub mod services;
pub mod streams;
pub mod telemetry;
pub mod user_cli;
pub mod web;

pub use server::{ServerConfig, run};
