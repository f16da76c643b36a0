//! Drive time on the city's roads (`serve --roads`): on the river town
//! (`testkit::roads::river_town`, written as OpenStreetMap XML and
//! converted to PBF with osmium) the unit that arrives first is offered,
//! where the straight-line nearest would be wrong.

use ngalam112_proto::v1 as proto;
use proto::{AssignmentStatus, UnitKind};
use tonic::Code;

use crate::helpers::roads::{self, river_town::*};
use crate::helpers::{TestApp, code_of, great_circle_m, medical_call};

async fn river_town_app() -> TestApp {
    TestApp::spawn_with(roads::river_town_config()).await
}

async fn recommend(app: &TestApp, incident_id: &str) -> Vec<proto::UnitRecommendation> {
    app.operator
        .incidents
        .clone()
        .recommend_units(proto::RecommendUnitsRequest {
            incident_id: incident_id.to_owned(),
            kind: UnitKind::Unspecified.into(),
            limit: 20,
        })
        .await
        .expect("recommend")
        .into_inner()
        .recommendations
}

async fn timeline(app: &TestApp, incident_id: &str) -> Vec<String> {
    app.operator
        .incidents
        .clone()
        .get_incident_timeline(proto::GetIncidentTimelineRequest {
            id: incident_id.to_owned(),
        })
        .await
        .expect("timeline")
        .into_inner()
        .events
        .into_iter()
        .map(|event| event.detail)
        .collect()
}

/// The crew of `offer` declines it; the incident's next open offer.
async fn decline_and_next(app: &TestApp, offer: &proto::Assignment) -> proto::Assignment {
    app.unit_clients(&offer.unit_id)
        .await
        .field
        .decline_assignment(proto::DeclineAssignmentRequest {
            assignment_id: offer.id.clone(),
            reason: "ban bocor".to_owned(),
        })
        .await
        .expect("decline");
    app.incident(&offer.incident_id)
        .await
        .assignments
        .into_iter()
        .find(|a| a.status() == AssignmentStatus::Offered)
        .expect("offered to the next unit")
}

/// The incident on the north bank, 3 km west of the bridge.
const INCIDENT: (f64, f64) = (NORTH_BANK + 0.0002, 112.610);
/// 490 m from it in a straight line, on the south bank: 7 km by road.
const ACROSS: (f64, f64) = (SOUTH_BANK - 0.0002, 112.610);
/// 1.5 km from it on the same bank.
const SAME_BANK: (f64, f64) = (NORTH_BANK + 0.0002, 112.6235);

#[tokio::test]
async fn the_unit_across_the_river_loses_to_a_farther_one_on_the_same_bank() {
    let app = river_town_app().await;
    let across = app
        .register_at("AMB-SEBERANG", UnitKind::Ambulance, ACROSS)
        .await;
    let same_bank = app
        .register_at("AMB-SEPIHAK", UnitKind::Ambulance, SAME_BANK)
        .await;
    assert!(great_circle_m(ACROSS, INCIDENT) < great_circle_m(SAME_BANK, INCIDENT) / 2.0);

    let incident = app.create(medical_call(INCIDENT)).await;
    let offer = &incident.assignments[0];
    assert_eq!(offer.unit_id, same_bank.id, "the unit that arrives first");
    // Along the bank at 35 km/h: 1.5 km in about 2.5 minutes.
    assert!(
        (1_450.0..1_600.0).contains(&offer.road_distance_m),
        "{offer:?}"
    );
    assert!((140.0..190.0).contains(&offer.eta_s), "{offer:?}");
    assert!((offer.distance_m - great_circle_m(SAME_BANK, INCIDENT)).abs() < 15.0);
    // The straight-line rule would have sent the unit across the river,
    // 7 km by the bridge: about 9 minutes later.
    assert!(
        (offer.straight_line_eta_s - offer.eta_s - 560.0).abs() < 80.0,
        "{offer:?}"
    );
    let words = timeline(&app, &incident.id).await;
    assert!(
        words.iter().any(|detail| {
            detail.starts_with("AMB-SEPIHAK (ambulance) offered")
                && detail.contains("1.5 km by road, about 3 min; ")
                && detail.contains(" min sooner than the nearest in a straight line")
        }),
        "{words:?}"
    );

    // The dispatcher's list: the same figures, the unit across the river
    // second with its drive by the bridge (3 km east, across, 3 km back).
    let listed = recommend(&app, &incident.id).await;
    assert_eq!(listed.len(), 1, "the same-bank unit is taken: {listed:?}");
    assert!(listed[0].road_distance_m > 6_800.0, "{listed:?}");
    // Re-dispatch after the decline goes by road too: the only other unit.
    let next = decline_and_next(&app, offer).await;
    assert_eq!(next.unit_id, across.id);
    assert!(
        (6_800.0..7_300.0).contains(&next.road_distance_m),
        "{next:?}"
    );
}

#[tokio::test]
async fn redispatch_after_a_decline_and_the_recommendations_rank_by_drive_time() {
    let app = river_town_app().await;
    let first = app
        .register_at("AMB-1", UnitKind::Ambulance, SAME_BANK)
        .await;
    let incident = app.create(medical_call(INCIDENT)).await;
    assert_eq!(incident.assignments[0].unit_id, first.id);
    // Now two more: across the river (near) and far along the same bank.
    let across = app
        .register_at("AMB-SEBERANG", UnitKind::Ambulance, ACROSS)
        .await;
    let far_same_bank = (NORTH_BANK + 0.0002, 112.633);
    let far = app
        .register_at("AMB-JAUH", UnitKind::Ambulance, far_same_bank)
        .await;

    let listed = recommend(&app, &incident.id).await;
    let order: Vec<&str> = listed
        .iter()
        .map(|r| r.unit.as_ref().expect("unit").call_sign.as_str())
        .collect();
    assert_eq!(order, ["AMB-JAUH", "AMB-SEBERANG"]);
    assert!(listed[0].eta_s < listed[1].eta_s);
    assert!(listed[0].distance_m > listed[1].distance_m);
    assert!((2_450.0..2_650.0).contains(&listed[0].road_distance_m));

    let next = decline_and_next(&app, &incident.assignments[0]).await;
    assert_eq!(next.unit_id, far.id, "not {}", across.id);
    assert!((2_450.0..2_650.0).contains(&next.road_distance_m));

    // The dispatcher's own choice shows the figures the list showed.
    let mut held = medical_call(INCIDENT);
    held.hold = true;
    let held = app.create(held).await;
    // The unit that declined is free again, and nearer by road.
    let listed = recommend(&app, &held.id).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].unit.as_ref().expect("unit").id, first.id);
    assert_eq!(listed[1].unit.as_ref().expect("unit").id, across.id);
    let assigned = app
        .operator
        .incidents
        .clone()
        .assign_unit(proto::AssignUnitRequest {
            incident_id: held.id.clone(),
            unit_id: across.id.clone(),
        })
        .await
        .expect("assign")
        .into_inner();
    assert_eq!(assigned.eta_s, listed[1].eta_s);
    assert_eq!(assigned.road_distance_m, listed[1].road_distance_m);
    assert!(assigned.road_distance_m > 6_800.0);
}

#[tokio::test]
async fn the_fastest_unit_is_found_beyond_the_eight_nearest_in_a_straight_line() {
    let app = river_town_app().await;
    // Eight ambulances on the south bank facing the incident, 450–650 m
    // away in a straight line; the ninth nearest on the incident's bank.
    for place in 0..8 {
        let lon = 112.6085 + 0.0005 * f64::from(place);
        app.register_at(
            &format!("AMB-S{place}"),
            UnitKind::Ambulance,
            (SOUTH_BANK - 0.0002, lon),
        )
        .await;
    }
    let ninth = app
        .register_at("AMB-UTARA", UnitKind::Ambulance, SAME_BANK)
        .await;
    let incident = app.create(medical_call(INCIDENT)).await;
    assert_eq!(incident.assignments[0].unit_id, ninth.id);
    let listed = recommend(&app, &incident.id).await;
    assert_eq!(listed.len(), 8);
    assert!(
        listed.iter().all(|r| r.road_distance_m > 6_000.0),
        "{listed:?}"
    );
}

#[tokio::test]
async fn a_one_way_street_is_driven_round_and_an_island_no_road_reaches_ranks_last() {
    let app = river_town_app().await;
    // At the one-way street's end, 1.1 km from its start in a straight
    // line, but the way back goes round the block: 2.2 km. From the north
    // bank at lon 112.628 it is 1.25 km straight and 1.8 km by road.
    let at_end = app
        .register_at("POL-UJUNG", UnitKind::Police, ONE_WAY_EAST)
        .await;
    let on_bank = app
        .register_at("POL-TEPI", UnitKind::Police, (NORTH_BANK, 112.628))
        .await;
    let island = app.register_at("POL-PULAU", UnitKind::Police, ISLAND).await;
    let mut call = medical_call(ONE_WAY_WEST);
    call.category = proto::IncidentCategory::Crime.into();
    call.required_kinds = vec![UnitKind::Police.into()];
    let incident = app.create(call).await;
    let offer = &incident.assignments[0];
    assert_eq!(offer.unit_id, on_bank.id);
    assert!(great_circle_m(ONE_WAY_EAST, ONE_WAY_WEST) < offer.distance_m);
    let listed = recommend(&app, &incident.id).await;
    let at_end_listed = listed
        .iter()
        .find(|r| r.unit.as_ref().is_some_and(|u| u.id == at_end.id))
        .expect("listed");
    assert!(
        (2_050.0..2_300.0).contains(&at_end_listed.road_distance_m),
        "round the block: {at_end_listed:?}"
    );
    // The island: nearer than all in a straight line to an incident on
    // the north bank opposite, no road: after every connected unit, with
    // no drive time.
    let mut call = medical_call((NORTH_BANK, 112.652));
    call.category = proto::IncidentCategory::Crime.into();
    call.required_kinds = vec![UnitKind::Police.into()];
    let opposite = app.create(call).await;
    assert_eq!(opposite.assignments[0].unit_id, at_end.id);
    let listed = recommend(&app, &opposite.id).await;
    let last = listed.last().expect("the island unit");
    assert_eq!(last.unit.as_ref().expect("unit").id, island.id);
    assert_eq!((last.eta_s, last.road_distance_m), (0.0, 0.0));
    assert!(last.distance_m < 300.0);
}

#[tokio::test]
async fn a_crew_and_the_dispatcher_get_the_route_and_without_roads_it_is_refused() {
    let app = river_town_app().await;
    let unit = app.register_at("AMB-1", UnitKind::Ambulance, ACROSS).await;
    let other = app.register_at("POL-1", UnitKind::Police, SAME_BANK).await;
    let incident = app.create(medical_call(INCIDENT)).await;
    let offer = &incident.assignments[0];
    let request = || proto::GetRouteRequest {
        assignment_id: offer.id.clone(),
    };
    let mut crew = app.unit_clients(&unit.id).await.field;
    let route = crew.get_route(request()).await.expect("route").into_inner();
    assert_eq!(route.distance_m, offer.road_distance_m);
    assert_eq!(route.eta_s, offer.eta_s);
    // It crosses by the bridge.
    let crosses = route
        .points
        .iter()
        .any(|p| (p.lon - BRIDGE_LON).abs() < 1e-6 && (p.lat - (-7.980)).abs() < 0.0025);
    assert!(crosses, "{:?}", route.points);
    let (first, last) = (route.points[0], route.points[route.points.len() - 1]);
    assert_eq!((first.lat, first.lon), ACROSS);
    assert_eq!((last.lat, last.lon), INCIDENT);
    let dispatcher = app.operator.field.clone().get_route(request()).await;
    assert_eq!(
        dispatcher.expect("operators see routes").into_inner(),
        route
    );
    let mut another_crew = app.unit_clients(&other.id).await.field;
    assert_eq!(
        code_of(another_crew.get_route(request()).await),
        Code::PermissionDenied
    );
    let bad = app
        .operator
        .field
        .clone()
        .get_route(proto::GetRouteRequest {
            assignment_id: "bukan-id".to_owned(),
        })
        .await
        .expect_err("a bad id");
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().contains("assignment_id"), "{}", bad.message());

    // Without roads: dispatch as before, and no route.
    let plain = TestApp::spawn().await;
    let near = plain
        .register_at("AMB-SEBERANG", UnitKind::Ambulance, ACROSS)
        .await;
    plain
        .register_at("AMB-SEPIHAK", UnitKind::Ambulance, SAME_BANK)
        .await;
    let incident = plain.create(medical_call(INCIDENT)).await;
    let offer = &incident.assignments[0];
    assert_eq!(offer.unit_id, near.id);
    assert_eq!((offer.eta_s, offer.road_distance_m), (0.0, 0.0));
    let refused = plain
        .operator
        .field
        .clone()
        .get_route(proto::GetRouteRequest {
            assignment_id: offer.id.clone(),
        })
        .await;
    assert_eq!(code_of(refused), Code::FailedPrecondition);
}

/// `ngalam112 serve --roads FILE` against the test database, its log
/// (stderr) read until `until` appears or the process ends.
fn serve_with_roads(database_url: &str, roads: &std::path::Path, until: &str) -> (bool, String) {
    use std::io::{BufRead, BufReader};
    let data_dir = roads.with_file_name("data");
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_ngalam112"))
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "info")
        .args([
            "--log-format",
            "json",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--roads",
        ])
        .arg(roads)
        .arg("--data-dir")
        .arg(&data_dir)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start the server");
    let mut log = String::new();
    let mut found = false;
    if let Some(stderr) = server.stderr.take() {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            log.push_str(&line);
            log.push('\n');
            if line.contains(until) {
                found = true;
                break;
            }
        }
    }
    let _ = server.kill();
    let status = server.wait().expect("the server ends");
    (found || status.success(), log)
}

#[tokio::test]
async fn a_missing_truncated_or_foreign_file_stops_the_server_naming_it_and_a_good_one_is_cached() {
    let app = TestApp::spawn().await;
    let good = roads::river_town::network().pbf("river-town-start");
    let dir = good.parent().expect("a directory").to_owned();
    let bytes = std::fs::read(&good).expect("the network");
    let truncated = dir.join("truncated.osm.pbf");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let foreign = dir.join("foreign.osm.pbf");
    std::fs::write(&foreign, "<osm version='0.6'></osm>\n").expect("write");
    let missing = dir.join("missing.osm.pbf");
    for bad in [&missing, &truncated, &foreign] {
        let (_, log) = serve_with_roads(&app.database_url, bad, "road network ready");
        assert!(
            log.contains("cannot read the road network") && log.contains(&*bad.to_string_lossy()),
            "{}: {log}",
            bad.display()
        );
        assert!(!log.contains("panicked"), "{log}");
    }
    // A good file: prepared at the first start, read from the cache at the
    // second (the log says which, and the network's size).
    for from_cache in [false, true] {
        let (ready, log) = serve_with_roads(&app.database_url, &good, "road network ready");
        assert!(ready, "{log}");
        let line = log
            .lines()
            .find(|line| line.contains("road network ready"))
            .expect("the start-up line");
        assert!(
            line.contains(&format!("\"from_cache\":{from_cache}")),
            "{line}"
        );
        assert!(
            line.contains("\"nodes\":167") && line.contains("\"prepare_s\":"),
            "{line}"
        );
    }
}
