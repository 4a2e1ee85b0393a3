//! Helpers shared by the test modules.

use std::ops::ControlFlow;

use invex_state::{MIN_MEMORY_BUDGET_BYTES, SharedResources, StoreConfig, TaskStore};
use tempfile::TempDir;

/// Stores every test task declares.
pub(crate) const STORES: [&str; 2] = ["open", "timers"];

/// A temporary state directory with its configuration and shared resources.
pub(crate) struct Fixture {
    pub(crate) dir: TempDir,
    pub(crate) cfg: StoreConfig,
    pub(crate) shared: SharedResources,
}

impl Fixture {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = StoreConfig::new(dir.path(), "invex-test");
        cfg.memory_budget_bytes = MIN_MEMORY_BUDGET_BYTES;
        let shared = SharedResources::new(cfg.memory_budget_bytes).unwrap();
        Self { dir, cfg, shared }
    }

    pub(crate) fn open(&self, partition: i32) -> TaskStore {
        TaskStore::open(&self.cfg, &self.shared, partition, &STORES).unwrap()
    }
}

/// Every visible entry of `store` under `prefix`, in scan order.
pub(crate) fn scan(task: &TaskStore, store: &str, prefix: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut seen = Vec::new();
    task.scan_prefix(store, prefix, &mut |k, v| {
        seen.push((k.to_vec(), v.to_vec()));
        ControlFlow::Continue(())
    })
    .unwrap();
    seen
}

/// Owned key-value pair from literals.
pub(crate) fn kv(key: &[u8], value: &[u8]) -> (Vec<u8>, Vec<u8>) {
    (key.to_vec(), value.to_vec())
}

/// Takes the changelog and commits with no checkpoints.
pub(crate) fn commit(task: &mut TaskStore) {
    task.take_changelog();
    task.commit(&[]).unwrap();
}
