//! Normalize: vendor-shaped raw records to canonical events, driven by data.
//!
//! Real warehouses publish what their WMS, ERP and devices happen to send. A source file
//! (`topology/sources/<source>.toml`, one per raw topic) says how each message kind of that
//! source maps to a canonical event; [`Normalizer`] loads and validates every file up front
//! and then maps one raw record at a time with [`Normalizer::normalize`] (JSON sources) or
//! [`Normalizer::normalize_with`] (either format: an Avro source's records are decoded by
//! their writer schema, looked up by id in [`WriterSchemas`], see `avro`). Adding a vendor is
//! adding a file, not code.
//!
//! Invariants and why they hold:
//! - Pure and total: no clock, no panic on any input (a property test feeds arbitrary bytes
//!   and arbitrary JSON; the Avro decoder's tests feed truncated and mismatched datums), and
//!   no I/O after loading except the first lookup of each Avro writer schema id. A record
//!   either yields complete, typed, checked events or a [`NormalizeError`] that names the
//!   source, schema id, kind, canonical field and raw pointer; the runtime shell
//!   dead-letters it and continues (or, for an unreachable registry, retries it).
//! - Checked against the schemas: mappings are compiled against the shape of each event's
//!   Avro schema in `schemas/`, so a mapping that forgets a required field, writes to a field
//!   that does not exist or produces the wrong type fails at load time, not on traffic.
//! - Model rules enforced: ids are non-empty, tenant and site cannot break the key,
//!   quantities are not negative (see `checks`), whatever the vendor sent.
//! - One parse per record: the value is parsed (or decoded from Avro) once into a
//!   `serde_json::Value`; pointers are compiled at load time, writer schemas once per id; the
//!   canonical event is moved out of the built object.
//! - Stable identity: [`Normalized::key`] is the canonical topics' `tenant|site|sku` and
//!   [`Normalized::content_hash`] is the same for a vendor retry of the same fact whatever
//!   its message id, sequence number or send time, and whichever vendor shape carried it.
//!
//! How to add a vendor mapping: see `topology/sources/README.md`.

mod avro;
mod checks;
mod decimal;
mod error;
mod eval;
mod hash;
mod load;
mod plan;
mod pointer;
mod rules;
mod shape;
mod source;
mod time;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_load;
#[cfg(test)]
mod tests_rf;

use std::collections::HashMap;
use std::path::Path;

use invex_model::CanonicalEvent;

pub use avro::{WriterSchemas, framed};
pub use error::{Location, NormalizeError, Reason, SourceError, SourceErrors};
pub use hash::ContentHash;
pub use source::{Format, Source};

/// The source files shipped in `topology/sources/`, compiled in: `(file name, text)`.
pub const SHIPPED_SOURCES: [(&str, &str); 3] = [
    ("erp-idoc.toml", include_str!("../../../../topology/sources/erp-idoc.toml")),
    ("rf-scanner.toml", include_str!("../../../../topology/sources/rf-scanner.toml")),
    ("wms-webhook.toml", include_str!("../../../../topology/sources/wms-webhook.toml")),
];

/// One canonical event produced from a raw record.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    /// The event.
    pub event: CanonicalEvent,
    /// Its Kafka key on the canonical topic: `tenant|site|sku`.
    pub key: String,
    /// Its content hash, for dedupe of retries.
    pub content_hash: ContentHash,
}

/// Every loaded source, by name.
#[derive(Debug, Clone)]
pub struct Normalizer {
    sources: Vec<Source>,
    by_name: HashMap<String, usize>,
}

impl Normalizer {
    /// Loads and validates source files given as `(file name, TOML text)`, reporting every
    /// problem of every file at once. Source names and raw topics must be unique.
    pub fn from_files<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, SourceErrors> {
        let mut errors = Vec::new();
        let mut shapes = load::Shapes::default();
        let mut sources: Vec<(&str, Source)> = Vec::new();
        for (file, text) in files {
            if let Some(source) = load::load_source(file, text, &mut shapes, &mut errors) {
                sources.push((file, source));
            }
        }
        let mut by_name = HashMap::new();
        let mut topics = HashMap::new();
        for (index, (file, source)) in sources.iter().enumerate() {
            if let Some(other) = by_name.insert(source.name.clone(), index) {
                errors.push(clash(file, "name", &source.name, sources[other].0));
            }
            if let Some(other) = topics.insert(source.topic.as_str(), *file) {
                errors.push(clash(file, "topic", &source.topic, other));
            }
        }
        if sources.is_empty() && errors.is_empty() {
            errors.push(SourceError {
                file: "(none)".into(),
                key: "(file)".into(),
                message: "no source files".into(),
            });
        }
        dedup(&mut errors);
        if !errors.is_empty() {
            return Err(SourceErrors(errors));
        }
        let sources = sources.into_iter().map(|(_, source)| source).collect();
        Ok(Self { sources, by_name })
    }

    /// Loads every `*.toml` file of `dir` (in name order).
    pub fn from_dir(dir: &Path) -> Result<Self, SourceErrors> {
        let unreadable = |file: &Path, e: std::io::Error| SourceError {
            file: file.display().to_string(),
            key: "(file)".into(),
            message: format!("cannot read: {e}"),
        };
        let entries = std::fs::read_dir(dir).map_err(|e| SourceErrors(vec![unreadable(dir, e)]))?;
        let mut paths: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        paths.sort();
        let mut texts = Vec::with_capacity(paths.len());
        let mut errors = Vec::new();
        for path in &paths {
            match std::fs::read_to_string(path) {
                Ok(text) => texts.push((path.display().to_string(), text)),
                Err(e) => errors.push(unreadable(path, e)),
            }
        }
        let loaded = Self::from_files(texts.iter().map(|(f, t)| (f.as_str(), t.as_str())));
        match (loaded, errors.is_empty()) {
            (Ok(normalizer), true) => Ok(normalizer),
            (Ok(_), false) => Err(SourceErrors(errors)),
            (Err(SourceErrors(more)), _) => {
                Err(SourceErrors(errors.into_iter().chain(more).collect()))
            }
        }
    }

    /// The sources shipped with this build ([`SHIPPED_SOURCES`]).
    pub fn shipped() -> Result<Self, SourceErrors> {
        Self::from_files(SHIPPED_SOURCES)
    }

    /// Every source, in load order.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// The source named `name`.
    pub fn source(&self, name: &str) -> Option<&Source> {
        self.by_name.get(name).map(|&i| &self.sources[i])
    }

    /// The source reading raw topic `topic`.
    pub fn source_for_topic(&self, topic: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.topic == topic)
    }

    /// Maps one raw record of the JSON source `source` to its canonical events (see
    /// [`Source::normalize`]). An unknown source name is the caller's bug, not poison.
    pub fn normalize(&self, source: &str, raw: &[u8]) -> Result<Vec<Normalized>, NormalizeError> {
        self.find(source)?.normalize(raw)
    }

    /// Maps one raw record of source `source`, of either format, finding Avro writer schemas
    /// in `schemas` (see [`Source::normalize_with`]).
    pub fn normalize_with(
        &self,
        source: &str,
        raw: &[u8],
        schemas: &WriterSchemas,
    ) -> Result<Vec<Normalized>, NormalizeError> {
        self.find(source)?.normalize_with(raw, schemas)
    }

    fn find(&self, source: &str) -> Result<&Source, NormalizeError> {
        self.source(source).ok_or_else(|| NormalizeError {
            source_name: source.to_owned(),
            schema_id: None,
            location: Box::default(),
            reason: Reason::UnknownSource,
        })
    }
}

fn clash(file: &str, key: &str, value: &str, other: &str) -> SourceError {
    SourceError {
        file: file.to_owned(),
        key: key.to_owned(),
        message: format!("{value:?} is already used by {other}"),
    }
}

/// Drops repeated problems (an envelope rule is compiled once per kind), keeping order.
fn dedup(errors: &mut Vec<SourceError>) {
    let mut seen = std::collections::HashSet::new();
    errors.retain(|e| seen.insert(e.clone()));
}
