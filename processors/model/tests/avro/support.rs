//! Where the schemas live, which subjects must exist, and the two Avro codec paths.
//!
//! Each subject's schema is a self-contained file `schemas/<subject>.avsc`; released versions
//! are kept as `schemas/history/<subject>/v<N>.avsc`. The expected subjects are written down
//! here, next to the Rust type each one carries, so that a topic cannot be added (or a schema
//! dropped) without a test noticing.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};
use apache_avro::writer::datum::GenericDatumWriter;
use invex_model::CanonicalTopic;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The output topics of the detect processor, next to the canonical input topics.
pub(crate) const OUTPUT_TOPICS: [&str; 5] = ["exceptions", "actions", "audit", "dlq", "kpi"];

/// Namespace of every named type in every subject.
pub(crate) const NAMESPACE: &str = "com.invex.v1";

/// Every subject and the name of its top-level record (the Rust type it carries).
pub(crate) const SUBJECTS: [(&str, &str); 16] = [
    ("wh.scan-value", "ScanEvent"),
    ("wh.receipt-value", "ReceiptLine"),
    ("wh.pick-value", "PickEvent"),
    ("wh.count-value", "CountEvent"),
    ("wh.task-value", "TaskEvent"),
    ("erp.asn-value", "AsnLine"),
    ("erp.book-value", "BookSnapshot"),
    ("oms.allocation-value", "OrderAllocation"),
    ("integration.ack-value", "IntegrationAck"),
    ("md.item-value", "ItemMaster"),
    ("approvals-value", "ApprovalDecision"),
    ("exceptions-value", "ExceptionRecord"),
    ("actions-value", "ActionCommand"),
    ("audit-value", "AuditRecord"),
    ("dlq-value", "DlqEnvelope"),
    ("kpi-value", "KpiRecord"),
];

/// The subjects that TopicNameStrategy derives from the topics invex reads and writes.
pub(crate) fn topic_subjects() -> BTreeSet<String> {
    CanonicalTopic::ALL
        .iter()
        .map(|t| t.name())
        .chain(OUTPUT_TOPICS)
        .map(|topic| format!("{topic}-value"))
        .collect()
}

/// The `schemas/` folder at the workspace root, from the crate directory cargo names when the
/// test runs (not when it is built: a test binary may be reused from another checkout).
pub(crate) fn schemas_dir() -> PathBuf {
    Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").unwrap()).join("../../schemas")
}

/// Names (without `.avsc`) of the files directly in `dir` that end in `.avsc`.
pub(crate) fn avsc_stems(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .filter_map(|path| path.file_name()?.to_str()?.strip_suffix(".avsc").map(str::to_owned))
        .collect()
}

/// Every `.avsc` file under `schemas/`, history included.
pub(crate) fn all_avsc_files() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![schemas_dir()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "avsc") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The current schema file of a subject.
pub(crate) fn subject_path(subject: &str) -> PathBuf {
    schemas_dir().join(format!("{subject}.avsc"))
}

/// The JSON text of a schema file, parsed as JSON.
pub(crate) fn load_json(path: &Path) -> serde_json::Value {
    let text = fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A schema file, parsed as Avro.
pub(crate) fn load_schema(path: &Path) -> Schema {
    let text = fs::read_to_string(path).unwrap();
    Schema::parse_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The kept released versions of a subject, oldest first.
pub(crate) fn history(subject: &str) -> Vec<PathBuf> {
    let dir = schemas_dir().join("history").join(subject);
    let mut versions: Vec<(u32, PathBuf)> = avsc_stems(&dir)
        .into_iter()
        .map(|stem| {
            let n = stem.strip_prefix('v').and_then(|n| n.parse().ok());
            let n = n.unwrap_or_else(|| panic!("{subject}: history file {stem}.avsc is not vN"));
            (n, dir.join(format!("{stem}.avsc")))
        })
        .collect();
    versions.sort();
    versions.into_iter().map(|(_, path)| path).collect()
}

/// Whether a reader using `new` can read everything written with `old` (Confluent BACKWARD).
///
/// apache-avro grades a readable pair `Full` or `Partial`; `Partial` means some old data cannot
/// be read (a union branch or enum symbol the old writer could produce is gone), which a
/// registry in BACKWARD mode rejects, so only `Full` passes.
pub(crate) fn check_backward(old: &Schema, new: &Schema) -> Result<(), String> {
    match SchemaCompatibility::can_read(old, new) {
        Ok(Compatibility::Full) => Ok(()),
        Ok(Compatibility::Partial) => {
            Err("only part of the old data is readable (a union branch or enum symbol was removed)"
                .to_owned())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Generic path, encoding: serde -> `apache_avro::Value` -> Avro binary validated against `schema`.
///
/// `Value::Map` is a `HashMap`, so a map with several entries comes out in a different order on
/// every call: this path is not byte-deterministic.
pub(crate) fn encode_value<T: Serialize>(schema: &Schema, v: &T) -> Vec<u8> {
    let value = apache_avro::to_value(v).unwrap();
    GenericDatumWriter::builder(schema).build().unwrap().write_value_to_vec(value).unwrap()
}

/// Generic path, decoding: Avro binary -> `apache_avro::Value` -> serde; no trailing bytes.
pub(crate) fn decode_value<T: DeserializeOwned>(schema: &Schema, bytes: &[u8]) -> T {
    let mut rest = bytes;
    let decoded =
        GenericDatumReader::builder(schema).build().unwrap().read_value(&mut rest).unwrap();
    assert!(rest.is_empty(), "{} bytes left after the datum", rest.len());
    apache_avro::from_value(&decoded).unwrap()
}

/// Schema-aware path, encoding: serde straight to Avro binary, in the value's own order.
pub(crate) fn encode_serde<T: Serialize>(schema: &Schema, v: &T) -> Vec<u8> {
    GenericDatumWriter::builder(schema).build().unwrap().write_ser_to_vec(v).unwrap()
}

/// Schema-aware path, decoding: Avro binary straight to serde; no trailing bytes.
pub(crate) fn decode_serde<T: DeserializeOwned>(schema: &Schema, bytes: &[u8]) -> T {
    let mut rest = bytes;
    let decoded =
        GenericDatumReader::builder(schema).build().unwrap().read_deser(&mut rest).unwrap();
    assert!(rest.is_empty(), "{} bytes left after the datum", rest.len());
    decoded
}
