//! The shared memory budget and the properties exported as metrics.

use crate::common::{Fixture, commit};

fn fill(task: &mut invex_state::TaskStore, store: &str, keys: u32) {
    for i in 0..keys {
        task.put(store, &i.to_be_bytes(), &[7u8; 100]).unwrap();
    }
    commit(task);
}

#[test]
fn two_task_stores_share_one_write_buffer_manager_and_cache() {
    let fx = Fixture::new();
    let (mut a, mut b) = (fx.open(0), fx.open(1));
    fill(&mut a, "open", 2_000);
    let after_a = fx.shared.memtable_usage_bytes();
    assert!(after_a > 0);
    fill(&mut b, "open", 2_000);
    assert!(fx.shared.memtable_usage_bytes() > after_a, "b's memtables are charged too");
    assert!(fx.shared.cache_usage_bytes() > 0, "memtables are charged to the cache");

    a.flush().unwrap();
    b.flush().unwrap();
    for i in (0..2_000u32).step_by(100) {
        assert!(a.get("open", &i.to_be_bytes()).unwrap().is_some());
        assert!(b.get("open", &i.to_be_bytes()).unwrap().is_some());
    }
    let (pa, pb) = (a.properties().unwrap(), b.properties().unwrap());
    let shared = fx.shared.cache_usage_bytes() as u64;
    assert!(shared > 0);
    assert_eq!(pa.block_cache_usage_bytes, shared, "a reads the shared cache");
    assert_eq!(pb.block_cache_usage_bytes, shared, "b reads the shared cache");
}

#[test]
fn properties_are_plausible_after_writes_and_flush() {
    let fx = Fixture::new();
    let mut task = fx.open(0);
    let empty = task.properties().unwrap();
    assert_eq!(empty.live_sst_bytes, 0);

    fill(&mut task, "open", 1_000);
    let written = task.properties().unwrap();
    // Data keys plus the format version (no checkpoint was committed).
    assert!((1_000..=1_001).contains(&written.estimated_keys), "{written:?}");
    assert!(written.memtable_bytes > 100_000, "{written:?}");

    task.flush().unwrap();
    let flushed = task.properties().unwrap();
    assert!(flushed.live_sst_bytes > 0, "{flushed:?}");
    assert!(flushed.memtable_bytes < written.memtable_bytes, "{flushed:?}");
    assert!(flushed.pending_compaction_bytes <= flushed.live_sst_bytes, "{flushed:?}");
    assert!(flushed.estimated_keys >= 1_000, "{flushed:?}");
}

/// A quiet store must cost little: every store is a column family with its own active memtable,
/// and an instance owning 12 detect partitions has hundreds of them. With RocksDB's default
/// arena block (1 MiB at the default budget) and a memtable bloom filter (allocated whole when
/// the memtable is created) 24 stores holding one key each took 21 MiB.
#[test]
fn a_store_holding_one_key_costs_kilobytes_not_megabytes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = invex_state::StoreConfig::new(dir.path(), "invex-test");
    let shared = invex_state::SharedResources::new(cfg.memory_budget_bytes).unwrap();
    let names: Vec<String> = (0..24).map(|i| format!("store{i:02}")).collect();
    let stores: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut task = invex_state::TaskStore::open(&cfg, &shared, 0, &stores).unwrap();
    for store in &stores {
        task.put(store, b"key", &[7u8; 100]).unwrap();
    }
    commit(&mut task);
    let used = shared.memtable_usage_bytes();
    assert!(used > 0, "the memtables are charged to the write-buffer manager");
    assert!(used < stores.len() * (256 << 10), "{used} bytes of memtable for 24 keys");
}
