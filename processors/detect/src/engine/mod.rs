//! The engine: one per task (input partition), generic over detectors.
//!
//! For each event it: rejects impossible headers (poison); drops a duplicate event id without
//! writing anything, and so an event a detector recognises as a repeat of an earlier one
//! under a new id ([`Detector::is_repeat`]: identical content, a producer retry); computes the
//! new stream time (highest event time seen by the task); lets every detector validate, then
//! process, the event; records the event id and the stream
//! time; and fires the stream-time timers that are now due. [`Engine::on_wall_clock`] fires
//! wall-clock timers, then runs one bounded batch of the purge of stores with a TTL (see the
//! expiry module): never on the event path, so processing an event opens no extra iterator.
//! Timers fire in (due time, owner, key) order and are deleted as they fire, so a timer fires
//! once. [`Engine::process_repartitioned`] processes a record of an internal topic (derived
//! data from another task: no dedupe, no stream time, no timers; see the repartition module),
//! and [`Engine::loop_back`] feeds a single-task host's internal records back to it.
//!
//! The engine holds caches only (stream time, the earliest-due bound of each timer kind, the
//! last dedupe bucket whose purge timer it scheduled, and within one call the item facts last
//! read). All state is in the store, so a new
//! engine on a store restored from the changelog continues exactly where the old one stopped;
//! the caches are (re)loaded on the first call.

mod dedupe;
mod repartition;
mod selection;
pub(crate) mod timers;

use std::fmt;
use std::sync::Arc;

use invex_model::CanonicalEvent;

use crate::cycle_count::ItemMemo;
use crate::detector::{Ctx, Detector, Env, FiredTimer, Owner, TimerKind, Times};
use crate::error::DetectError;
use crate::expiry::{self, StoreTtl};
use crate::key::decode_time;
use crate::output::{Outcome, Outputs};
use crate::policy::Policy;
use crate::store::{Store, StoreName};
use crate::{
    allocation, barcode, cycle_count, duplicate_pick, exceptions, expired, lots, master, putaway,
    receiving, sync,
};

pub(crate) use self::dedupe::META;
use self::dedupe::SEEN;
pub use self::selection::{Selection, UnknownDetector};
use self::timers::{TIMERS, Timers};

/// Owner name of the engine's own timers (dedupe purges).
const ENGINE_OWNER: &str = "engine";

/// Every store the engine and its detectors use, with its TTL. Each module declares its own
/// (a TTL sits on the store's `Table`, with the reason for its value).
const ALL_STORES: [StoreTtl;
    3 + cycle_count::STORES.len()
        + exceptions::STORES.len()
        + duplicate_pick::OWN_STORES.len()
        + receiving::OWN_STORES.len()
        + putaway::OWN_STORES.len()
        + master::STORES.len()
        + expired::OWN_STORES.len()
        + barcode::OWN_STORES.len()
        + allocation::OWN_STORES.len()
        + sync::OWN_STORES.len()
        + lots::OWN_STORES.len()] = expiry::concat(&[
    &[StoreTtl::none(META), StoreTtl::none(SEEN), StoreTtl::none(TIMERS)],
    &cycle_count::SPECS,
    &exceptions::SPECS,
    &duplicate_pick::OWN_STORES,
    &receiving::OWN_STORES,
    &putaway::OWN_STORES,
    &master::SPECS,
    &expired::OWN_STORES,
    &barcode::OWN_STORES,
    &allocation::OWN_STORES,
    &sync::OWN_STORES,
    &lots::OWN_STORES,
]);

/// The names of [`ALL_STORES`].
const ALL_NAMES: [StoreName; ALL_STORES.len()] = expiry::names(&ALL_STORES);

/// Runs the detectors of one task over its events and timers.
pub struct Engine {
    env: Env,
    detectors: Vec<Box<dyn Detector>>,
    timers: Timers,
    stream_time: Option<i64>,
    loaded: bool,
    purge_scheduled: Option<i64>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.detectors.iter().map(|d| d.name()).collect();
        f.debug_struct("Engine")
            .field("policy_version", &self.env.policy.version())
            .field("detectors", &names)
            .field("stream_time", &self.stream_time)
            .finish()
    }
}

impl Engine {
    /// An engine running every built-in detector under `policy`.
    pub fn new(policy: Arc<Policy>) -> Self {
        Self::with_selection(policy, &Selection::all())
    }

    /// An engine running the detectors of `selection` under `policy`; it keeps every store
    /// (see the selection module).
    pub fn with_selection(policy: Arc<Policy>, selection: &Selection) -> Self {
        Self {
            env: Env { policy, items: ItemMemo::default() },
            detectors: selection.build(),
            timers: Timers::default(),
            stream_time: None,
            loaded: false,
            purge_scheduled: None,
        }
    }

    /// Every store any detector or the engine uses.
    pub fn store_names() -> &'static [StoreName] {
        &ALL_NAMES
    }

    /// Every store of [`Engine::store_names`], in the same order, with its TTL in stream time
    /// (`None`: the store keeps an entry until its owner deletes it). The purge run by
    /// [`Engine::on_wall_clock`] deletes expired entries; reads hide them before that.
    pub fn store_ttls() -> &'static [StoreTtl] {
        &ALL_STORES
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.env.policy
    }

    /// Highest event time seen by this task; `None` before the first call that read the store.
    pub fn stream_time(&self) -> Option<i64> {
        self.stream_time
    }

    /// Processes one canonical event. `wall_clock` = the driver's clock (UTC ms).
    pub fn process(
        &mut self,
        event: &CanonicalEvent,
        wall_clock: i64,
        store: &mut dyn Store,
        out: &mut Outputs,
    ) -> Result<Outcome, DetectError> {
        let before = out.counts();
        self.load(store)?;
        self.env.items.clear();
        check_header(event)?;
        let header = event.header();
        if dedupe::is_seen(store, &header.tenant_id, &header.event_id)? {
            return Ok(Outcome { duplicate: true, ..Outcome::default() });
        }
        let previous = self.stream_time;
        let stream_time = previous.map_or(header.event_time, |s| s.max(header.event_time));
        let times = Times { event_time: header.event_time, stream_time, wall_clock };
        for detector in &self.detectors {
            let ctx =
                Ctx::new(store, &mut self.timers, out, &self.env, times, Owner::of(&**detector));
            if detector.is_repeat(event, &ctx)? {
                return Ok(Outcome { duplicate: true, ..Outcome::default() });
            }
        }
        for detector in &self.detectors {
            let ctx =
                Ctx::new(store, &mut self.timers, out, &self.env, times, Owner::of(&**detector));
            detector.validate(event, &ctx)?;
        }
        for detector in &mut self.detectors {
            let mut ctx =
                Ctx::new(store, &mut self.timers, out, &self.env, times, Owner::of(&**detector));
            detector.process(event, &mut ctx)?;
        }
        self.remember(store, &header.tenant_id, &header.event_id, stream_time)?;
        let fired = self.fire(TimerKind::StreamTime, stream_time, wall_clock, store, out)?;
        let late = previous.is_some_and(|s| header.event_time < s);
        Ok(Outcome { late, timers_fired: fired, ..Outcome::default() }.with_emitted(before, out))
    }

    /// Fires wall-clock timers due at `wall_clock`, then runs one bounded batch of the purge
    /// of expired entries ([`Engine::purge_expired`]); the runtime calls it periodically,
    /// inside the transaction, so the purge's tombstones commit with everything else.
    pub fn on_wall_clock(
        &mut self,
        wall_clock: i64,
        store: &mut dyn Store,
        out: &mut Outputs,
    ) -> Result<Outcome, DetectError> {
        let before = out.counts();
        self.load(store)?;
        self.env.items.clear();
        let fired = self.fire(TimerKind::WallClock, wall_clock, wall_clock, store, out)?;
        let expired = self.purge_expired(store)?;
        Ok(Outcome { timers_fired: fired, expired, ..Outcome::default() }.with_emitted(before, out))
    }

    /// Runs one batch of the purge of the stores with a TTL at the current stream time:
    /// visits at most a fixed number of entries per store (resuming where the previous batch
    /// stopped, also after a restart), deletes the expired ones through the store port and
    /// returns how many. Nothing before the first event has a stream time, so nothing is
    /// purged then. Outputs never depend on when this runs: reads hide expired entries.
    pub fn purge_expired(&mut self, store: &mut dyn Store) -> Result<usize, DetectError> {
        self.load(store)?;
        match self.stream_time {
            Some(now) => expiry::purge(store, &ALL_STORES, now, expiry::SWEEP_BATCH),
            None => Ok(0),
        }
    }

    fn load(&mut self, store: &dyn Store) -> Result<(), DetectError> {
        if !self.loaded {
            self.stream_time = dedupe::load_stream_time(store)?;
            self.loaded = true;
        }
        Ok(())
    }

    /// Records the event id and the new stream time.
    fn remember(
        &mut self,
        store: &mut dyn Store,
        tenant: &str,
        event_id: &str,
        stream_time: i64,
    ) -> Result<(), DetectError> {
        let bucket = dedupe::bucket_of(stream_time);
        dedupe::mark(store, tenant, event_id, bucket)?;
        if self.purge_scheduled != Some(bucket) {
            let due = dedupe::purge_due(bucket);
            let key = dedupe::purge_timer_key(bucket);
            self.timers.schedule(store, TimerKind::StreamTime, due, ENGINE_OWNER, &key)?;
            self.purge_scheduled = Some(bucket);
        }
        if self.stream_time != Some(stream_time) {
            dedupe::save_stream_time(store, stream_time)?;
            self.stream_time = Some(stream_time);
        }
        Ok(())
    }

    /// Fires every timer of `kind` due at `now`, in order; returns how many fired.
    fn fire(
        &mut self,
        kind: TimerKind,
        now: i64,
        wall_clock: i64,
        store: &mut dyn Store,
        out: &mut Outputs,
    ) -> Result<usize, DetectError> {
        let mut fired = 0;
        while let Some(due) = self.timers.pop_due(store, kind, now)? {
            fired += 1;
            if due.owner == ENGINE_OWNER {
                purge_bucket(store, &due.timer)?;
                continue;
            }
            let stream_time = self.stream_time.unwrap_or(due.timer.due);
            let times = Times { event_time: due.timer.due, stream_time, wall_clock };
            // Timers of a detector that does not run (no longer built in, or not selected)
            // are dropped.
            if let Some(detector) = self.detectors.iter_mut().find(|d| d.name() == due.owner) {
                let mut ctx = Ctx::new(
                    store,
                    &mut self.timers,
                    out,
                    &self.env,
                    times,
                    Owner::of(&**detector),
                );
                detector.on_timer(&due.timer, &mut ctx)?;
            }
        }
        Ok(fired)
    }
}

fn purge_bucket(store: &mut dyn Store, timer: &FiredTimer) -> Result<(), DetectError> {
    if let Ok(raw) = <[u8; 8]>::try_from(timer.key.as_slice()) {
        dedupe::purge(store, decode_time(raw))?;
    }
    Ok(())
}

/// Header checks common to every event: an event without id or key cannot be processed.
fn check_header(event: &CanonicalEvent) -> Result<(), DetectError> {
    let h = event.header();
    let missing = [
        ("event_id", h.event_id.as_str()),
        ("tenant_id", h.tenant_id.as_str()),
        ("site_id", h.site_id.as_str()),
        ("sku", event.sku()),
    ]
    .into_iter()
    .find(|(_, value)| value.trim().is_empty());
    match missing {
        Some((field, _)) => Err(DetectError::invalid(event, format!("{field} is empty"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
