//! A dispatcher's live board, as the console keeps it: watch, then list
//! the open incidents, then apply each change; when the stream ends
//! (UNAVAILABLE while the database fails over), list and watch again.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ngalam112_proto::v1 as proto;
use ngalam112_testkit::Clients;

/// An incident as the board shows it: its status, as of its `updated_at`.
type Shown = (i32, (i64, i32));

#[derive(Clone, Default)]
pub struct Board {
    shown: Arc<Mutex<BTreeMap<String, Shown>>>,
    /// How many times the board had to list and watch again.
    pub resubscribed: Arc<AtomicUsize>,
}

fn stamp(incident: &proto::Incident) -> (i64, i32) {
    incident
        .updated_at
        .as_ref()
        .map_or((0, 0), |at| (at.seconds, at.nanos))
}

fn is_open(status: i32) -> bool {
    status != proto::IncidentStatus::Resolved as i32
        && status != proto::IncidentStatus::Cancelled as i32
}

impl Board {
    fn show(&self, incident: proto::Incident) {
        let mut shown = self.shown.lock().expect("board");
        let newer = shown
            .get(&incident.id)
            .is_none_or(|(_, at)| *at <= stamp(&incident));
        if newer {
            shown.insert(incident.id.clone(), (incident.status, stamp(&incident)));
        }
    }

    /// The open incidents on the board: id → status.
    pub fn open(&self) -> BTreeMap<String, i32> {
        self.shown
            .lock()
            .expect("board")
            .iter()
            .filter(|(_, (status, _))| is_open(*status))
            .map(|(id, (status, _))| (id.clone(), *status))
            .collect()
    }

    async fn list(&self, clients: &mut Clients) -> Result<(), tonic::Status> {
        let mut page_token = String::new();
        loop {
            let page = clients
                .incidents
                .list_incidents(proto::ListIncidentsRequest {
                    statuses: vec![
                        proto::IncidentStatus::Pending.into(),
                        proto::IncidentStatus::Dispatched.into(),
                        proto::IncidentStatus::OnScene.into(),
                    ],
                    page_size: 500,
                    page_token,
                })
                .await?
                .into_inner();
            page.incidents
                .into_iter()
                .for_each(|incident| self.show(incident));
            if page.next_page_token.is_empty() {
                return Ok(());
            }
            page_token = page.next_page_token;
        }
    }

    /// Keeps the board until `running` turns false.
    pub async fn keep(self, mut clients: Clients, running: Arc<AtomicBool>) {
        while running.load(Ordering::Relaxed) {
            let watched = async {
                let mut stream = clients
                    .incidents
                    .watch_incidents(proto::WatchIncidentsRequest::default())
                    .await?
                    .into_inner();
                self.shown.lock().expect("board").clear();
                self.list(&mut clients).await?;
                while running.load(Ordering::Relaxed) {
                    let next =
                        tokio::time::timeout(Duration::from_millis(500), stream.message()).await;
                    match next {
                        Err(_) => continue,
                        Ok(Ok(Some(event))) => {
                            if let Some(incident) = event.incident {
                                self.show(incident);
                            }
                        }
                        Ok(Ok(None)) => return Ok(()),
                        Ok(Err(status)) => return Err(status),
                    }
                }
                Ok::<(), tonic::Status>(())
            }
            .await;
            if running.load(Ordering::Relaxed) {
                if let Err(status) = watched {
                    assert_eq!(
                        status.code(),
                        tonic::Code::Unavailable,
                        "a board's watch ends UNAVAILABLE while the database fails over: {status:?}"
                    );
                }
                self.resubscribed.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}
