//! The one-command demo, briefly, checked against the database.

use std::process::Command;

use ngalam112_testkit::TestApp;

use crate::{N112, json_lines};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_and_its_summary_matches_the_database() {
    let app = TestApp::spawn().await;
    let picture =
        std::env::temp_dir().join(format!("n112-demo-{}.svg", uuid::Uuid::new_v4().simple()));
    let output = Command::new(N112)
        .args([
            "--json",
            "demo",
            "--exit",
            "--listen",
            "127.0.0.1:0",
            "--duration-s",
            "8",
            "--calls-per-minute",
            "120",
            "--decline-rate",
            "0.3",
            "--picture",
        ])
        .arg(&picture)
        .env("N112_DEMO_DATABASE_URL", &app.database_url)
        .output()
        .expect("run the demo");
    let summary = json_lines(&output).pop().expect("a summary");
    let pool = &app.pool;
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(pool)
            .await
            .unwrap()
    };
    assert_eq!(
        summary["calls"],
        count("SELECT count(*) FROM incidents").await
    );
    assert!(
        summary["calls"].as_i64().unwrap() > 3,
        "calls came in: {summary}"
    );
    assert_eq!(
        summary["offers"],
        count("SELECT count(*) FROM assignments").await
    );
    assert_eq!(
        summary["declined"],
        count("SELECT count(*) FROM assignments WHERE status = 'declined'").await
    );
    assert_eq!(
        summary["timed_out"],
        count("SELECT count(*) FROM assignments WHERE status = 'timed_out'").await
    );
    assert_eq!(
        summary["call_to_offer"]["count"],
        count("SELECT count(DISTINCT incident_id) FROM assignments").await
    );
    assert_eq!(
        count("SELECT count(*) FROM units").await,
        20,
        "the Malang fleet"
    );
    // Some calls are handed to partner agencies, whose scripted liaison
    // answers them.
    assert_eq!(
        summary["referrals"],
        count("SELECT count(*) FROM referrals").await
    );
    assert_eq!(
        summary["referrals_answered"],
        count("SELECT count(*) FROM referrals WHERE acknowledged_at IS NOT NULL").await
    );
    // Every simulated caller rang the phone system first; each call
    // answered and recorded is linked to its incident.
    assert_eq!(
        summary["phone_calls"],
        count("SELECT count(*) FROM calls").await
    );
    assert_eq!(
        summary["calls"],
        count("SELECT count(*) FROM calls WHERE incident_id IS NOT NULL").await
    );
    assert_eq!(
        summary["abandoned_calls"],
        count("SELECT count(*) FROM calls WHERE answered_at IS NULL").await
    );
    println!("demo summary: {summary}");
    let svg = std::fs::read_to_string(&picture).expect("the picture was written");
    let _ = std::fs::remove_file(&picture);
    assert!(
        svg.starts_with("<svg") && svg.contains("Kota Malang"),
        "an SVG of the city"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_on_roads_says_what_drive_time_changed() {
    let app = TestApp::spawn().await;
    // Kota Malang as a grid of streets cut by two rivers with few bridges
    // (the testkit's; a city would use its OpenStreetMap extract).
    let roads = ngalam112_testkit::roads::malang_rivers().pbf("demo-rivers");
    let picture =
        std::env::temp_dir().join(format!("n112-demo-{}.svg", uuid::Uuid::new_v4().simple()));
    let output = Command::new(N112)
        .args([
            "--json",
            "demo",
            "--exit",
            "--listen",
            "127.0.0.1:0",
            "--duration-s",
            "8",
            "--calls-per-minute",
            "120",
            "--roads",
        ])
        .arg(&roads)
        .arg("--data-dir")
        .arg(roads.with_file_name("var"))
        .arg("--picture")
        .arg(&picture)
        .env("N112_DEMO_DATABASE_URL", &app.database_url)
        .output()
        .expect("run the demo");
    let summary = json_lines(&output).pop().expect("a summary");
    let pool = &app.pool;
    let on_roads: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM assignments WHERE eta_s > 0 AND straight_line_eta_s > 0",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(on_roads > 3, "offers ranked by drive time: {summary}");
    assert_eq!(summary["offers_on_roads"], on_roads);
    let (differed, saved_s): (i64, f64) = sqlx::query_as(
        "SELECT count(*), coalesce(sum(straight_line_eta_s - eta_s), 0) FROM assignments \
         WHERE eta_s > 0 AND straight_line_eta_s - eta_s >= 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(summary["road_nearest_differed"], differed);
    let minutes = summary["minutes_saved_by_roads"].as_f64().unwrap();
    assert!((minutes - saved_s / 60.0).abs() < 1e-6, "{summary}");
    println!("demo on roads: {summary}");
    let svg = std::fs::read_to_string(&picture).expect("the picture was written");
    let _ = std::fs::remove_file(&picture);
    assert!(svg.contains("By road: "), "the drive-time panel");
}
