//! SIGKILL at random points: exactly-once across unclean stops.
//!
//! The processor runs in a child process (this test binary, re-executed in child mode, so the
//! wall clock can be pinned and the outputs compared byte for byte with the test driver's
//! uninterrupted run). The parent kills it with SIGKILL at a random point after it has made
//! progress, restarts it on the same state directory, and repeats; the last run goes to the end
//! of the input. Local state is never wiped: a restart restores only the changelog tail after
//! its checkpoint. The memory budget is 256 MiB and the peak resident set of every child is
//! sampled from /proc.
//!
//! What is asserted everywhere: every run makes progress, no run exits by itself, and the last
//! one finishes the input. On a broker that hides aborted transactions from read_committed
//! readers (see `conformance`), the outputs must equal the uninterrupted run: nothing missing,
//! nothing foreign, nothing twice. On a broker that does not, a transaction a SIGKILL left open
//! becomes visible, its outputs and, worse, its partial changelog (which the next restore then
//! applies), so the outputs cannot be expected to match for any client: the differences are
//! counted and printed, not asserted, and the summary line says so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use invex_detect::Policy;
use invex_runtime::{Processor, SchemaSource};
use libtest_mimic::Failed;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::Stack;
use crate::support::{APP, Cluster, expected, local_config, sim_events, task_order};

const CHILD_STATE: &str = "INVEX_CHILD_STATE_DIR";
const CHILD_PREFIX: &str = "INVEX_CHILD_PREFIX";
const PARTITIONS: i32 = 3;
const BUDGET_BYTES: usize = 256 << 20;
const MIN_EVENTS: usize = 200_000;

/// In the child: runs the processor until killed; returns its exit code. `None` in the parent.
pub(crate) fn child_main() -> Option<i32> {
    let state_dir = PathBuf::from(std::env::var_os(CHILD_STATE)?);
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new("info,rdkafka=warn"))
        .init();
    match run_child(&state_dir) {
        Ok(()) => Some(0),
        Err(message) => {
            eprintln!("child processor failed: {message}");
            Some(1)
        }
    }
}

fn run_child(state_dir: &Path) -> Result<(), String> {
    let stack = Stack::from_env().map_err(|e| format!("{e:?}"))?;
    let prefix = std::env::var(CHILD_PREFIX).map_err(|_| format!("{CHILD_PREFIX} is not set"))?;
    let mut cfg = local_config(&stack.bootstrap, &format!("{prefix}{APP}"), state_dir);
    cfg.topic_prefix = prefix;
    cfg.schema = SchemaSource::Registry { url: stack.registry, timeout: Duration::from_secs(10) };
    cfg.memory_budget_bytes = BUDGET_BYTES;
    let processor = Processor::new(cfg, Policy::default_policy()).map_err(|e| e.to_string())?;
    processor.with_clock(Arc::new(|| 0)).run().map_err(|e| e.to_string())
}

/// A child processor.
struct ChildRun {
    child: Child,
    log: PathBuf,
}

impl ChildRun {
    fn spawn(prefix: &str, state: &Path, log: PathBuf) -> Result<Self, Failed> {
        let child = Command::new(std::env::current_exe()?)
            .env(CHILD_STATE, state)
            .env(CHILD_PREFIX, prefix)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()?;
        Ok(Self { child, log })
    }

    /// Waits up to `limit` for `done`, failing if the child exits by itself; returns the peak
    /// resident set seen, in KiB.
    fn watch(&mut self, limit: Duration, done: &dyn Fn() -> bool) -> Result<u64, Failed> {
        let deadline = Instant::now() + limit;
        let mut peak = 0;
        while Instant::now() < deadline && !done() {
            peak = peak.max(peak_rss_kib(self.child.id()));
            if let Some(status) = self.child.try_wait()? {
                let text = std::fs::read_to_string(&self.log).unwrap_or_default();
                return Err(format!("the processor exited by itself ({status}):\n{text}").into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(peak.max(peak_rss_kib(self.child.id())))
    }

    /// SIGKILL; returns the restores the run logged (records, milliseconds).
    fn kill(mut self) -> Result<(u64, u64), Failed> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(restores(&self.log))
    }
}

/// Peak resident set (VmHWM) of a live process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Restores logged by a child: records and milliseconds.
fn restores(log: &Path) -> (u64, u64) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut total = (0, 0);
    for line in text.lines() {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let fields = &value["fields"];
        if fields["message"] == "task restored" {
            total.0 += fields["restored"].as_u64().unwrap_or(0);
            total.1 += fields["elapsed_ms"].as_u64().unwrap_or(0);
        }
    }
    total
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// What the runs did, summed.
#[derive(Default)]
struct Observed {
    peak_rss_kib: u64,
    restored: u64,
    restore_ms: u64,
}

impl Observed {
    fn add(&mut self, peak: u64, (restored, ms): (u64, u64)) {
        self.peak_rss_kib = self.peak_rss_kib.max(peak);
        self.restored += restored;
        self.restore_ms += ms;
    }
}

/// The crash test: at least 20 SIGKILLs during a run of at least 200,000 events.
pub(crate) fn sigkill(hides_aborts: bool) -> Result<(), Failed> {
    let stack = Stack::from_env()?;
    let kills = env_number("INVEX_CRASH_KILLS", 20);
    let seed = env_number("INVEX_CRASH_SEED", u64::from(std::process::id()));
    let prefix = Stack::prefix("crash");
    let env = Cluster::broker(&stack.bootstrap, &stack.registry, &prefix, PARTITIONS);
    let events = sim_events(31, 2400, 56);
    assert!(events.len() >= MIN_EVENTS, "only {} events", events.len());
    env.produce(&events);
    let ends = env.ends(&events);
    let total: i64 = ends.values().sum();
    // The group's committed offsets, summed: the broker's record of progress.
    let committed = || -> i64 { env.committed(&ends).values().map(|o| (*o).max(0)).sum() };
    let state = tempfile::tempdir()?;
    let logs = tempfile::tempdir()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut observed = Observed::default();
    let mut progress: Vec<i64> = Vec::new();

    for run in 0..kills {
        let log = logs.path().join(format!("run-{run}.log"));
        let mut child = ChildRun::spawn(&prefix, state.path(), log)?;
        // Kill only once this run has committed input beyond every earlier run (so each kill
        // lands in new work, not in startup alone), then after a random further delay: inside a
        // transaction, a commit, wherever the clock falls.
        let before = progress.last().copied().unwrap_or(0);
        let limit = Duration::from_secs(300);
        let mut peak = child.watch(limit, &|| committed() > before)?;
        let delay = Duration::from_millis(rng.random_range(0..1_000));
        peak = peak.max(child.watch(delay, &|| false)?);
        observed.add(peak, child.kill()?);
        let now = committed();
        assert!(now > before, "run {run} made no progress before the kill");
        assert!(now < total, "run {run}: the input was complete before the kill");
        progress.push(now);
    }
    let mut child = ChildRun::spawn(&prefix, state.path(), logs.path().join("final.log"))?;
    let peak = child.watch(Duration::from_secs(900), &|| committed() >= total)?;
    assert!(committed() >= total, "the final run did not finish: {progress:?}");
    observed.add(peak, child.kill()?);

    let d = compare(&env, &events);
    let rate = observed.restored * 1000 / observed.restore_ms.max(1);
    println!(
        "crash test: seed {seed}, {} events, {kills} SIGKILLs at committed offsets {progress:?}; \
         {} missing, {} foreign, {} repeated ({}); {} changelog records restored at {rate} \
         records/s; peak RSS {} MiB (budget {} MiB)",
        events.len(),
        d.missing,
        d.foreign,
        d.repeated,
        if hides_aborts { "asserted" } else { "not asserted: the broker shows aborted records" },
        observed.restored,
        observed.peak_rss_kib / 1024,
        BUDGET_BYTES >> 20
    );
    if hides_aborts {
        assert_eq!(d, Difference::default(), "outputs differ from the uninterrupted run");
    }
    Ok(())
}

/// How the outputs differ from the uninterrupted driver run, in records.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Difference {
    missing: usize,
    foreign: usize,
    repeated: usize,
}

/// Compares the exceptions and actions topics with the uninterrupted driver run.
fn compare(env: &Cluster, events: &[invex_model::CanonicalEvent]) -> Difference {
    let (want_exceptions, want_actions) = expected(env, &task_order(env, events));
    let a = difference(&env.exceptions(), &want_exceptions);
    let b = difference(&env.actions(), &want_actions);
    Difference {
        missing: a.missing + b.missing,
        foreign: a.foreign + b.foreign,
        repeated: a.repeated + b.repeated,
    }
}

fn difference<T: serde::Serialize>(got: &[T], want: &[T]) -> Difference {
    let count = |records: &[T]| {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for r in records {
            *counts.entry(serde_json::to_string(r).unwrap_or_default()).or_default() += 1;
        }
        counts
    };
    let (got, want) = (count(got), count(want));
    let mut d = Difference::default();
    for (record, n) in &want {
        d.missing += n.saturating_sub(got.get(record).copied().unwrap_or(0));
    }
    for (record, n) in &got {
        match want.get(record) {
            Some(w) => d.repeated += n.saturating_sub(*w),
            None => d.foreign += n,
        }
    }
    d
}
