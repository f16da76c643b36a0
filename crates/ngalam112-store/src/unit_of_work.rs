//! The dispatch protocol as a type: every transaction that changes what
//! dispatch sees is a [`DispatchTx`], and this module is the one place
//! that runs the protocol (docs/ARCHITECTURE.md, "Lost wake-ups"):
//!
//! 1. begin, and take the kinds' dispatch locks in the mode the purpose
//!    needs: [`Exclusive`] for a change that frees units or adds waiting
//!    needs, [`Shared`] for a new call's second pass, none ([`Claims`])
//!    for intake, which only claims unit rows (`SKIP LOCKED`);
//! 2. change;
//! 3. settle the kinds (only a transaction holding their lock can: the
//!    method exists only for the locked modes);
//! 4. commit ([`DispatchTx::finish`]);
//! 5. settle again, each in a transaction of its own: kinds whose pass
//!    stopped at an incident held elsewhere (exclusive), and what a new
//!    call still waits for (shared: it waits for any transaction freeing a
//!    unit of the kind to commit, so the two never miss each other).

use std::marker::PhantomData;
use std::sync::Arc;

use ngalam112_core::{IncidentId, UnitKind};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::dispatch::{Settled, settle_kind};
use crate::locks::{lock_kinds, lock_kinds_shared};
use crate::outcome::InFlight;
use crate::{Actor, StoreConfig, StoreError};

/// Holds the kinds' dispatch locks exclusively: frees units, adds waiting
/// needs, settles.
pub(crate) struct Exclusive;
/// Holds one kind's dispatch lock shared: a new call's second pass.
pub(crate) struct Shared;
/// Holds no kind lock: intake, which claims unit rows and stores calls;
/// what it leaves waiting is settled after its commit, shared.
pub(crate) struct Claims;

/// A mode that holds the dispatch locks of the kinds it settles.
pub(crate) trait HoldsKindLock: Mode {}
impl HoldsKindLock for Exclusive {}
impl HoldsKindLock for Shared {}

/// How a mode settles again after its commit.
pub(crate) trait Mode {
    /// Whether those passes take the kind's lock shared (a new call's) or
    /// exclusively.
    const AGAIN_SHARED: bool;
}
impl Mode for Exclusive {
    const AGAIN_SHARED: bool = false;
}
impl Mode for Shared {
    const AGAIN_SHARED: bool = true;
}
impl Mode for Claims {
    const AGAIN_SHARED: bool = true;
}

/// What a dispatch transaction needs of the store: its pool (for the
/// passes after the commit) and its rules.
#[derive(Debug, Clone)]
pub(crate) struct Dispatcher {
    pub(crate) pool: PgPool,
    pub(crate) config: StoreConfig,
    /// This process's second passes, coalesced per kind.
    pub(crate) passes: Arc<SecondPasses>,
}

/// A new call's second pass must begin after the call's commit; it need
/// not be its own. Calls arriving together would otherwise each run a
/// pass over the same queue at once, stopping at each other's incidents
/// and backing off. So one process runs one second pass per kind at a
/// time, and a pass serves every call that asked before it began.
#[derive(Debug, Default)]
pub(crate) struct SecondPasses {
    kinds: [KindPasses; 4],
}

#[derive(Debug, Default)]
struct KindPasses {
    /// Asks so far (each ask's number is the count after it).
    asked: std::sync::atomic::AtomicU64,
    passes: tokio::sync::Mutex<Passes>,
}

#[derive(Debug, Default)]
struct Passes {
    /// Every ask up to this number has had a pass begin after it.
    covered: u64,
    /// The last passes: the asks each covered, and what it served.
    recent: std::collections::VecDeque<(u64, Vec<IncidentId>)>,
}

impl SecondPasses {
    fn of(&self, kind: UnitKind) -> &KindPasses {
        let index = usize::try_from(crate::locks::kind_key(kind) - 1).unwrap_or(0);
        &self.kinds[index.min(self.kinds.len() - 1)]
    }
}

/// One dispatch transaction (see the module's comment). Derefs to its
/// connection for the change's own statements.
pub(crate) struct DispatchTx<'c, M> {
    transaction: Transaction<'c, Postgres>,
    dispatcher: Dispatcher,
    actor: Actor,
    /// Kinds whose lock this transaction holds.
    locked: Vec<UnitKind>,
    /// Kinds to settle again after the commit.
    again: Vec<UnitKind>,
    mode: PhantomData<M>,
}

impl Dispatcher {
    /// Begins a transaction holding `kinds`' dispatch locks exclusively.
    pub(crate) async fn exclusive(
        &self,
        kinds: &[UnitKind],
        actor: &Actor,
    ) -> Result<DispatchTx<'static, Exclusive>, StoreError> {
        let mut transaction = self.pool.begin().await?;
        lock_kinds(&mut transaction, kinds).await?;
        Ok(self.wrap(transaction, kinds, actor))
    }

    /// Begins a transaction holding `kind`'s dispatch lock shared.
    async fn shared(
        &self,
        kind: UnitKind,
        actor: &Actor,
    ) -> Result<DispatchTx<'static, Shared>, StoreError> {
        let mut transaction = self.pool.begin().await?;
        lock_kinds_shared(&mut transaction, &[kind]).await?;
        Ok(self.wrap(transaction, &[kind], actor))
    }

    /// Begins intake's transaction on `connection` (no kind lock) and
    /// notes its id, so that a commit whose answer is lost can be found
    /// out (`outcome`).
    pub(crate) async fn claims<'c>(
        &self,
        connection: &'c mut PgConnection,
        actor: &Actor,
    ) -> Result<(DispatchTx<'c, Claims>, InFlight), StoreError> {
        let mut transaction = sqlx::Connection::begin(connection).await?;
        let in_flight = InFlight::note(&mut transaction).await?;
        Ok((self.wrap(transaction, &[], actor), in_flight))
    }

    fn wrap<'c, M>(
        &self,
        transaction: Transaction<'c, Postgres>,
        locked: &[UnitKind],
        actor: &Actor,
    ) -> DispatchTx<'c, M> {
        DispatchTx {
            transaction,
            dispatcher: self.clone(),
            actor: actor.clone(),
            locked: locked.to_vec(),
            again: Vec::new(),
            mode: PhantomData,
        }
    }

    /// Settles each of `kinds` in a transaction of its own (`shared`: the
    /// kind's lock shared, for a new call's second pass), until a pass is
    /// not stopped by an incident held elsewhere; returns the incidents
    /// served. Errors are logged, not returned: the change that asked is
    /// committed already, and the periodic sweep catches anything left.
    pub(crate) async fn settle_again(
        &self,
        kinds: &[UnitKind],
        actor: &Actor,
        shared: bool,
    ) -> Vec<IncidentId> {
        let mut served = Vec::new();
        for kind in kinds {
            for attempt in 0..SETTLE_AGAIN_ATTEMPTS {
                match self.settle_once(*kind, actor, shared).await {
                    Ok(settled) => {
                        served.extend(settled.served);
                        if !settled.stopped_early {
                            break;
                        }
                        // The holder commits within milliseconds.
                        let pause = 2_u64.saturating_pow(attempt.min(3));
                        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                    }
                    Err(error) => {
                        tracing::warn!(%error, %kind, "cannot settle now; the sweep will");
                        break;
                    }
                }
            }
        }
        served
    }

    /// One pass over `kind` in a transaction of its own.
    pub(crate) async fn settle_once(
        &self,
        kind: UnitKind,
        actor: &Actor,
        shared: bool,
    ) -> Result<Settled, StoreError> {
        crate::retrying(|| async {
            if shared {
                let mut transaction = self.shared(kind, actor).await?;
                let settled = transaction.settle_pass(kind).await?;
                transaction.transaction.commit().await?;
                Ok(settled)
            } else {
                let mut transaction = self.exclusive(&[kind], actor).await?;
                let settled = transaction.settle_pass(kind).await?;
                transaction.transaction.commit().await?;
                Ok(settled)
            }
        })
        .await
    }
}

/// How often a kind is settled again before it is left to the periodic
/// sweep.
const SETTLE_AGAIN_ATTEMPTS: u32 = 40;

impl<'c, M: Mode> DispatchTx<'c, M> {
    /// Commits, then settles again what this transaction left for after
    /// its commit (see the module's comment); returns the incidents those
    /// passes served.
    pub(crate) async fn finish(self) -> Result<Vec<IncidentId>, StoreError> {
        let (transaction, after) = self.split();
        transaction.commit().await?;
        Ok(after.run().await)
    }

    /// The actor the passes after the commit record.
    pub(crate) fn actor(&self) -> &Actor {
        &self.actor
    }

    fn split(self) -> (Transaction<'c, Postgres>, AfterCommit) {
        let after = AfterCommit {
            dispatcher: self.dispatcher,
            actor: self.actor,
            kinds: self.again,
            shared: M::AGAIN_SHARED,
        };
        (self.transaction, after)
    }
}

impl<M: HoldsKindLock> DispatchTx<'_, M> {
    /// Matches the waiting needs for each of `kinds` (whose locks this
    /// transaction holds) with their available units (`settle_kind`);
    /// a pass stopped by an incident held elsewhere is run again after the
    /// commit. Returns the incidents served.
    pub(crate) async fn settle(
        &mut self,
        kinds: &[UnitKind],
    ) -> Result<Vec<IncidentId>, StoreError> {
        let mut served = Vec::new();
        for kind in kinds {
            let settled = self.settle_pass(*kind).await?;
            if settled.stopped_early && !self.again.contains(kind) {
                self.again.push(*kind);
            }
            served.extend(settled.served);
        }
        Ok(served)
    }

    async fn settle_pass(&mut self, kind: UnitKind) -> Result<Settled, StoreError> {
        if !self.locked.contains(&kind) {
            return Err(StoreError::Internal(format!(
                "settling {kind} without its dispatch lock"
            )));
        }
        let config = self.dispatcher.config.clone();
        settle_kind(self, kind, &config).await
    }
}

impl DispatchTx<'_, Claims> {
    /// Settles `kinds` after the commit, each in a transaction holding its
    /// lock shared (what the calls stored here still wait for, and kinds
    /// whose units this transaction held for nothing).
    pub(crate) fn settle_after_commit(&mut self, kinds: &[UnitKind]) {
        for kind in kinds {
            if !self.again.contains(kind) {
                self.again.push(*kind);
            }
        }
    }

    /// [`DispatchTx::finish`] for intake: a commit whose answer is lost is
    /// found out (which of `request_ids` were stored, `outcome`) before
    /// anything else. The passes after the commit are started at once
    /// on a task of their own (what was stored must not wait beside a
    /// free unit, even if nobody waits for the answer), and handed back:
    /// callers that want their result await it; the group worker does
    /// not, so the next group is not held up.
    pub(crate) async fn finish_found_out(
        self,
        in_flight: &InFlight,
        request_ids: &[String],
    ) -> Result<Committed, StoreError> {
        let pool = self.dispatcher.pool.clone();
        let (transaction, after) = self.split();
        let found = match transaction.commit().await {
            Ok(()) => None,
            Err(error) => Some(in_flight.find_out(&pool, error.into(), request_ids).await),
        };
        let second_pass = SecondPass::start(after);
        match found {
            None => Ok(Committed {
                found: None,
                second_pass,
            }),
            Some(Ok(found)) => Ok(Committed {
                found: Some(found),
                second_pass,
            }),
            Some(Err(error)) => Err(error),
        }
    }
}

/// What intake's commit did.
pub(crate) struct Committed {
    /// None: committed. Some: the commit's answer was lost; for each
    /// request id, its incident if it was stored.
    pub(crate) found: Option<Vec<Option<IncidentId>>>,
    /// The passes after the commit, under way (None: nothing to settle).
    pub(crate) second_pass: Option<SecondPass>,
}

/// The passes after an intake commit, running on a task of their own;
/// any number of callers may await their result.
#[derive(Clone)]
pub(crate) struct SecondPass {
    served: tokio::sync::watch::Receiver<Option<Arc<Vec<IncidentId>>>>,
}

impl SecondPass {
    fn start(after: AfterCommit) -> Option<SecondPass> {
        if after.kinds.is_empty() {
            return None;
        }
        let (done, served) = tokio::sync::watch::channel(None);
        tokio::spawn(async move {
            let served = after.run().await;
            done.send_replace(Some(Arc::new(served)));
        });
        Some(SecondPass { served })
    }

    /// The incidents the passes served, once they are done.
    pub(crate) async fn served(mut self) -> Arc<Vec<IncidentId>> {
        match self.served.wait_for(Option::is_some).await {
            Ok(served) => served.clone().unwrap_or_default(),
            // The task ended without an answer (the runtime is shutting
            // down): nothing is known to have been served.
            Err(_) => Arc::default(),
        }
    }
}

/// The passes a transaction leaves for after its commit.
struct AfterCommit {
    dispatcher: Dispatcher,
    actor: Actor,
    kinds: Vec<UnitKind>,
    shared: bool,
}

impl AfterCommit {
    async fn run(self) -> Vec<IncidentId> {
        if self.kinds.is_empty() {
            return Vec::new();
        }
        if !self.shared {
            return self
                .dispatcher
                .settle_again(&self.kinds, &self.actor, false)
                .await;
        }
        let kinds = match self.dispatcher.kinds_with_free_units(&self.kinds).await {
            Ok(kinds) => kinds,
            Err(error) => {
                tracing::warn!(%error, "cannot settle now; the sweep will");
                return Vec::new();
            }
        };
        let mut served = Vec::new();
        for kind in kinds {
            served.extend(self.dispatcher.second_pass(kind, &self.actor).await);
        }
        served
    }
}

/// How many past passes a kind remembers for the asks they covered.
const RECENT_PASSES: usize = 64;

impl Dispatcher {
    /// A second pass over `kind` that begins after this call (coalesced:
    /// see [`SecondPasses`]); returns what the passes that covered this
    /// ask served.
    async fn second_pass(&self, kind: UnitKind, actor: &Actor) -> Vec<IncidentId> {
        use std::sync::atomic::Ordering;
        let of_kind = self.passes.of(kind);
        let mine = of_kind.asked.fetch_add(1, Ordering::SeqCst) + 1;
        let mut passes = of_kind.passes.lock().await;
        if passes.covered < mine {
            // Every ask made before this pass begins is covered by it.
            let covers = of_kind.asked.load(Ordering::SeqCst);
            let served = self.settle_again(&[kind], actor, true).await;
            passes.covered = covers;
            passes.recent.push_back((covers, served));
            if passes.recent.len() > RECENT_PASSES {
                passes.recent.pop_front();
            }
        }
        passes
            .recent
            .iter()
            .filter(|(covers, _)| *covers >= mine)
            .flat_map(|(_, served)| served.iter().copied())
            .collect()
    }
}

impl Dispatcher {
    /// A new call's second pass, first step: waits for every transaction
    /// freeing a unit of `kinds` to commit (each kind's lock taken shared
    /// for one statement), then returns the kinds with a unit free. Only
    /// those need a pass; in a surge (none free) this is all there is.
    /// A freeing transaction that takes the lock after this statement
    /// settles after the new calls committed, and sees them.
    async fn kinds_with_free_units(&self, kinds: &[UnitKind]) -> Result<Vec<UnitKind>, StoreError> {
        let mut connection = self.pool.acquire().await?;
        // Outside a transaction block, so each lock ends with its
        // statement: it is only waited for.
        lock_kinds_shared(&mut connection, kinds).await?;
        let names: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
        sqlx::query_scalar!(
            r#"SELECT k.kind AS "kind!" FROM unnest($1::text[]) AS k(kind)
               WHERE EXISTS (SELECT 1 FROM units WHERE kind = k.kind AND status = 'available')"#,
            &names as &[&str],
        )
        .fetch_all(&mut *connection)
        .await?
        .iter()
        .map(|kind| crate::records::decode(kind))
        .collect()
    }
}

impl<'c, M> std::ops::Deref for DispatchTx<'c, M> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.transaction
    }
}

impl<'c, M> std::ops::DerefMut for DispatchTx<'c, M> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.transaction
    }
}
