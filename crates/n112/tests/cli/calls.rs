//! `n112 call …`: the phone system played from the command line, and the
//! report's call figures.

use ngalam112_testkit::Role;
use ngalam112_testkit::TestApp;

use crate::{json_lines, n112, stdout};

#[tokio::test]
async fn a_call_rings_is_answered_recorded_and_ended_and_the_report_counts_it() {
    let app = TestApp::spawn().await;
    let gateway = app.token(Role::Gateway).await.unwrap();
    let operator = app.token(Role::Operator).await.unwrap();
    let rang = json_lines(
        &n112(
            &app,
            &gateway,
            &[
                "--json",
                "call",
                "ring",
                "--id",
                "pbx-1",
                "--phone",
                "0812 3456 7890",
            ],
        )
        .await,
    );
    assert_eq!(rang[0]["state"], "CALL_STATE_RINGING");
    assert_eq!(rang[0]["caller_phone"], "+6281234567890");
    let answered = stdout(
        &n112(
            &app,
            &gateway,
            &["call", "answer", "pbx-1", "--position", "P2"],
        )
        .await,
    );
    assert!(
        answered.contains("ANSWERED") && answered.contains("P2"),
        "{answered}"
    );

    let created = json_lines(
        &n112(
            &app,
            &operator,
            &[
                "--json",
                "incident",
                "create",
                "--category",
                "medical",
                "--priority",
                "high",
                "--lat",
                "-7.9770",
                "--lon",
                "112.6340",
                "--address",
                "Jl. Tugu 1",
                "--phone",
                "0812 3456 7890",
                "--call-id",
                "pbx-1",
                "--yes",
            ],
        )
        .await,
    );
    let incident_id = created[0]["id"].as_str().unwrap().to_owned();
    stdout(&n112(&app, &gateway, &["call", "end", "pbx-1"]).await);
    // A second call hangs up before anyone answers.
    stdout(
        &n112(
            &app,
            &gateway,
            &["call", "ring", "--id", "pbx-2", "--withheld"],
        )
        .await,
    );
    stdout(&n112(&app, &gateway, &["call", "end", "pbx-2"]).await);

    let listed = json_lines(&n112(&app, &operator, &["--json", "call", "list"]).await);
    assert_eq!(listed[0]["call_id"], "pbx-2");
    assert_eq!(listed[0]["state"], "CALL_STATE_ABANDONED");
    assert_eq!(listed[1]["incident_id"], incident_id.as_str());

    let report = stdout(&n112(&app, &operator, &["report", "--since", "1h"]).await);
    assert!(
        report.contains("112 calls: 2 rang, 1 abandoned; answered within 10 s: 50.0 %"),
        "{report}"
    );
    assert!(
        report.contains("Answer to incident recorded (1 calls)"),
        "{report}"
    );
    let json = json_lines(&n112(&app, &operator, &["--json", "report", "--since", "1h"]).await);
    let calls = &json.last().unwrap()["calls"];
    assert_eq!(calls["calls"], 2);
    assert_eq!(calls["abandoned"], 1);
    assert_eq!(calls["recorded"], 1);
}
