//! The change feed: one LISTEN connection per server process turns
//! PostgreSQL notifications into in-process wake-ups, so a long-poll or a
//! watcher in this process learns of a change made by any process.
//!
//! Channels (sent by the store's own SQL, delivered at commit, in commit
//! order):
//! - `ngalam112_offers`, payload the unit id: an offer was made to it.
//! - `ngalam112_incidents`, payload `<incident id> <event kind>`: a
//!   timeline event was appended.
//! - `ngalam112_units`, `ngalam112_alarms`, `ngalam112_calls`: a unit,
//!   an alarm or a 112 call changed (payload its id).
//! - `ngalam112_tokens`, payload the token id: a token was revoked (by
//!   Logout, `token revoke`, a disabled user or a changed password; a
//!   trigger on `api_tokens` sends it).
//!
//! While the LISTEN connection is down notifications are lost, so after
//! every reconnect the feed wakes every waiter and tells every watcher to
//! resynchronise: waiters re-read the database, watchers are told to
//! resubscribe. Nothing is lost silently.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use ngalam112_core::{IncidentId, UnitId};
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgNotification};
use tokio::sync::{Notify, broadcast, watch};

const OFFERS_CHANNEL: &str = "ngalam112_offers";
const INCIDENTS_CHANNEL: &str = "ngalam112_incidents";
const UNITS_CHANNEL: &str = "ngalam112_units";
const ALARMS_CHANNEL: &str = "ngalam112_alarms";
const TOKENS_CHANNEL: &str = "ngalam112_tokens";
const CALLS_CHANNEL: &str = "ngalam112_calls";

/// A token revoked anywhere, as the feed heard it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    Token(uuid::Uuid),
    /// The feed lost its connection or is back: revocations may have gone
    /// unheard, so every stream checks its token again.
    MaybeMissed,
}

/// One incident change, as announced by PostgreSQL.
#[derive(Debug, Clone)]
pub struct IncidentChange {
    pub incident_id: IncidentId,
    /// The timeline event kind (`assignment_offered`, …).
    pub kind: String,
}

#[derive(Debug, Clone)]
pub enum FeedEvent {
    Incident(IncidentChange),
    /// The feed's connection to PostgreSQL is lost: until it is back,
    /// changes go unheard.
    Lost,
    /// The feed's connection was lost and is back: changes may have been
    /// missed; re-read the state.
    Resync,
}

/// What the console's map and alarm banner follow: a unit or an alarm
/// changed, or (as for incidents) the feed was lost or resynchronised.
/// Kept apart from incidents so that busy AVL traffic never makes a live
/// board fall behind.
#[derive(Debug, Clone)]
pub enum FleetEvent {
    Unit(UnitId),
    Alarm(ngalam112_core::AlarmId),
    /// A 112 call rang, was answered, ended or got a handset fix (the
    /// phone system's call id).
    Call(String),
    Lost,
    Resync,
}

/// Cheap to clone; all clones share one LISTEN connection.
#[derive(Clone)]
pub struct ChangeFeed {
    inner: Arc<FeedInner>,
}

struct FeedInner {
    /// Long-polls waiting per unit (weak: an entry dies with its waiters).
    unit_waiters: Mutex<HashMap<UnitId, Weak<Notify>>>,
    incidents: broadcast::Sender<FeedEvent>,
    fleet: broadcast::Sender<FleetEvent>,
    revocations: broadcast::Sender<Revocation>,
    /// Woken by every offer anywhere: the offer timer re-reads the next
    /// deadline.
    offers_made: Notify,
    /// Whether the LISTEN connection is up (changes are heard).
    connected: watch::Sender<bool>,
}

impl ChangeFeed {
    /// Starts listening; the task runs until the runtime stops, and
    /// reconnects by itself when the database goes away and comes back.
    /// `watch_buffer`: how many incident changes a slow watcher may fall
    /// behind before it is told to resubscribe.
    pub fn start(pool: PgPool, watch_buffer: usize) -> (ChangeFeed, tokio::task::JoinHandle<()>) {
        let (incidents, _) = broadcast::channel(watch_buffer.max(1));
        let (fleet, _) = broadcast::channel(watch_buffer.max(1));
        let (revocations, _) = broadcast::channel(256);
        let feed = ChangeFeed {
            inner: Arc::new(FeedInner {
                unit_waiters: Mutex::new(HashMap::new()),
                incidents,
                fleet,
                revocations,
                offers_made: Notify::new(),
                connected: watch::Sender::new(false),
            }),
        };
        let task = tokio::spawn(feed.clone().listen(pool));
        (feed, task)
    }

    /// The signal a long-poll of `unit_id` waits on. Create the
    /// `notified()` future (and `enable` it) before reading the database,
    /// so an offer committed in between is not missed.
    pub fn offer_signal(&self, unit_id: UnitId) -> Arc<Notify> {
        let mut waiters = self.waiters();
        if let Some(existing) = waiters.get(&unit_id).and_then(Weak::upgrade) {
            return existing;
        }
        // Forget units whose waiters have all gone.
        if waiters.len() > 1024 {
            waiters.retain(|_, waiter| waiter.strong_count() > 0);
        }
        let signal = Arc::new(Notify::new());
        waiters.insert(unit_id, Arc::downgrade(&signal));
        signal
    }

    /// Every incident change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<FeedEvent> {
        self.inner.incidents.subscribe()
    }

    /// Whether changes are being heard right now; changes when the
    /// connection to PostgreSQL is lost or back.
    /// Unit and alarm changes, for the console's map and alarm banner.
    pub fn subscribe_fleet(&self) -> broadcast::Receiver<FleetEvent> {
        self.inner.fleet.subscribe()
    }

    /// Tokens revoked from now on (a sender, to subscribe to whenever a
    /// stream starts).
    pub fn revocations(&self) -> broadcast::Sender<Revocation> {
        self.inner.revocations.clone()
    }

    pub fn connection(&self) -> watch::Receiver<bool> {
        self.inner.connected.subscribe()
    }

    /// Woken whenever any process makes an offer.
    pub fn offers_made(&self) -> &Notify {
        &self.inner.offers_made
    }

    fn waiters(&self) -> std::sync::MutexGuard<'_, HashMap<UnitId, Weak<Notify>>> {
        // A poisoned map still holds valid wake-up handles.
        self.inner
            .unit_waiters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn wake_unit(&self, unit_id: UnitId) {
        let signal = self.waiters().get(&unit_id).and_then(Weak::upgrade);
        if let Some(signal) = signal {
            signal.notify_waiters();
        }
    }

    fn lost(&self) {
        self.inner.connected.send_replace(false);
        let _ = self.inner.incidents.send(FeedEvent::Lost);
        let _ = self.inner.fleet.send(FleetEvent::Lost);
        let _ = self.inner.revocations.send(Revocation::MaybeMissed);
    }

    fn resync(&self) {
        self.inner.connected.send_replace(true);
        let signals: Vec<Arc<Notify>> = self.waiters().values().filter_map(Weak::upgrade).collect();
        for signal in signals {
            signal.notify_waiters();
        }
        self.inner.offers_made.notify_one();
        let _ = self.inner.incidents.send(FeedEvent::Resync);
        let _ = self.inner.fleet.send(FleetEvent::Resync);
        let _ = self.inner.revocations.send(Revocation::MaybeMissed);
    }

    fn handle(&self, notification: &PgNotification) {
        match notification.channel() {
            OFFERS_CHANNEL => {
                if let Ok(unit) = uuid::Uuid::parse_str(notification.payload()) {
                    self.wake_unit(UnitId::from_uuid(unit));
                }
                self.inner.offers_made.notify_one();
            }
            INCIDENTS_CHANNEL => {
                let Some((id, kind)) = notification.payload().split_once(' ') else {
                    return;
                };
                let Ok(id) = uuid::Uuid::parse_str(id) else {
                    return;
                };
                // No watcher in this process: nothing to do.
                let _ = self
                    .inner
                    .incidents
                    .send(FeedEvent::Incident(IncidentChange {
                        incident_id: IncidentId::from_uuid(id),
                        kind: kind.to_owned(),
                    }));
            }
            UNITS_CHANNEL => {
                if let Ok(unit) = uuid::Uuid::parse_str(notification.payload()) {
                    let _ = self
                        .inner
                        .fleet
                        .send(FleetEvent::Unit(UnitId::from_uuid(unit)));
                }
            }
            ALARMS_CHANNEL => {
                if let Ok(alarm) = uuid::Uuid::parse_str(notification.payload()) {
                    let _ = self
                        .inner
                        .fleet
                        .send(FleetEvent::Alarm(ngalam112_core::AlarmId::from_uuid(alarm)));
                }
            }
            CALLS_CHANNEL => {
                let _ = self
                    .inner
                    .fleet
                    .send(FleetEvent::Call(notification.payload().to_owned()));
            }
            TOKENS_CHANNEL => {
                if let Ok(token) = uuid::Uuid::parse_str(notification.payload()) {
                    let _ = self.inner.revocations.send(Revocation::Token(token));
                }
            }
            _ => {}
        }
    }

    async fn listen(self, pool: PgPool) {
        loop {
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(listener) => listener,
                Err(error) => {
                    tracing::warn!(%error, "change feed cannot connect; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if let Err(error) = listener
                .listen_all([
                    OFFERS_CHANNEL,
                    INCIDENTS_CHANNEL,
                    UNITS_CHANNEL,
                    ALARMS_CHANNEL,
                    TOKENS_CHANNEL,
                    CALLS_CHANNEL,
                ])
                .await
            {
                tracing::warn!(%error, "change feed cannot LISTEN; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            tracing::debug!("change feed listening");
            // Anything committed before LISTEN took effect was not heard.
            self.resync();
            loop {
                match listener.try_recv().await {
                    Ok(Some(notification)) => self.handle(&notification),
                    // Connection lost: reconnect, LISTEN again, then resync
                    // (above), so nothing committed meanwhile goes unheard.
                    Ok(None) => {
                        tracing::warn!("change feed connection lost; reconnecting");
                        self.lost();
                        break;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "change feed failed; reconnecting");
                        self.lost();
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        break;
                    }
                }
            }
        }
    }
}
