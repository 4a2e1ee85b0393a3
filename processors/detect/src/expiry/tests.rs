use super::purge::SWEEP_EVERY_MS;
use super::*;
use crate::codec::{STATE_FORMAT, encode};
use crate::cycle_count::ItemMemo;
use std::sync::Arc;

use crate::detector::{Ctx, Env, Owner, Table, Times};
use crate::engine::timers::Timers;
use crate::output::Outputs;
use crate::policy::Policy;
use crate::store::{ChangelogEntry, MemStore, Store};

const DAY: i64 = 86_400_000;
const TTL: Ttl = Ttl::days(1);
const NAME: StoreName = StoreName("t.expiring");
const EXPIRING: Table<i64> = Table::expiring(NAME, TTL);
const KEPT: Table<i64> = Table::new(NAME);
const STORES: [StoreTtl; 1] = [EXPIRING.spec()];

/// Runs `f` with a context at `stream_time` over `store`.
fn with_ctx<R>(store: &mut MemStore, stream_time: i64, f: impl FnOnce(&mut Ctx<'_>) -> R) -> R {
    let (mut timers, mut out) = (Timers::default(), Outputs::default());
    let env = Env { policy: Arc::new(Policy::default_policy()), items: ItemMemo::default() };
    let times = Times { event_time: stream_time, stream_time, wall_clock: 0 };
    let owner = Owner { name: "test", stores: &[NAME] };
    let mut ctx = Ctx::new(store, &mut timers, &mut out, &env, times, owner);
    f(&mut ctx)
}

fn get(store: &mut MemStore, table: Table<i64>, key: &[u8], at: i64) -> Option<i64> {
    with_ctx(store, at, |ctx| ctx.get(table, key).unwrap())
}

fn scan(store: &mut MemStore, at: i64) -> Vec<i64> {
    with_ctx(store, at, |ctx| {
        ctx.scan(EXPIRING, b"").unwrap().into_iter().map(|(_, v)| v).collect()
    })
}

fn put(store: &mut MemStore, key: &[u8], value: i64, at: i64) {
    with_ctx(store, at, |ctx| ctx.put(EXPIRING, key, &value).unwrap());
}

fn tombstones(store: &MemStore) -> Vec<Vec<u8>> {
    let deletes = store.changelog().iter().filter(|e| e.store == NAME && e.value.is_none());
    deletes.map(|e: &ChangelogEntry| e.key.clone()).collect()
}

#[test]
fn stamped_values_carry_the_write_time_before_the_codec_bytes() {
    for written in [i64::MIN, -5, 0, 1_736_150_400_000, i64::MAX] {
        let bytes = [&stamp(written)[..], b"\x01[7]"].concat();
        assert_eq!(bytes[0], STAMPED);
        assert_eq!(split(&bytes), (Some(written), &b"\x01[7]"[..]));
    }
    let unstamped = encode(NAME, b"k", &7_i64).unwrap();
    assert_eq!(unstamped[0], STATE_FORMAT);
    assert_eq!(split(&unstamped), (None, &unstamped[..]), "a codec value is returned whole");
    assert_eq!(split(b"\xFE\x00\x01"), (None, &b"\xFE\x00\x01"[..]), "a cut stamp is not one");
}

#[test]
fn a_put_to_a_table_with_a_ttl_is_stamped_with_the_stream_time() {
    let mut store = MemStore::new();
    put(&mut store, b"k", 7, 5 * DAY);
    let (_, value) = store.entries(NAME).remove(0);
    assert_eq!(value[..STAMP_LEN], stamp(5 * DAY));
    assert_eq!(value[STAMP_LEN], STATE_FORMAT);
    with_ctx(&mut store, 0, |ctx| ctx.put(KEPT, b"plain", &1).unwrap());
    assert_eq!(store.entries(NAME)[1].1[0], STATE_FORMAT, "no TTL, no stamp");
}

#[test]
fn an_expired_entry_is_invisible_to_get_and_scan_before_any_purge() {
    let mut store = MemStore::new();
    put(&mut store, b"a", 1, 0);
    put(&mut store, b"b", 2, DAY / 2);
    let last_live = TTL.millis() - 1;
    assert_eq!(get(&mut store, EXPIRING, b"a", last_live), Some(1));
    assert_eq!(scan(&mut store, last_live), vec![1, 2]);
    assert_eq!(get(&mut store, EXPIRING, b"a", TTL.millis()), None);
    assert_eq!(scan(&mut store, TTL.millis()), vec![2]);
    assert_eq!(store.entries(NAME).len(), 2, "hidden, not deleted");
    // The same bytes read through a table without TTL (a TTL removed in an upgrade) are kept.
    assert_eq!(get(&mut store, KEPT, b"a", 10 * DAY), Some(1));
    // A rewrite restarts the clock.
    put(&mut store, b"a", 3, TTL.millis());
    assert_eq!(get(&mut store, EXPIRING, b"a", 2 * TTL.millis() - 1), Some(3));
}

#[test]
fn the_purge_deletes_expired_entries_with_tombstones_and_keeps_live_ones() {
    let mut store = MemStore::new();
    put(&mut store, b"old", 1, 0);
    put(&mut store, b"new", 2, DAY);
    let deleted = purge(&mut store, &STORES, TTL.millis(), SWEEP_BATCH).unwrap();
    assert_eq!(deleted, 1);
    assert_eq!(tombstones(&store), vec![b"old".to_vec()]);
    let restored = MemStore::from_changelog(&[NAME, crate::engine::META], store.changelog());
    assert_eq!(restored.entries(NAME).len(), 1, "a restore does not resurrect it");
    let stores_without_ttl = [StoreTtl::none(NAME)];
    assert_eq!(purge(&mut store, &stores_without_ttl, 10 * DAY, SWEEP_BATCH).unwrap(), 0);
}

#[test]
fn the_purge_visits_a_bounded_batch_per_call_and_resumes_where_it_stopped() {
    let mut store = MemStore::new();
    for k in 0..5u8 {
        put(&mut store, &[k], i64::from(k), 0);
    }
    let now = TTL.millis();
    let per_call: Vec<usize> =
        (0..4).map(|_| purge(&mut store, &STORES, now, 2).unwrap()).collect();
    assert_eq!(per_call, vec![2, 2, 1, 0], "two per call, then the sweep is done");
    assert_eq!(tombstones(&store), (0..5u8).map(|k| vec![k]).collect::<Vec<_>>());
    // A finished sweep waits for stream time to move on before the next one.
    put(&mut store, b"late", 9, 0);
    assert_eq!(purge(&mut store, &STORES, now + 1, 2).unwrap(), 0);
    assert_eq!(purge(&mut store, &STORES, now + SWEEP_EVERY_MS, 2).unwrap(), 1);
}

#[test]
fn an_unstamped_value_is_kept_then_expires_one_ttl_after_the_purge_met_it() {
    let mut store = MemStore::new();
    // Written by a release in which the store had no TTL.
    store.put(NAME, b"legacy", &encode(NAME, b"legacy", &42_i64).unwrap()).unwrap();
    let met = 30 * DAY;
    assert_eq!(get(&mut store, EXPIRING, b"legacy", met), Some(42));
    assert_eq!(purge(&mut store, &STORES, met, SWEEP_BATCH).unwrap(), 0);
    assert_eq!(split(&store.entries(NAME)[0].1).0, Some(met), "rewritten stamped");
    assert_eq!(get(&mut store, EXPIRING, b"legacy", met + TTL.millis() - 1), Some(42));
    assert_eq!(get(&mut store, EXPIRING, b"legacy", met + TTL.millis()), None);
    let later = met + TTL.millis();
    assert_eq!(purge(&mut store, &STORES, later, SWEEP_BATCH).unwrap(), 1);
    assert!(store.entries(NAME).is_empty());
}

#[test]
fn a_malformed_stamp_is_left_for_the_codec_to_refuse() {
    let mut store = MemStore::new();
    store.put(NAME, b"bad", b"\xFE\x01").unwrap();
    assert_eq!(purge(&mut store, &STORES, 10 * DAY, SWEEP_BATCH).unwrap(), 0);
    assert_eq!(store.entries(NAME)[0].1, b"\xFE\x01");
    let err = with_ctx(&mut store, 0, |ctx| ctx.get(EXPIRING, b"bad").unwrap_err());
    assert!(err.to_string().contains("unknown state format version 254"), "{err}");
}
