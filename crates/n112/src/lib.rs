//! The Ngalam 112 operator app as a library, so its pieces (the board's
//! state and rendering, the simulation) can be tested in place.

pub mod args;
pub mod board;
pub mod calls;
pub mod commands;
pub mod connect;
pub mod demo;
pub mod field;
pub mod format;
pub mod output;
pub mod picture;
pub mod simulate;
pub mod summary;
