//! `invex`: the one binary. `run` a processor against a cluster, `demo` everything in one
//! process on librdkafka's mock cluster, `replay` a file of canonical events through the
//! detectors, manage `topology` and `schemas`, and `config check` a configuration.
//!
//! Errors end the process with a message naming what is at fault and a non-zero exit code:
//! 2 for bad input (configuration, files, arguments), 1 for runtime failures.

mod bench;
mod demo;
mod evaluate;
mod replay;
mod run;
mod schemas;
mod simulate;
mod topology;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// jemalloc instead of glibc's allocator: the hot path allocates small buffers for every state
/// read and decoded value, and RocksDB recommends jemalloc for its block cache and memtables.
/// The workspace enables `unprefixed_malloc_on_supported_platforms`, so jemalloc also serves
/// RocksDB's and librdkafka's own `malloc` calls (benches/README.md, "Allocator").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Real-time warehouse inventory exception detection on Kafka.
#[derive(Debug, Parser)]
#[command(name = "invex", version, about)]
struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a processor against a Kafka cluster.
    Run(run::RunArgs),
    /// Run the simulator, the mock cluster and the normalize, detect and kpi processors in one
    /// process, then report.
    Demo(demo::DemoArgs),
    /// Run the detectors over a file of canonical events and write their outputs.
    Replay(replay::ReplayArgs),
    /// Produce simulator traffic as raw vendor records to a cluster or a file, with its truth.
    Simulate(simulate::SimulateArgs),
    /// Score detected exceptions against a simulator's ground truth.
    Evaluate(evaluate::EvaluateArgs),
    /// Create or verify the topics of a deployment.
    Topology {
        #[command(subcommand)]
        action: topology::TopologyCommand,
    },
    /// Measure throughput, latency, recovery and scaling against a broker on loopback.
    Bench(bench::BenchArgs),
    /// Check or register the value schemas of a deployment in its Schema Registry.
    Schemas {
        #[command(subcommand)]
        action: schemas::SchemasCommand,
    },
    /// Check a configuration file and print the effective, redacted configuration.
    Config {
        #[command(subcommand)]
        action: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate FILE (with INVEX_* overrides) and print it with secrets masked.
    Check {
        /// Configuration file (TOML).
        file: PathBuf,
    },
}

/// A failure, with the exit code it maps to.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Bad input: configuration, file, arguments.
    Input(anyhow::Error),
    /// The run failed.
    Runtime(anyhow::Error),
}

impl From<invex_runtime::RuntimeError> for Failure {
    fn from(e: invex_runtime::RuntimeError) -> Self {
        match e {
            invex_runtime::RuntimeError::Setup(_) => Self::Input(e.into()),
            other => Self::Runtime(other.into()),
        }
    }
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("INVEX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rdkafka=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Demo(args) => demo::demo(args),
        Command::Replay(args) => replay::replay(args),
        Command::Simulate(args) => simulate::simulate(args),
        Command::Evaluate(args) => evaluate::evaluate_command(args),
        Command::Topology { action } => topology::topology(action),
        Command::Bench(args) => bench::bench(args),
        Command::Schemas { action } => schemas::schemas(action),
        Command::Config { action: ConfigCommand::Check { file } } => run::config_check(&file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(e)) => {
            eprintln!("invex: {e:#}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(e)) => {
            eprintln!("invex: {e:#}");
            ExitCode::from(1)
        }
    }
}
