//! One detect task driven the way invex-runtime's processing loop drives it, minus Kafka.
//!
//! Events are processed in batches of [`COMMIT_EVERY`] with the wall clock at each event's
//! time (as `invex replay` does); after each batch the wall-clock timers are fired and the
//! store commits. For the RocksDB store that is what the runtime does after its Kafka
//! transaction commits: drain the changelog records, then apply the overlay and the
//! changelog checkpoints as one write batch. Producing outputs and changelog records to
//! Kafka is not part of it: these benches measure the detectors and their state.
//!
//! [`RocksTask`] implements the detector's store port over a real `TaskStore` exactly as the
//! runtime's (crate-private) `TaskStorePort` does: each call delegates to the task store.

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

use invex_detect::{Engine, MemStore, Outputs, Policy, Selection, Store, StoreError, StoreName};
use invex_model::CanonicalEvent;
use invex_state::{SharedResources, StoreConfig, TaskStore};

/// Events per commit: the runtime commits every 100 ms or 5,000 records, whichever comes
/// first; 1,000 is about 100 ms at the rates measured here.
pub(crate) const COMMIT_EVERY: usize = 1_000;

/// A task's state that commits at batch boundaries.
pub(crate) trait TaskState: Store {
    /// Makes the batch's writes durable (a no-op in memory).
    fn commit_batch(&mut self);
}

impl TaskState for MemStore {
    fn commit_batch(&mut self) {}
}

/// A task's RocksDB state in its own temporary directory, removed on drop.
pub(crate) struct RocksTask {
    store: TaskStore,
    next_offset: i64,
    // Declared last: dropped after the database is closed.
    _dir: tempfile::TempDir,
}

impl RocksTask {
    /// Opens a fresh task database (partition 0) with every store of the engine.
    pub(crate) fn open(shared: &SharedResources, parent: &Path) -> Self {
        let dir = tempfile::tempdir_in(parent).expect("temporary state directory");
        let names: Vec<&str> = Engine::store_names().iter().map(|n| n.as_str()).collect();
        let cfg = StoreConfig::new(dir.path(), "bench");
        let store = TaskStore::open(&cfg, shared, 0, &names).expect("open the task store");
        Self { store, next_offset: 0, _dir: dir }
    }
}

fn port_error(error: invex_state::StateError) -> StoreError {
    StoreError::new(error.to_string())
}

impl Store for RocksTask {
    fn get(&self, store: StoreName, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.get(store.as_str(), key).map_err(port_error)
    }

    fn put(&mut self, store: StoreName, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.store.put(store.as_str(), key, value).map_err(port_error)
    }

    fn delete(&mut self, store: StoreName, key: &[u8]) -> Result<(), StoreError> {
        self.store.delete(store.as_str(), key).map_err(port_error)
    }

    fn scan_prefix(
        &self,
        store: StoreName,
        prefix: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        self.store.scan_prefix(store.as_str(), prefix, visit).map_err(port_error)
    }

    fn scan_prefix_from(
        &self,
        store: StoreName,
        prefix: &[u8],
        from: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        self.store.scan_prefix_from(store.as_str(), prefix, from, visit).map_err(port_error)
    }
}

impl TaskState for RocksTask {
    fn commit_batch(&mut self) {
        let records = self.store.take_changelog();
        let mut written: Vec<&'static str> = Vec::new();
        for record in &records {
            let name =
                Engine::store_names().iter().map(|n| n.as_str()).find(|n| *n == record.store);
            if let Some(name) = name.filter(|n| !written.contains(n)) {
                written.push(name);
            }
        }
        self.next_offset += records.len() as i64;
        let checkpoints: Vec<(&str, i64)> =
            written.into_iter().map(|name| (name, self.next_offset)).collect();
        self.store.commit(&checkpoints).expect("commit the task store");
    }
}

/// What one run produced; the benches print it once so a reader can see the mix did work.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) events: usize,
    pub(crate) duplicates: usize,
    pub(crate) rejected: usize,
    pub(crate) exceptions: usize,
    pub(crate) actions: usize,
    pub(crate) audit: usize,
}

impl Tally {
    fn take(&mut self, out: &mut Outputs) {
        self.exceptions += out.exceptions.len();
        self.actions += out.actions.len();
        self.audit += out.audit.len();
        out.clear();
    }
}

/// Runs a fresh engine over `events` on `state`.
pub(crate) fn run(
    policy: &Arc<Policy>,
    selection: &Selection,
    events: &[CanonicalEvent],
    state: &mut impl TaskState,
) -> Tally {
    let mut engine = Engine::with_selection(Arc::clone(policy), selection);
    let mut out = Outputs::default();
    let mut tally = Tally::default();
    for batch in events.chunks(COMMIT_EVERY) {
        let mut wall_clock = 0;
        for event in batch {
            wall_clock = event.header().event_time;
            tally.events += 1;
            match engine.process(event, wall_clock, state, &mut out) {
                Ok(outcome) => tally.duplicates += usize::from(outcome.duplicate),
                Err(e) if e.is_poison() => tally.rejected += 1,
                Err(e) => panic!("the engine stopped on the bench mix: {e}"),
            }
            // One task plays every task: repartitioned records come straight back.
            engine.loop_back(wall_clock, state, &mut out).expect("repartitioned records");
            tally.take(&mut out);
        }
        engine.on_wall_clock(wall_clock, state, &mut out).expect("wall-clock timers");
        tally.take(&mut out);
        state.commit_batch();
    }
    tally
}
