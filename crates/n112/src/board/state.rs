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
            .filter(|i| i.status() == proto::IncidentStatus::Pending && !i.hold)
            .count();
        let held = self
            .incidents
            .values()
            .filter(|i| i.hold && i.status() == proto::IncidentStatus::Pending)
            .count();
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(
                    " Ngalam 112 — live board ",
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                link,
                Span::raw(format!(
                    "   {} active, {waiting} waiting, {held} held   {now}",
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
                if incident.hold && !waiting.is_empty() {
                    status.push_str(" HELD");
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
        let mut first = vec![Span::raw(format!(
            "▶ {} {} at {} — {} (caller {} {}, {} caller{})",
            format::priority(incident),
            format::category(incident),
            incident.address,
            incident.description,
            incident.caller_name,
            format::caller_phone(incident),
            incident.caller_count,
            if incident.caller_count == 1 { "" } else { "s" }
        ))];
        if incident.caller_flagged {
            // A warning only: the incident is dispatched like any other.
            first.insert(
                0,
                Span::styled(
                    "FLAGGED NUMBER ",
                    Style::default()
                        .fg(Color::White)
                        .bg(Color::Red)
                        .add_modifier(Modifier::BOLD),
                ),
            );
        }
        let mut lines = vec![Line::from(first)];
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
#[path = "state_tests.rs"]
mod tests;
