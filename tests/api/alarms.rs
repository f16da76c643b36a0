//! Crews in danger (RaiseAlarm, WatchAlarms, ListAlarms, AcknowledgeAlarm)
//! and the live map's unit stream (WatchUnits).

use ngalam112_proto::v1 as proto;
use proto::UnitKind;
use tonic::Code;

use crate::helpers::{TestApp, code_of, places};

fn at(place: (f64, f64)) -> Option<proto::GeoPoint> {
    Some(proto::GeoPoint {
        lat: place.0,
        lon: place.1,
    })
}

#[tokio::test]
async fn a_crews_alarm_reaches_every_console_until_an_operator_acknowledges_it() {
    let app = TestApp::spawn().await;
    let second = app
        .another_server(ngalam112_store::StoreConfig::default())
        .await;
    let unit = app
        .register_at("AMB-RSSA-1", UnitKind::Ambulance, places::RSSA)
        .await;
    let other = app
        .register_at("POL-KOTA-1", UnitKind::Police, places::POLRESTA)
        .await;
    let mut crew = app.unit_clients(&unit.id).await;
    let mut watching = second
        .operator
        .incidents
        .clone()
        .watch_alarms(proto::WatchAlarmsRequest {})
        .await
        .expect("watch")
        .into_inner();

    let raise = |unit_id: &str| proto::RaiseAlarmRequest {
        unit_id: unit_id.to_owned(),
        location: at(places::UNISMA),
        note: "dikeroyok".to_owned(),
    };
    assert_eq!(
        code_of(crew.field.raise_alarm(raise(&other.id)).await),
        Code::PermissionDenied,
        "only for its own unit"
    );
    let mut bad = raise(&unit.id);
    bad.location = Some(proto::GeoPoint {
        lat: 91.0,
        lon: 0.0,
    });
    assert_eq!(
        code_of(crew.field.raise_alarm(bad).await),
        Code::InvalidArgument
    );
    assert_eq!(app.count("alarms").await, 0);

    let alarm = crew
        .field
        .raise_alarm(raise(&unit.id))
        .await
        .expect("raise")
        .into_inner();
    assert_eq!(alarm.unit_call_sign, "AMB-RSSA-1");
    assert!(alarm.acknowledged_by.is_empty());
    let again = crew
        .field
        .raise_alarm(raise(&unit.id))
        .await
        .expect("raise again")
        .into_inner();
    assert_eq!(again.id, alarm.id, "one open alarm per unit");

    // The other server's console hears it.
    let heard = tokio::time::timeout(std::time::Duration::from_secs(10), watching.message())
        .await
        .expect("in time")
        .expect("stream")
        .expect("an alarm");
    assert_eq!(heard.id, alarm.id);

    // A console that subscribes later gets the open alarm at once.
    let mut late = app
        .operator
        .incidents
        .clone()
        .watch_alarms(proto::WatchAlarmsRequest {})
        .await
        .expect("watch")
        .into_inner();
    assert_eq!(
        late.message().await.expect("stream").expect("alarm").id,
        alarm.id
    );

    let mut operator = app.operator.incidents.clone();
    let acknowledged = operator
        .acknowledge_alarm(proto::AcknowledgeAlarmRequest {
            alarm_id: alarm.id.clone(),
        })
        .await
        .expect("acknowledge")
        .into_inner();
    assert!(acknowledged.acknowledged_by.starts_with("operator:"));
    let twice = app
        .admin
        .incidents
        .clone()
        .acknowledge_alarm(proto::AcknowledgeAlarmRequest {
            alarm_id: alarm.id.clone(),
        })
        .await
        .expect("again")
        .into_inner();
    assert_eq!(
        twice.acknowledged_by, acknowledged.acknowledged_by,
        "the first stays"
    );
    let heard = tokio::time::timeout(std::time::Duration::from_secs(10), watching.message())
        .await
        .expect("in time")
        .expect("stream")
        .expect("the acknowledgement");
    assert!(!heard.acknowledged_by.is_empty());

    let open = operator
        .list_alarms(proto::ListAlarmsRequest { open_only: true })
        .await
        .expect("list")
        .into_inner()
        .alarms;
    assert!(open.is_empty());
    let all = operator
        .list_alarms(proto::ListAlarmsRequest { open_only: false })
        .await
        .expect("list")
        .into_inner()
        .alarms;
    assert_eq!(all.len(), 1);
    assert_eq!(
        code_of(
            operator
                .acknowledge_alarm(proto::AcknowledgeAlarmRequest {
                    alarm_id: "nope".to_owned()
                })
                .await
        ),
        Code::InvalidArgument
    );
    assert_eq!(
        code_of(
            operator
                .acknowledge_alarm(proto::AcknowledgeAlarmRequest {
                    alarm_id: uuid::Uuid::new_v4().to_string()
                })
                .await
        ),
        Code::NotFound
    );
    // After acknowledgement the crew can raise a new one.
    let next = crew
        .field
        .raise_alarm(raise(&unit.id))
        .await
        .expect("raise")
        .into_inner();
    assert_ne!(next.id, alarm.id);
}

#[tokio::test]
async fn the_unit_stream_sends_the_fleet_then_each_change() {
    let app = TestApp::spawn().await;
    let ambulance = app
        .register_at("AMB-RSSA-1", UnitKind::Ambulance, places::RSSA)
        .await;
    app.register_at("POL-KOTA-1", UnitKind::Police, places::POLRESTA)
        .await;
    let mut stream = app
        .operator
        .units
        .clone()
        .watch_units(proto::WatchUnitsRequest {})
        .await
        .expect("watch")
        .into_inner();
    let mut first = Vec::new();
    for _ in 0..2 {
        first.push(
            stream
                .message()
                .await
                .expect("stream")
                .expect("unit")
                .call_sign,
        );
    }
    first.sort();
    assert_eq!(first, ["AMB-RSSA-1", "POL-KOTA-1"]);

    app.operator
        .units
        .clone()
        .set_unit_in_service(proto::SetUnitInServiceRequest {
            unit_id: ambulance.id.clone(),
            in_service: false,
        })
        .await
        .expect("out of service");
    // A change announced before the snapshot may come again: a map just
    // redraws the unit. Wait for the ambulance's change.
    let changed = next_change_of(&mut stream, &ambulance.id, |unit| {
        unit.status() == proto::UnitStatus::OutOfService
    })
    .await;
    assert_eq!(changed.status(), proto::UnitStatus::OutOfService);

    let mut crew = app.unit_clients(&ambulance.id).await;
    crew.field
        .report_location(proto::ReportLocationRequest {
            unit_id: ambulance.id.clone(),
            location: at(places::UNISMA),
        })
        .await
        .expect("AVL");
    let moved = next_change_of(&mut stream, &ambulance.id, |unit| {
        unit.location
            .as_ref()
            .is_some_and(|at| at.lat == places::UNISMA.0)
    })
    .await;
    assert_eq!(moved.location.expect("location").lon, places::UNISMA.1);

    assert_eq!(
        code_of(crew.units.watch_units(proto::WatchUnitsRequest {}).await),
        Code::PermissionDenied
    );
}

/// The next unit on the stream that is `unit_id` and satisfies `wanted`.
async fn next_change_of(
    stream: &mut tonic::Streaming<proto::Unit>,
    unit_id: &str,
    wanted: impl Fn(&proto::Unit) -> bool,
) -> proto::Unit {
    loop {
        let unit = tokio::time::timeout(std::time::Duration::from_secs(10), stream.message())
            .await
            .expect("in time")
            .expect("stream")
            .expect("unit");
        if unit.id == unit_id && wanted(&unit) {
            return unit;
        }
    }
}

#[tokio::test]
async fn an_alarm_without_a_gps_fix_is_raised_at_the_units_last_reported_position() {
    let app = TestApp::spawn().await;
    let unit = app
        .register_at("AMB-RSSA-1", proto::UnitKind::Ambulance, places::RSSA)
        .await;
    let crew = app.unit_clients(&unit.id).await;
    let alarm = crew
        .field
        .clone()
        .raise_alarm(proto::RaiseAlarmRequest {
            unit_id: unit.id.clone(),
            location: None,
            note: String::new(),
        })
        .await
        .expect("an alarm is never refused for want of a position")
        .into_inner();
    let location = alarm.location.expect("a location");
    assert_eq!((location.lat, location.lon), places::RSSA, "never 0, 0");
}
