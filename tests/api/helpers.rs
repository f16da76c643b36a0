//! The shared test support (crates/ngalam112-testkit).

pub use ngalam112_testkit::*;

/// Starts `ngalam112 serve` as a process on `port` against `database_url`,
/// with `extra` arguments (its log: errors only).
pub fn start_server(database_url: &str, port: u16, extra: &[&str]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_ngalam112"))
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "error")
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start ngalam112 serve")
}
