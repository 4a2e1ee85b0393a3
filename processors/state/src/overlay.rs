//! The in-memory overlay of an open transaction.
//!
//! Invariants:
//! - each store has one ordered map from key to its latest write in the transaction
//!   (`Some(value)` or `None` for a delete); RocksDB is not touched until commit;
//! - the changelog queue holds each key with an untaken record once, in the order of the
//!   key's FIRST write since the last `take_changelog`; the record carries the key's LAST
//!   value. Repeated writes of a key thus collapse as log compaction would collapse them, and
//!   records of different keys keep a stable, write-driven order;
//! - `Write::queued` is true exactly when the key is in the queue, so a write is queued in
//!   O(log n) without searching the queue;
//! - `Write::unseen` is true when the key's first write in the transaction was a put and no
//!   record of it has been taken since. Such a key that ends deleted, and that the committed
//!   state does not hold, was never visible outside the transaction: taking the changelog
//!   drops it entirely (no tombstone in the changelog, no delete in the write batch), as if
//!   it had never been written. Timers are the common case: one scheduled and fired within a
//!   commit interval (catching up on a backlog) costs nothing after the transaction.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::record::ChangelogRecord;

/// Index of a declared store. Only [`Overlay::store_id`] creates one, so it always indexes
/// `Overlay::stores`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoreId(usize);

#[derive(Debug)]
struct Write {
    value: Option<Vec<u8>>,
    queued: bool,
    unseen: bool,
}

#[derive(Debug)]
struct StoreWrites {
    name: String,
    writes: BTreeMap<Vec<u8>, Write>,
}

/// Pending writes of the open transaction, per store, plus the untaken changelog records.
#[derive(Debug)]
pub(crate) struct Overlay {
    stores: Vec<StoreWrites>,
    queue: Vec<(StoreId, Vec<u8>)>,
}

impl Overlay {
    /// An empty overlay for the declared stores (names already validated).
    pub(crate) fn new(names: &[&str]) -> Self {
        let stores = names
            .iter()
            .map(|name| StoreWrites { name: (*name).to_owned(), writes: BTreeMap::new() })
            .collect();
        Self { stores, queue: Vec::new() }
    }

    /// The id of a declared store. A linear search: tasks declare a handful of stores, for
    /// which comparing names is cheaper than hashing one.
    pub(crate) fn store_id(&self, name: &str) -> Option<StoreId> {
        self.stores.iter().position(|s| s.name == name).map(StoreId)
    }

    /// Name of a declared store.
    pub(crate) fn name(&self, id: StoreId) -> &str {
        &self.stores[id.0].name
    }

    /// Names of all declared stores, in declaration order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.stores.iter().map(|s| s.name.as_str())
    }

    /// The pending write of `key`: `None` if the transaction did not write it, `Some(None)`
    /// if it deleted it.
    pub(crate) fn get(&self, id: StoreId, key: &[u8]) -> Option<Option<&[u8]>> {
        self.stores[id.0].writes.get(key).map(|w| w.value.as_deref())
    }

    /// Records a put (`Some`) or delete (`None`) of `key`.
    pub(crate) fn write(&mut self, id: StoreId, key: &[u8], value: Option<&[u8]>) {
        let writes = &mut self.stores[id.0].writes;
        let newly_queued = match writes.get_mut(key) {
            Some(write) => {
                assign(&mut write.value, value);
                !std::mem::replace(&mut write.queued, true)
            }
            None => {
                let unseen = value.is_some();
                let value = value.map(<[u8]>::to_vec);
                writes.insert(key.to_vec(), Write { value, queued: true, unseen });
                true
            }
        };
        if newly_queued {
            self.queue.push((id, key.to_vec()));
        }
    }

    /// Pending writes of one store whose key starts with `prefix`, in ascending key order.
    pub(crate) fn prefix<'a>(
        &'a self,
        id: StoreId,
        prefix: &'a [u8],
        from: &'a [u8],
    ) -> impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)> + 'a {
        self.stores[id.0]
            .writes
            .range::<[u8], _>((Bound::Included(from.max(prefix)), Bound::Unbounded))
            .take_while(move |(key, _)| key.starts_with(prefix))
            .map(|(key, write)| (key.as_slice(), write.value.as_deref()))
    }

    /// Every pending write, store by store, in ascending key order.
    pub(crate) fn writes(&self) -> impl Iterator<Item = (StoreId, &[u8], Option<&[u8]>)> {
        self.stores.iter().enumerate().flat_map(|(i, store)| {
            store
                .writes
                .iter()
                .map(move |(key, w)| (StoreId(i), key.as_slice(), w.value.as_deref()))
        })
    }

    /// Drains the untaken changelog records (see the module invariants for their order). A
    /// key put and then deleted since its first write, unseen, is dropped when
    /// `committed(store, key)` says the committed state does not hold it.
    pub(crate) fn take_changelog(
        &mut self,
        mut committed: impl FnMut(&str, &[u8]) -> bool,
    ) -> Vec<ChangelogRecord> {
        let queue = std::mem::take(&mut self.queue);
        let mut records = Vec::with_capacity(queue.len());
        for (id, key) in queue {
            let store = &mut self.stores[id.0];
            let Some(write) = store.writes.get_mut(&key) else { continue };
            if write.unseen && write.value.is_none() && !committed(&store.name, &key) {
                store.writes.remove(&key);
                continue;
            }
            write.queued = false;
            write.unseen = false;
            records.push(ChangelogRecord {
                store: store.name.clone(),
                value: write.value.clone(),
                key,
            });
        }
        records
    }

    /// Number of untaken changelog records.
    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// True when the transaction has written nothing.
    pub(crate) fn is_empty(&self) -> bool {
        self.stores.iter().all(|s| s.writes.is_empty())
    }

    /// Discards every pending write and record.
    pub(crate) fn clear(&mut self) {
        for store in &mut self.stores {
            store.writes.clear();
        }
        self.queue.clear();
    }
}

/// Overwrites `slot` with `value`, reusing the existing allocation when there is one.
fn assign(slot: &mut Option<Vec<u8>>, value: Option<&[u8]>) {
    match (slot, value) {
        (Some(buf), Some(value)) => {
            buf.clear();
            buf.extend_from_slice(value);
        }
        (slot, value) => *slot = value.map(<[u8]>::to_vec),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(store: &str, key: &[u8], value: Option<&[u8]>) -> ChangelogRecord {
        ChangelogRecord {
            store: store.to_owned(),
            key: key.to_vec(),
            value: value.map(<[u8]>::to_vec),
        }
    }

    /// The committed state of the tests that do not concern dropped keys: it holds every key.
    fn held(_: &str, _: &[u8]) -> bool {
        true
    }

    #[test]
    fn changelog_keeps_first_write_order_and_last_value() {
        let mut overlay = Overlay::new(&["a", "b"]);
        let (a, b) = (overlay.store_id("a").unwrap(), overlay.store_id("b").unwrap());
        overlay.write(a, b"k1", Some(b"1"));
        overlay.write(b, b"k0", Some(b"x"));
        overlay.write(a, b"k2", Some(b"2"));
        overlay.write(a, b"k1", None);
        overlay.write(a, b"k2", Some(b"22"));
        assert_eq!(
            overlay.take_changelog(held),
            vec![
                record("a", b"k1", None),
                record("b", b"k0", Some(b"x")),
                record("a", b"k2", Some(b"22")),
            ]
        );
        assert_eq!(overlay.queued(), 0);
        assert!(!overlay.is_empty());
    }

    #[test]
    fn a_key_written_again_after_take_is_recorded_again() {
        let mut overlay = Overlay::new(&["a"]);
        let a = overlay.store_id("a").unwrap();
        overlay.write(a, b"k", Some(b"1"));
        assert_eq!(overlay.take_changelog(held).len(), 1);
        assert!(overlay.take_changelog(held).is_empty());
        overlay.write(a, b"k", Some(b"2"));
        assert_eq!(overlay.take_changelog(held), vec![record("a", b"k", Some(b"2"))]);
    }

    #[test]
    fn a_key_created_and_deleted_unseen_leaves_nothing_unless_committed_holds_it() {
        let mut overlay = Overlay::new(&["a"]);
        let a = overlay.store_id("a").unwrap();
        for key in [&b"new"[..], b"held"] {
            overlay.write(a, key, Some(b"1"));
            overlay.write(a, key, Some(b"2"));
            overlay.write(a, key, None);
        }
        overlay.write(a, b"taken", Some(b"1"));
        overlay.write(a, b"gone", None);
        let committed = |store: &str, key: &[u8]| store == "a" && key == b"held";
        assert_eq!(
            overlay.take_changelog(committed),
            vec![
                record("a", b"held", None),
                record("a", b"taken", Some(b"1")),
                record("a", b"gone", None)
            ]
        );
        assert_eq!(overlay.get(a, b"new"), None, "no pending write is left either");
        assert_eq!(overlay.get(a, b"held"), Some(None));
        overlay.write(a, b"taken", None);
        let nothing_committed = |_: &str, _: &[u8]| false;
        assert_eq!(
            overlay.take_changelog(nothing_committed),
            vec![record("a", b"taken", None)],
            "its put left in a taken record"
        );
    }

    #[test]
    fn prefix_yields_only_matching_keys_in_order_with_deletes() {
        let mut overlay = Overlay::new(&["a"]);
        let a = overlay.store_id("a").unwrap();
        for key in [&b"p2"[..], b"q", b"p1", b"p", b"o"] {
            overlay.write(a, key, Some(key));
        }
        overlay.write(a, b"p1", None);
        let seen: Vec<_> = overlay.prefix(a, b"p", b"p").collect();
        assert_eq!(seen, vec![(&b"p"[..], Some(&b"p"[..])), (b"p1", None), (b"p2", Some(b"p2"))]);
        let from: Vec<_> = overlay.prefix(a, b"p", b"p10").collect();
        assert_eq!(from, vec![(&b"p2"[..], Some(&b"p2"[..]))], "starts at the first key >= from");
    }

    #[test]
    fn clear_discards_writes_and_records() {
        let mut overlay = Overlay::new(&["a"]);
        let a = overlay.store_id("a").unwrap();
        overlay.write(a, b"k", Some(b"v"));
        overlay.clear();
        assert!(overlay.is_empty());
        assert_eq!(overlay.get(a, b"k"), None);
        assert!(overlay.take_changelog(held).is_empty());
    }

    #[test]
    fn unknown_store_has_no_id() {
        assert_eq!(Overlay::new(&["a"]).store_id("b"), None);
    }
}
