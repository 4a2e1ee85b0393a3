//! Where Avro schemas come from: the [`SchemaResolver`] port and its two implementations.
//!
//! - [`EmbeddedResolver`] serves the `.avsc` files of `schemas/`, compiled into the binary,
//!   under fixed ids (1, 2, ... in [`SUBJECTS`] order). The demo, `replay` and unit tests use it:
//!   no registry needed, and ids are stable across runs.
//! - [`RegistryResolver`] talks to a Confluent-compatible Schema Registry through
//!   `schema_registry_converter` (blocking client: the processing loop is a plain thread), and
//!   caches by id and by subject, so a registry call happens once per schema per process.
//!
//! Errors say what the caller must do: [`ResolveError::Transient`] (registry unreachable or
//! timing out: retry with backoff, never dead-letter the record), [`ResolveError::Unknown`]
//! (the id does not exist: the record is undecodable and goes to the DLQ), and
//! [`ResolveError::Invalid`] (a schema does not parse: a deployment error, stop).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use apache_avro::Schema;
use schema_registry_converter::blocking::schema_registry::{
    SrSettings, get_schema_by_id, post_schema,
};
use schema_registry_converter::schema_registry_common::{SchemaType, SuppliedSchema};

/// Subjects with schemas in `schemas/`, in embedded-id order (id = index + 1): the canonical
/// topics and outputs, then the writer schemas of the shipped Avro raw sources
/// (`schemas/raw/<source>.avsc`, subject `<raw topic>-value`), which `invex schemas register`
/// registers like the others and the embedded resolver serves to the normalize processor.
pub const SUBJECTS: [(&str, &str); 17] = [
    ("wh.scan-value", include_str!("../../../schemas/wh.scan-value.avsc")),
    ("wh.receipt-value", include_str!("../../../schemas/wh.receipt-value.avsc")),
    ("wh.pick-value", include_str!("../../../schemas/wh.pick-value.avsc")),
    ("wh.count-value", include_str!("../../../schemas/wh.count-value.avsc")),
    ("wh.task-value", include_str!("../../../schemas/wh.task-value.avsc")),
    ("erp.asn-value", include_str!("../../../schemas/erp.asn-value.avsc")),
    ("erp.book-value", include_str!("../../../schemas/erp.book-value.avsc")),
    ("oms.allocation-value", include_str!("../../../schemas/oms.allocation-value.avsc")),
    ("integration.ack-value", include_str!("../../../schemas/integration.ack-value.avsc")),
    ("md.item-value", include_str!("../../../schemas/md.item-value.avsc")),
    ("approvals-value", include_str!("../../../schemas/approvals-value.avsc")),
    ("exceptions-value", include_str!("../../../schemas/exceptions-value.avsc")),
    ("actions-value", include_str!("../../../schemas/actions-value.avsc")),
    ("audit-value", include_str!("../../../schemas/audit-value.avsc")),
    ("dlq-value", include_str!("../../../schemas/dlq-value.avsc")),
    ("kpi-value", include_str!("../../../schemas/kpi-value.avsc")),
    ("raw.rf.scanner-value", include_str!("../../../schemas/raw/rf-scanner.avsc")),
];

/// The embedded text of a subject's schema.
pub fn embedded_schema_text(subject: &str) -> Option<&'static str> {
    SUBJECTS.iter().find(|(s, _)| *s == subject).map(|(_, text)| *text)
}

/// A resolved schema. Schemas live for the whole process (there are at most as many as
/// distinct ids seen), which lets codecs keep `'static` readers and writers built once.
pub type StaticSchema = &'static Schema;

/// Why a schema could not be resolved, by what the caller must do.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The registry is unreachable or slow: retry with backoff.
    #[error("schema registry unavailable: {0}")]
    Transient(String),
    /// No schema has this id (or subject): the record cannot be decoded.
    #[error("no schema with id {0}")]
    Unknown(u32),
    /// A schema text does not parse or the registry refused it: a deployment error.
    #[error("invalid schema for {subject}: {message}")]
    Invalid {
        /// Subject or id concerned.
        subject: String,
        /// What was wrong.
        message: String,
    },
}

/// Port through which codecs find schemas.
pub trait SchemaResolver: Send + Sync {
    /// Writer schema registered under `id`.
    fn schema_by_id(&self, id: u32) -> Result<StaticSchema, ResolveError>;
    /// Id and parsed schema of `text` under `subject`, registering it if needed.
    fn register(&self, subject: &str, text: &str) -> Result<(u32, StaticSchema), ResolveError>;
}

fn parse_static(subject: &str, text: &str) -> Result<StaticSchema, ResolveError> {
    let schema = Schema::parse_str(text).map_err(|e| ResolveError::Invalid {
        subject: subject.to_owned(),
        message: e.to_string(),
    })?;
    Ok(Box::leak(Box::new(schema)))
}

/// Serves the schemas compiled from `schemas/` under fixed ids.
pub struct EmbeddedResolver {
    by_id: Vec<StaticSchema>,
}

impl EmbeddedResolver {
    /// Parses every embedded schema once.
    pub fn new() -> Result<Self, ResolveError> {
        let by_id = SUBJECTS
            .iter()
            .map(|(subject, text)| parse_static(subject, text))
            .collect::<Result<_, _>>()?;
        Ok(Self { by_id })
    }
}

impl SchemaResolver for EmbeddedResolver {
    fn schema_by_id(&self, id: u32) -> Result<StaticSchema, ResolveError> {
        let index = usize::try_from(id).ok().and_then(|i| i.checked_sub(1));
        index.and_then(|i| self.by_id.get(i)).copied().ok_or(ResolveError::Unknown(id))
    }

    /// A deployment's subject is its topic prefix plus the embedded subject
    /// (`acme.wh.scan-value`), so the prefix is ignored: the schema text decides.
    fn register(&self, subject: &str, text: &str) -> Result<(u32, StaticSchema), ResolveError> {
        let position = SUBJECTS.iter().position(|(s, t)| subject.ends_with(s) && *t == text);
        let index = position.ok_or_else(|| ResolveError::Invalid {
            subject: subject.to_owned(),
            message: "the embedded resolver only serves the schemas compiled into invex".into(),
        })?;
        Ok((index as u32 + 1, self.by_id[index]))
    }
}

/// A Confluent-compatible Schema Registry, cached.
pub struct RegistryResolver {
    settings: SrSettings,
    by_id: RwLock<HashMap<u32, StaticSchema>>,
    by_subject: RwLock<HashMap<(String, String), (u32, StaticSchema)>>,
}

impl RegistryResolver {
    /// A resolver for the registry at `url`, each call bounded by `timeout`.
    pub fn new(url: &str, timeout: std::time::Duration) -> Result<Self, ResolveError> {
        let settings =
            SrSettings::new_builder(url.to_owned()).set_timeout(timeout).build().map_err(|e| {
                ResolveError::Invalid { subject: url.to_owned(), message: e.to_string() }
            })?;
        Ok(Self { settings, by_id: RwLock::default(), by_subject: RwLock::default() })
    }
}

fn classify(error: schema_registry_converter::error::SRCError, id: Option<u32>) -> ResolveError {
    let text = error.to_string();
    match id {
        _ if error.retriable => ResolveError::Transient(text),
        Some(id) if text.contains("404") || text.contains("40403") => ResolveError::Unknown(id),
        _ if text.contains("error sending request") || text.contains("timed out") => {
            ResolveError::Transient(text)
        }
        Some(id) => ResolveError::Invalid { subject: format!("id {id}"), message: text },
        None => ResolveError::Invalid { subject: "registration".into(), message: text },
    }
}

impl SchemaResolver for RegistryResolver {
    fn schema_by_id(&self, id: u32) -> Result<StaticSchema, ResolveError> {
        if let Some(schema) = self.by_id.read().ok().and_then(|m| m.get(&id).copied()) {
            return Ok(schema);
        }
        let registered = get_schema_by_id(id, &self.settings).map_err(|e| classify(e, Some(id)))?;
        let schema = parse_static(&format!("id {id}"), &registered.schema)?;
        if let Ok(mut cache) = self.by_id.write() {
            cache.insert(id, schema);
        }
        Ok(schema)
    }

    fn register(&self, subject: &str, text: &str) -> Result<(u32, StaticSchema), ResolveError> {
        let cache_key = (subject.to_owned(), text.to_owned());
        if let Some(hit) = self.by_subject.read().ok().and_then(|m| m.get(&cache_key).copied()) {
            return Ok(hit);
        }
        let supplied = SuppliedSchema::new(None, SchemaType::Avro, text.to_owned());
        let registered = post_schema(&self.settings, subject.to_owned(), supplied)
            .map_err(|e| classify(e, None))?;
        let schema = parse_static(subject, text)?;
        if let Ok(mut cache) = self.by_subject.write() {
            cache.insert(cache_key, (registered.id, schema));
        }
        if let Ok(mut cache) = self.by_id.write() {
            cache.insert(registered.id, schema);
        }
        Ok((registered.id, schema))
    }
}

/// Builds the resolver a configuration asks for.
pub fn resolver_for(source: &crate::SchemaSource) -> Result<Arc<dyn SchemaResolver>, ResolveError> {
    Ok(match source {
        crate::SchemaSource::Embedded => Arc::new(EmbeddedResolver::new()?),
        crate::SchemaSource::Registry { url, timeout } => {
            Arc::new(RegistryResolver::new(url, *timeout)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{EmbeddedResolver, SUBJECTS, SchemaResolver};

    #[test]
    fn embedded_subjects_are_served_under_any_topic_prefix() {
        let resolver = EmbeddedResolver::new().unwrap();
        let (subject, text) = SUBJECTS[3];
        let (id, _) = resolver.register(&format!("acme.eu.{subject}"), text).unwrap();
        assert_eq!(id, 4);
        assert_eq!(resolver.register(subject, text).unwrap().0, 4);
        assert!(resolver.register(&format!("acme.{subject}"), SUBJECTS[2].1).is_err());
    }
}
