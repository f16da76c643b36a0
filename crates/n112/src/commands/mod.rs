//! The operator and admin commands: one per RPC.

pub mod agency;
pub mod call;
pub mod caller;
pub mod incident;
pub mod report;
pub mod unit;
