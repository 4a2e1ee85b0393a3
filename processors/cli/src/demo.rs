//! `invex demo`: the whole system in one process, with nothing to install.
//!
//! librdkafka's in-process mock cluster stands in for Kafka, the embedded schema resolver for
//! the registry. The simulator's events are produced as the warehouse's systems would send
//! them: raw vendor records (WMS webhooks, ERP IDocs) on the raw topics. The normalize
//! processor maps them to the canonical topics, the detect processor runs the detectors over
//! those and the kpi processor aggregates detect's exceptions and audit records into hourly
//! KPIs, each on its own thread exactly as `invex run --processor <name>` would (consumer
//! group, RocksDB state in a temporary directory, exactly-once transactions); the
//! demo reads the actions back and lets the simulator answer them as the warehouse would (a
//! recount with the physical truth, an approver's decision), as raw records again, closing the
//! loop through Kafka. When everything is processed and quiet, the demo stops the processors
//! and reports what was injected against what was detected, and the KPIs per site read back
//! from the `kpi` topic.
//!
//! The run has two stages. A task orders its inputs by event time among the records it has
//! fetched, and takes a partition that has reported its end as caught up; a processor reading
//! at the very tail of topics that are still being written can therefore process a record
//! before an earlier one of another topic has arrived. On a real broker an upstream
//! transaction becomes readable at once (read_committed); librdkafka's mock cluster does not
//! implement that, nor keep more than 5 MB per partition. So the demo first produces the raw
//! traffic a chunk at a time, keeping normalize a bounded backlog behind, until normalize has
//! mapped all of it; then detect starts on complete canonical topics. The answers to its
//! actions, few and late by nature, go through normalize while detect runs and are processed
//! as late records, as in production. The kpi processor runs alongside detect. Detect's tasks
//! work through the whole shift in seconds, each at its own pace, so the exceptions and audit
//! records meeting in one kpi task are hours apart in event time (at the head of a live stream
//! they are seconds apart): the kpi grace period is the simulated duration plus an hour, so no
//! window closes while the run goes on, and once everything is quiet the kpi processor's wall
//! clock is moved past the grace period, as if the sites had been quiet since, and it emits
//! every window on its next tick ([`close_kpi_windows`]).

mod kpi;
mod report;
mod traffic;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use invex_detect::Engine;
use invex_model::ExceptionRecord;
use invex_runtime::admin::{
    TopicSpec, create_on_mock, detect_topics, kpi_topics, normalize_topics,
};
use invex_runtime::normalize::Normalizer;
use invex_runtime::{
    Clock, Metrics, Output, Processor, ProcessorHandle, RuntimeConfig, RuntimeError, Topics,
    system_clock,
};
use invex_sim::{SimConfig, Simulator};
use rdkafka::mocking::MockCluster;

use crate::Failure;
use crate::run::load_policy;
use kpi::KpiSummary;
use report::NormalizeSummary;
use traffic::Traffic;

/// Arguments of `invex demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Simulator seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Sites to simulate.
    #[arg(long, default_value_t = 2)]
    sites: u16,
    /// SKUs per site.
    #[arg(long, default_value_t = 2000)]
    skus: u32,
    /// Simulated hours.
    #[arg(long, default_value_t = 8)]
    hours: u32,
    /// Partitions of the raw and canonical topics (= tasks of each processor).
    #[arg(long, default_value_t = 4)]
    partitions: i32,
    /// Policy file (default: the embedded policy).
    #[arg(long)]
    policy: Option<std::path::PathBuf>,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    report_json: Option<std::path::PathBuf>,
    /// Give up if the run has not settled after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout_secs: u64,
}

/// Application id of the detect processor (its consumer group, changelogs and state).
const APPLICATION: &str = "invex-demo";
/// Application id of the normalize processor.
const NORMALIZE_APPLICATION: &str = "invex-demo-normalize";
/// Application id of the kpi processor.
const KPI_APPLICATION: &str = "invex-demo-kpi";
/// How long the demo waits for the kpi processor to emit its windows once its clock has
/// moved: three wall-clock ticks.
const KPI_CLOSE_WAIT: Duration = Duration::from_secs(3);
const QUIET: Duration = Duration::from_secs(3);
/// Raw records produced at a time, once normalize has fewer than [`RAW_BACKLOG`] left to read.
/// The backlog keeps normalize off the tail of the raw topics, and unread raw records within
/// the mock cluster's 5 MB per partition (it drops a partition's oldest records beyond that).
const RAW_CHUNK: usize = 4_000;
/// Raw records normalize may have left to read before the next chunk is produced.
const RAW_BACKLOG: u64 = 8_000;

/// A processor running on its own thread.
struct Worker {
    name: &'static str,
    handle: ProcessorHandle,
    thread: JoinHandle<Result<(), RuntimeError>>,
}

impl Worker {
    fn spawn(name: &'static str, processor: Processor) -> anyhow::Result<Self> {
        let handle = processor.handle();
        let thread = std::thread::Builder::new()
            .name(format!("invex-{name}"))
            .spawn(move || processor.run())?;
        Ok(Self { name, handle, thread })
    }

    fn metrics(&self) -> &Metrics {
        &self.handle.metrics
    }

    /// Asks it to stop and waits: its error, if it failed.
    fn stop(self) -> anyhow::Result<()> {
        self.handle.shutdown();
        let name = self.name;
        self.thread.join().map_err(|_| anyhow!("the {name} thread panicked"))??;
        Ok(())
    }
}

/// Topic names of the three processors (their changelogs differ).
struct DemoTopics {
    detect: Topics,
    normalize: Topics,
    kpi: Topics,
}

/// Every topic of the three processors, each once.
fn demo_topics(names: &DemoTopics, normalizer: &Normalizer, partitions: i32) -> Vec<TopicSpec> {
    let stores: Vec<&str> = Engine::store_names().iter().map(|s| s.as_str()).collect();
    let mut specs = detect_topics(&names.detect, &stores, partitions, partitions);
    let others = normalize_topics(&names.normalize, normalizer, partitions, partitions)
        .into_iter()
        .chain(kpi_topics(&names.kpi, partitions));
    for spec in others {
        if specs.iter().all(|s| s.name != spec.name) {
            specs.push(spec);
        }
    }
    specs
}

pub(crate) fn demo(args: DemoArgs) -> Result<(), Failure> {
    let policy = load_policy(args.policy.as_deref())?;
    let sim_config = SimConfig {
        seed: args.seed,
        sites: args.sites,
        skus_per_site: args.skus,
        duration_ms: i64::from(args.hours) * 3_600_000,
        ..SimConfig::default()
    };
    let simulator =
        Simulator::new(sim_config).map_err(|e| Failure::Input(anyhow!("simulator: {e}")))?;
    run_demo(args, policy, simulator).map_err(Failure::Runtime)
}

fn run_demo(
    args: DemoArgs,
    policy: invex_detect::Policy,
    simulator: Simulator,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mock = MockCluster::new(1).context("starting the mock cluster")?;
    let bootstrap = mock.bootstrap_servers();
    let normalizer = Normalizer::shipped()?;
    let names = DemoTopics {
        detect: Topics::new("", APPLICATION),
        normalize: Topics::new("", NORMALIZE_APPLICATION),
        kpi: Topics::new("", KPI_APPLICATION),
    };
    create_on_mock(&mock, &demo_topics(&names, &normalizer, args.partitions))?;
    // One state directory: each processor's databases live under its application id.
    let state_dir = tempfile::tempdir().context("creating a state directory")?;
    let local = |application| {
        RuntimeConfig::for_local(&bootstrap, application, state_dir.path().to_path_buf())
    };
    let (cfg, normalize_cfg, mut kpi_cfg) =
        (local(APPLICATION), local(NORMALIZE_APPLICATION), local(KPI_APPLICATION));
    kpi_cfg.kpi.grace = Duration::from_secs((u64::from(args.hours) + 1) * 3_600);
    let mut traffic = Traffic::new(&cfg, &names.detect, simulator)?;
    let status = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    status.enable_steady_tick(Duration::from_millis(120));
    let wait = Wait { status: &status, deadline: started + Duration::from_secs(args.timeout_secs) };

    // Stage 1 (see the module docs): the raw traffic, normalized as it is produced.
    let normalize = Worker::spawn("normalize", Processor::normalize(normalize_cfg, normalizer)?)?;
    let normalized = wait.run(&[&normalize], || {
        let normalized = normalize.metrics().records_in.get();
        if !traffic.exhausted() && traffic.produced() < normalized + RAW_BACKLOG {
            traffic.produce_some(RAW_CHUNK)?;
        }
        let message = format!("produced {} | normalized {normalized}", traffic.produced());
        Ok((message, traffic.exhausted() && normalized >= traffic.produced()))
    });
    if let Err(e) = normalized {
        status.finish_and_clear();
        normalize.stop()?;
        return Err(e);
    }
    // Stage 2: detect over the complete canonical topics; the answers to its actions flow
    // through normalize while it runs.
    let detect = Worker::spawn("detect", Processor::new(cfg, policy)?)?;
    // The kpi processor reads the detect processor's outputs as they are committed.
    let kpi_clock = Arc::new(AtomicI64::new(0));
    let kpi = Worker::spawn("kpi", Processor::kpi(kpi_cfg.clone())?.with_clock(ahead(&kpi_clock)))?;
    let workers = [&normalize, &detect, &kpi];
    let mut exceptions: BTreeMap<String, ExceptionRecord> = BTreeMap::new();
    let mut last_change = Instant::now();
    let mut last_seen = (0, 0, 0, 0, 0);
    let settled = wait.run(&workers, || {
        traffic.collect(&mut exceptions, Duration::from_millis(100))?;
        let normalized = normalize.metrics().records_in.get();
        let published = Metrics::total(&normalize.metrics().outputs);
        let processed = detect.metrics().records_in.get();
        let aggregated = kpi.metrics().records_in.get();
        let now_seen =
            (normalized, processed, traffic.actions_seen(), exceptions.len() as u64, aggregated);
        if now_seen != last_seen {
            last_seen = now_seen;
            last_change = Instant::now();
        }
        let message = format!(
            "produced {} | normalized {} | processed {} | exceptions {} | actions {} | responses {} | kpi {}",
            traffic.produced(),
            normalized,
            processed,
            exceptions.len(),
            traffic.actions_seen(),
            traffic.responses(),
            aggregated,
        );
        let settled = normalized >= traffic.produced()
            && processed >= published
            && aggregated >= kpi_inputs(detect.metrics())
            && last_change.elapsed() >= QUIET;
        Ok((message, settled))
    });
    status.finish_and_clear();
    let (normalize_metrics, detect_metrics, kpi_metrics) =
        (normalize.metrics().clone(), detect.metrics().clone(), kpi.metrics().clone());
    // Upstream first: nothing reaches detect after normalize has stopped, nor kpi after
    // detect. A processor's own failure explains a stage that did not settle, so it is
    // reported first.
    let upstream = [normalize.stop(), detect.stop()];
    if settled.is_ok() && upstream.iter().all(Result::is_ok) {
        close_kpi_windows(&kpi_clock, kpi_cfg.kpi.grace);
    }
    let stopped = upstream.into_iter().chain([kpi.stop()]);
    stopped.collect::<anyhow::Result<Vec<()>>>()?;
    settled?;
    let elapsed = started.elapsed();
    let summary = NormalizeSummary::of(&traffic, &normalize_metrics);
    let kpis = KpiSummary::read(&kpi_cfg, &names.kpi, kpi_metrics.kpi.late.get())?;
    let processed = detect_metrics.records_in.get();
    let report = report::Report::build(&traffic, &exceptions, summary, kpis, processed, elapsed);
    println!("{report}");
    if let Some(path) = &args.report_json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    // Clients first, then the cluster they talk to.
    drop(traffic);
    drop(mock);
    Ok(())
}

/// The system clock plus `offset` ms.
fn ahead(offset: &Arc<AtomicI64>) -> Clock {
    let (offset, system) = (Arc::clone(offset), system_clock());
    Arc::new(move || system().saturating_add(offset.load(Ordering::SeqCst)))
}

/// Moves the kpi processor's clock (`offset`, see [`ahead`]) two hours past `grace`: a task
/// with nothing left to read lets its stream time run on with the wall clock, so every hour
/// up to the run's last one closes on the next tick. Waits for that tick.
fn close_kpi_windows(offset: &AtomicI64, grace: Duration) {
    let jump = grace.saturating_add(Duration::from_secs(2 * 3_600));
    offset.store(i64::try_from(jump.as_millis()).unwrap_or(i64::MAX), Ordering::SeqCst);
    std::thread::sleep(KPI_CLOSE_WAIT);
}

/// Records the detect processor has produced to the kpi processor's inputs.
fn kpi_inputs(detect: &Metrics) -> u64 {
    let outputs = [Output::Exceptions, Output::Audit];
    outputs.iter().map(|o| detect.outputs.with_label_values(&[o.name()]).get()).sum()
}

/// Waiting for a stage, with the live status line and the run's deadline.
struct Wait<'a> {
    status: &'a ProgressBar,
    deadline: Instant,
}

impl Wait<'_> {
    /// Calls `step` (which returns the status line and whether the stage is done) until the
    /// stage is done. Fails when one of `workers` stopped early (stopping it tells why) or at
    /// the deadline.
    fn run(
        &self,
        workers: &[&Worker],
        mut step: impl FnMut() -> anyhow::Result<(String, bool)>,
    ) -> anyhow::Result<()> {
        loop {
            let (message, done) = step()?;
            self.status.set_message(message);
            if done {
                return Ok(());
            }
            if let Some(stopped) = workers.iter().find(|w| w.thread.is_finished()) {
                return Err(anyhow!("the {} processor stopped early", stopped.name));
            }
            if Instant::now() > self.deadline {
                return Err(anyhow!("the demo did not settle within its timeout"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
