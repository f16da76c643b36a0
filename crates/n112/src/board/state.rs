//! What the board shows and what its keys do, without any I/O.

use std::collections::BTreeMap;

use ngalam112_proto::v1 as proto;
use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Cell, Clear, List, ListItem, Paragraph, Row, Table, TableState,
};

use crate::format;

/// What a key asks the app to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    None,
    Quit,
    Recommend(String),
    Assign {
        incident_id: String,
        unit_id: String,
        call_sign: String,
    },
    Cancel {
        incident_id: String,
    },
    Resolve {
        incident_id: String,
        resolution: String,
    },
}

#[derive(Debug, Clone, Default)]
enum Mode {
    #[default]
    Normal,
    /// Choosing a recommended unit with 1–9.
    Assign {
        incident_id: String,
        recommendations: Vec<proto::UnitRecommendation>,
    },
    ConfirmCancel {
        incident_id: String,
    },
    /// Typing the resolution.
    Resolve {
        incident_id: String,
        text: String,
    },
}

/// The board's state.
#[derive(Debug, Default)]
pub struct Board {
    incidents: BTreeMap<String, proto::Incident>,
    units: Vec<proto::Unit>,
    selected: usize,
    mode: Mode,
    connected: bool,
    message: String,
}

fn is_active(incident: &proto::Incident) -> bool {
    matches!(
        incident.status(),
        proto::IncidentStatus::Pending
            | proto::IncidentStatus::Dispatched
            | proto::IncidentStatus::OnScene
    )
}

pub fn priority_style(priority: proto::Priority) -> Style {
    match priority {
        proto::Priority::Critical => Style::default()
            .fg(Color::White)
            .bg(Color::Red)
            .add_modifier(Modifier::BOLD),
        proto::Priority::High => Style::default()
            .fg(Color::LightRed)
            .add_modifier(Modifier::BOLD),
        proto::Priority::Normal => Style::default().fg(Color::Yellow),
        _ => Style::default().fg(Color::Gray),
    }
}

fn status_style(status: proto::IncidentStatus) -> Style {
    match status {
        proto::IncidentStatus::Pending => Style::default()
            .fg(Color::LightRed)
            .add_modifier(Modifier::BOLD),
        proto::IncidentStatus::Dispatched => Style::default().fg(Color::Cyan),
        proto::IncidentStatus::OnScene => Style::default().fg(Color::Green),
        _ => Style::default(),
    }
}

fn unit_style(status: proto::UnitStatus) -> Style {
    match status {
        proto::UnitStatus::Available => Style::default().fg(Color::Green),
        proto::UnitStatus::Assigned => Style::default().fg(Color::Cyan),
        _ => Style::default().fg(Color::DarkGray),
    }
}

impl Board {
    /// Replaces everything shown (after connecting or reconnecting).
    pub fn replace_all(&mut self, incidents: Vec<proto::Incident>) {
        self.incidents = incidents
            .into_iter()
            .filter(is_active)
            .map(|incident| (incident.id.clone(), incident))
            .collect();
        self.connected = true;
        self.clamp_selection();
    }

    /// One change from the stream: the incident as it is now.
    pub fn apply(&mut self, event: proto::IncidentEvent) {
        let Some(incident) = event.incident else {
            return;
        };
        if is_active(&incident) {
            self.incidents.insert(incident.id.clone(), incident);
        } else {
            self.incidents.remove(&incident.id);
        }
        self.clamp_selection();
    }

    pub fn set_units(&mut self, units: Vec<proto::Unit>) {
        self.units = units;
    }

    pub fn set_disconnected(&mut self, why: String) {
        self.connected = false;
        self.message = format!("reconnecting… ({why})");
    }

    pub fn set_message(&mut self, text: String) {
        self.message = text;
    }

    pub fn show_recommendations(
        &mut self,
        incident_id: String,
        recommendations: Vec<proto::UnitRecommendation>,
    ) {
        if recommendations.is_empty() {
            self.message = "no available unit of the kinds it needs".to_owned();
            return;
        }
        self.mode = Mode::Assign {
            incident_id,
            recommendations,
        };
    }

    /// Most urgent first, then oldest.
    pub fn sorted(&self) -> Vec<&proto::Incident> {
        let mut incidents: Vec<&proto::Incident> = self.incidents.values().collect();
        incidents.sort_by_key(|incident| {
            (
                incident.priority,
                incident
                    .created_at
                    .map(|t| (t.seconds, t.nanos))
                    .unwrap_or_default(),
            )
        });
        incidents
    }

    fn selected_id(&self) -> Option<String> {
        self.sorted()
            .get(self.selected)
            .map(|incident| incident.id.clone())
    }

    fn clamp_selection(&mut self) {
        self.selected = self.selected.min(self.incidents.len().saturating_sub(1));
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Action {
        match std::mem::take(&mut self.mode) {
            Mode::Normal => self.on_normal_key(key.code),
            Mode::Assign {
                incident_id,
                recommendations,
            } => {
                if let KeyCode::Char(digit @ '1'..='9') = key.code {
                    let index = digit as usize - '1' as usize;
                    if let Some(unit) = recommendations.get(index).and_then(|r| r.unit.as_ref()) {
                        return Action::Assign {
                            incident_id,
                            unit_id: unit.id.clone(),
                            call_sign: unit.call_sign.clone(),
                        };
                    }
                }
                if key.code != KeyCode::Esc {
                    self.mode = Mode::Assign {
                        incident_id,
                        recommendations,
                    };
                }
                Action::None
            }
            Mode::ConfirmCancel { incident_id } => match key.code {
                KeyCode::Char('y') => Action::Cancel { incident_id },
                _ => Action::None,
            },
            Mode::Resolve {
                incident_id,
                mut text,
            } => match key.code {
                KeyCode::Enter => Action::Resolve {
                    incident_id,
                    resolution: text,
                },
                KeyCode::Esc => Action::None,
                KeyCode::Backspace => {
                    text.pop();
                    self.mode = Mode::Resolve { incident_id, text };
                    Action::None
                }
                KeyCode::Char(c) => {
                    if text.chars().count() < 200 {
                        text.push(c);
                    }
                    self.mode = Mode::Resolve { incident_id, text };
                    Action::None
                }
                _ => {
                    self.mode = Mode::Resolve { incident_id, text };
                    Action::None
                }
            },
        }
    }

    fn on_normal_key(&mut self, code: KeyCode) -> Action {
        match code {
            KeyCode::Char('q') | KeyCode::Esc => Action::Quit,
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(self.incidents.len().saturating_sub(1));
                Action::None
            }
            KeyCode::Up | KeyCode::Char('k') => {
                self.selected = self.selected.saturating_sub(1);
                Action::None
            }
            KeyCode::Char('a') => self.selected_id().map_or(Action::None, Action::Recommend),
            KeyCode::Char('c') => {
                if let Some(incident_id) = self.selected_id() {
                    self.mode = Mode::ConfirmCancel { incident_id };
                }
                Action::None
            }
            KeyCode::Char('r') => {
                if let Some(incident_id) = self.selected_id() {
                    self.mode = Mode::Resolve {
                        incident_id,
                        text: String::new(),
                    };
                }
                Action::None
            }
            _ => Action::None,
        }
    }

    pub fn render(&self, frame: &mut Frame) {
        let [header, body, detail, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(5),
            Constraint::Length(2),
            Constraint::Length(2),
        ])
        .areas(frame.area());
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(70), Constraint::Percentage(30)])
                .areas(body);

        let now = chrono::Utc::now()
            .with_timezone(&format::wib())
            .format("%H:%M:%S WIB");
        let link = if self.connected {
            Span::styled("● live", Style::default().fg(Color::Green))
        } else {
            Span::styled(
                "○ reconnecting",
                Style::default()
                    .fg(Color::LightRed)
                    .add_modifier(Modifier::BOLD),
            )
        };
        let waiting = self
            .incidents
            .values()
            .filter(|i| i.status() == proto::IncidentStatus::Pending)
            .count();
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(
                    " Ngalam 112 — live board ",
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                link,
                Span::raw(format!(
                    "   {} active, {waiting} waiting   {now}",
                    self.incidents.len()
                )),
            ])),
            header,
        );

        self.render_incidents(frame, left);
        self.render_units(frame, right);
        self.render_detail(frame, detail);

        let help = match &self.mode {
            Mode::Normal => {
                "↑/↓ select · a assign a unit · c cancel · r resolve · q quit".to_owned()
            }
            Mode::Assign { .. } => "1–9 offer that unit · Esc back".to_owned(),
            Mode::ConfirmCancel { .. } => {
                "cancel this incident? y to confirm, any other key to keep it".to_owned()
            }
            Mode::Resolve { text, .. } => {
                format!("resolution: {text}▏ (Enter to resolve, Esc back)")
            }
        };
        frame.render_widget(
            Paragraph::new(vec![Line::from(help), Line::from(self.message.clone())]),
            footer,
        );

        if let Mode::Assign {
            recommendations, ..
        } = &self.mode
        {
            self.render_recommendations(frame, left, recommendations);
        }
    }

    fn render_incidents(&self, frame: &mut Frame, area: Rect) {
        let rows: Vec<Row> = self
            .sorted()
            .into_iter()
            .map(|incident| {
                let units: Vec<String> = incident
                    .assignments
                    .iter()
                    .filter(|a| {
                        matches!(
                            a.status(),
                            proto::AssignmentStatus::Offered
                                | proto::AssignmentStatus::Accepted
                                | proto::AssignmentStatus::EnRoute
                                | proto::AssignmentStatus::OnScene
                        )
                    })
                    .map(|a| format!("{} {}", a.unit_call_sign, format::assignment_status(a)))
                    .collect();
                let mut status = format::status(incident);
                let waiting: Vec<String> = incident.pending_kinds().map(format::kind).collect();
                if !waiting.is_empty() && incident.status() != proto::IncidentStatus::Pending {
                    status.push_str(" +WAIT");
                }
                let address_style = if incident.location_disagrees {
                    Style::default()
                        .fg(Color::Black)
                        .bg(Color::Yellow)
                        .add_modifier(Modifier::BOLD)
                } else {
                    Style::default()
                };
                let address = if incident.location_disagrees {
                    format!("⚠ LOCATION? {}", incident.address)
                } else {
                    incident.address.clone()
                };
                Row::new(vec![
                    Cell::from(format::priority(incident))
                        .style(priority_style(incident.priority())),
                    Cell::from(format::age(format::seconds_since(
                        incident.created_at.as_ref(),
                    ))),
                    Cell::from(status).style(status_style(incident.status())),
                    Cell::from(format::category(incident)),
                    Cell::from(address).style(address_style),
                    Cell::from(if units.is_empty() {
                        format!("needs {}", waiting.join(", "))
                    } else {
                        units.join(", ")
                    }),
                ])
            })
            .collect();
        let table = Table::new(
            rows,
            [
                Constraint::Length(9),
                Constraint::Length(9),
                Constraint::Length(15),
                Constraint::Length(17),
                Constraint::Percentage(35),
                Constraint::Percentage(65),
            ],
        )
        .header(
            Row::new(vec![
                "PRIORITY", "AGE", "STATUS", "CATEGORY", "ADDRESS", "UNITS",
            ])
            .style(Style::default().add_modifier(Modifier::BOLD)),
        )
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Active incidents "),
        );
        let mut state = TableState::default();
        if !self.incidents.is_empty() {
            state.select(Some(self.selected));
        }
        frame.render_stateful_widget(table, area, &mut state);
    }

    /// The selected incident: where, what, and the caller's handset fix
    /// with its accuracy and age.
    fn render_detail(&self, frame: &mut Frame, area: Rect) {
        let Some(incident) = self.sorted().get(self.selected).copied() else {
            return;
        };
        let mut lines = vec![Line::from(format!(
            "▶ {} {} at {} — {} ({} caller{})",
            format::priority(incident),
            format::category(incident),
            incident.address,
            incident.description,
            incident.caller_count,
            if incident.caller_count == 1 { "" } else { "s" }
        ))];
        if let Some(device) = format::device_location(incident) {
            let style = if incident.location_disagrees {
                Style::default()
                    .fg(Color::Black)
                    .bg(Color::Yellow)
                    .add_modifier(Modifier::BOLD)
            } else {
                Style::default().fg(Color::Cyan)
            };
            let warning = if incident.location_disagrees {
                " — DISAGREES with the entered location"
            } else {
                ""
            };
            lines.push(Line::from(Span::styled(
                format!("  {device}{warning}"),
                style,
            )));
        }
        frame.render_widget(Paragraph::new(lines), area);
    }

    fn render_units(&self, frame: &mut Frame, area: Rect) {
        let count =
            |status: proto::UnitStatus| self.units.iter().filter(|u| u.status() == status).count();
        let mut items = vec![ListItem::new(Line::from(vec![
            Span::styled(
                format!("{} available", count(proto::UnitStatus::Available)),
                unit_style(proto::UnitStatus::Available),
            ),
            Span::raw(" · "),
            Span::styled(
                format!("{} assigned", count(proto::UnitStatus::Assigned)),
                unit_style(proto::UnitStatus::Assigned),
            ),
            Span::raw(" · "),
            Span::styled(
                format!("{} out", count(proto::UnitStatus::OutOfService)),
                unit_style(proto::UnitStatus::OutOfService),
            ),
        ]))];
        let mut units: Vec<&proto::Unit> = self.units.iter().collect();
        units.sort_by_key(|unit| (unit.status, unit.call_sign.clone()));
        items.extend(units.into_iter().map(|unit| {
            ListItem::new(Line::from(vec![
                Span::styled(format!("{:<14}", unit.call_sign), unit_style(unit.status())),
                Span::raw(format!(
                    " {:<11} {}",
                    format::kind(unit.kind()),
                    format::unit_status(unit)
                )),
            ]))
        }));
        frame.render_widget(
            List::new(items).block(Block::default().borders(Borders::ALL).title(" Units ")),
            area,
        );
    }

    fn render_recommendations(
        &self,
        frame: &mut Frame,
        area: Rect,
        recommendations: &[proto::UnitRecommendation],
    ) {
        let height = u16::try_from(recommendations.len().min(9)).unwrap_or(9) + 2;
        let popup = Rect {
            x: area.x + 4,
            y: area.y + 2,
            width: area.width.saturating_sub(8).min(70),
            height: height.min(area.height.saturating_sub(2)),
        };
        let items: Vec<ListItem> = recommendations
            .iter()
            .take(9)
            .enumerate()
            .filter_map(|(index, r)| {
                let unit = r.unit.as_ref()?;
                let stale = if r.location_stale {
                    " (position stale)"
                } else {
                    ""
                };
                Some(ListItem::new(format!(
                    "{}  {:<14} {:<11} {}{stale}",
                    index + 1,
                    unit.call_sign,
                    format::kind(unit.kind()),
                    format::km(r.distance_m)
                )))
            })
            .collect();
        frame.render_widget(Clear, popup);
        frame.render_widget(
            List::new(items).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" Offer which unit? "),
            ),
            popup,
        );
    }
}

#[cfg(test)]
mod tests {
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
}
