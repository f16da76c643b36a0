//! The board's rendering and keys, on ratatui's TestBackend.
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyEventKind, KeyEventState, KeyModifiers};

use super::*;

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent {
        code,
        modifiers: KeyModifiers::NONE,
        kind: KeyEventKind::Press,
        state: KeyEventState::NONE,
    }
}

fn incident(
    id: &str,
    priority: proto::Priority,
    status: proto::IncidentStatus,
    address: &str,
    age_s: i64,
) -> proto::Incident {
    let created = chrono::Utc::now().timestamp() - age_s;
    proto::Incident {
        id: id.to_owned(),
        priority: priority.into(),
        status: status.into(),
        category: proto::IncidentCategory::Medical.into(),
        address: address.to_owned(),
        created_at: Some(prost_types::Timestamp {
            seconds: created,
            nanos: 0,
        }),
        required_kinds: vec![proto::UnitKind::Ambulance.into()],
        pending_kinds: if status == proto::IncidentStatus::Pending {
            vec![proto::UnitKind::Ambulance.into()]
        } else {
            vec![]
        },
        ..Default::default()
    }
}

fn with_unit(mut incident: proto::Incident, call_sign: &str) -> proto::Incident {
    incident.assignments.push(proto::Assignment {
        id: format!("{call_sign}-assignment"),
        unit_call_sign: call_sign.to_owned(),
        status: proto::AssignmentStatus::EnRoute.into(),
        unit_kind: proto::UnitKind::Ambulance.into(),
        ..Default::default()
    });
    incident
}

fn screen(board: &Board) -> String {
    let mut terminal = Terminal::new(TestBackend::new(140, 24)).expect("terminal");
    terminal.draw(|frame| board.render(frame)).expect("draw");
    let buffer = terminal.backend().buffer().clone();
    let mut text = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            text.push_str(buffer[(x, y)].symbol());
        }
        text.push('\n');
    }
    text
}

fn sample_board() -> Board {
    let mut board = Board::default();
    board.replace_all(vec![
        with_unit(
            incident(
                "a",
                proto::Priority::Normal,
                proto::IncidentStatus::Dispatched,
                "Jl. Ijen 5",
                300,
            ),
            "AMB-RSSA-1",
        ),
        incident(
            "b",
            proto::Priority::Critical,
            proto::IncidentStatus::Pending,
            "Pasar Besar",
            40,
        ),
        incident(
            "c",
            proto::Priority::Low,
            proto::IncidentStatus::Resolved,
            "closed one",
            900,
        ),
    ]);
    board.set_units(vec![proto::Unit {
        id: "u1".to_owned(),
        call_sign: "POL-KOTA-1".to_owned(),
        kind: proto::UnitKind::Police.into(),
        status: proto::UnitStatus::Available.into(),
        ..Default::default()
    }]);
    board
}

#[test]
fn the_board_shows_active_incidents_most_urgent_first_with_their_units() {
    let board = sample_board();
    let text = screen(&board);
    assert!(text.contains("● live"), "{text}");
    assert!(text.contains("2 active, 1 waiting"), "{text}");
    let critical = text.find("CRITICAL").expect("critical row");
    let normal = text.find("NORMAL").expect("normal row");
    assert!(critical < normal, "critical first:\n{text}");
    assert!(text.contains("Pasar Besar"));
    assert!(text.contains("needs AMBULANCE"), "{text}");
    assert!(text.contains("AMB-RSSA-1 EN_ROUTE"), "{text}");
    assert!(
        !text.contains("closed one"),
        "closed incidents are not on the board"
    );
    assert!(text.contains("1 available"), "{text}");
    assert!(text.contains("POL-KOTA-1"));
}

#[test]
fn a_location_conflict_is_highlighted() {
    let mut board = sample_board();
    let mut conflicting = incident(
        "e",
        proto::Priority::Critical,
        proto::IncidentStatus::Dispatched,
        "Jl. Kawi 9",
        500,
    );
    conflicting.location = Some(proto::GeoPoint {
        lat: -7.9770,
        lon: 112.6340,
    });
    conflicting.location_disagrees = true;
    conflicting.device_location = Some(proto::DeviceLocation {
        location: Some(proto::GeoPoint {
            lat: -7.9680,
            lon: 112.6340,
        }),
        radius_m: 30.0,
        confidence_pct: 68,
        method: "GNSS".to_owned(),
        fix_time: Some(prost_types::Timestamp {
            seconds: chrono::Utc::now().timestamp() - 12,
            nanos: 0,
        }),
        received_at: None,
    });
    board.apply(proto::IncidentEvent {
        incident: Some(conflicting),
        kind: "device_location".to_owned(),
    });
    let text = screen(&board);
    assert!(text.contains("⚠ LOCATION? Jl. Kawi"), "{text}");
    // Selected (most urgent, oldest): its handset fix with accuracy and age.
    assert!(
        text.contains("handset GNSS fix") && text.contains("±30 m (68 %)"),
        "{text}"
    );
    assert!(text.contains("DISAGREES"), "{text}");
}

#[test]
fn the_selected_callers_number_or_its_absence_and_its_flag_are_shown() {
    let mut board = sample_board();
    let mut withheld = incident(
        "w",
        proto::Priority::Critical,
        proto::IncidentStatus::Dispatched,
        "Jl. Ijen 5",
        900,
    );
    withheld.caller_id_withheld = true;
    withheld.caller_flagged = true;
    board.apply(proto::IncidentEvent {
        incident: Some(withheld),
        kind: "incident_created".to_owned(),
    });
    let text = screen(&board);
    assert!(text.contains("FLAGGED NUMBER ▶"), "{text}");
    assert!(
        text.contains("nomor disembunyikan / number withheld"),
        "{text}"
    );
}

#[test]
fn critical_rows_are_painted_red() {
    let board = sample_board();
    let mut terminal = Terminal::new(TestBackend::new(140, 24)).expect("terminal");
    terminal.draw(|frame| board.render(frame)).expect("draw");
    let buffer = terminal.backend().buffer();
    let row = (0..buffer.area.height)
        .find(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, *y)].symbol())
                .collect::<String>()
                .contains("CRITICAL")
        })
        .expect("a critical row");
    let x = (0..buffer.area.width)
        .find(|x| buffer[(*x, row)].symbol() == "C")
        .expect("the C of CRITICAL");
    assert_eq!(buffer[(x, row)].bg, Color::Red);
}

#[test]
fn stream_changes_update_and_remove_rows_and_a_drop_shows_reconnecting() {
    let mut board = sample_board();
    let mut resolved = incident(
        "b",
        proto::Priority::Critical,
        proto::IncidentStatus::Resolved,
        "Pasar Besar",
        40,
    );
    resolved.resolution = "done".to_owned();
    board.apply(proto::IncidentEvent {
        incident: Some(resolved),
        kind: "incident_resolved".to_owned(),
    });
    board.apply(proto::IncidentEvent {
        incident: Some(incident(
            "d",
            proto::Priority::High,
            proto::IncidentStatus::Pending,
            "Alun-Alun Tugu",
            5,
        )),
        kind: "incident_created".to_owned(),
    });
    board.set_disconnected("UNAVAILABLE: server restarting".to_owned());
    let text = screen(&board);
    assert!(!text.contains("Pasar Besar"));
    assert!(text.contains("Alun-Alun Tugu"));
    assert!(text.contains("○ reconnecting"), "{text}");
    assert!(text.contains("server restarting"));
}

#[test]
fn keys_select_an_incident_and_assign_a_recommended_unit() {
    let mut board = sample_board();
    // The critical one is selected first.
    assert_eq!(
        board.on_key(key(KeyCode::Char('a'))),
        Action::Recommend("b".to_owned())
    );
    board.show_recommendations(
        "b".to_owned(),
        vec![proto::UnitRecommendation {
            unit: Some(proto::Unit {
                id: "u9".to_owned(),
                call_sign: "AMB-PMI-1".to_owned(),
                ..Default::default()
            }),
            distance_m: 1_200.0,
            ..Default::default()
        }],
    );
    assert!(
        screen(&board).contains("AMB-PMI-1"),
        "the popup lists the unit"
    );
    assert_eq!(
        board.on_key(key(KeyCode::Char('1'))),
        Action::Assign {
            incident_id: "b".to_owned(),
            unit_id: "u9".to_owned(),
            call_sign: "AMB-PMI-1".to_owned()
        }
    );
    board.on_key(key(KeyCode::Char('j')));
    assert_eq!(board.on_key(key(KeyCode::Char('c'))), Action::None);
    assert_eq!(
        board.on_key(key(KeyCode::Char('y'))),
        Action::Cancel {
            incident_id: "a".to_owned()
        }
    );
    board.on_key(key(KeyCode::Char('r')));
    for c in "ok".chars() {
        board.on_key(key(KeyCode::Char(c)));
    }
    assert_eq!(
        board.on_key(key(KeyCode::Enter)),
        Action::Resolve {
            incident_id: "a".to_owned(),
            resolution: "ok".to_owned()
        }
    );
    assert_eq!(board.on_key(key(KeyCode::Char('q'))), Action::Quit);
}
