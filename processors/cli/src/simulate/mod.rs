//! `invex simulate`: the simulator's traffic, as the warehouse's systems would send it.
//!
//! The seeded simulator runs for `--duration` of warehouse time; every event is rendered as
//! its vendor's raw record (see `raw`) and produced to the raw topics of a cluster (`--config`
//! as for `invex run`, or `--bootstrap`) at `--rate` records per second of wall-clock time,
//! with a progress bar, or written to `--to-file` as JSON lines for `invex replay`. The
//! ground truth goes to `--truth` first, so it exists even if the run is interrupted.
//!
//! The RF-scanner gateway's scans and counts are Avro: before producing, its writer schema is
//! registered with the configuration's schema registry (as a Confluent serializer registers
//! its schema) and its records carry the id the registry answers; without a registry
//! (`--bootstrap`, or a configuration that sets no `schema.registry_url`) they carry the
//! embedded schema's id, which is what a normalize processor on the embedded schemas reads.
//!
//! Nobody answers invex's actions here (the loop is open), so the truth expects each count
//! discrepancy with the root cause its opening evidence gives. Producing only: the normalize
//! processor maps the raw topics to the canonical ones.

mod raw;
mod sink;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use invex_runtime::{EmbeddedResolver, SchemaResolver, base_client_config, resolver_for};
use invex_sim::{FaultRates, SimConfig, Simulator};

use crate::Failure;
use crate::run::load_config;
#[cfg(test)]
pub(crate) use raw::raw_record;
pub(crate) use raw::{AvroIds, RawRecord};
use sink::Sink;

/// Arguments of `invex simulate`.
#[derive(Debug, Args)]
pub(crate) struct SimulateArgs {
    /// Records per second of wall-clock time (0: as fast as the sink takes them).
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// Simulated warehouse time, e.g. `8h`, `90m`, `2days`.
    #[arg(long, default_value = "8h", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Simulator seed: same seed, same traffic and truth.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Sites to simulate.
    #[arg(long, default_value_t = 2)]
    sites: u16,
    /// SKUs per site.
    #[arg(long, default_value_t = 2000)]
    skus: u32,
    /// Raise the rare faults so that every exception type shows several times.
    #[arg(long)]
    benchmark: bool,
    /// Deployment configuration (bootstrap servers, Kafka properties, topic prefix, schema
    /// registry for the Avro vendor's writer schema), as for `invex run`.
    #[arg(long, conflicts_with_all = ["bootstrap", "to_file"])]
    config: Option<PathBuf>,
    /// Bootstrap servers, without a configuration file (Avro records then carry the embedded
    /// schema ids).
    #[arg(long, conflicts_with = "to_file")]
    bootstrap: Option<String>,
    /// Topic prefix (default: the configuration's, else none).
    #[arg(long)]
    topic_prefix: Option<String>,
    /// Write the raw records to this file (JSON lines) instead of a cluster.
    #[arg(long)]
    to_file: Option<PathBuf>,
    /// Where to write the ground truth (JSON).
    #[arg(long, default_value = "truth.json")]
    truth: PathBuf,
}

pub(crate) fn simulate(args: SimulateArgs) -> Result<(), Failure> {
    let (sink, prefix) = open_sink(&args)?;
    let duration_ms = i64::try_from(args.duration.as_millis())
        .map_err(|_| Failure::Input(anyhow!("--duration is too long")))?;
    let config = SimConfig {
        seed: args.seed,
        sites: args.sites,
        skus_per_site: args.skus,
        duration_ms,
        close_loop: false,
        faults: if args.benchmark { FaultRates::benchmark() } else { FaultRates::default() },
        ..SimConfig::default()
    };
    let simulator =
        Simulator::new(config).map_err(|e| Failure::Input(anyhow!("simulator: {e}")))?;
    let truth = serde_json::to_vec_pretty(&simulator.truth_file())
        .map_err(|e| Failure::Runtime(e.into()))?;
    std::fs::write(&args.truth, truth)
        .with_context(|| format!("writing {}", args.truth.display()))
        .map_err(Failure::Input)?;
    let expected = simulator.stats().expected_exceptions;
    let sent = produce(simulator, sink, &prefix, args.rate).map_err(Failure::Runtime)?;
    let target =
        args.to_file.as_ref().map_or_else(|| "the cluster".to_owned(), |f| f.display().to_string());
    println!(
        "produced {sent} raw records to {target}; ground truth ({expected} expected exceptions) -> {}",
        args.truth.display()
    );
    Ok(())
}

/// The sink the arguments name, and the topic prefix (`--topic-prefix`, else the
/// configuration's, else none).
fn open_sink(args: &SimulateArgs) -> Result<(Sink, String), Failure> {
    let prefix = |config: &str| args.topic_prefix.clone().unwrap_or_else(|| config.to_owned());
    if let Some(path) = &args.to_file {
        return Ok((Sink::file(path).map_err(Failure::Input)?, prefix("")));
    }
    let (base, prefix, resolver): (_, _, Arc<dyn SchemaResolver>) =
        match (&args.config, &args.bootstrap) {
            (Some(path), _) => {
                let cfg = load_config(path)?;
                let resolver = resolver_for(&cfg.schema)
                    .map_err(|e| Failure::Input(anyhow!("schemas: {e}")))?;
                (base_client_config(&cfg), prefix(&cfg.topic_prefix), resolver)
            }
            (None, Some(bootstrap)) => {
                let mut base = rdkafka::ClientConfig::new();
                base.set("bootstrap.servers", bootstrap);
                let resolver = EmbeddedResolver::new()
                    .map_err(|e| Failure::Runtime(anyhow!("embedded schemas: {e}")))?;
                (base, prefix(""), Arc::new(resolver))
            }
            (None, None) => {
                return Err(Failure::Input(anyhow!("give --config, --bootstrap or --to-file")));
            }
        };
    let ids = AvroIds::register(resolver.as_ref(), &prefix).map_err(Failure::Input)?;
    Ok((Sink::kafka(base, ids).map_err(Failure::Input)?, prefix))
}

/// Produces every event of `simulator`, paced at `rate` records per second.
fn produce(
    mut simulator: Simulator,
    mut sink: Sink,
    prefix: &str,
    rate: u32,
) -> anyhow::Result<u64> {
    let progress = ProgressBar::new(simulator.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} records {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let mut sent = 0_u64;
    while let Some(event) = simulator.next_event() {
        sink.send(prefix, &event)?;
        sent += 1;
        if rate > 0 && sent.is_multiple_of(64) {
            pace(started, sent, rate);
        }
        if sent.is_multiple_of(256) {
            progress.set_position(sent);
        }
    }
    progress.set_position(sent);
    sink.finish()?;
    progress.finish_and_clear();
    Ok(sent)
}

/// Sleeps until `sent` records are due at `rate` per second since `started`.
fn pace(started: Instant, sent: u64, rate: u32) {
    let due = Duration::from_secs_f64(sent as f64 / f64::from(rate));
    if let Some(wait) = due.checked_sub(started.elapsed()) {
        std::thread::sleep(wait);
    }
}
