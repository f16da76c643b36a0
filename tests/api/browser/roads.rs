//! Drive time in the console and on the crew page (`serve --roads`): the
//! recommended units show their drive time, and both maps draw the way.

use super::*;
use crate::helpers::roads::{self, river_town::*};
use ngalam112_core::UnitId;

#[tokio::test]
async fn the_console_and_the_crew_page_show_drive_times_and_draw_the_route() {
    let app = TestApp::spawn_with(roads::river_town_config()).await;
    // The incident on the north bank, 3 km west of the only bridge; one
    // unit just across the river, two along the same bank.
    let incident_at = (NORTH_BANK + 0.0002, 112.610);
    let offered_at = (NORTH_BANK + 0.0002, 112.6235);
    let offered = app
        .register_at("AMB-SEPIHAK", proto::UnitKind::Ambulance, offered_at)
        .await;
    app.register_at(
        "AMB-SEBERANG",
        proto::UnitKind::Ambulance,
        (SOUTH_BANK - 0.0002, 112.610),
    )
    .await;
    app.register_at(
        "AMB-JAUH",
        proto::UnitKind::Ambulance,
        (NORTH_BANK + 0.0002, 112.633),
    )
    .await;
    let unit = UnitId::parse("unit_id", &offered.id).expect("id");
    app.add_user("andi", Role::Unit(unit), "sate-ayam-2026")
        .await;
    app.add_user("sri", Role::Operator, "kopi-tubruk-2026")
        .await;
    let incident = app.create(medical_call(incident_at)).await;
    assert_eq!(incident.assignments[0].unit_id, offered.id);

    let console = Browser::open(1400, 900).await;
    console
        .log_in(&format!("{}/", base(&app)), "sri", "kopi-tubruk-2026")
        .await;
    console
        .click(&format!(
            "[data-testid=incident-row][data-incident-id='{}']",
            incident.id
        ))
        .await;
    console
        .until(
            "two drive times",
            "return document.querySelectorAll('[data-testid=recommended-eta]').length === 2",
        )
        .await;
    let listed = console
        .client
        .execute(
            "return [...document.querySelectorAll('ul.recommended li')].map(li => li.textContent)",
            vec![],
        )
        .await
        .expect("the list");
    let listed: Vec<String> = serde_json::from_value(listed).expect("strings");
    // The unit 2.5 km along the bank before the one 0.5 km across the
    // river (7 km by the bridge).
    assert!(
        listed[0].starts_with("AMB-JAUH") && listed[0].contains("2.6 km lewat jalan"),
        "{listed:?}"
    );
    assert!(
        listed[1].starts_with("AMB-SEBERANG") && listed[1].contains("lewat jalan (0.5 km)"),
        "{listed:?}"
    );
    console
        .until(
            "the route on the map",
            "return document.querySelectorAll('#map [data-testid=route]').length === 1",
        )
        .await;
    // Once the map has zoomed to the route (the picture, not a check).
    console
        .until(
            "the zoom done",
            "return !document.querySelector('#map.leaflet-zoom-anim')",
        )
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    console.screenshot("console-roads.png").await;

    let phone = Browser::crew_phone(&base(&app), offered_at.0, offered_at.1).await;
    let offer = phone.find("[data-testid=crew-offer]").await;
    let text = offer.text().await.expect("text");
    assert!(text.contains("1.5 km lewat jalan"), "{text}");
    phone
        .until(
            "the route on the mini map",
            "return document.querySelectorAll('#mini-map [data-testid=route]').length === 1",
        )
        .await;
    phone.screenshot("crew-roads.png").await;
    console.close().await;
    phone.close().await;
}
