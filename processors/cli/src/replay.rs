//! `invex replay`: the detectors over a file of canonical events, without a cluster.
//!
//! Input: JSON lines, one `CanonicalEvent` each (`{"topic":"wh.count","value":{...}}`; see the
//! README), or raw vendor records as `invex simulate --to-file` writes them
//! (`{"source":"wms-webhook","topic":...,"key":...,"payload":{...}}`), which are normalized
//! with the vendor mappings (`--sources`, default the shipped `topology/sources/*.toml`)
//! exactly as the normalize processor would; both may be mixed. A line that cannot be parsed
//! or normalized is dead-lettered. Events are processed in file order by one engine (as one task would, so stream
//! time is the highest event time of the file so far); the wall clock follows event time, so
//! a replay of history behaves as the live system did. After the last line the wall clock is
//! advanced by `--drain-ms` so that evaluations still waiting for their grace period complete.
//!
//! Output: JSON lines `{"kind":"exception"|"action"|"audit","value":{...}}`, and for every
//! input line that could not be used `{"kind":"dlq","line":N,"error":"..."}` (the run goes on).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use invex_detect::{Engine, MemStore, Outputs};
use invex_model::CanonicalEvent;
use invex_runtime::normalize::Normalizer;
use serde::Serialize;

use crate::Failure;
use crate::run::load_policy;
use crate::simulate::RawRecord;

/// Arguments of `invex replay`.
#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// Canonical events, one JSON object per line.
    #[arg(long)]
    input: PathBuf,
    /// Where to write exceptions, actions and audit records (JSON lines).
    #[arg(long)]
    output: PathBuf,
    /// Policy file (default: the embedded policy).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// How far to advance the wall clock after the last event, in milliseconds.
    #[arg(long, default_value_t = 60_000)]
    drain_ms: i64,
    /// Directory of vendor source mappings for raw lines (default: the shipped ones).
    #[arg(long)]
    sources: Option<PathBuf>,
}

/// The canonical events of one input line.
fn parse_line(line: &str, normalizer: &Normalizer) -> Result<Vec<CanonicalEvent>, String> {
    let value: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    if value.get("payload").is_none() {
        return serde_json::from_value(value).map(|e| vec![e]).map_err(|e| e.to_string());
    }
    let raw: RawRecord = serde_json::from_value(value).map_err(|e| e.to_string())?;
    let bytes = serde_json::to_vec(&raw.payload).map_err(|e| e.to_string())?;
    let normalized = normalizer.normalize(&raw.source, &bytes).map_err(|e| e.to_string())?;
    Ok(normalized.into_iter().map(|n| n.event).collect())
}

#[derive(Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
enum Line<'a> {
    Exception(&'a invex_model::ExceptionRecord),
    Action(&'a invex_model::ActionCommand),
    Audit(&'a invex_model::AuditRecord),
}

#[derive(Serialize)]
struct DeadLine<'a> {
    kind: &'static str,
    line: usize,
    error: &'a str,
}

/// Counts of one replay.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ReplayCounts {
    pub(crate) events: u64,
    pub(crate) rejected: u64,
    pub(crate) exceptions: u64,
    pub(crate) actions: u64,
    pub(crate) audit: u64,
}

fn write_outputs(
    out: &mut impl Write,
    outputs: &mut Outputs,
    counts: &mut ReplayCounts,
) -> std::io::Result<()> {
    for e in &outputs.exceptions {
        serde_json::to_writer(&mut *out, &Line::Exception(e))?;
        out.write_all(b"\n")?;
    }
    for a in &outputs.actions {
        serde_json::to_writer(&mut *out, &Line::Action(a))?;
        out.write_all(b"\n")?;
    }
    for a in &outputs.audit {
        serde_json::to_writer(&mut *out, &Line::Audit(a))?;
        out.write_all(b"\n")?;
    }
    counts.exceptions += outputs.exceptions.len() as u64;
    counts.actions += outputs.actions.len() as u64;
    counts.audit += outputs.audit.len() as u64;
    outputs.clear();
    Ok(())
}

/// Writes the dead-letter line of input line `line`, naming file and line.
fn write_dead(
    out: &mut impl Write,
    input: &std::path::Path,
    line: usize,
    error: &dyn std::fmt::Display,
) -> std::io::Result<()> {
    let error = format!("{}:{line}: {error}", input.display());
    serde_json::to_writer(&mut *out, &DeadLine { kind: "dlq", line, error: &error })?;
    out.write_all(b"\n")
}

/// Replays `input` into `output`.
pub(crate) fn replay_files(
    input: &std::path::Path,
    output: &std::path::Path,
    policy: invex_detect::Policy,
    normalizer: &Normalizer,
    drain_ms: i64,
    progress: &ProgressBar,
) -> anyhow::Result<ReplayCounts> {
    let reader =
        BufReader::new(File::open(input).with_context(|| format!("opening {}", input.display()))?);
    let mut out = BufWriter::new(
        File::create(output).with_context(|| format!("creating {}", output.display()))?,
    );
    let mut engine = Engine::new(Arc::new(policy));
    let mut store = MemStore::default();
    let mut outputs = Outputs::default();
    let mut counts = ReplayCounts::default();
    let mut clock = i64::MIN;
    for (index, line) in reader.lines().enumerate() {
        let line =
            line.with_context(|| format!("reading {} line {}", input.display(), index + 1))?;
        progress.inc(line.len() as u64 + 1);
        if line.trim().is_empty() {
            continue;
        }
        let events = match parse_line(&line, normalizer) {
            Ok(events) => events,
            Err(e) => {
                counts.rejected += 1;
                write_dead(&mut out, input, index + 1, &e)?;
                continue;
            }
        };
        for event in events {
            clock = clock.max(event.header().event_time);
            engine.on_wall_clock(clock, &mut store, &mut outputs)?;
            match engine.process(&event, clock, &mut store, &mut outputs) {
                Ok(_) => counts.events += 1,
                Err(e) if e.is_poison() => {
                    counts.rejected += 1;
                    write_dead(&mut out, input, index + 1, &e)?;
                }
                Err(e) => {
                    let line = index + 1;
                    return Err(e).with_context(|| format!("{} line {line}", input.display()));
                }
            }
            // One engine plays every task: what a task would send another through a
            // repartition topic comes straight back.
            engine.loop_back(clock, &mut store, &mut outputs)?;
            write_outputs(&mut out, &mut outputs, &mut counts)?;
        }
    }
    if clock > i64::MIN {
        let drained = clock.saturating_add(drain_ms);
        engine.on_wall_clock(drained, &mut store, &mut outputs)?;
        engine.loop_back(drained, &mut store, &mut outputs)?;
        write_outputs(&mut out, &mut outputs, &mut counts)?;
    }
    out.flush()?;
    Ok(counts)
}

pub(crate) fn replay(args: ReplayArgs) -> Result<(), Failure> {
    let policy = load_policy(args.policy.as_deref())?;
    let normalizer = match &args.sources {
        Some(dir) => Normalizer::from_dir(dir),
        None => Normalizer::shipped(),
    }
    .map_err(|e| Failure::Input(anyhow::anyhow!("vendor sources: {e}")))?;
    let total = std::fs::metadata(&args.input).map(|m| m.len()).unwrap_or(0);
    let progress = ProgressBar::new(total).with_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let counts =
        replay_files(&args.input, &args.output, policy, &normalizer, args.drain_ms, &progress)
            .map_err(Failure::Input)?;
    progress.finish_and_clear();
    println!(
        "replayed {} events ({} rejected): {} exception records, {} actions, {} audit records -> {}",
        counts.events,
        counts.rejected,
        counts.exceptions,
        counts.actions,
        counts.audit,
        args.output.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use indicatif::ProgressBar;
    use invex_runtime::normalize::Normalizer;
    use invex_sim::{FaultRates, SimConfig, Simulator};

    use super::replay_files;
    use crate::simulate::raw_record;

    fn write_input(path: &std::path::Path) -> u64 {
        let config = SimConfig {
            skus_per_site: 200,
            sites: 1,
            duration_ms: 3 * 3_600_000,
            ..SimConfig::default()
        };
        let mut file = std::fs::File::create(path).unwrap();
        let mut events = 0;
        for (i, event) in Simulator::new(config).unwrap().enumerate() {
            serde_json::to_writer(&mut file, &event).unwrap();
            file.write_all(b"\n").unwrap();
            events += 1;
            if i == 10 {
                file.write_all(b"{\"topic\":\"wh.count\",\"value\":{\"header\":{}}}\n").unwrap();
            }
        }
        events
    }

    #[test]
    fn replay_writes_outputs_dead_letters_bad_lines_and_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("events.jsonl");
        let events = write_input(&input);
        let first = dir.path().join("first.jsonl");
        let second = dir.path().join("second.jsonl");
        let policy = invex_detect::Policy::default_policy;
        let n = Normalizer::shipped().unwrap();
        let counts =
            replay_files(&input, &first, policy(), &n, 60_000, &ProgressBar::hidden()).unwrap();
        assert_eq!(counts.events, events);
        assert_eq!(counts.rejected, 1);
        assert!(counts.exceptions > 0 && counts.actions > 0 && counts.audit > 0, "{counts:?}");
        let again =
            replay_files(&input, &second, policy(), &n, 60_000, &ProgressBar::hidden()).unwrap();
        assert_eq!(again, counts);
        let text = std::fs::read_to_string(&first).unwrap();
        assert_eq!(text, std::fs::read_to_string(&second).unwrap(), "replay must be deterministic");
        let dlq: Vec<&str> = text.lines().filter(|l| l.starts_with("{\"kind\":\"dlq\"")).collect();
        assert_eq!(dlq.len(), 1);
        assert!(dlq[0].contains("events.jsonl:12"), "the error names file and line: {}", dlq[0]);
        let kinds = ["exception", "action", "audit"];
        for kind in kinds {
            assert!(text.contains(&format!("{{\"kind\":\"{kind}\",\"value\":")), "no {kind} line");
        }
    }

    /// One engine plays every task, so what a task sends another through a repartition topic
    /// comes straight back: a serial scanned at two sites opens LS-005 at the later one.
    #[test]
    fn replay_follows_a_serial_across_sites() {
        let dir = tempfile::tempdir().unwrap();
        let (input, output) = (dir.path().join("events.jsonl"), dir.path().join("out.jsonl"));
        let config = SimConfig { skus_per_site: 20, sites: 1, ..SimConfig::default() };
        let mut seen = Simulator::new(config)
            .unwrap()
            .find_map(|e| match e {
                invex_model::CanonicalEvent::Scan(scan) => Some(scan),
                _ => None,
            })
            .expect("the simulator scans");
        seen.serial = Some("SN-REPLAY-1".into());
        let mut elsewhere = seen.clone();
        elsewhere.header.site_id = "DC-OTHER".into();
        elsewhere.header.event_id.push_str("-elsewhere");
        elsewhere.header.event_time += 60_000;
        let mut file = std::fs::File::create(&input).unwrap();
        for scan in [seen, elsewhere] {
            serde_json::to_writer(&mut file, &invex_model::CanonicalEvent::Scan(scan)).unwrap();
            file.write_all(b"\n").unwrap();
        }
        drop(file);
        let n = Normalizer::shipped().unwrap();
        let policy = invex_detect::Policy::default_policy();
        replay_files(&input, &output, policy, &n, 60_000, &ProgressBar::hidden()).unwrap();
        let text = std::fs::read_to_string(&output).unwrap();
        let exception = |l: &&str| l.starts_with("{\"kind\":\"exception\"") && l.contains("LS-005");
        let opened: Vec<&str> = text.lines().filter(exception).collect();
        assert!(!opened.is_empty(), "no LS-005 line in\n{text}");
        assert!(opened.iter().all(|l| l.contains("\"site_id\":\"DC-OTHER\"")), "{opened:#?}");
    }

    /// `invex simulate --to-file`, `invex replay`, `invex evaluate` end to end, loop open:
    /// every exception type is found, each with precision, recall and root cause >= 0.99.
    #[test]
    fn raw_simulator_traffic_replays_to_the_ground_truth() {
        let dir = tempfile::tempdir().unwrap();
        let (input, output) = (dir.path().join("raw.jsonl"), dir.path().join("out.jsonl"));
        let config = SimConfig {
            skus_per_site: 1000,
            close_loop: false,
            faults: FaultRates::benchmark(),
            ..SimConfig::default()
        };
        let sim = Simulator::new(config).unwrap();
        let truth = sim.truth_file();
        let mut file = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
        for event in sim {
            serde_json::to_writer(&mut file, &raw_record("", &event).unwrap()).unwrap();
            file.write_all(b"\n").unwrap();
        }
        file.flush().unwrap();
        drop(file);
        let policy = invex_detect::Policy::default_policy();
        let n = Normalizer::shipped().unwrap();
        let counts = replay_files(&input, &output, policy, &n, 60_000, &ProgressBar::hidden());
        let text = std::fs::read_to_string(&output).unwrap();
        let dead: Vec<&str> = text.lines().filter(|l| l.starts_with("{\"kind\":\"dlq\"")).collect();
        assert_eq!(counts.unwrap().rejected, 0, "{dead:#?}");
        let records = crate::evaluate::read_file(&output).unwrap();
        let evaluation = invex_sim::evaluate(&truth.faults, &records);
        for kind in invex_model::ExceptionType::ALL {
            let found = evaluation.by_type.iter().any(|row| row.exception_type == kind);
            assert!(found, "replay found no {kind:?}:\n{evaluation}");
        }
        for row in &evaluation.by_type {
            let ok = row.precision >= 0.99 && row.recall >= 0.99 && row.root_cause_accuracy >= 0.99;
            assert!(ok, "{:?}\n{evaluation}", row.exception_type);
        }
    }
}
