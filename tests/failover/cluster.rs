//! The real cluster, through `scripts/ha-cluster.sh` (the same commands an
//! operator types).

use std::process::Command;

fn script(args: &[&str]) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/ha-cluster.sh");
    let output = Command::new("bash")
        .arg(path)
        .args(args)
        .output()
        .expect("run scripts/ha-cluster.sh");
    assert!(
        output.status.success(),
        "ha-cluster.sh {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("the script prints text")
        .trim()
        .to_owned()
}

/// The `postgres` database through HAProxy.
pub fn url() -> String {
    script(&["url", "postgres"])
}

/// Kills the primary (postmaster, then Patroni, both `-9`); returns its name.
pub fn kill_primary() -> String {
    script(&["kill-primary"])
}

/// Starts a stopped node again; Patroni rejoins it as a standby.
pub fn start(node: &str) {
    script(&["start", node]);
}

/// Waits until there is a primary with a synchronous standby again.
pub fn wait_healthy() {
    script(&["wait-healthy"]);
}

/// A planned `patronictl switchover`; returns the new primary's name.
pub fn switchover() -> String {
    script(&["switchover"])
}

pub fn status() -> String {
    script(&["status"])
}
