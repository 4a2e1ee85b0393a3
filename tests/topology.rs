//! `topology/` is data the code must agree with: every topic has a schema, the inputs are the
//! canonical topics, the raw topics are the shipped sources', the outputs are the runtime's,
//! every store the detectors, the normalize and the kpi processor declare has a compacted
//! changelog, and co-partitioned topics share one partition count.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use invex_detect::{Engine, RepartitionTopic};
use invex_model::CanonicalTopic;
use invex_runtime::admin::{Cleanup, TopicSpec, detect_topics, kpi_topics, normalize_topics};
use invex_runtime::normalize::{Format, Normalizer, Source};
use invex_runtime::{
    KPI_STORES, NORMALIZE_STORES, Output, ProcessorKind, Topics, embedded_schema_text,
};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicsFile {
    defaults: Defaults,
    topic: Vec<TopicEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    partitions: i32,
    output_partitions: i32,
    retention_ms: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicEntry {
    name: String,
    doc: String,
    role: String,
    cleanup: String,
    co_partitioned: bool,
    key: String,
    /// Absent for JSON topics.
    value_subject: Option<String>,
    /// `avro` (the default, with a subject) or `json`.
    value_format: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProcessorFile {
    name: String,
    application_id: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
    store: Vec<StoreEntry>,
    /// Internal topics between the processor's own tasks (detect only).
    #[serde(default)]
    repartition: Vec<RepartitionEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RepartitionEntry {
    /// Stem of `<application_id>-<name>-repartition`.
    name: String,
    doc: String,
    key: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreEntry {
    name: String,
    doc: String,
    changelog_cleanup: String,
    /// Time to live in stream time, `"<n>d"` or `"<n>h"` (detect only); absent: none.
    ttl: Option<String>,
}

/// The workspace root as cargo names it when the test runs, not when it was built: a test
/// binary reused from another checkout must read this checkout's files.
fn root() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap())
}

fn topics_file() -> TopicsFile {
    let text = std::fs::read_to_string(root().join("topology/topics.toml")).unwrap();
    toml::from_str(&text).unwrap()
}

fn processor_file(name: &str) -> ProcessorFile {
    let path = root().join("topology/processors").join(format!("{name}.toml"));
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn detect_file() -> ProcessorFile {
    processor_file("detect")
}

/// Raw topics of the sources shipped in `topology/sources/`.
fn shipped_raw_topics() -> BTreeSet<String> {
    Normalizer::shipped().unwrap().sources().iter().map(|s| s.topic().to_owned()).collect()
}

/// The format of the shipped source reading raw topic `name`, if one does.
fn raw_format(name: &str) -> Option<Format> {
    Normalizer::shipped().unwrap().source_for_topic(name).map(Source::format)
}

fn names(file: &TopicsFile, role: &str) -> BTreeSet<String> {
    file.topic.iter().filter(|t| t.role == role).map(|t| t.name.clone()).collect()
}

#[test]
fn every_topic_has_a_schema_and_a_known_role() {
    let file = topics_file();
    assert!(file.defaults.partitions > 0 && file.defaults.output_partitions > 0);
    assert!(file.defaults.retention_ms > 0);
    for t in &file.topic {
        let format = t.value_format.as_deref().unwrap_or("avro");
        let output = Output::ALL.into_iter().find(|o| o.name() == t.name);
        let avro_in_code = match t.role.as_str() {
            "raw" => raw_format(&t.name) == Some(Format::Avro),
            _ => output.is_none_or(|o| o.is_avro()),
        };
        assert_eq!(
            avro_in_code,
            format == "avro",
            "{}: value_format {format} disagrees with the code (a raw topic's is its source's)",
            t.name
        );
        match (format, &t.value_subject) {
            ("avro", Some(subject)) => {
                let embedded = embedded_schema_text(subject);
                assert!(embedded.is_some(), "{}: no schema {subject} in SUBJECTS", t.name);
                assert_eq!(*subject, format!("{}-value", t.name), "{}: TopicNameStrategy", t.name);
            }
            ("json", None) => {}
            (format, subject) => {
                panic!("{}: value_format {format} with subject {subject:?}", t.name)
            }
        }
        let roles = ["input", "output", "raw"];
        assert!(roles.contains(&t.role.as_str()), "{}: role {}", t.name, t.role);
        assert!(
            ["delete", "compact"].contains(&t.cleanup.as_str()),
            "{}: cleanup {}",
            t.name,
            t.cleanup
        );
        assert!(!t.doc.is_empty() && !t.key.is_empty(), "{}: doc and key are required", t.name);
        assert_eq!(
            t.co_partitioned,
            t.role != "output",
            "{}: inputs and raw topics, and only they, are co-partitioned",
            t.name
        );
    }
}

#[test]
fn inputs_and_outputs_are_the_ones_the_code_uses() {
    let file = topics_file();
    let inputs: BTreeSet<&str> =
        file.topic.iter().filter(|t| t.role == "input").map(|t| t.name.as_str()).collect();
    let outputs: BTreeSet<&str> =
        file.topic.iter().filter(|t| t.role == "output").map(|t| t.name.as_str()).collect();
    assert_eq!(inputs, CanonicalTopic::ALL.iter().map(|t| t.name()).collect());
    assert_eq!(outputs, Output::ALL.iter().map(|o| o.name()).collect());
    assert_eq!(names(&file, "raw"), shipped_raw_topics(), "one raw topic per shipped source");
    let detect = detect_file();
    assert_eq!(detect.name, "detect");
    assert_eq!(detect.application_id, ProcessorKind::Detect.default_application_id());
    assert_eq!(detect.inputs.iter().map(String::as_str).collect::<BTreeSet<_>>(), inputs);
    let detect_outputs: BTreeSet<&str> = Output::DETECT.iter().map(|o| o.name()).collect();
    assert_eq!(detect.outputs.iter().map(String::as_str).collect::<BTreeSet<_>>(), detect_outputs);
}

#[test]
fn every_store_has_a_compacted_co_partitioned_changelog() {
    let detect = detect_file();
    let stores: Vec<&str> = Engine::store_names().iter().map(|s| s.as_str()).collect();
    assert_stores(&detect, stores.iter().copied());
    assert_ttls(&detect);
    let file = topics_file();
    let specs = detect_topics(
        &Topics::new("", &detect.application_id),
        &stores,
        file.defaults.partitions,
        file.defaults.output_partitions,
    );
    for spec in &specs {
        if spec.name.ends_with("-changelog") {
            assert_eq!(spec.cleanup, Cleanup::Compact, "{}", spec.name);
            assert!(spec.co_partitioned);
        }
        if spec.name.ends_with("-repartition") {
            assert_eq!(spec.cleanup, Cleanup::Delete, "{}", spec.name);
            assert!(spec.co_partitioned, "{}: a task reads partition p of it", spec.name);
        }
        if let Some(t) = file.topic.iter().find(|t| t.name == spec.name) {
            let cleanup = if spec.cleanup == Cleanup::Compact { "compact" } else { "delete" };
            assert_eq!(t.cleanup, cleanup, "{}: topology and code disagree on cleanup", t.name);
            assert_eq!(t.co_partitioned, spec.co_partitioned, "{}", t.name);
        }
    }
    let co: BTreeSet<i32> =
        specs.iter().filter(|s| s.co_partitioned).map(|s| s.partitions).collect();
    assert_eq!(co.len(), 1, "co-partitioned topics must share one partition count");
}

#[test]
fn the_repartition_topics_are_the_ones_the_detectors_use() {
    let detect = detect_file();
    let listed: Vec<&str> = detect.repartition.iter().map(|r| r.name.as_str()).collect();
    let code: Vec<&str> = RepartitionTopic::ALL.iter().map(|t| t.name()).collect();
    assert_eq!(listed, code, "topology/processors/detect.toml [[repartition]] against the code");
    for entry in &detect.repartition {
        assert!(!entry.doc.is_empty() && !entry.key.is_empty(), "{}: doc and key", entry.name);
    }
    for other in ["normalize", "kpi"] {
        assert!(processor_file(other).repartition.is_empty(), "{other} has no repartition topic");
    }
    let specs = detect_topics(&Topics::new("", &detect.application_id), &[], 3, 1);
    for topic in RepartitionTopic::ALL {
        let name = format!("{}-{}-repartition", detect.application_id, topic.name());
        assert!(specs.iter().any(|s| s.name == name), "{name} is not created with detect's topics");
    }
}

#[test]
fn the_normalize_processor_reads_the_raw_topics_and_publishes_the_canonical_ones() {
    let file = topics_file();
    let normalize = processor_file("normalize");
    assert_eq!(normalize.name, ProcessorKind::Normalize.name());
    assert_eq!(normalize.application_id, ProcessorKind::Normalize.default_application_id());
    let inputs: BTreeSet<String> = normalize.inputs.iter().cloned().collect();
    assert_eq!(inputs, shipped_raw_topics());
    let mut outputs = names(&file, "input");
    outputs.insert(Output::Dlq.name().to_owned());
    assert_eq!(normalize.outputs.iter().cloned().collect::<BTreeSet<_>>(), outputs);

    assert_stores(&normalize, NORMALIZE_STORES);
    let specs = normalize_topics(
        &Topics::new("", &normalize.application_id),
        &Normalizer::shipped().unwrap(),
        file.defaults.partitions,
        file.defaults.output_partitions,
    );
    assert_agrees(&file, &specs);
    let co: Vec<&str> =
        specs.iter().filter(|s| s.co_partitioned).map(|s| s.name.as_str()).collect();
    for raw in shipped_raw_topics() {
        assert!(co.contains(&raw.as_str()), "{raw} is co-partitioned with its processor's tasks");
    }
    assert!(co.iter().all(|n| n.starts_with("raw.") || n.ends_with("-changelog")), "{co:?}");
}

/// The processor file lists exactly the stores the code declares, each documented and with a
/// compacted changelog.
fn assert_stores<'a>(processor: &ProcessorFile, code: impl IntoIterator<Item = &'a str>) {
    let declared: BTreeSet<&str> = processor.store.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        declared,
        code.into_iter().collect(),
        "topology/processors/{}.toml must list exactly the {} stores",
        processor.name,
        processor.name
    );
    for s in &processor.store {
        assert_eq!(s.changelog_cleanup, "compact", "store {}", s.name);
        assert!(!s.doc.is_empty());
    }
}

/// Each store's `ttl` in detect.toml equals the TTL the code declares (absent: none).
fn assert_ttls(detect: &ProcessorFile) {
    let code: BTreeMap<&str, Option<i64>> = Engine::store_ttls()
        .iter()
        .map(|s| (s.store.as_str(), s.ttl.map(|t| t.millis())))
        .collect();
    let file: BTreeMap<&str, Option<i64>> =
        detect.store.iter().map(|s| (s.name.as_str(), s.ttl.as_deref().map(ttl_ms))).collect();
    assert_eq!(file, code, "topology/processors/detect.toml: ttl disagrees with the code");
    assert!(code.values().any(Option::is_some), "some detect store has a TTL");
}

/// Milliseconds of a duration such as `"30d"` or `"12h"`.
fn ttl_ms(text: &str) -> i64 {
    let duration = humantime::parse_duration(text).unwrap_or_else(|e| panic!("ttl {text:?}: {e}"));
    i64::try_from(duration.as_millis()).unwrap_or_else(|e| panic!("ttl {text:?}: {e}"))
}

/// Changelogs are compacted and co-partitioned, and every spec the code makes that
/// topics.toml lists agrees with it on cleanup.
fn assert_agrees(file: &TopicsFile, specs: &[TopicSpec]) {
    for spec in specs {
        if spec.name.ends_with("-changelog") {
            assert_eq!(spec.cleanup, Cleanup::Compact, "{}", spec.name);
            assert!(spec.co_partitioned);
        }
        if spec.name.ends_with("-repartition") {
            assert_eq!(spec.cleanup, Cleanup::Delete, "{}", spec.name);
            assert!(spec.co_partitioned, "{}: a task reads partition p of it", spec.name);
        }
        if let Some(t) = file.topic.iter().find(|t| t.name == spec.name) {
            let cleanup = if spec.cleanup == Cleanup::Compact { "compact" } else { "delete" };
            assert_eq!(t.cleanup, cleanup, "{}: topology and code disagree on cleanup", t.name);
        }
    }
}

#[test]
fn the_kpi_processor_reads_detects_exceptions_and_audit_and_publishes_kpi() {
    let file = topics_file();
    let kpi = processor_file("kpi");
    assert_eq!(kpi.name, ProcessorKind::Kpi.name());
    assert_eq!(kpi.application_id, ProcessorKind::Kpi.default_application_id());
    let inputs = [Output::Exceptions, Output::Audit].map(|o| o.name().to_owned());
    assert_eq!(kpi.inputs, inputs, "exceptions first: it drives the group assignment");
    let outputs: BTreeSet<&str> = kpi.outputs.iter().map(String::as_str).collect();
    assert_eq!(outputs, BTreeSet::from([Output::Kpi.name(), Output::Dlq.name()]));

    assert_stores(&kpi, KPI_STORES);
    // Co-partitioned by construction: detect's outputs, keyed alike, with one partition count.
    for name in &inputs {
        let t = file.topic.iter().find(|t| t.name == *name).unwrap();
        assert_eq!((t.role.as_str(), t.key.as_str()), ("output", "exception id"), "{name}");
    }
    let specs = kpi_topics(&Topics::new("", &kpi.application_id), file.defaults.output_partitions);
    assert_agrees(&file, &specs);
    let co: Vec<&TopicSpec> = specs.iter().filter(|s| s.co_partitioned).collect();
    assert_eq!(co.len(), inputs.len() + KPI_STORES.len());
    assert!(co.iter().all(|s| s.partitions == file.defaults.output_partitions));
    let topic = file.topic.iter().find(|t| t.name == Output::Kpi.name()).expect("the kpi topic");
    assert_eq!(topic.cleanup, "compact", "one record per key: compaction keeps them all");
}
