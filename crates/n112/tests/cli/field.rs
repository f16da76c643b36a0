//! The crew's device, driven through its stdin as a crew would type.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ngalam112_core::UnitId;
use ngalam112_proto::v1 as proto;
use ngalam112_testkit::Role;
use ngalam112_testkit::{TestApp, medical_call, places};

use crate::N112;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crew_takes_an_offer_from_its_device_and_works_it_to_the_end() {
    let app = TestApp::spawn().await;
    let unit = app
        .register_at("AMB-RSSA-1", proto::UnitKind::Ambulance, places::RSSA)
        .await;
    let token = app
        .token(Role::Unit(UnitId::parse("unit_id", &unit.id).unwrap()))
        .await
        .unwrap();
    let mut device = Command::new(N112)
        .env("N112_SERVER", format!("http://{}", app.address))
        .env("N112_TOKEN", &token)
        .args([
            "field",
            "--unit-id",
            &unit.id,
            "--lat",
            "-7.9726",
            "--lon",
            "112.6316",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the device");
    let mut input = device.stdin.take().unwrap();
    let (lines_sender, lines) = mpsc::channel::<String>();
    let output = device.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(output).lines().map_while(Result::ok) {
            let _ = lines_sender.send(line);
        }
    });
    let wait_for = |needle: &str| -> String {
        loop {
            let line = lines
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("no {needle:?} on the device"));
            if line.contains(needle) {
                return line;
            }
        }
    };
    wait_for("waiting for an assignment");
    let incident = app.create(medical_call(places::BALAI_KOTA)).await;
    wait_for("== OFFER");
    let what = wait_for("HIGH MEDICAL");
    assert!(
        what.contains("Jl. Tugu 1") && what.contains("pingsan"),
        "{what}"
    );
    wait_for("km away");
    for (typed, expected) in [
        ("y", "status ACCEPTED"),
        ("e", "status EN_ROUTE"),
        ("s", "status ON_SCENE"),
        ("c", "status COMPLETED"),
    ] {
        writeln!(input, "{typed}").unwrap();
        wait_for(expected);
    }
    writeln!(input, "l -7.9800 112.6300").unwrap();
    wait_for("position reported");
    writeln!(input, "q").unwrap();
    let _ = device.wait();

    let incident = app.incident(&incident.id).await;
    assert_eq!(
        incident.assignments[0].status(),
        proto::AssignmentStatus::Completed
    );
    assert_eq!(incident.status(), proto::IncidentStatus::OnScene);
    let unit = app.unit(&unit.id).await;
    assert_eq!(unit.status(), proto::UnitStatus::Available);
    assert_eq!(unit.location.map(|p| (p.lat, p.lon)), Some((-7.98, 112.63)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_roads_the_device_shows_the_drive_to_the_incident() {
    use ngalam112_testkit::roads::{self, river_town::*};
    let app = TestApp::spawn_with(roads::river_town_config()).await;
    let unit = app
        .register(
            "AMB-SEPIHAK",
            proto::UnitKind::Ambulance,
            NORTH_BANK,
            112.6235,
        )
        .await;
    let token = app
        .token(Role::Unit(UnitId::parse("unit_id", &unit.id).unwrap()))
        .await
        .unwrap();
    app.create(medical_call((NORTH_BANK, 112.610))).await;
    let mut device = Command::new(N112)
        .env("N112_SERVER", format!("http://{}", app.address))
        .env("N112_TOKEN", &token)
        .args(["field", "--unit-id", &unit.id])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the device");
    let mut input = device.stdin.take().unwrap();
    let output = device.stdout.take().unwrap();
    let (lines_sender, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(output).lines().map_while(Result::ok) {
            let _ = lines_sender.send(line);
        }
    });
    let away = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(20))
            .expect("the offer on the device");
        if line.contains("km away") {
            break line;
        }
    };
    assert!(
        away.contains("1.5 km away: 1.5 km by road, about 3 min"),
        "{away}"
    );
    writeln!(input, "q").unwrap();
    let _ = device.wait();
}
