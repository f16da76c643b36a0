//! Black-box tests of the Ngalam 112 server: a real PostgreSQL (one fresh
//! database per test), a real server on an ephemeral port, the generated
//! gRPC clients. One test binary to keep link time down.

#![allow(clippy::unwrap_used)]

mod alarms;
mod aml;
mod auth;
mod binary;
mod browser;
mod callers;
mod calls;
mod cameras;
mod concurrency;
mod dispatch;
mod doubt;
mod eido;
mod errors;
mod faults;
mod field;
mod guarantees;
mod hardening;
mod helpers;
mod hostile;
mod incidents;
mod people;
mod processes;
mod public;
mod realtime;
mod referrals;
mod roads;
mod roles;
mod units;
mod wakeups;
