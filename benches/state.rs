//! invex-state's `TaskStore` against the raw `rocksdb` crate, in operations per second.
//!
//! Both sides hold the same data (100,000 keys of a `tenant|site|sku|location` shape, 10 per
//! SKU prefix, 256-byte values), opened with the same options (the shared LRU block cache,
//! write-buffer manager, bloom filters, LZ4/ZSTD and write-buffer size of
//! `SharedResources` at the default 256 MiB budget, WAL on without fsync), loaded, closed and
//! reopened so reads go to table files through a warm block cache. Each pair measures one
//! operation:
//!
//! - `get`: 10,000 point reads of random existing keys (the overlay is empty);
//! - `put`: 1,000 writes; `TaskStore` only records them in its overlay (discarded after the
//!   timing), the raw side writes each to RocksDB as the baseline a store without an overlay
//!   would pay;
//! - `commit`: 1,000 writes made durable: `TaskStore` put, changelog drain and commit (one
//!   write batch with a checkpoint) against one raw write batch of the same writes plus a
//!   checkpoint key;
//! - `prefix_range`: 1,000 prefix scans of 10 entries each (10,000 entries visited).
//!
//! ```text
//! CARGO_TARGET_DIR=/root/.cache/invex-bench cargo bench --workspace --locked --bench state
//! ```

#[path = "common/raw_rocks.rs"]
mod raw_rocks;

use std::hint::black_box;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use invex_state::{DEFAULT_MEMORY_BUDGET_BYTES, SharedResources, StoreConfig, TaskStore};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use raw_rocks::RawStore;

/// The one store (column family) both sides use.
const STORE: &str = "bench";
const SKUS: usize = 10_000;
const LOCATIONS_PER_SKU: usize = 10;
const VALUE_LEN: usize = 256;
const READS: usize = 10_000;
const WRITES: usize = 1_000;
const SCANS: usize = 1_000;
const LOAD_BATCH: usize = 10_000;

fn prefix(sku: usize) -> Vec<u8> {
    format!("acme|DC1|SKU-{sku:06}|").into_bytes()
}

fn key(sku: usize, location: usize) -> Vec<u8> {
    let mut key = prefix(sku);
    key.extend_from_slice(format!("A-{location:02}-03-2").as_bytes());
    key
}

/// A value of [`VALUE_LEN`] bytes that differs per key and per `round`.
fn value(index: usize, round: usize) -> Vec<u8> {
    (0..VALUE_LEN).map(|i| (index.wrapping_mul(31) ^ round ^ i) as u8).collect()
}

fn all_keys() -> Vec<Vec<u8>> {
    (0..SKUS).flat_map(|s| (0..LOCATIONS_PER_SKU).map(move |l| key(s, l))).collect()
}

/// Opens the `TaskStore` at `dir`, loads every key if `load`, and returns it.
fn open_invex(dir: &Path, shared: &SharedResources) -> TaskStore {
    TaskStore::open(&StoreConfig::new(dir, "bench"), shared, 0, &[STORE]).expect("open TaskStore")
}

fn load_invex(dir: &Path, shared: &SharedResources, keys: &[Vec<u8>]) -> TaskStore {
    let mut store = open_invex(dir, shared);
    for (n, chunk) in keys.chunks(LOAD_BATCH).enumerate() {
        for (i, k) in chunk.iter().enumerate() {
            store.put(STORE, k, &value(n * LOAD_BATCH + i, 0)).expect("put");
        }
        store.take_changelog();
        store.commit(&[(STORE, n as i64)]).expect("commit");
    }
    drop(store);
    open_invex(dir, shared)
}

fn load_raw(dir: &Path, keys: &[Vec<u8>]) -> RawStore {
    let store = RawStore::open(dir, STORE);
    for (n, chunk) in keys.chunks(LOAD_BATCH).enumerate() {
        let writes =
            chunk.iter().enumerate().map(|(i, k)| (k.as_slice(), value(n * LOAD_BATCH + i, 0)));
        store.write_batch(writes, n as i64);
    }
    drop(store);
    RawStore::open(dir, STORE)
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>, elements: usize) {
    group.throughput(Throughput::Elements(elements as u64));
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
}

fn bench_get(c: &mut Criterion, invex: &TaskStore, raw: &RawStore, reads: &[Vec<u8>]) {
    let mut group = c.benchmark_group("state/get");
    configure(&mut group, reads.len());
    group.bench_function("invex", |b| {
        b.iter(|| {
            for k in reads {
                black_box(invex.get(STORE, k).expect("get"));
            }
        });
    });
    group.bench_function("rocksdb", |b| {
        b.iter(|| {
            for k in reads {
                black_box(raw.get(k));
            }
        });
    });
    group.finish();
}

fn bench_put(c: &mut Criterion, invex: &mut TaskStore, raw: &RawStore, keys: &[Vec<u8>]) {
    let mut group = c.benchmark_group("state/put");
    configure(&mut group, WRITES);
    let mut round = 0;
    group.bench_function("invex", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                round += 1;
                let started = Instant::now();
                for (i, k) in window(keys, round).iter().enumerate() {
                    invex.put(STORE, k, &value(i, round)).expect("put");
                }
                total += started.elapsed();
                invex.abort();
            }
            total
        });
    });
    group.bench_function("rocksdb", |b| {
        b.iter(|| {
            round += 1;
            for (i, k) in window(keys, round).iter().enumerate() {
                raw.put(k, &value(i, round));
            }
        });
    });
    group.finish();
}

fn bench_commit(c: &mut Criterion, invex: &mut TaskStore, raw: &RawStore, keys: &[Vec<u8>]) {
    let mut group = c.benchmark_group("state/commit");
    configure(&mut group, WRITES);
    let mut round = 0;
    group.bench_function("invex", |b| {
        b.iter(|| {
            round += 1;
            for (i, k) in window(keys, round).iter().enumerate() {
                invex.put(STORE, k, &value(i, round)).expect("put");
            }
            black_box(invex.take_changelog());
            invex.commit(&[(STORE, round as i64)]).expect("commit");
        });
    });
    group.bench_function("rocksdb", |b| {
        b.iter(|| {
            round += 1;
            let writes = window(keys, round)
                .iter()
                .enumerate()
                .map(|(i, k)| (k.as_slice(), value(i, round)));
            raw.write_batch(writes, round as i64);
        });
    });
    group.finish();
}

fn bench_scan(c: &mut Criterion, invex: &TaskStore, raw: &RawStore, prefixes: &[Vec<u8>]) {
    let mut group = c.benchmark_group("state/prefix_range");
    configure(&mut group, prefixes.len() * LOCATIONS_PER_SKU);
    group.bench_function("invex", |b| {
        b.iter(|| {
            let mut bytes = 0;
            for p in prefixes {
                let mut visit = |k: &[u8], v: &[u8]| {
                    bytes += k.len() + v.len();
                    ControlFlow::Continue(())
                };
                invex.scan_prefix(STORE, p, &mut visit).expect("scan");
            }
            black_box(bytes)
        });
    });
    group.bench_function("rocksdb", |b| {
        b.iter(|| {
            let mut bytes = 0;
            for p in prefixes {
                raw.scan_prefix(p, |k, v| bytes += k.len() + v.len());
            }
            black_box(bytes)
        });
    });
    group.finish();
}

/// The `round`-th window of [`WRITES`] consecutive keys, wrapping around.
fn window(keys: &[Vec<u8>], round: usize) -> &[Vec<u8>] {
    let start = (round * WRITES) % (keys.len() - WRITES);
    &keys[start..start + WRITES]
}

fn state(c: &mut Criterion) {
    let root = tempfile::tempdir_in(std::env::temp_dir()).expect("temporary directory");
    let keys = all_keys();
    let shared = SharedResources::new(DEFAULT_MEMORY_BUDGET_BYTES).expect("memory budget");
    let mut invex = load_invex(&root.path().join("invex"), &shared, &keys);
    let raw = load_raw(&root.path().join("raw"), &keys);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut reads = keys.clone();
    reads.shuffle(&mut rng);
    reads.truncate(READS);
    let mut skus: Vec<usize> = (0..SKUS).collect();
    skus.shuffle(&mut rng);
    let prefixes: Vec<Vec<u8>> = skus.into_iter().take(SCANS).map(prefix).collect();
    bench_get(c, &invex, &raw, &reads);
    bench_scan(c, &invex, &raw, &prefixes);
    bench_put(c, &mut invex, &raw, &keys);
    bench_commit(c, &mut invex, &raw, &keys);
}

criterion_group!(benches, state);
criterion_main!(benches);
