//! `invex replay`: the detectors over a file of canonical events, without a cluster.
//!
//! Input: JSON lines, one `CanonicalEvent` each (`{"topic":"wh.count","value":{...}}`; see the
//! README). Events are processed in file order by one engine (as one task would, so stream
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
use serde::Serialize;

use crate::Failure;
use crate::run::load_policy;

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
        let event: CanonicalEvent = match serde_json::from_str(&line) {
            Ok(e) => e,
            Err(e) => {
                counts.rejected += 1;
                write_dead(&mut out, input, index + 1, &e)?;
                continue;
            }
        };
        clock = clock.max(event.header().event_time);
        engine.on_wall_clock(clock, &mut store, &mut outputs)?;
        match engine.process(&event, clock, &mut store, &mut outputs) {
            Ok(_) => counts.events += 1,
            Err(e) if e.is_poison() => {
                counts.rejected += 1;
                write_dead(&mut out, input, index + 1, &e)?;
            }
            Err(e) => {
                return Err(e).with_context(|| format!("{} line {}", input.display(), index + 1));
            }
        }
        write_outputs(&mut out, &mut outputs, &mut counts)?;
    }
    if clock > i64::MIN {
        engine.on_wall_clock(clock.saturating_add(drain_ms), &mut store, &mut outputs)?;
        write_outputs(&mut out, &mut outputs, &mut counts)?;
    }
    out.flush()?;
    Ok(counts)
}

pub(crate) fn replay(args: ReplayArgs) -> Result<(), Failure> {
    let policy = load_policy(args.policy.as_deref())?;
    let total = std::fs::metadata(&args.input).map(|m| m.len()).unwrap_or(0);
    let progress = ProgressBar::new(total).with_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let counts = replay_files(&args.input, &args.output, policy, args.drain_ms, &progress)
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
    use invex_sim::{SimConfig, Simulator};

    use super::replay_files;

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
        let counts =
            replay_files(&input, &first, policy(), 60_000, &ProgressBar::hidden()).unwrap();
        assert_eq!(counts.events, events);
        assert_eq!(counts.rejected, 1);
        assert!(counts.exceptions > 0 && counts.actions > 0 && counts.audit > 0, "{counts:?}");
        let again =
            replay_files(&input, &second, policy(), 60_000, &ProgressBar::hidden()).unwrap();
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
}
