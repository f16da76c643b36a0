//! The benchmark runs end to end at tiny sizes and prints every row. No
//! timing is checked here: figures come from real runs (BENCHMARKS.md).

#![allow(clippy::unwrap_used)]

#[test]
fn a_tiny_quick_run_prints_every_row() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ngalam112-bench"))
        .args(["--quick", "--tiny", "--json"])
        .output()
        .expect("run the benchmark");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let names: Vec<&str> = rows
        .iter()
        .map(|row| row["workload"].as_str().unwrap())
        .collect();
    for expected in [
        "intake",
        "intake store-only",
        "ceiling",
        "avl",
        "avl store-only",
        "poll (offer→wake)",
        "watch 1",
        "watch 20",
        "fleet-size 10",
        "fleet-size 100",
        "fleet-size 1000",
        "intake/ceiling",
        "intake/store-only",
        "avl/store-only",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    for row in &rows {
        for field in ["ops_per_s", "p50_ms", "p99_ms", "max_ms", "errors"] {
            assert!(row.get(field).is_some(), "{field} missing in {row}");
        }
    }
    let intake = rows.iter().find(|row| row["workload"] == "intake").unwrap();
    assert!(
        intake["ops_per_s"].as_f64().unwrap() > 0.0,
        "work was done: {intake}"
    );
}
