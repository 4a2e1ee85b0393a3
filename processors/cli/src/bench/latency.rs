//! Latency at a fixed offered rate: from an event's produce time to the exception it causes.
//!
//! A rate-limited producer child (`invex bench produce`, hidden) offers the simulator's events
//! to a fresh prefix while invex runs on it, already assigned and ready. The produce time is
//! the input record's Kafka timestamp (CreateTime, set by librdkafka when the record is handed
//! to it). The output side is the wall clock of the harness when a read_committed consumer
//! receives the exception record: the moment a downstream connector could act on it, which
//! under exactly-once includes the transaction commit. The output record's own CreateTime (set
//! by invex's producer before the commit) is kept too. An exception record's cause is the
//! latest-produced count among its source events (the count, or the recount, it evaluates).
//! Everything runs on one machine, so one clock serves both sides.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use invex_model::{CanonicalEvent, CanonicalTopic, ExceptionRecord};
use invex_runtime::ReaderContext;
use invex_runtime::{Codec, Output, Topics};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;

use super::contenders::{ALOS_COMMIT_MS, Ctx, EOS_COMMIT_MS};
use super::error::BenchError;
use super::input::{
    SimSize, client, codec, create_app_topics, create_topics, partition_of, send, sim_events,
};
use super::invex::Instance;
use super::proc::Proc;

/// Arguments of the hidden `invex bench produce` child.
#[derive(Debug, Args)]
pub(crate) struct ProduceArgs {
    /// Bootstrap servers.
    #[arg(long)]
    bootstrap: String,
    /// Schema registry URL.
    #[arg(long)]
    registry: String,
    /// Topic prefix.
    #[arg(long)]
    prefix: String,
    /// Partitions of the canonical topics.
    #[arg(long)]
    partitions: i32,
    /// Events per second.
    #[arg(long)]
    rate: u64,
    /// Events to produce (the first ones of the simulated run).
    #[arg(long)]
    events: usize,
    /// Simulator seed.
    #[arg(long)]
    seed: u64,
    /// Sites.
    #[arg(long)]
    sites: u16,
    /// SKUs per site.
    #[arg(long)]
    skus: u32,
    /// Simulated hours.
    #[arg(long)]
    hours: u32,
}

/// The producer child: offers events at the rate, then prints `produced <n> <seconds>`.
pub(crate) fn produce(args: ProduceArgs) -> Result<(), BenchError> {
    let size = SimSize { seed: args.seed, sites: args.sites, skus: args.skus, hours: args.hours };
    let events = sim_events(size)?;
    let codec = codec(&args.prefix, &args.registry)?;
    let topics = Topics::new(&args.prefix, "bench");
    let producer: BaseProducer = client(&args.bootstrap)
        .set("enable.idempotence", "true")
        .create()
        .map_err(|e| BenchError::Setup(format!("producer: {e}")))?;
    let rate = args.rate.max(1) as f64;
    let mut buf = Vec::new();
    let started = Instant::now();
    let mut sent = 0usize;
    for event in events.iter().take(args.events) {
        let due = Duration::from_secs_f64(sent as f64 / rate);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        codec.encode_event(event, &mut buf).map_err(|e| BenchError::Setup(e.to_string()))?;
        let key = event.partition_key().to_string();
        let partition = partition_of(&key, args.partitions);
        let record = BaseRecord::to(topics.input(event.topic()))
            .key(key.as_str())
            .payload(buf.as_slice())
            .partition(partition);
        send(&producer, record)?;
        sent += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    producer
        .flush(Duration::from_secs(60))
        .map_err(|e| BenchError::run("produce", format!("flush: {e}")))?;
    println!("produced {sent} {elapsed:.3}");
    Ok(())
}

/// The producer child's report line: events and seconds.
pub(crate) fn parse_produced(log: &str) -> Option<(u64, f64)> {
    let line = log.lines().rev().find_map(|l| l.strip_prefix("produced "))?;
    let (n, s) = line.split_once(' ')?;
    Some((n.parse().ok()?, s.trim().parse().ok()?))
}

/// One output record as received.
struct Received {
    at_ms: i64,
    create_ms: Option<i64>,
    value: Vec<u8>,
}

/// A read_committed consumer of the exceptions topic on its own thread.
pub(crate) struct OutputReader {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Result<Vec<Received>, BenchError>>,
    seen: Arc<std::sync::atomic::AtomicU64>,
}

impl OutputReader {
    /// Starts reading `<prefix>exceptions` (all `partitions`) from the beginning.
    pub(crate) fn start(
        bootstrap: &str,
        prefix: &str,
        partitions: i32,
    ) -> Result<Self, BenchError> {
        let consumer = reader(
            bootstrap,
            &Topics::new(prefix, "bench").output(Output::Exceptions),
            partitions,
        )?;
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (stop2, seen2) = (Arc::clone(&stop), Arc::clone(&seen));
        let thread = std::thread::spawn(move || {
            let mut out = Vec::new();
            while !stop2.load(Ordering::SeqCst) {
                match consumer.poll(Duration::from_millis(20)) {
                    Some(Ok(m)) => {
                        out.push(Received {
                            at_ms: now_ms(),
                            create_ms: m.timestamp().to_millis(),
                            value: m.payload().unwrap_or_default().to_vec(),
                        });
                        seen2.fetch_add(1, Ordering::SeqCst);
                    }
                    Some(Err(KafkaError::PartitionEOF(_))) | None => {}
                    Some(Err(e)) => return Err(BenchError::run("latency reader", e.to_string())),
                }
            }
            Ok(out)
        });
        Ok(Self { stop, thread, seen })
    }

    /// Records received so far.
    pub(crate) fn seen(&self) -> u64 {
        self.seen.load(Ordering::SeqCst)
    }

    /// Stops and returns what was received.
    fn finish(self) -> Result<Vec<Received>, BenchError> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().map_err(|_| BenchError::run("latency reader", "panicked"))?
    }
}

/// A read_committed consumer assigned to every partition of `topic` from the beginning.
fn reader(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
) -> Result<BaseConsumer<ReaderContext>, BenchError> {
    let consumer: BaseConsumer<ReaderContext> = client(bootstrap)
        .set("group.id", "invex-bench-reader")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", "10")
        .create_with_context(ReaderContext)
        .map_err(|e| BenchError::Setup(format!("reader: {e}")))?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .map_err(|e| BenchError::Setup(format!("reader: {e}")))?;
    }
    consumer.assign(&tpl).map_err(|e| BenchError::Setup(format!("reader: {e}")))?;
    Ok(consumer)
}

/// Produce time of every count event under `prefix`, by event id.
fn count_times(
    bootstrap: &str,
    codec: &Codec,
    prefix: &str,
    partitions: i32,
) -> Result<HashMap<String, i64>, BenchError> {
    let topic = Topics::new(prefix, "bench").input(CanonicalTopic::Count).to_owned();
    let consumer = reader(bootstrap, &topic, partitions)?;
    let mut times = HashMap::new();
    let (mut eof, deadline) = (0, Instant::now() + Duration::from_secs(60));
    while eof < partitions && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let decoded = codec.decode(CanonicalTopic::Count, m.payload());
                if let (Ok(CanonicalEvent::Count(c)), Some(ts)) =
                    (decoded, m.timestamp().to_millis())
                {
                    times.insert(c.header.event_id, ts);
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) => eof += 1,
            Some(Err(e)) => return Err(BenchError::run("latency", format!("reading counts: {e}"))),
            None => {}
        }
    }
    Ok(times)
}

/// Latency figures of one run, milliseconds.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Latency {
    /// Guarantee.
    pub(crate) guarantee: String,
    /// Commit interval, milliseconds.
    pub(crate) commit_ms: u64,
    /// Offered rate, events per second.
    pub(crate) offered_rate: u64,
    /// Achieved produce rate, events per second.
    pub(crate) achieved_rate: f64,
    /// Exception records measured.
    pub(crate) samples: usize,
    /// Produce to visible at a read_committed consumer.
    pub(crate) visible: Percentiles,
    /// Produce to the exception record's CreateTime.
    pub(crate) created: Percentiles,
}

/// p50, p99 and max.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub(crate) struct Percentiles {
    /// Median.
    pub(crate) p50: i64,
    /// 99th percentile.
    pub(crate) p99: i64,
    /// Maximum.
    pub(crate) max: i64,
}

/// Nearest-rank percentiles of `samples` (sorted in place); zeros when empty.
pub(crate) fn percentiles(samples: &mut [i64]) -> Percentiles {
    if samples.is_empty() {
        return Percentiles::default();
    }
    samples.sort_unstable();
    let rank = |p: f64| {
        let idx = (p / 100.0 * samples.len() as f64).ceil() as usize;
        samples[idx.clamp(1, samples.len()) - 1]
    };
    Percentiles { p50: rank(50.0), p99: rank(99.0), max: samples[samples.len() - 1] }
}

/// Matches received exception records with the produce time of their causing count.
fn evaluate(
    ctx: &Ctx,
    prefix: &str,
    partitions: i32,
    reader: OutputReader,
) -> Result<(Percentiles, Percentiles, usize), BenchError> {
    let received = reader.finish()?;
    let codec = codec(prefix, &ctx.registry)?;
    let times = count_times(&ctx.bootstrap, &codec, prefix, partitions)?;
    let (mut visible, mut created) = (Vec::new(), Vec::new());
    for r in &received {
        let Ok(record) = codec.decode_output::<ExceptionRecord>(Output::Exceptions, &r.value)
        else {
            continue;
        };
        let cause = record.source_event_ids.iter().filter_map(|id| times.get(id)).max();
        if let Some(cause) = cause {
            visible.push(r.at_ms - cause);
            created.extend(r.create_ms.map(|c| c - cause));
        }
    }
    let samples = visible.len();
    Ok((percentiles(&mut visible), percentiles(&mut created), samples))
}

/// The latency run of one guarantee: invex ready on a fresh prefix, then `rate` events per
/// second for `secs` seconds, then quiet (no new exception record for [`QUIET`]).
pub(crate) fn run(
    ctx: &Ctx,
    size: SimSize,
    partitions: i32,
    exactly_once: bool,
    rate: u64,
    secs: u64,
) -> Result<Latency, BenchError> {
    let g = if exactly_once { "exactly-once" } else { "at-least-once" };
    let prefix = ctx.prefix(&format!("latency-{g}"));
    let app = format!("{prefix}invex");
    create_topics(&ctx.bootstrap, &prefix, partitions, &[])?;
    create_app_topics(&ctx.bootstrap, &prefix, &app, partitions)?;
    let commit_ms = if exactly_once { EOS_COMMIT_MS } else { ALOS_COMMIT_MS };
    let instance = Instance {
        bootstrap: ctx.bootstrap.clone(),
        registry: ctx.registry.clone(),
        prefix: prefix.clone(),
        app: app.clone(),
        exactly_once,
        commit_ms,
        instance: "bench-0".into(),
        state_dir: ctx.dir(&format!("state/{app}"))?,
        detectors: &[],
    };
    let logs = ctx.dir("logs")?;
    let mut invex = instance.spawn(&app, &logs)?;
    invex.wait_ready(&app, partitions, ctx.limit)?;
    let reader = OutputReader::start(&ctx.bootstrap, &prefix, partitions)?;
    let exe = std::env::current_exe().map_err(BenchError::io("locating the invex binary"))?;
    let mut command = std::process::Command::new(exe);
    command
        .args(["bench", "produce", "--bootstrap", &ctx.bootstrap, "--prefix", &prefix])
        .args(["--registry", &ctx.registry])
        .args(["--partitions", &partitions.to_string(), "--rate", &rate.to_string()])
        .args(["--events", &(rate * secs).to_string(), "--seed", &size.seed.to_string()])
        .args(["--sites", &size.sites.to_string(), "--skus", &size.skus.to_string()])
        .args(["--hours", &size.hours.to_string()]);
    let log = logs.join(format!("{prefix}produce.log"));
    Proc::spawn("produce", command, &log)?.wait_success(ctx.limit)?;
    let (produced, produce_s) = parse_produced(&std::fs::read_to_string(&log).unwrap_or_default())
        .ok_or_else(|| {
            BenchError::run("produce", format!("no report line in {}", log.display()))
        })?;
    let mut last = (reader.seen(), Instant::now());
    while last.1.elapsed() < QUIET {
        invex.proc.check_alive()?;
        std::thread::sleep(Duration::from_millis(100));
        if reader.seen() != last.0 {
            last = (reader.seen(), Instant::now());
        }
    }
    invex.proc.terminate(Duration::from_secs(10));
    let (visible, created, samples) = evaluate(ctx, &prefix, partitions, reader)?;
    Ok(Latency {
        guarantee: g.to_owned(),
        commit_ms,
        offered_rate: rate,
        achieved_rate: produced as f64 / produce_s.max(1e-9),
        samples,
        visible,
        created,
    })
}

/// How long no new exception record means the run is over: longer than the evaluation
/// grace (2 s) plus the wall-clock tick (1 s).
const QUIET: Duration = Duration::from_secs(4);

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut samples: Vec<i64> = (1..=100).rev().collect();
        assert_eq!(percentiles(&mut samples), Percentiles { p50: 50, p99: 99, max: 100 });
        let mut one = vec![7];
        assert_eq!(percentiles(&mut one), Percentiles { p50: 7, p99: 7, max: 7 });
        assert_eq!(percentiles(&mut []), Percentiles::default());
        let mut skewed = vec![1, 1, 1, 1000];
        assert_eq!(percentiles(&mut skewed), Percentiles { p50: 1, p99: 1000, max: 1000 });
    }

    #[test]
    fn produced_line_is_parsed_from_the_end_of_the_log() {
        assert_eq!(parse_produced("noise\nproduced 200000 10.004\n"), Some((200_000, 10.004)));
        assert_eq!(parse_produced("produced x 1\n"), None);
        assert_eq!(parse_produced(""), None);
    }
}
