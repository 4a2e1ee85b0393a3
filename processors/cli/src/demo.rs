//! `invex demo`: the whole system in one process, with nothing to install.
//!
//! librdkafka's in-process mock cluster stands in for Kafka, the embedded schema resolver for
//! the registry. The simulator's events are produced (Avro, Confluent framing) to the canonical
//! topics; the detect processor runs on its own thread exactly as `invex run` would (consumer
//! group, RocksDB state in a temporary directory, exactly-once transactions); the demo reads the
//! actions back and lets the simulator answer them as the warehouse would (a recount with the
//! physical truth, an approver's decision), closing the loop through Kafka. When everything is
//! processed and quiet, the demo stops the processor and reports what was injected against
//! what was detected.

mod report;
mod traffic;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use invex_detect::Engine;
use invex_model::ExceptionRecord;
use invex_runtime::admin::{create_on_mock, detect_topics};
use invex_runtime::{Processor, RuntimeConfig, Topics};
use invex_sim::{SimConfig, Simulator};
use rdkafka::mocking::MockCluster;

use crate::Failure;
use crate::run::load_policy;
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
    /// Partitions of the canonical topics (= tasks).
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

const APPLICATION: &str = "invex-demo";
const QUIET: Duration = Duration::from_secs(3);

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
    let topics = Topics::new("", APPLICATION);
    let stores: Vec<&str> = Engine::store_names().iter().map(|s| s.as_str()).collect();
    create_on_mock(&mock, &detect_topics(&topics, &stores, args.partitions, args.partitions))?;
    let state_dir = tempfile::tempdir().context("creating a state directory")?;
    let cfg = RuntimeConfig::for_local(&bootstrap, APPLICATION, state_dir.path().to_path_buf());
    let mut traffic = Traffic::new(&cfg, &topics, simulator)?;

    let processor = Processor::new(cfg, policy)?;
    let handle = processor.handle();
    let worker =
        std::thread::Builder::new().name("invex-detect".into()).spawn(move || processor.run())?;

    let status = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    status.enable_steady_tick(Duration::from_millis(120));
    let mut exceptions: BTreeMap<String, ExceptionRecord> = BTreeMap::new();
    let mut last_change = Instant::now();
    let mut last_seen = (0, 0, 0);
    let deadline = started + Duration::from_secs(args.timeout_secs);
    loop {
        traffic.produce_some(20_000)?;
        traffic.collect(&mut exceptions, Duration::from_millis(100))?;
        let processed = handle.metrics.records_in.get();
        let now_seen = (processed, traffic.actions_seen(), exceptions.len() as u64);
        if now_seen != last_seen {
            last_seen = now_seen;
            last_change = Instant::now();
        }
        status.set_message(format!(
            "produced {} | processed {} | exceptions {} | actions {} | responses {}",
            traffic.produced(),
            processed,
            exceptions.len(),
            traffic.actions_seen(),
            traffic.responses()
        ));
        if worker.is_finished() {
            break;
        }
        let settled = traffic.exhausted()
            && processed >= traffic.produced()
            && last_change.elapsed() >= QUIET;
        if settled {
            break;
        }
        if Instant::now() > deadline {
            status.finish_and_clear();
            handle.shutdown();
            return Err(anyhow!("the demo did not settle within {}s", args.timeout_secs));
        }
    }
    status.finish_and_clear();
    handle.shutdown();
    worker.join().map_err(|_| anyhow!("the detect thread panicked"))??;
    let elapsed = started.elapsed();
    let processed = handle.metrics.records_in.get();
    let report = report::Report::build(&traffic, &exceptions, processed, elapsed);
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
