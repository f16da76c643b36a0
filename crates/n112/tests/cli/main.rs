//! `n112` run as a process against a real server (in this test process)
//! on a fresh database.

#![allow(clippy::unwrap_used)]

mod calls;
mod commands;
mod demo;
mod field;

use std::process::Output;

use ngalam112_testkit::TestApp;

pub const N112: &str = env!("CARGO_BIN_EXE_n112");

/// `n112 ARGS` as the given token, against the app's server (which runs
/// in this test's runtime, so the wait must not block it).
pub async fn n112(app: &TestApp, token: &str, args: &[&str]) -> Output {
    tokio::process::Command::new(N112)
        .env("N112_SERVER", format!("http://{}", app.address))
        .env("N112_TOKEN", token)
        .args(args)
        .output()
        .await
        .expect("run n112")
}

pub fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "n112 failed: {}{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stdout.clone()).expect("utf-8")
}

pub fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    stdout(output)
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?} is not JSON: {e}"))
        })
        .collect()
}
