//! The detector's store port implemented over a task's RocksDB store.

use std::ops::ControlFlow;

use invex_detect::{Store, StoreError, StoreName};
use invex_state::TaskStore;

/// Lets a detector read and write one task's state (through the transaction overlay).
pub(crate) struct TaskStorePort<'a>(pub(crate) &'a mut TaskStore);

fn port_error(error: invex_state::StateError) -> StoreError {
    StoreError::new(error.to_string())
}

impl Store for TaskStorePort<'_> {
    fn get(&self, store: StoreName, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get(store.as_str(), key).map_err(port_error)
    }

    fn put(&mut self, store: StoreName, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.0.put(store.as_str(), key, value).map_err(port_error)
    }

    fn delete(&mut self, store: StoreName, key: &[u8]) -> Result<(), StoreError> {
        self.0.delete(store.as_str(), key).map_err(port_error)
    }

    fn scan_prefix(
        &self,
        store: StoreName,
        prefix: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        self.0.scan_prefix(store.as_str(), prefix, visit).map_err(port_error)
    }

    fn scan_prefix_from(
        &self,
        store: StoreName,
        prefix: &[u8],
        from: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        self.0.scan_prefix_from(store.as_str(), prefix, from, visit).map_err(port_error)
    }
}
