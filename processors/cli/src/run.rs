//! `invex run` and `invex config check`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, anyhow};
use clap::Args;
use invex_detect::Policy;
use invex_runtime::{Processor, RuntimeConfig};

use crate::Failure;

/// Arguments of `invex run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Configuration file (TOML); `INVEX_*` environment variables override it.
    #[arg(long)]
    config: PathBuf,
    /// Processor to run.
    #[arg(long, default_value = "detect", value_parser = ["detect"])]
    processor: String,
}

/// Loads a configuration file with environment overrides.
pub(crate) fn load_config(path: &Path) -> Result<RuntimeConfig, Failure> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading configuration {}", path.display()))
        .map_err(Failure::Input)?;
    RuntimeConfig::load(&text, std::env::vars())
        .map_err(|e| Failure::Input(anyhow!("{}: {e}", path.display())))
}

/// Loads the policy the configuration names, or the embedded default.
pub(crate) fn load_policy(path: Option<&Path>) -> Result<Policy, Failure> {
    let Some(path) = path else { return Ok(Policy::default_policy()) };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading policy {}", path.display()))
        .map_err(Failure::Input)?;
    Policy::from_toml_str(&text).map_err(|e| Failure::Input(anyhow!("{}: {e}", path.display())))
}

pub(crate) fn config_check(path: &Path) -> Result<(), Failure> {
    let cfg = load_config(path)?;
    load_policy(cfg.policy_file.as_deref())?;
    print!("{}", cfg.redacted());
    Ok(())
}

pub(crate) fn run(args: RunArgs) -> Result<(), Failure> {
    let cfg = load_config(&args.config)?;
    let policy = load_policy(cfg.policy_file.as_deref())?;
    tracing::info!(processor = %args.processor, policy = policy.version(), "starting\n{}", cfg.redacted());
    let admin = cfg.admin_listen;
    let shutdown_timeout = cfg.shutdown_timeout;
    let processor = Processor::new(cfg, policy)?;
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
