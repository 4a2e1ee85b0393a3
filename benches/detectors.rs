//! Detector throughput on the realistic mix (`common/mix.rs`), in events per second.
//!
//! `detect/<store>/all` runs one task's engine (every detector, the default policy) over the
//! whole mix; `detect/<store>/<detector>` runs an engine of that detector alone (an
//! `invex_detect::Selection`, so with the detectors it reads from: every rule reads the
//! cycle-count item facts, every exception's lifecycle the item master and the allocation
//! ledger) over only the topics that detector consumes, plus the item master.
//!
//! `<store>` is `mem` (the test driver's `MemStore`) or `rocksdb` (a real `TaskStore` in a
//! temporary directory, with the runtime's overlay and commit every 1,000 events). Each
//! iteration starts from empty state; opening and dropping the store are not timed.
//!
//! ```text
//! CARGO_TARGET_DIR=/root/.cache/invex-bench cargo bench --workspace --locked --bench detectors
//! ```

#[path = "common/mix.rs"]
mod mix;
#[path = "common/task.rs"]
mod task;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use invex_detect::{Engine, MemStore, Policy, Selection};
use invex_model::{CanonicalEvent, CanonicalTopic as T};
use invex_state::{DEFAULT_MEMORY_BUDGET_BYTES, SharedResources};

use task::{RocksTask, Tally, TaskState};

/// Each detector with the topics its rules read (from its `process` and `validate` hooks).
const DETECTORS: [(&str, &[T]); 11] = [
    ("cycle_count", &[T::Count, T::Book, T::Receipt, T::Pick, T::Task, T::Approvals]),
    ("negative_on_hand", &[T::Receipt, T::Pick, T::Book, T::Task, T::Approvals]),
    ("duplicate_pick", &[T::Pick, T::Allocation]),
    ("receiving_variance", &[T::Asn, T::Receipt]),
    ("putaway_failure", &[T::Receipt, T::Task]),
    ("damaged_goods", &[T::Receipt, T::Scan, T::Pick]),
    ("expired_inventory", &[T::Receipt, T::Scan, T::Asn, T::Allocation]),
    ("barcode_mismatch", &[T::Scan]),
    ("sync_failure", &[T::Ack, T::Book]),
    ("order_allocation_conflict", &[T::Allocation, T::Pick, T::Receipt, T::Book, T::Task]),
    ("lot_serial_inconsistency", &[T::Receipt, T::Pick, T::Task, T::Count, T::Scan, T::Asn]),
];

/// The task state a workload runs on.
#[derive(Debug, Clone, Copy)]
enum Backend {
    /// The test driver's in-memory store.
    Mem,
    /// A `TaskStore` in a temporary directory.
    RocksDb,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Self::Mem => "mem",
            Self::RocksDb => "rocksdb",
        }
    }
}

/// The events of `mix` a detector reading `topics` consumes, item master included.
fn input_of(mix: &[CanonicalEvent], topics: &[T]) -> Vec<CanonicalEvent> {
    mix.iter().filter(|e| e.topic() == T::Item || topics.contains(&e.topic())).cloned().collect()
}

/// A named engine and its input.
struct Workload {
    name: &'static str,
    selection: Selection,
    events: Vec<CanonicalEvent>,
}

/// Every workload: `all` first, then one per detector.
fn workloads(mix: &[CanonicalEvent]) -> Vec<Workload> {
    let mut out = vec![Workload { name: "all", selection: Selection::all(), events: mix.to_vec() }];
    out.extend(DETECTORS.iter().map(|(name, topics)| Workload {
        name,
        selection: Selection::of(&[name]).expect("a built-in detector"),
        events: input_of(mix, topics),
    }));
    out
}

/// Times `iters` runs, each on fresh state from `fresh` (not timed, nor is its drop).
fn time_runs<S: TaskState>(
    iters: u64,
    policy: &Arc<Policy>,
    work: &Workload,
    mut fresh: impl FnMut() -> S,
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let mut state = fresh();
        let started = Instant::now();
        black_box(task::run(policy, &work.selection, &work.events, &mut state));
        total += started.elapsed();
        drop(state);
    }
    total
}

fn mem_state() -> MemStore {
    MemStore::with_stores(Engine::store_names())
}

fn report(work: &Workload, policy: &Arc<Policy>) {
    let Tally { events, duplicates, rejected, exceptions, actions, audit } =
        task::run(policy, &work.selection, &work.events, &mut mem_state());
    println!(
        "workload {} ({}): {events} events, {duplicates} duplicates, {rejected} rejected, \
         {exceptions} exception records, {actions} actions, {audit} audit records",
        work.name, work.selection
    );
}

fn detectors(c: &mut Criterion) {
    let policy = Arc::new(Policy::default_policy());
    let workloads = workloads(&mix::shift());
    for work in &workloads {
        report(work, &policy);
    }
    let shared = SharedResources::new(DEFAULT_MEMORY_BUDGET_BYTES).expect("memory budget");
    let state_root = std::env::temp_dir();
    for backend in [Backend::Mem, Backend::RocksDb] {
        let mut group = c.benchmark_group(format!("detect/{}", backend.name()));
        group.sampling_mode(SamplingMode::Flat).sample_size(10);
        group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
        for work in &workloads {
            group.throughput(Throughput::Elements(work.events.len() as u64));
            group.bench_function(work.name, |b| {
                b.iter_custom(|iters| match backend {
                    Backend::Mem => time_runs(iters, &policy, work, mem_state),
                    Backend::RocksDb => {
                        time_runs(iters, &policy, work, || RocksTask::open(&shared, &state_root))
                    }
                });
            });
        }
        group.finish();
    }
}

criterion_group!(benches, detectors);
criterion_main!(benches);
