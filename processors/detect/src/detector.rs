//! The detector contract: what a detector may see and do.
//!
//! A detector is plain data plus synchronous hooks. It reads and writes state only through
//! [`Ctx`] (typed [`Table`]s over the store port), schedules timers through [`Ctx`], and emits
//! exception, action and audit records, and records for the internal topics, through [`Ctx`].
//! Time is an input ([`Times`]): no clock reads, no randomness, no threads (the crate's
//! `clippy.toml` bans them). So the same inputs always produce the same state and outputs,
//! byte for byte.
//!
//! Invariants the engine relies on:
//! - [`Detector::validate`] only reads; a poison error (see [`DetectError::is_poison`]) is
//!   returned from `validate`, never from `process` after a write, so a record sent to the DLQ
//!   leaves no trace in state;
//! - all state lives in the store; a detector may cache, but a fresh instance on a restored
//!   store must behave exactly like the old one;
//! - timer keys are unique per detector (the engine prefixes them with [`Detector::name`]).

use std::fmt;
use std::marker::PhantomData;
use std::ops::ControlFlow;

use invex_model::{ActionCommand, AuditRecord, CanonicalEvent, ExceptionRecord};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::{decode, encode, encode_after};
use crate::cycle_count::ItemMemo;
use crate::engine::timers::Timers;
use crate::error::DetectError;
use crate::expiry::{self, StoreTtl, Ttl};
use crate::output::Outputs;
use crate::policy::Policy;
use crate::repartition::Repartitioned;
use crate::store::{Store, StoreName};

/// The three notions of time a hook sees (UTC ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    /// Event time of the event being processed; for a timer, its due time.
    pub event_time: i64,
    /// Highest event time the task has seen.
    pub stream_time: i64,
    /// The driver's wall clock.
    pub wall_clock: i64,
}

/// Which clock a timer follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKind {
    /// Fires when stream time reaches the due time (after an event is processed).
    StreamTime,
    /// Fires when the driver's wall clock reaches the due time (quiet partitions).
    WallClock,
}

impl TimerKind {
    pub(crate) const fn tag(self) -> u8 {
        match self {
            Self::StreamTime => 0,
            Self::WallClock => 1,
        }
    }

    pub(crate) const fn index(self) -> usize {
        self.tag() as usize
    }
}

/// A timer that is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiredTimer {
    /// Its clock.
    pub kind: TimerKind,
    /// When it was due.
    pub due: i64,
    /// The key the detector scheduled it with.
    pub key: Vec<u8>,
}

/// A typed view of one store: values of type `T`, encoded as described in the codec module
/// (format byte + JSON), stamped with their write's stream time when the store has a TTL (see
/// the expiry module). The table is where a store's TTL is declared.
pub struct Table<T> {
    name: StoreName,
    ttl: Option<Ttl>,
    value: PhantomData<fn() -> T>,
}

impl<T> Table<T> {
    /// A table over the store `name`, whose entries live until their owner deletes them.
    pub const fn new(name: StoreName) -> Self {
        Self { name, ttl: None, value: PhantomData }
    }

    /// A table over the store `name` whose entries expire `ttl` of stream time after their
    /// last write.
    pub const fn expiring(name: StoreName, ttl: Ttl) -> Self {
        Self { name, ttl: Some(ttl), value: PhantomData }
    }

    /// The store it reads and writes.
    pub const fn name(&self) -> StoreName {
        self.name
    }

    /// Its TTL, if it has one.
    pub const fn ttl(&self) -> Option<Ttl> {
        self.ttl
    }

    /// The store with its TTL, for the engine's list of stores.
    pub const fn spec(&self) -> StoreTtl {
        StoreTtl { store: self.name, ttl: self.ttl }
    }

    /// The same store and TTL with values read as `U`: a partial view, when `U` holds some
    /// of the fields of `T` (serde skips the others, without building them).
    pub const fn view<U>(&self) -> Table<U> {
        Table { name: self.name, ttl: self.ttl, value: PhantomData }
    }
}

impl<T> Clone for Table<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Table<T> {}

impl<T> fmt::Debug for Table<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table").field("name", &self.name).field("ttl", &self.ttl).finish()
    }
}

/// A detector: parameters plus synchronous hooks.
pub trait Detector: Send {
    /// Stable name; it prefixes this detector's timer keys in state, so it never changes.
    fn name(&self) -> &'static str;
    /// Every store the detector reads or writes, its own and other detectors' (also through
    /// the exception lifecycle it calls). Debug builds assert it on each access, and a
    /// [`crate::Selection`] runs the owners of these stores along with the detector.
    fn stores(&self) -> &'static [StoreName];
    /// True when `event` repeats an earlier event under a new event id (a producer retry with
    /// identical content): the engine then drops it like a redelivery, before any detector
    /// validates or processes it, and reports it as a duplicate. Reads only.
    fn is_repeat(&self, event: &CanonicalEvent, ctx: &Ctx<'_>) -> Result<bool, DetectError> {
        let _ = (event, ctx);
        Ok(false)
    }
    /// Rejects a semantically impossible event with a poison error; reads only.
    fn validate(&self, event: &CanonicalEvent, ctx: &Ctx<'_>) -> Result<(), DetectError> {
        let _ = (event, ctx);
        Ok(())
    }
    /// Processes one (validated, first-time) event.
    fn process(&mut self, event: &CanonicalEvent, ctx: &mut Ctx<'_>) -> Result<(), DetectError>;
    /// Handles one of its timers that is due. The engine has already deleted it.
    fn on_timer(&mut self, timer: &FiredTimer, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        let _ = (timer, ctx);
        Ok(())
    }
    /// Processes a record of an internal topic (derived data another task sent). It is not
    /// deduplicated and does not move stream time, so its effect must be idempotent.
    fn on_repartitioned(
        &mut self,
        record: &Repartitioned,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), DetectError> {
        let _ = (record, ctx);
        Ok(())
    }
}

/// Everything a hook may touch.
pub struct Ctx<'a> {
    store: &'a mut dyn Store,
    timers: &'a mut Timers,
    out: &'a mut Outputs,
    env: &'a Env,
    times: Times,
    owner: Owner,
}

/// What every context of one engine reads: the policy in force and the item facts last read
/// in the current call.
#[derive(Debug)]
pub(crate) struct Env {
    pub(crate) policy: std::sync::Arc<Policy>,
    pub(crate) items: ItemMemo,
}

/// The detector a [`Ctx`] serves: its name (which owns the timers it schedules) and the
/// stores it declares.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Owner {
    pub(crate) name: &'static str,
    pub(crate) stores: &'static [StoreName],
}

impl Owner {
    pub(crate) fn of(detector: &dyn Detector) -> Self {
        Self { name: detector.name(), stores: detector.stores() }
    }
}

impl fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx").field("times", &self.times).field("owner", &self.owner.name).finish()
    }
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        store: &'a mut dyn Store,
        timers: &'a mut Timers,
        out: &'a mut Outputs,
        env: &'a Env,
        times: Times,
        owner: Owner,
    ) -> Self {
        Self { store, timers, out, env, times, owner }
    }

    /// Holds every detector to the stores it declares in [`Detector::stores`]: the engine
    /// derives from them which detectors a selection needs (see the engine's `selection`
    /// module), so an undeclared read would make a selected detector decide on state nobody
    /// writes. Checked in debug builds, where every test runs.
    pub(crate) fn declared(&self, store: StoreName) {
        debug_assert!(
            self.owner.stores.contains(&store),
            "detector {} uses store {store}, which its Detector::stores does not declare",
            self.owner.name
        );
    }

    /// Event, stream and wall-clock time of this call.
    pub fn times(&self) -> Times {
        self.times
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.env.policy
    }

    /// The item facts read so far in this call of the engine.
    pub(crate) fn items(&self) -> &ItemMemo {
        &self.env.items
    }

    /// The value at `key`, if any; an expired entry of a table with a TTL is absent even
    /// before the purge deletes it.
    pub fn get<T: DeserializeOwned>(
        &self,
        table: Table<T>,
        key: &[u8],
    ) -> Result<Option<T>, DetectError> {
        self.declared(table.name);
        let Some(bytes) = self.store.get(table.name, key)? else { return Ok(None) };
        match expiry::live(table.ttl, &bytes, self.times.stream_time) {
            Some(codec) => decode(table.name, key, codec).map(Some),
            None => Ok(None),
        }
    }

    /// Sets `key` to `value` (stamped with the stream time when the table has a TTL).
    pub fn put<T: Serialize>(
        &mut self,
        table: Table<T>,
        key: &[u8],
        value: &T,
    ) -> Result<(), DetectError> {
        self.declared(table.name);
        self.env.items.wrote(table.name);
        let bytes = match table.ttl {
            Some(_) => {
                encode_after(&expiry::stamp(self.times.stream_time), table.name, key, value)?
            }
            None => encode(table.name, key, value)?,
        };
        Ok(self.store.put(table.name, key, &bytes)?)
    }

    /// Removes `key`.
    pub fn delete<T>(&mut self, table: Table<T>, key: &[u8]) -> Result<(), DetectError> {
        self.declared(table.name);
        self.env.items.wrote(table.name);
        Ok(self.store.delete(table.name, key)?)
    }

    /// Every live entry whose key starts with `prefix`, ascending key order (expired entries
    /// of a table with a TTL are skipped, as [`Ctx::get`] hides them).
    pub fn scan<T: DeserializeOwned>(
        &self,
        table: Table<T>,
        prefix: &[u8],
    ) -> Result<Vec<(Vec<u8>, T)>, DetectError> {
        self.declared(table.name);
        let mut out = Vec::new();
        let mut failure = None;
        let now = self.times.stream_time;
        self.store.scan_prefix(table.name, prefix, &mut |k, v| {
            let Some(codec) = expiry::live(table.ttl, v, now) else {
                return ControlFlow::Continue(());
            };
            match decode(table.name, k, codec) {
                Ok(value) => {
                    out.push((k.to_vec(), value));
                    ControlFlow::Continue(())
                }
                Err(e) => {
                    failure = Some(e);
                    ControlFlow::Break(())
                }
            }
        })?;
        failure.map_or(Ok(out), Err)
    }

    /// Schedules a timer; scheduling the same (kind, due, key) twice keeps one.
    pub fn schedule(&mut self, kind: TimerKind, due: i64, key: &[u8]) -> Result<(), DetectError> {
        Ok(self.timers.schedule(self.store, kind, due, self.owner.name, key)?)
    }

    /// Cancels a timer scheduled with the same (kind, due, key); no error if it already fired.
    pub fn cancel(&mut self, kind: TimerKind, due: i64, key: &[u8]) -> Result<(), DetectError> {
        Ok(self.timers.cancel(self.store, kind, due, self.owner.name, key)?)
    }

    /// Schedules a timer that `owner` (another detector) handles: the lifecycle governance
    /// keeps every SLA timer with one detector, whichever detector opened the exception.
    pub(crate) fn schedule_for(
        &mut self,
        owner: &'static str,
        kind: TimerKind,
        due: i64,
        key: &[u8],
    ) -> Result<(), DetectError> {
        Ok(self.timers.schedule(self.store, kind, due, owner, key)?)
    }

    /// Cancels a timer scheduled with [`Ctx::schedule_for`].
    pub(crate) fn cancel_for(
        &mut self,
        owner: &'static str,
        kind: TimerKind,
        due: i64,
        key: &[u8],
    ) -> Result<(), DetectError> {
        Ok(self.timers.cancel(self.store, kind, due, owner, key)?)
    }

    /// Emits an exception record version.
    pub fn emit_exception(&mut self, record: ExceptionRecord) {
        self.out.exceptions.push(record);
    }

    /// Emits an action command.
    pub fn emit_action(&mut self, action: ActionCommand) {
        self.out.actions.push(action);
    }

    /// Emits an audit record.
    pub fn emit_audit(&mut self, record: AuditRecord) {
        self.out.audit.push(record);
    }

    /// Emits a record for an internal topic (the runtime produces it to
    /// [`Repartitioned::topic`] with [`Repartitioned::key`]).
    pub fn repartition(&mut self, record: Repartitioned) {
        self.out.repartitioned.push(record);
    }
}
