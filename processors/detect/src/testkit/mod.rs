//! Test support: a driver in the spirit of Kafka Streams' `TopologyTestDriver`, and the
//! scenario runner built on it.
//!
//! [`TestDriver`] runs one [`Engine`] over a [`MemStore`] synchronously: [`TestDriver::pipe`]
//! processes an event at the current wall clock (stream-time timers fire as in production);
//! wall-clock timers fire only on [`TestDriver::advance_wall_clock`]. After each of the two the
//! driver loops the records for the internal topics back ([`Engine::loop_back`]), as if every
//! partition were its one task: a cross-site finding is visible with one driver. Outputs
//! accumulate until read. [`TestDriver::restore_from_changelog`] simulates a crash and restart:
//! a fresh engine (empty caches) on a store rebuilt only from the recorded changelog.

pub mod scenario;

use std::sync::Arc;

use invex_model::{ActionCommand, AuditRecord, CanonicalEvent, ExceptionRecord};

use crate::engine::Engine;
use crate::error::DetectError;
use crate::output::{Outcome, Outputs};
use crate::policy::Policy;
use crate::store::{ChangelogEntry, MemStore, StoreName};

/// Runs the engine synchronously over an in-memory store.
#[derive(Debug)]
pub struct TestDriver {
    policy: Arc<Policy>,
    engine: Engine,
    store: MemStore,
    wall_clock: i64,
    outputs: Outputs,
}

impl TestDriver {
    /// A driver with an empty store and the wall clock at 0.
    pub fn new(policy: Policy) -> Self {
        let policy = Arc::new(policy);
        Self {
            engine: Engine::new(Arc::clone(&policy)),
            policy,
            store: MemStore::with_stores(Engine::store_names()),
            wall_clock: 0,
            outputs: Outputs::default(),
        }
    }

    /// Processes one event at the current wall clock, then the internal records it caused;
    /// outputs are kept for reading.
    pub fn pipe(&mut self, event: CanonicalEvent) -> Result<Outcome, DetectError> {
        let outcome =
            self.engine.process(&event, self.wall_clock, &mut self.store, &mut self.outputs)?;
        self.loop_back(outcome)
    }

    /// Moves the wall clock forward by `ms` and fires the wall-clock timers now due, then
    /// processes the internal records they caused.
    pub fn advance_wall_clock(&mut self, ms: i64) -> Result<Outcome, DetectError> {
        self.wall_clock = self.wall_clock.saturating_add(ms);
        let outcome =
            self.engine.on_wall_clock(self.wall_clock, &mut self.store, &mut self.outputs)?;
        self.loop_back(outcome)
    }

    /// Processes the pending internal records and adds their outcome to `outcome`.
    fn loop_back(&mut self, mut outcome: Outcome) -> Result<Outcome, DetectError> {
        let looped = self.engine.loop_back(self.wall_clock, &mut self.store, &mut self.outputs)?;
        outcome.absorb(looped);
        Ok(outcome)
    }

    /// Runs one batch of the purge of expired entries (as [`Engine::on_wall_clock`] does,
    /// without firing timers); returns how many entries it deleted.
    pub fn purge_expired(&mut self) -> Result<usize, DetectError> {
        self.engine.purge_expired(&mut self.store)
    }

    /// Sets the wall clock without firing anything; the next advance fires what is due.
    pub fn set_wall_clock(&mut self, ms: i64) {
        self.wall_clock = ms;
    }

    /// The current wall clock.
    pub fn wall_clock(&self) -> i64 {
        self.wall_clock
    }

    /// The engine's stream time.
    pub fn stream_time(&self) -> Option<i64> {
        self.engine.stream_time()
    }

    /// Takes every exception record emitted since the last read.
    pub fn read_exceptions(&mut self) -> Vec<ExceptionRecord> {
        std::mem::take(&mut self.outputs.exceptions)
    }

    /// Takes every action emitted since the last read.
    pub fn read_actions(&mut self) -> Vec<ActionCommand> {
        std::mem::take(&mut self.outputs.actions)
    }

    /// Takes every audit record emitted since the last read.
    pub fn read_audit(&mut self) -> Vec<AuditRecord> {
        std::mem::take(&mut self.outputs.audit)
    }

    /// Takes every output at once (the internal records are always looped back already).
    pub fn read_outputs(&mut self) -> Outputs {
        std::mem::take(&mut self.outputs)
    }

    /// Entries of one store, ascending key order.
    pub fn store(&self, name: StoreName) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.store.entries(name)
    }

    /// Every write recorded so far (including those replayed into a restored driver).
    pub fn changelog(&self) -> &[ChangelogEntry] {
        self.store.changelog()
    }

    /// A fresh driver (new engine, empty caches, no unread outputs) whose store is rebuilt
    /// only from the recorded changelog; it keeps the policy and the wall clock.
    pub fn restore_from_changelog(&self) -> Self {
        Self {
            engine: Engine::new(Arc::clone(&self.policy)),
            policy: Arc::clone(&self.policy),
            store: MemStore::from_changelog(Engine::store_names(), self.store.changelog()),
            wall_clock: self.wall_clock,
            outputs: Outputs::default(),
        }
    }
}
