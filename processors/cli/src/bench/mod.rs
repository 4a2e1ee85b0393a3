//! `invex bench`: the end-to-end benchmark against a Kafka-protocol broker on loopback.
//!
//! One command measures, one after another on one machine: throughput of the passthrough
//! limit, invex detect and the Quix Streams peer on the same preloaded input (both
//! guarantees), latency at a fixed offered rate, recovery after SIGKILL, and scaling over
//! partitions and instances; then it writes `<out>/<date>-<host>.json` and `.md` and prints
//! the table. Every measured program is a child process (invex as `invex run` with a generated
//! configuration, the passthrough and the rate-limited producer as hidden `invex bench`
//! subcommands of this same binary, the peer as a Python child) so CPU time and peak memory
//! are read per program from `/proc`. benches/README.md explains each figure.
//!
//! Invariants: every run uses its own topic prefix (no run reads another's records) and its
//! own consumer group; no child outlives the harness (children are killed on drop).

mod contenders;
mod error;
mod input;
mod invex;
mod latency;
mod measure;
mod passthrough;
mod peer;
mod proc;
mod recovery;
mod report;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};

use contenders::{Ctx, Input, Rules};
use error::BenchError;
use input::{SimSize, create_topics, preload, sim_events};
use measure::Throughput;
use report::{CYCLE_COUNT_ALOS, CYCLE_COUNT_EOS, Machine, Report};

/// Arguments of `invex bench`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct BenchArgs {
    #[command(subcommand)]
    child: Option<ChildCommand>,
    /// Broker (`tests/broker/stack start` runs tansu here).
    #[arg(long, default_value = "127.0.0.1:19092")]
    bootstrap: String,
    /// Schema registry (the stack's rivven-schema): invex reads prefixed topics through it.
    #[arg(long, default_value = "http://127.0.0.1:18081")]
    registry: String,
    /// File holding the broker's pid, to report its CPU time (skipped when absent).
    #[arg(long, env = "INVEX_BENCH_BROKER_PID_FILE")]
    broker_pid_file: Option<PathBuf>,
    /// Python with quixstreams for the peer (`tests/broker/stack install-peer`).
    #[arg(long, env = "INVEX_BENCH_PYTHON")]
    python: Option<PathBuf>,
    /// The peer program.
    #[arg(long, default_value = "benches/peer/cycle_count.py")]
    peer_script: PathBuf,
    /// Avro schemas (for the peer).
    #[arg(long, default_value = "schemas")]
    schemas: PathBuf,
    /// Where the JSON and markdown results go.
    #[arg(long, default_value = "benches/results")]
    out: PathBuf,
    /// Simulator seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Simulated sites.
    #[arg(long, default_value_t = 2)]
    sites: u16,
    /// SKUs per site.
    #[arg(long, default_value_t = 500)]
    skus: u32,
    /// Simulated hours.
    #[arg(long, default_value_t = 8)]
    hours: u32,
    /// Partitions of the throughput input.
    #[arg(long, default_value_t = 4)]
    partitions: i32,
    /// Offered rate of the latency runs, events per second.
    #[arg(long, default_value_t = 20_000)]
    rate: u64,
    /// Length of each latency run, seconds.
    #[arg(long, default_value_t = 5)]
    latency_secs: u64,
    /// Skip the peer (no Python needed).
    #[arg(long)]
    skip_peer: bool,
    /// Skip the latency runs.
    #[arg(long)]
    skip_latency: bool,
    /// Skip the scaling runs.
    #[arg(long)]
    skip_scaling: bool,
    /// Longest one run may take, seconds.
    #[arg(long, default_value_t = 300)]
    run_limit_secs: u64,
}

#[derive(Debug, Subcommand)]
enum ChildCommand {
    /// The passthrough limit (a child of the harness).
    #[command(hide = true)]
    Passthrough(passthrough::PassthroughArgs),
    /// The rate-limited producer of the latency runs (a child of the harness).
    #[command(hide = true)]
    Produce(latency::ProduceArgs),
}

/// Runs `invex bench` or one of its hidden children.
pub(crate) fn bench(args: BenchArgs) -> Result<(), crate::Failure> {
    let result = match args.child {
        Some(ChildCommand::Passthrough(a)) => passthrough::run(a),
        Some(ChildCommand::Produce(a)) => latency::produce(a),
        None => harness(&args),
    };
    result.map_err(crate::Failure::from)
}

fn harness(args: &BenchArgs) -> Result<(), BenchError> {
    let started = Instant::now();
    let started_at = utc_now();
    let machine = Machine::this();
    let peer = (!args.skip_peer).then(|| peer_of(args)).transpose()?;
    let work = tempfile::Builder::new()
        .prefix("invex-bench-")
        .tempdir()
        .map_err(BenchError::io("creating a work directory"))?
        .keep();
    let ctx = Ctx {
        bootstrap: args.bootstrap.clone(),
        registry: args.registry.clone(),
        broker: broker_pid(args),
        work,
        run_id: format!("bench{}", latency::now_ms() % 1_000_000_000),
        limit: Duration::from_secs(args.run_limit_secs),
    };
    let size = SimSize { seed: args.seed, sites: args.sites, skus: args.skus, hours: args.hours };
    eprintln!("bench: simulating {size:?}; logs in {}", ctx.work.display());
    let events = sim_events(size)?;
    let main = load(&ctx, "main", args.partitions, &events)?;
    let mut report = Report {
        started: started_at,
        total_s: 0.0,
        machine,
        input: size,
        input_events: main.ends.values().sum(),
        partitions: args.partitions,
        throughput: Vec::new(),
        latency: Vec::new(),
        recovery: None,
        scaling: Vec::new(),
    };
    throughput(&ctx, &main, peer.as_ref(), &mut report)?;
    if !args.skip_latency {
        for exactly_once in [false, true] {
            let l = latency::run(
                &ctx,
                size,
                args.partitions,
                exactly_once,
                args.rate,
                args.latency_secs,
            )?;
            eprintln!("bench: latency {l:?}");
            report.latency.push(l);
        }
    }
    if !args.skip_scaling {
        scaling(&ctx, &main, &events, &mut report)?;
    }
    report.total_s = started.elapsed().as_secs_f64();
    write(args, &report)
}

/// The contenders on the main input, and recovery from invex exactly-once's state; with the
/// peer, invex again running only what the peer runs (the cycle-count rule).
fn throughput(
    ctx: &Ctx,
    main: &Input,
    peer: Option<&peer::Peer>,
    report: &mut Report,
) -> Result<(), BenchError> {
    for exactly_once in [false, true] {
        note(contenders::passthrough(ctx, main, exactly_once)?, &mut report.throughput);
    }
    let (alos, running) =
        contenders::invex(ctx, main, "invex at-least-once", false, Rules::All, &["bench-0"])?;
    running.into_iter().for_each(|r| r.proc.terminate(Duration::from_secs(10)));
    note(alos, &mut report.throughput);
    let (eos, mut running) =
        contenders::invex(ctx, main, "invex exactly-once", true, Rules::All, &["bench-0"])?;
    note(eos.clone(), &mut report.throughput);
    let mut four = eos;
    four.name = format!("1 instance, {} partitions", main.partitions);
    report.scaling.push(four);
    if let Some(measured) = running.pop() {
        let r = recovery::recovery(ctx, main, measured)?;
        eprintln!("bench: recovery {r:?}");
        report.recovery = Some(r);
    }
    if let Some(peer) = peer {
        for exactly_once in [true, false] {
            note(contenders::peer(ctx, peer, main, exactly_once)?, &mut report.throughput);
        }
        for (exactly_once, name) in [(true, CYCLE_COUNT_EOS), (false, CYCLE_COUNT_ALOS)] {
            let (t, running) =
                contenders::invex(ctx, main, name, exactly_once, Rules::CycleCount, &["bench-0"])?;
            running.into_iter().for_each(|r| r.proc.terminate(Duration::from_secs(10)));
            note(t, &mut report.throughput);
        }
    }
    Ok(())
}

/// Prints one result and keeps it.
fn note(t: Throughput, into: &mut Vec<Throughput>) {
    eprintln!("bench: {} {:.0} ev/s, {:.0} ev/s per core", t.name, t.per_second(), t.per_core());
    into.push(t);
}

/// invex exactly-once with 1 and 2 partitions (fresh inputs of the same events) and with two
/// instances sharing the main input.
fn scaling(
    ctx: &Ctx,
    main: &Input,
    events: &[invex_model::CanonicalEvent],
    report: &mut Report,
) -> Result<(), BenchError> {
    for partitions in [1, 2] {
        let input = load(ctx, &format!("p{partitions}"), partitions, events)?;
        let name = format!("1 instance, {partitions} partition(s)");
        let (t, running) = contenders::invex(ctx, &input, &name, true, Rules::All, &["bench-0"])?;
        running.into_iter().for_each(|r| r.proc.terminate(Duration::from_secs(10)));
        eprintln!("bench: {name}: {:.0} ev/s", t.per_second());
        report.scaling.insert(report.scaling.len().saturating_sub(1), t);
    }
    let name = format!("2 instances, {} partitions", main.partitions);
    let (t, running) =
        contenders::invex(ctx, main, &name, true, Rules::All, &["bench-a", "bench-b"])?;
    running.into_iter().for_each(|r| r.proc.terminate(Duration::from_secs(10)));
    eprintln!("bench: {name}: {:.0} ev/s", t.per_second());
    report.scaling.push(t);
    Ok(())
}

/// Creates the topics of a fresh prefix and preloads `events`.
fn load(
    ctx: &Ctx,
    name: &str,
    partitions: i32,
    events: &[invex_model::CanonicalEvent],
) -> Result<Input, BenchError> {
    let prefix = ctx.prefix(name);
    let extra = [passthrough::output_topic(&prefix)];
    create_topics(&ctx.bootstrap, &prefix, partitions, &extra)?;
    let started = Instant::now();
    let ends = preload(&ctx.bootstrap, &ctx.registry, &prefix, partitions, events)?;
    eprintln!(
        "bench: preloaded {} events to {prefix}* in {:.1}s",
        events.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(Input { prefix, partitions, ends })
}

fn peer_of(args: &BenchArgs) -> Result<peer::Peer, BenchError> {
    let python = args.python.clone().unwrap_or_else(|| tools_dir().join("venv/bin/python"));
    let peer = peer::Peer {
        bootstrap: args.bootstrap.clone(),
        python,
        script: args.peer_script.clone(),
        schemas: args.schemas.clone(),
    };
    peer.check()?;
    Ok(peer)
}

/// `$INVEX_TOOLS`, else `~/.cache/invex-tools` (as `tests/broker/stack`).
fn tools_dir() -> PathBuf {
    std::env::var_os("INVEX_TOOLS").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        home.join(".cache/invex-tools")
    })
}

/// The broker's pid from `--broker-pid-file`, else from the stack's default run directory.
fn broker_pid(args: &BenchArgs) -> Option<u32> {
    let file = args.broker_pid_file.clone().unwrap_or_else(|| {
        let tmp = std::env::var_os("TMPDIR").map(PathBuf::from).unwrap_or_else(|| "/tmp".into());
        tmp.join("invex-stack/broker.pid")
    });
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

fn write(args: &BenchArgs, report: &Report) -> Result<(), BenchError> {
    std::fs::create_dir_all(&args.out)
        .map_err(BenchError::io(format!("{}", args.out.display())))?;
    let stem = format!("{}-{}", &report.started[..10], report.machine.host);
    let json = args.out.join(format!("{stem}.json"));
    let md = args.out.join(format!("{stem}.md"));
    let text =
        serde_json::to_string_pretty(report).map_err(|e| BenchError::Setup(e.to_string()))?;
    std::fs::write(&json, text).map_err(BenchError::io(format!("{}", json.display())))?;
    let table = report.markdown();
    std::fs::write(&md, &table).map_err(BenchError::io(format!("{}", md.display())))?;
    println!("{table}");
    eprintln!("bench: wrote {} and {}", json.display(), md.display());
    Ok(())
}

/// Now, UTC, RFC 3339 to the second (civil-from-days, no time-zone database needed).
fn utc_now() -> String {
    rfc3339(latency::now_ms() / 1000)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_798_418_096), "2026-12-28T00:34:56Z");
    }
}
