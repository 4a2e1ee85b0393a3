//! `invex run` and `invex config check`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, anyhow};
use clap::Args;
use invex_detect::Policy;
use invex_runtime::normalize::Normalizer;
use invex_runtime::{Processor, ProcessorKind, RuntimeConfig};

use crate::Failure;

/// Arguments of `invex run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Configuration file (TOML); `INVEX_*` environment variables override it.
    #[arg(long)]
    config: PathBuf,
    /// Processor to run: `detect` (canonical topics through the detectors), `normalize`
    /// (raw vendor topics to the canonical topics) or `kpi` (exceptions and audit records to
    /// hourly KPIs on the `kpi` topic and Prometheus).
    #[arg(long, default_value = "detect", value_parser = parse_processor)]
    processor: ProcessorKind,
}

fn parse_processor(name: &str) -> Result<ProcessorKind, String> {
    ProcessorKind::ALL.into_iter().find(|kind| kind.name() == name).ok_or_else(|| {
        let names: Vec<&str> = ProcessorKind::ALL.iter().map(|k| k.name()).collect();
        format!("unknown processor {name:?} (expected one of: {})", names.join(", "))
    })
}

/// Loads a configuration file with environment overrides (the detect processor's defaults).
pub(crate) fn load_config(path: &Path) -> Result<RuntimeConfig, Failure> {
    load_config_for(ProcessorKind::Detect, path)
}

/// Loads a configuration file with environment overrides and `processor`'s defaults.
pub(crate) fn load_config_for(
    processor: ProcessorKind,
    path: &Path,
) -> Result<RuntimeConfig, Failure> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading configuration {}", path.display()))
        .map_err(Failure::Input)?;
    RuntimeConfig::load_for(processor, &text, std::env::vars())
        .map_err(|e| Failure::Input(anyhow!("{}: {e}", path.display())))
}

/// Loads the source files the configuration names (every problem of every file at once), or
/// the shipped ones.
pub(crate) fn load_sources(cfg: &RuntimeConfig) -> Result<Normalizer, Failure> {
    cfg.normalize.load_sources().map_err(|e| Failure::Input(e.into()))
}

/// Loads the policy the configuration names, or the embedded default.
pub(crate) fn load_policy(path: Option<&Path>) -> Result<Policy, Failure> {
    let Some(path) = path else { return Ok(Policy::default_policy()) };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading policy {}", path.display()))
        .map_err(Failure::Input)?;
    Policy::from_toml_str(&text).map_err(|e| Failure::Input(anyhow!("{}: {e}", path.display())))
}

/// Checks everything a configuration names: the policy and the source files.
pub(crate) fn config_check(path: &Path) -> Result<(), Failure> {
    let cfg = load_config(path)?;
    load_policy(cfg.policy_file.as_deref())?;
    load_sources(&cfg)?;
    print!("{}", cfg.redacted());
    Ok(())
}

/// Builds the processor `kind` for `cfg`, with its policy, its sources or its KPI settings.
fn processor(kind: ProcessorKind, cfg: RuntimeConfig) -> Result<Processor, Failure> {
    match kind {
        ProcessorKind::Detect => {
            let policy = load_policy(cfg.policy_file.as_deref())?;
            tracing::info!(policy = policy.version(), detectors = %cfg.detectors, "policy loaded");
            Ok(Processor::new(cfg, policy)?)
        }
        ProcessorKind::Normalize => {
            let normalizer = load_sources(&cfg)?;
            let sources: Vec<&str> = normalizer.sources().iter().map(|s| s.name()).collect();
            tracing::info!(?sources, "sources loaded");
            Ok(Processor::normalize(cfg, normalizer)?)
        }
        ProcessorKind::Kpi => {
            tracing::info!(grace_ms = cfg.kpi.grace.as_millis() as u64, "kpi windows");
            Ok(Processor::kpi(cfg)?)
        }
    }
}

pub(crate) fn run(args: RunArgs) -> Result<(), Failure> {
    let cfg = load_config_for(args.processor, &args.config)?;
    tracing::info!(processor = args.processor.name(), "starting\n{}", cfg.redacted());
    let admin = cfg.admin_listen;
    let shutdown_timeout = cfg.shutdown_timeout;
    let processor = processor(args.processor, cfg)?;
    let handle = processor.handle();
    if let Some(listen) = admin {
        invex_runtime::serve_admin(listen, handle.clone())?;
        tracing::info!(%listen, "admin endpoints: /metrics /health/live /health/ready");
    }
    let stop = Arc::new(AtomicBool::new(false));
    spawn_signal_watcher(Arc::clone(&stop));
    let watcher_handle = handle.clone();
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        tracing::info!("shutdown requested: committing and closing");
        watcher_handle.shutdown();
        // A commit stuck on an unreachable broker must not keep a pod from terminating. The
        // open transaction is never committed then: the broker aborts it (or the next
        // instance fences it) and local state, which never runs ahead of Kafka, replays it.
        std::thread::sleep(shutdown_timeout);
        tracing::error!(
            timeout_ms = shutdown_timeout.as_millis() as u64,
            "shutdown did not finish within application.shutdown_timeout_ms; exiting, the open batch will be replayed"
        );
        std::process::exit(1);
    });
    processor.run().map_err(Failure::from)
}

/// Sets `stop` on SIGINT or SIGTERM.
fn spawn_signal_watcher(stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            return;
        };
        rt.block_on(async {
            let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            else {
                return;
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        });
        stop.store(true, Ordering::SeqCst);
    });
}
