//! The shared test support (crates/ngalam112-testkit).

pub use ngalam112_testkit::*;

/// Starts `ngalam112 serve` as a process on `port` against `database_url`,
/// with `extra` arguments (its log: errors only).
pub fn start_server(database_url: &str, port: u16, extra: &[&str]) -> std::process::Child {
    serve_command(env!("CARGO_BIN_EXE_ngalam112"), database_url, port, extra)
        .spawn()
        .expect("start ngalam112 serve")
}
