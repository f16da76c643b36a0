//! `n112 board`: the dispatchers' live board. Active incidents (priority
//! colour, age, status, units) and units by status, fed by WatchIncidents;
//! keys to assign a recommended unit, cancel or resolve.
//!
//! `state` holds what is shown and what keys do (tested with ratatui's
//! TestBackend); this module wires it to the server and the terminal, and
//! reconnects by itself when the stream drops.

mod state;

use std::time::Duration;

use ngalam112_proto::v1 as proto;
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use tokio::sync::mpsc;

pub use state::{Action, Board};

use crate::connect::{Api, ConnectArgs, describe};

/// What reaches the board's loop.
enum Message {
    Key(ratatui::crossterm::event::KeyEvent),
    /// A fresh list of active incidents (after (re)connecting).
    Snapshot(Vec<proto::Incident>),
    Change(Box<proto::IncidentEvent>),
    Units(Vec<proto::Unit>),
    Disconnected(String),
    Recommendations(String, Vec<proto::UnitRecommendation>),
    Info(String),
    Tick,
}

pub async fn run(connect: &ConnectArgs) -> anyhow::Result<()> {
    let api = connect.api()?;
    let (sender, mut receiver) = mpsc::channel::<Message>(1024);
    tokio::spawn(follow_incidents(api.clone(), sender.clone()));
    tokio::spawn(refresh_units(api.clone(), sender.clone()));
    let keys = sender.clone();
    std::thread::spawn(move || {
        loop {
            match event::poll(Duration::from_millis(500)) {
                Ok(true) => {
                    if let Ok(Event::Key(key)) = event::read()
                        && key.kind == KeyEventKind::Press
                        && keys.blocking_send(Message::Key(key)).is_err()
                    {
                        return;
                    }
                }
                Ok(false) => {
                    if keys.blocking_send(Message::Tick).is_err() {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    });

    let mut terminal = ratatui::init();
    let mut board = Board::default();
    let result: anyhow::Result<()> = async {
        loop {
            terminal.draw(|frame| board.render(frame))?;
            let Some(message) = receiver.recv().await else {
                return Ok(());
            };
            match message {
                Message::Key(key) => match board.on_key(key) {
                    Action::None => {}
                    Action::Quit => return Ok(()),
                    action => {
                        tokio::spawn(perform(api.clone(), action, sender.clone()));
                    }
                },
                Message::Snapshot(incidents) => board.replace_all(incidents),
                Message::Change(event) => board.apply(*event),
                Message::Units(units) => board.set_units(units),
                Message::Disconnected(why) => board.set_disconnected(why),
                Message::Recommendations(incident_id, recommendations) => {
                    board.show_recommendations(incident_id, recommendations)
                }
                Message::Info(text) => board.set_message(text),
                Message::Tick => {}
            }
        }
    }
    .await;
    ratatui::restore();
    result
}

/// Carries out what a key asked for; the answer comes back as a message.
async fn perform(mut api: Api, action: Action, sender: mpsc::Sender<Message>) {
    let message = match action {
        Action::Recommend(incident_id) => {
            match api
                .incidents
                .recommend_units(proto::RecommendUnitsRequest {
                    incident_id: incident_id.clone(),
                    kind: 0,
                    limit: 9,
                })
                .await
            {
                Ok(answer) => {
                    Message::Recommendations(incident_id, answer.into_inner().recommendations)
                }
                Err(status) => Message::Info(describe(&status)),
            }
        }
        Action::Assign {
            incident_id,
            unit_id,
            call_sign,
        } => {
            match api
                .incidents
                .assign_unit(proto::AssignUnitRequest {
                    incident_id,
                    unit_id,
                })
                .await
            {
                Ok(_) => Message::Info(format!("{call_sign} offered")),
                Err(status) => Message::Info(describe(&status)),
            }
        }
        Action::Cancel { incident_id } => {
            match api
                .incidents
                .cancel_incident(proto::CancelIncidentRequest {
                    id: incident_id,
                    reason: "cancelled from the board".to_owned(),
                    resolution_code: proto::ResolutionCode::Other.into(),
                })
                .await
            {
                Ok(_) => Message::Info("incident cancelled".to_owned()),
                Err(status) => Message::Info(describe(&status)),
            }
        }
        Action::Resolve {
            incident_id,
            resolution,
        } => {
            match api
                .incidents
                .resolve_incident(proto::ResolveIncidentRequest {
                    id: incident_id,
                    resolution,
                    resolution_code: proto::ResolutionCode::Handled.into(),
                })
                .await
            {
                Ok(_) => Message::Info("incident resolved".to_owned()),
                Err(status) => Message::Info(describe(&status)),
            }
        }
        Action::None | Action::Quit => return,
    };
    let _ = sender.send(message).await;
}

/// Lists the active incidents, then follows every change; on any break,
/// says so, waits a little and starts again (so nothing is missed: the new
/// list replaces the old).
async fn follow_incidents(mut api: Api, sender: mpsc::Sender<Message>) {
    let active = vec![
        proto::IncidentStatus::Pending.into(),
        proto::IncidentStatus::Dispatched.into(),
        proto::IncidentStatus::OnScene.into(),
    ];
    let mut backoff = Duration::from_millis(500);
    loop {
        let attempt: Result<(), tonic::Status> = async {
            let mut stream = api
                .incidents
                .watch_incidents(proto::WatchIncidentsRequest {
                    mark_subscribed: true,
                })
                .await?
                .into_inner();
            // Listed only once the server follows changes: a change made
            // in between is on the stream, never lost.
            let Some(first) = stream.message().await? else {
                return Err(tonic::Status::unavailable("the live stream did not start"));
            };
            let incidents =
                crate::commands::incident::list(&mut api, active.clone(), 5_000).await?;
            if sender.send(Message::Snapshot(incidents)).await.is_err() {
                return Ok(());
            }
            // A server without the marker sends a change first: kept.
            if first.incident.is_some()
                && sender.send(Message::Change(Box::new(first))).await.is_err()
            {
                return Ok(());
            }
            backoff = Duration::from_millis(500);
            while let Some(event) = stream.message().await? {
                if sender.send(Message::Change(Box::new(event))).await.is_err() {
                    return Ok(());
                }
            }
            Err(tonic::Status::unavailable("the live stream ended"))
        }
        .await;
        if sender.is_closed() {
            return;
        }
        let why = attempt
            .err()
            .map_or_else(|| "stream ended".to_owned(), |status| describe(&status));
        if sender.send(Message::Disconnected(why)).await.is_err() {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Units have no stream: refresh them every few seconds.
async fn refresh_units(mut api: Api, sender: mpsc::Sender<Message>) {
    loop {
        if let Ok(answer) = api
            .units
            .list_units(proto::ListUnitsRequest::default())
            .await
            && sender
                .send(Message::Units(answer.into_inner().units))
                .await
                .is_err()
        {
            return;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}
