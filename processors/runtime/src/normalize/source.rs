//! One loaded source and the per-record flow: decode (parse JSON, or decode Avro by its
//! writer schema), recognise, split, map, type, hash, key.

use std::collections::HashMap;

use invex_model::{CanonicalEvent, CanonicalTopic};
use serde_json::Value;

use super::Normalized;
use super::avro::{Undecodable, WriterSchemas};
use super::error::{Location, NormalizeError, Reason};
use super::eval::{Fail, event_object, type_name};
use super::hash::ContentHash;
use super::plan::Kind;
use super::pointer::{Pointer, Scope};

/// How a source's raw records are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// One JSON document per record value.
    Json,
    /// One Avro datum per record value, in the Confluent wire format (magic byte, schema id).
    Avro,
}

/// A validated source definition: a raw topic and how its messages become canonical events.
#[derive(Debug, Clone)]
pub struct Source {
    pub(crate) name: String,
    pub(crate) topic: String,
    pub(crate) format: Format,
    /// Avro only: the full name of the only writer record accepted (`[avro] record`).
    pub(crate) record: Option<String>,
    pub(crate) discriminator: Pointer,
    pub(crate) kinds: Vec<Kind>,
    pub(crate) by_value: HashMap<String, usize>,
}

impl Source {
    /// Source name (unique across the loaded files).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Raw topic the source's records arrive on.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Encoding of the raw records.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The message kinds: name and the canonical event each maps to.
    pub fn kinds(&self) -> impl Iterator<Item = (&str, CanonicalTopic)> {
        self.kinds.iter().map(|k| (k.name.as_str(), k.topic))
    }

    /// The full name of the only writer record an Avro source accepts, if it pins one.
    pub fn pinned_record(&self) -> Option<&str> {
        self.record.as_deref()
    }

    /// Maps one raw JSON record to its canonical events: one, or one per line for a kind
    /// that splits documents. All or nothing: a record with one bad line fails as a whole.
    /// An Avro source needs writer schemas: it answers [`Reason::SchemasRequired`] here (use
    /// [`Source::normalize_with`]).
    pub fn normalize(&self, raw: &[u8]) -> Result<Vec<Normalized>, NormalizeError> {
        match self.format {
            Format::Json => self.map(&self.parse_json(raw)?),
            Format::Avro => Err(self.error(None, Location::default(), Reason::SchemasRequired)),
        }
    }

    /// Maps one raw record of either format; the writer schema of an Avro record is looked
    /// up in `schemas` by the id in its frame. Errors of an Avro record carry its schema id.
    pub fn normalize_with(
        &self,
        raw: &[u8],
        schemas: &WriterSchemas,
    ) -> Result<Vec<Normalized>, NormalizeError> {
        if self.format == Format::Json {
            return self.normalize(raw);
        }
        let decoded =
            schemas.decode(raw).map_err(|Undecodable { schema_id, pointer, reason }| {
                let at = Location { pointer, ..Location::default() };
                NormalizeError { schema_id, ..self.error(None, at, reason) }
            })?;
        let with_id =
            |e: NormalizeError| NormalizeError { schema_id: Some(decoded.schema_id), ..e };
        if let Some(expected) = &self.record
            && decoded.record.as_ref() != Some(expected)
        {
            let found = decoded.record.clone();
            let reason = Reason::WrongRecord { found, expected: expected.clone() };
            return Err(with_id(self.error(None, Location::default(), reason)));
        }
        self.map(&decoded.tree).map_err(with_id)
    }

    fn parse_json(&self, raw: &[u8]) -> Result<Value, NormalizeError> {
        serde_json::from_slice(raw).map_err(|e| {
            let offset = byte_offset(raw, e.line(), e.column());
            self.error(
                None,
                Location::default(),
                Reason::InvalidJson { offset, message: e.to_string() },
            )
        })
    }

    /// The events of one decoded document.
    fn map(&self, doc: &Value) -> Result<Vec<Normalized>, NormalizeError> {
        let kind = self.kind_of(doc)?;
        let Some(lines) = &kind.split else {
            return Ok(vec![self.event(kind, doc, None)?]);
        };
        let items = match lines.resolve(doc, None) {
            Some(Value::Array(items)) if !items.is_empty() => items,
            found => {
                let reason = match found {
                    None | Some(Value::Null) => Reason::Missing,
                    Some(Value::Array(_)) => Reason::NoLines,
                    Some(other) => {
                        Reason::WrongType { expected: "array".into(), found: type_name(other) }
                    }
                };
                let at = Location { pointer: Some(lines.text().to_owned()), ..Location::default() };
                return Err(self.error(Some(kind), at, reason));
            }
        };
        items
            .iter()
            .enumerate()
            .map(|(i, line)| self.event(kind, doc, Some(&Scope::new(line, None, lines, i))))
            .collect()
    }

    fn kind_of(&self, doc: &Value) -> Result<&Kind, NormalizeError> {
        let found = self.discriminator.resolve(doc, None);
        if let Some(Value::String(value)) = found
            && let Some(&index) = self.by_value.get(value)
        {
            return Ok(&self.kinds[index]);
        }
        let found = found.map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
        let at =
            Location { pointer: Some(self.discriminator.text().to_owned()), ..Location::default() };
        Err(self.error(None, at, Reason::UnknownKind { found }))
    }

    fn event(
        &self,
        kind: &Kind,
        doc: &Value,
        line: Option<&Scope<'_>>,
    ) -> Result<Normalized, NormalizeError> {
        let object =
            event_object(&kind.fields, doc, line).map_err(|fail| self.failed(kind, fail))?;
        let mut event = typed(kind.topic, object).map_err(|e| {
            self.error(Some(kind), Location::default(), Reason::Model(e.to_string()))
        })?;
        let content_hash = ContentHash::of_owned(&mut event);
        let header = event.header();
        // Same text as `PartitionKey`'s Display, without cloning the three parts first.
        let key = format!("{}|{}|{}", header.tenant_id, header.site_id, event.sku());
        Ok(Normalized { event, key, content_hash })
    }

    fn failed(&self, kind: &Kind, fail: Fail) -> NormalizeError {
        let at = Location { kind: None, field: fail.field, pointer: fail.pointer };
        self.error(Some(kind), at, fail.reason)
    }

    fn error(&self, kind: Option<&Kind>, mut at: Location, reason: Reason) -> NormalizeError {
        at.kind = kind.map(|k| k.name.clone());
        NormalizeError {
            source_name: self.name.clone(),
            schema_id: None,
            location: Box::new(at),
            reason,
        }
    }
}

/// The model type of `topic` from its JSON object (moved, not copied).
fn typed(topic: CanonicalTopic, object: Value) -> Result<CanonicalEvent, serde_json::Error> {
    use serde_json::from_value as from;
    Ok(match topic {
        CanonicalTopic::Scan => CanonicalEvent::Scan(from(object)?),
        CanonicalTopic::Receipt => CanonicalEvent::Receipt(from(object)?),
        CanonicalTopic::Pick => CanonicalEvent::Pick(from(object)?),
        CanonicalTopic::Count => CanonicalEvent::Count(from(object)?),
        CanonicalTopic::Task => CanonicalEvent::Task(from(object)?),
        CanonicalTopic::Asn => CanonicalEvent::Asn(from(object)?),
        CanonicalTopic::Book => CanonicalEvent::Book(from(object)?),
        CanonicalTopic::Allocation => CanonicalEvent::Allocation(from(object)?),
        CanonicalTopic::Ack => CanonicalEvent::Ack(from(object)?),
        CanonicalTopic::Item => CanonicalEvent::Item(from(object)?),
        CanonicalTopic::Approvals => CanonicalEvent::Approval(from(object)?),
    })
}

/// The byte offset of serde_json's one-based line and column (column counts bytes).
fn byte_offset(raw: &[u8], line: usize, column: usize) -> usize {
    let line_start = match line {
        0 | 1 => 0,
        n => raw
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(n - 2)
            .map_or(raw.len(), |(i, _)| i + 1),
    };
    (line_start + column.saturating_sub(1)).min(raw.len())
}
