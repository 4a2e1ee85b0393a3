//! The store port: byte-level, named key-value stores.
//!
//! Each [`StoreName`] becomes a RocksDB column family and a compacted changelog topic in the
//! runtime (invex-state); [`MemStore`] is the in-memory implementation used by the test driver.
//! Keys and values are opaque bytes here: the typed view lives in [`crate::Table`] and the byte
//! layouts in the modules that own each store.
//!
//! Contract every implementation keeps:
//! - reads see every earlier write of the same task, including uncommitted ones;
//! - [`Store::scan_prefix`] visits entries in ascending byte order of their keys and stops
//!   as soon as the visitor returns [`ControlFlow::Break`];
//! - a failure is reported as [`StoreError`] and means the task must stop: the engine never
//!   retries a store operation.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::ControlFlow;

/// Name of a store (column family / changelog topic suffix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoreName(pub &'static str);

impl StoreName {
    /// The name as a string.
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

/// Concatenates store-name lists at compile time; `N` must be their total length (a wrong `N`
/// fails the build, or leaves empty names that the engine's store test rejects).
pub(crate) const fn join<const N: usize>(parts: &[&[StoreName]]) -> [StoreName; N] {
    concat(parts, StoreName(""))
}

/// Concatenates lists at compile time into `N` slots that start as `empty`.
pub(crate) const fn concat<T: Copy, const N: usize>(parts: &[&[T]], empty: T) -> [T; N] {
    let mut out = [empty; N];
    let (mut i, mut p) = (0, 0);
    while p < parts.len() {
        let mut j = 0;
        while j < parts[p].len() {
            out[i] = parts[p][j];
            i += 1;
            j += 1;
        }
        p += 1;
    }
    out
}

impl fmt::Display for StoreName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A failure of the backing store. The caller stops the task instance.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state store failure: {message}")]
pub struct StoreError {
    message: String,
}

impl StoreError {
    /// A failure described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }

    /// What failed.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Byte-level access to the named stores of one task.
pub trait Store {
    /// The value at `key`, if any.
    fn get(&self, store: StoreName, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Sets `key` to `value`.
    fn put(&mut self, store: StoreName, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    /// Removes `key` (no error when it is absent).
    fn delete(&mut self, store: StoreName, key: &[u8]) -> Result<(), StoreError>;
    /// Entries whose key starts with `prefix`, ascending key order, until `visit` breaks.
    #[allow(
        clippy::type_complexity,
        reason = "the port's signature is shared with invex-state; an alias would change the \
                  visitor's object lifetime for implementors"
    )]
    fn scan_prefix(
        &self,
        store: StoreName,
        prefix: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> ControlFlow<()>,
    ) -> Result<(), StoreError>;
    /// Like [`Store::scan_prefix`], starting at the first key `>= from`: lets a caller that
    /// knows where live keys begin skip the deleted ones before them.
    #[allow(
        clippy::type_complexity,
        reason = "the port's signature is shared with invex-state; an alias would change the \
                  visitor's object lifetime for implementors"
    )]
    fn scan_prefix_from(
        &self,
        store: StoreName,
        prefix: &[u8],
        from: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> ControlFlow<()>,
    ) -> Result<(), StoreError>;
}

/// One recorded write: `value` is `None` for a delete (a tombstone on a compacted topic).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangelogEntry {
    /// Store written.
    pub store: StoreName,
    /// Key written.
    pub key: Vec<u8>,
    /// New value, or `None` for a delete.
    pub value: Option<Vec<u8>>,
}

/// In-memory [`Store`]: one `BTreeMap` per store, every write recorded as a changelog entry.
///
/// Built with [`MemStore::with_stores`], it rejects names that were not declared, as the
/// RocksDB store does for an unknown column family, so a detector that forgets to declare a
/// store fails in tests rather than in production.
#[derive(Debug, Clone, Default)]
pub struct MemStore {
    declared: Option<BTreeSet<StoreName>>,
    data: BTreeMap<StoreName, BTreeMap<Vec<u8>, Vec<u8>>>,
    changelog: Vec<ChangelogEntry>,
}

impl MemStore {
    /// A store that accepts any store name.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store that accepts only the given names.
    pub fn with_stores(names: &[StoreName]) -> Self {
        Self { declared: Some(names.iter().copied().collect()), ..Self::default() }
    }

    /// A store rebuilt by applying `entries` in order (a restore from the changelog topics).
    ///
    /// The rebuilt store's own changelog starts as a copy of `entries`, so a driver built on it
    /// can be restored again later.
    pub fn from_changelog(names: &[StoreName], entries: &[ChangelogEntry]) -> Self {
        let mut store = Self::with_stores(names);
        for entry in entries {
            let map = store.data.entry(entry.store).or_default();
            match &entry.value {
                Some(value) => map.insert(entry.key.clone(), value.clone()),
                None => map.remove(&entry.key),
            };
        }
        store.changelog = entries.to_vec();
        store
    }

    /// Every entry of one store, ascending key order.
    pub fn entries(&self, store: StoreName) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.data
            .get(&store)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// Every write so far, in write order.
    pub fn changelog(&self) -> &[ChangelogEntry] {
        &self.changelog
    }

    fn check(&self, store: StoreName) -> Result<(), StoreError> {
        match &self.declared {
            Some(names) if !names.contains(&store) => {
                Err(StoreError::new(format!("unknown store {store}")))
            }
            _ => Ok(()),
        }
    }
}

impl Store for MemStore {
    fn get(&self, store: StoreName, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.check(store)?;
        Ok(self.data.get(&store).and_then(|m| m.get(key)).cloned())
    }

    fn put(&mut self, store: StoreName, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.check(store)?;
        self.data.entry(store).or_default().insert(key.to_vec(), value.to_vec());
        self.changelog.push(ChangelogEntry {
            store,
            key: key.to_vec(),
            value: Some(value.to_vec()),
        });
        Ok(())
    }

    fn delete(&mut self, store: StoreName, key: &[u8]) -> Result<(), StoreError> {
        self.check(store)?;
        if let Some(map) = self.data.get_mut(&store) {
            map.remove(key);
        }
        self.changelog.push(ChangelogEntry { store, key: key.to_vec(), value: None });
        Ok(())
    }

    fn scan_prefix(
        &self,
        store: StoreName,
        prefix: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        self.scan_prefix_from(store, prefix, prefix, visit)
    }

    fn scan_prefix_from(
        &self,
        store: StoreName,
        prefix: &[u8],
        from: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        self.check(store)?;
        let Some(map) = self.data.get(&store) else { return Ok(()) };
        for (k, v) in map.range(from.max(prefix).to_vec()..) {
            if !k.starts_with(prefix) || visit(k, v).is_break() {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: StoreName = StoreName("a");

    fn keys(store: &MemStore, prefix: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        store
            .scan_prefix(A, prefix, &mut |k, _| {
                out.push(k.to_vec());
                ControlFlow::Continue(())
            })
            .unwrap();
        out
    }

    #[test]
    fn scan_is_ordered_bounded_and_breakable() {
        let mut store = MemStore::with_stores(&[A]);
        for k in [&b"b2"[..], b"a", b"b1", b"c"] {
            store.put(A, k, b"v").unwrap();
        }
        assert_eq!(keys(&store, b"b"), vec![b"b1".to_vec(), b"b2".to_vec()]);
        let mut first = Vec::new();
        store
            .scan_prefix(A, b"", &mut |k, _| {
                first.push(k.to_vec());
                ControlFlow::Break(())
            })
            .unwrap();
        assert_eq!(first, vec![b"a".to_vec()]);
    }

    #[test]
    fn undeclared_store_is_an_error() {
        let mut store = MemStore::with_stores(&[A]);
        assert!(store.put(StoreName("b"), b"k", b"v").is_err());
        assert!(store.get(StoreName("b"), b"k").is_err());
    }

    #[test]
    fn changelog_rebuilds_the_same_store() {
        let mut store = MemStore::with_stores(&[A]);
        store.put(A, b"k1", b"v1").unwrap();
        store.put(A, b"k2", b"v2").unwrap();
        store.delete(A, b"k1").unwrap();
        store.put(A, b"k2", b"v3").unwrap();
        let rebuilt = MemStore::from_changelog(&[A], store.changelog());
        assert_eq!(rebuilt.entries(A), vec![(b"k2".to_vec(), b"v3".to_vec())]);
        assert_eq!(rebuilt.changelog(), store.changelog());
    }
}
