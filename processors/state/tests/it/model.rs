//! Model-based property test: random operation sequences against a `TaskStore` and a
//! `BTreeMap` model (committed maps, pending overlay, untaken changelog order, checkpoints,
//! keys created and deleted unseen, which leave no record).
//! After every operation the visible state equals the model; after a reopen only committed
//! data and checkpoints remain.

use std::collections::{BTreeMap, BTreeSet};

use invex_state::{ChangelogRecord, TaskStore};
use proptest::collection::vec;
use proptest::prelude::*;

use crate::common::{Fixture, STORES, scan};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Debug, Clone)]
enum Op {
    Put(usize, Vec<u8>, Vec<u8>),
    Delete(usize, Vec<u8>),
    Get(usize, Vec<u8>),
    Scan(usize, Vec<u8>),
    TakeChangelog,
    Commit(usize),
    Abort,
    Reopen,
}

/// Keys over a tiny alphabet so that writes collide, prefixes overlap and `0xff` exercises
/// the prefix upper bound; the empty key is included.
fn key(max_len: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(prop_oneof![Just(0u8), Just(1), Just(0xff)], 0..=max_len)
}

fn op() -> impl Strategy<Value = Op> {
    let store = 0..STORES.len();
    prop_oneof![
        6 => (store.clone(), key(3), vec(any::<u8>(), 0..4)).prop_map(|(s, k, v)| Op::Put(s, k, v)),
        3 => (store.clone(), key(3)).prop_map(|(s, k)| Op::Delete(s, k)),
        2 => (store.clone(), key(3)).prop_map(|(s, k)| Op::Get(s, k)),
        2 => (store.clone(), key(2)).prop_map(|(s, p)| Op::Scan(s, p)),
        1 => Just(Op::TakeChangelog),
        2 => store.prop_map(Op::Commit),
        1 => Just(Op::Abort),
        1 => Just(Op::Reopen),
    ]
}

#[derive(Default)]
struct Model {
    committed: [Map; 2],
    pending: [BTreeMap<Vec<u8>, Option<Vec<u8>>>; 2],
    untaken: Vec<(usize, Vec<u8>)>,
    /// Pending keys whose first write was a put, with no record taken since.
    unseen: [BTreeSet<Vec<u8>>; 2],
    checkpoints: [Option<i64>; 2],
    next_offset: i64,
}

impl Model {
    fn write(&mut self, store: usize, key: &[u8], value: Option<&[u8]>) {
        if !self.pending[store].contains_key(key) && value.is_some() {
            self.unseen[store].insert(key.to_vec());
        }
        self.pending[store].insert(key.to_vec(), value.map(<[u8]>::to_vec));
        if !self.untaken.iter().any(|(s, k)| *s == store && k == key) {
            self.untaken.push((store, key.to_vec()));
        }
    }

    fn visible(&self, store: usize) -> Map {
        let mut map = self.committed[store].clone();
        for (key, value) in &self.pending[store] {
            match value {
                Some(value) => map.insert(key.clone(), value.clone()),
                None => map.remove(key),
            };
        }
        map
    }

    fn take_changelog(&mut self) -> Vec<ChangelogRecord> {
        let mut records = Vec::new();
        for (store, key) in std::mem::take(&mut self.untaken) {
            let value = self.pending[store][&key].clone();
            let unseen = self.unseen[store].remove(&key);
            if unseen && value.is_none() && !self.committed[store].contains_key(&key) {
                self.pending[store].remove(&key);
                continue;
            }
            records.push(ChangelogRecord { store: STORES[store].to_owned(), value, key });
        }
        records
    }

    fn commit(&mut self, checkpointed: usize) -> i64 {
        for store in 0..STORES.len() {
            self.committed[store] = self.visible(store);
        }
        self.abort();
        self.next_offset += 1;
        self.checkpoints[checkpointed] = Some(self.next_offset);
        self.next_offset
    }

    fn abort(&mut self) {
        self.pending = Default::default();
        self.unseen = Default::default();
        self.untaken.clear();
    }
}

/// Applies `op` to both sides; returns the store to continue with (a new handle after
/// `Reopen`).
fn apply(fixture: &Fixture, mut task: TaskStore, model: &mut Model, op: Op) -> TaskStore {
    match op {
        Op::Put(s, k, v) => {
            task.put(STORES[s], &k, &v).unwrap();
            model.write(s, &k, Some(&v));
        }
        Op::Delete(s, k) => {
            task.delete(STORES[s], &k).unwrap();
            model.write(s, &k, None);
        }
        Op::Get(s, k) => {
            let expected = model.visible(s).get(&k).cloned();
            assert_eq!(task.get(STORES[s], &k).unwrap(), expected);
        }
        Op::Scan(s, p) => {
            let expected: Vec<_> =
                model.visible(s).into_iter().filter(|(k, _)| k.starts_with(&p)).collect();
            assert_eq!(scan(&task, STORES[s], &p), expected);
        }
        Op::TakeChangelog => assert_eq!(task.take_changelog(), model.take_changelog()),
        Op::Commit(s) => {
            assert_eq!(task.take_changelog(), model.take_changelog());
            let offset = model.commit(s);
            task.commit(&[(STORES[s], offset)]).unwrap();
        }
        Op::Abort => {
            task.abort();
            model.abort();
        }
        Op::Reopen => {
            model.abort();
            drop(task);
            return fixture.open(0);
        }
    }
    task
}

fn check_visible(task: &TaskStore, model: &Model) {
    for (s, name) in STORES.iter().enumerate() {
        let expected: Vec<_> = model.visible(s).into_iter().collect();
        assert_eq!(scan(task, name, b""), expected, "store {name}");
        assert_eq!(task.checkpoint(name).unwrap(), model.checkpoints[s]);
    }
    let pending = model.pending.iter().any(|p| !p.is_empty());
    assert_eq!(task.has_pending(), pending);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn task_store_behaves_like_the_model(ops in vec(op(), 1..48)) {
        let fixture = Fixture::new();
        let mut task = fixture.open(0);
        let mut model = Model::default();
        for op in ops {
            task = apply(&fixture, task, &mut model, op);
            check_visible(&task, &model);
        }
        drop(task);
        model.abort();
        check_visible(&fixture.open(0), &model);
    }
}
