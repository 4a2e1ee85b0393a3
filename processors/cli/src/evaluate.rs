//! `invex evaluate`: detected exceptions against a simulator's ground truth.
//!
//! The truth is the file `invex simulate` writes. Exceptions come from a file of JSON lines,
//! the output of `invex replay` (`{"kind":"exception","value":{...}}`; other kinds are
//! skipped; a bare exception record per line is accepted too), or from the exceptions topic of
//! a cluster, read from the beginning to its end (`--config` as for `invex run`, or
//! `--bootstrap` with the embedded schemas). Every version of an exception may be given: the
//! evaluation keeps the latest. It prints the per-type table (true and false positives,
//! misses, precision, recall, root-cause accuracy, detection delay) and writes it as JSON.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::Args;
use invex_model::ExceptionRecord;
use invex_runtime::ReaderContext;
use invex_runtime::{Codec, Output, Topics, base_client_config, resolver_for};
use invex_sim::{TruthFile, evaluate};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde::Deserialize;

use crate::Failure;
use crate::run::load_config;

/// Arguments of `invex evaluate`.
#[derive(Debug, Args)]
pub(crate) struct EvaluateArgs {
    /// Ground truth written by `invex simulate`.
    #[arg(long)]
    truth: PathBuf,
    /// Exceptions as JSON lines (the output of `invex replay`).
    #[arg(long, conflicts_with_all = ["config", "bootstrap", "topic"])]
    exceptions: Option<PathBuf>,
    /// Deployment configuration, as for `invex run`: read its exceptions topic.
    #[arg(long, conflicts_with = "bootstrap")]
    config: Option<PathBuf>,
    /// Bootstrap servers, without a configuration file (embedded schemas).
    #[arg(long)]
    bootstrap: Option<String>,
    /// Exceptions topic (default: the deployment's, with its prefix).
    #[arg(long)]
    topic: Option<String>,
    /// Also write the evaluation as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// One line of `invex replay` output, or a bare record.
#[derive(Deserialize)]
#[serde(untagged)]
enum Line {
    Tagged { kind: String, value: serde_json::Value },
    Bare(Box<ExceptionRecord>),
}

pub(crate) fn evaluate_command(args: EvaluateArgs) -> Result<(), Failure> {
    let text = std::fs::read(&args.truth)
        .with_context(|| format!("reading {}", args.truth.display()))
        .map_err(Failure::Input)?;
    let truth: TruthFile = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a truth file", args.truth.display()))
        .map_err(Failure::Input)?;
    let exceptions = match &args.exceptions {
        Some(path) => read_file(path).map_err(Failure::Input)?,
        None => read_topic(&args)?,
    };
    let evaluation = evaluate(&truth.faults, &exceptions);
    print!("{evaluation}");
    if let Some(path) = &args.json {
        let json =
            serde_json::to_vec_pretty(&evaluation).map_err(|e| Failure::Runtime(e.into()))?;
        std::fs::write(path, json)
            .with_context(|| format!("writing {}", path.display()))
            .map_err(Failure::Input)?;
    }
    Ok(())
}

/// Exception records of a JSON-lines file.
pub(crate) fn read_file(path: &Path) -> anyhow::Result<Vec<ExceptionRecord>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = Vec::new();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("{}:{}", path.display(), index + 1);
        match serde_json::from_str::<Line>(&line).with_context(at)? {
            Line::Tagged { kind, value } if kind == "exception" => {
                out.push(serde_json::from_value(value).with_context(at)?);
            }
            Line::Tagged { .. } => {}
            Line::Bare(record) => out.push(*record),
        }
    }
    Ok(out)
}

/// Every record of the exceptions topic, from the beginning to the end of each partition.
fn read_topic(args: &EvaluateArgs) -> Result<Vec<ExceptionRecord>, Failure> {
    let (base, topics, schema) = match (&args.config, &args.bootstrap) {
        (Some(path), _) => {
            let cfg = load_config(path)?;
            let topics = Topics::new(&cfg.topic_prefix, &cfg.application_id);
            (base_client_config(&cfg), topics, cfg.schema.clone())
        }
        (None, Some(bootstrap)) => {
            let mut base = rdkafka::ClientConfig::new();
            base.set("bootstrap.servers", bootstrap);
            (base, Topics::new("", "invex"), invex_runtime::SchemaSource::Embedded)
        }
        (None, None) => {
            return Err(Failure::Input(anyhow!("give --exceptions, --config or --bootstrap")));
        }
    };
    let topic = args.topic.clone().unwrap_or_else(|| topics.output(Output::Exceptions));
    let resolver = resolver_for(&schema).map_err(|e| Failure::Input(anyhow!("schemas: {e}")))?;
    let codec = Codec::new(resolver, &topics).map_err(|e| Failure::Input(anyhow!("{e}")))?;
    consume(base, &topic, &codec).map_err(Failure::Runtime)
}

fn consume(
    mut base: rdkafka::ClientConfig,
    topic: &str,
    codec: &Codec,
) -> anyhow::Result<Vec<ExceptionRecord>> {
    let consumer: BaseConsumer<ReaderContext> = base
        .set("group.id", format!("invex-evaluate-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed")
        .create_with_context(ReaderContext)
        .context("creating the consumer")?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .with_context(|| format!("reading the metadata of {topic}"))?;
    let partitions = metadata.topics().first().map_or(0, |t| t.partitions().len()) as i32;
    if partitions == 0 {
        return Err(anyhow!("topic {topic} does not exist or has no partitions"));
    }
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl).context("assigning the exceptions topic")?;
    let mut open: HashSet<i32> = (0..partitions).collect();
    let mut out = Vec::new();
    while !open.is_empty() {
        match consumer.poll(Duration::from_secs(10)) {
            None => return Err(anyhow!("no progress reading {topic} for 10 s")),
            Some(Err(KafkaError::PartitionEOF(p))) => {
                open.remove(&p);
            }
            Some(Err(e)) => return Err(e).with_context(|| format!("reading {topic}")),
            Some(Ok(message)) => {
                if let Some(payload) = message.payload() {
                    out.push(codec.decode_output(Output::Exceptions, payload)?);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn reads_replay_output_and_bare_records_and_names_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let record = serde_json::json!({
            "exception_id": "exc-1", "version": 1, "exception_type": "SYNC_FAILURE",
            "subtype": null, "severity": 2, "status": "OPEN", "status_reason": null,
            "tenant_id": "t", "site_id": "DC1", "subject": "SKU-1|m", "location_id": null,
            "sku": "SKU-1", "lot": null,
            "quantities": {"expected": 1, "observed": 0, "book": null, "variance": -1,
                           "variance_pct": null, "uom": ""},
            "valuation": {"variance_value": 0.0, "unit_cost": 0.0, "currency": "EUR"},
            "rule_id": "SF-001", "policy_version": "p", "opened_at": 5, "updated_at": 5,
            "resolved_at": null, "resolution": null, "source_event_ids": [],
            "root_cause": null, "owner_team": "IT_INTEGRATION", "approval": null,
            "recount_attempts": 0, "escalation_level": 0, "correlation": {}
        });
        let mut file = std::fs::File::create(&path).unwrap();
        writeln!(file, "{}", serde_json::json!({"kind": "exception", "value": record})).unwrap();
        writeln!(file, "{}", serde_json::json!({"kind": "audit", "value": {}})).unwrap();
        writeln!(file, "{record}").unwrap();
        writeln!(file).unwrap();
        let records = read_file(&path).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0], records[1]);
        writeln!(file, "not json").unwrap();
        let error = read_file(&path).unwrap_err();
        assert!(format!("{error:#}").contains("out.jsonl:5"), "{error:#}");
    }
}
