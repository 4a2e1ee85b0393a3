//! Avro in the Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro binary.
//!
//! Decoding takes the fast path when the writer's schema id is the one this build registered
//! for the topic (schema-aware deserialization straight into the Rust type, no intermediate
//! `Value`); any other id is resolved through the [`SchemaResolver`] and read with Avro schema
//! resolution (writer schema -> this build's reader schema), so producers may run an older or
//! newer compatible schema. Encoding writes the frame and the datum into one caller-owned
//! buffer: no allocation per record once the buffer has grown.
//!
//! Framing is parsed with `schema_registry_converter`'s helper; the frame is written here
//! directly because its `get_payload` copies the datum into a second buffer.

use std::collections::HashMap;
use std::sync::Arc;

use apache_avro::from_value;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::writer::datum::GenericDatumWriter;
use invex_model::{CanonicalEvent, CanonicalTopic};
use schema_registry_converter::schema_registry_common::{BytesResult, get_bytes_result};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::schema::{ResolveError, SchemaResolver, StaticSchema, embedded_schema_text};
use crate::topics::{Output, Topics};

/// Why a record could not be decoded or encoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Not Confluent-framed Avro (no magic byte, too short, or null).
    #[error("not Confluent-framed Avro: {0}")]
    Framing(String),
    /// The schema could not be resolved.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The Avro body does not match its schema or the Rust type.
    #[error("Avro body does not match schema id {schema_id}: {message}")]
    Avro {
        /// Schema id from the frame.
        schema_id: u32,
        /// What apache-avro said.
        message: String,
    },
}

impl CodecError {
    /// The schema id the record named, when it named one.
    pub fn schema_id(&self) -> Option<u32> {
        match self {
            Self::Avro { schema_id, .. } => Some(*schema_id),
            Self::Resolve(ResolveError::Unknown(id)) => Some(*id),
            _ => None,
        }
    }

    /// True when retrying later may succeed (registry unavailable).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Resolve(ResolveError::Transient(_)))
    }
}

struct Subject {
    id: u32,
    schema: StaticSchema,
    writer: GenericDatumWriter<'static>,
    reader: GenericDatumReader<'static>,
}

impl Subject {
    fn register(
        resolver: &dyn SchemaResolver,
        subject: &str,
        stem: &str,
    ) -> Result<Self, CodecError> {
        let text = embedded_schema_text(&format!("{stem}-value")).ok_or_else(|| {
            ResolveError::Invalid {
                subject: subject.to_owned(),
                message: "no embedded schema".into(),
            }
        })?;
        let (id, schema) = resolver.register(subject, text)?;
        let writer = GenericDatumWriter::builder(schema)
            .build()
            .map_err(|e| CodecError::Avro { schema_id: id, message: e.to_string() })?;
        let reader = GenericDatumReader::builder(schema)
            .build()
            .map_err(|e| CodecError::Avro { schema_id: id, message: e.to_string() })?;
        Ok(Self { id, schema, writer, reader })
    }
}

/// Encodes and decodes every topic of one deployment.
pub struct Codec {
    resolver: Arc<dyn SchemaResolver>,
    inputs: HashMap<CanonicalTopic, Subject>,
    outputs: HashMap<Output, Subject>,
}

impl Codec {
    /// Registers (or looks up) this build's schema for every topic.
    pub fn new(resolver: Arc<dyn SchemaResolver>, topics: &Topics) -> Result<Self, CodecError> {
        let mut inputs = HashMap::new();
        for (topic, name) in topics.inputs() {
            let subject = format!("{name}-value");
            inputs.insert(*topic, Subject::register(resolver.as_ref(), &subject, topic.name())?);
        }
        let mut outputs = HashMap::new();
        for output in Output::ALL.into_iter().filter(|o| o.is_avro()) {
            let subject = format!("{}-value", topics.output(output));
            outputs.insert(output, Subject::register(resolver.as_ref(), &subject, output.name())?);
        }
        Ok(Self { resolver, inputs, outputs })
    }

    /// Decodes a canonical event read from `topic`.
    pub fn decode(
        &self,
        topic: CanonicalTopic,
        bytes: Option<&[u8]>,
    ) -> Result<CanonicalEvent, CodecError> {
        use CanonicalEvent as E;
        Ok(match topic {
            CanonicalTopic::Scan => E::Scan(self.decode_as(topic, bytes)?),
            CanonicalTopic::Receipt => E::Receipt(self.decode_as(topic, bytes)?),
            CanonicalTopic::Pick => E::Pick(self.decode_as(topic, bytes)?),
            CanonicalTopic::Count => E::Count(self.decode_as(topic, bytes)?),
            CanonicalTopic::Task => E::Task(self.decode_as(topic, bytes)?),
            CanonicalTopic::Asn => E::Asn(self.decode_as(topic, bytes)?),
            CanonicalTopic::Book => E::Book(self.decode_as(topic, bytes)?),
            CanonicalTopic::Allocation => E::Allocation(self.decode_as(topic, bytes)?),
            CanonicalTopic::Ack => E::Ack(self.decode_as(topic, bytes)?),
            CanonicalTopic::Item => E::Item(self.decode_as(topic, bytes)?),
            CanonicalTopic::Approvals => E::Approval(self.decode_as(topic, bytes)?),
        })
    }

    fn decode_as<T: DeserializeOwned>(
        &self,
        topic: CanonicalTopic,
        bytes: Option<&[u8]>,
    ) -> Result<T, CodecError> {
        let own = self.inputs.get(&topic).ok_or_else(|| {
            CodecError::Framing(format!("topic {topic} has no registered schema"))
        })?;
        self.read_framed(own, bytes)
    }

    /// Decodes a record of an output topic that a downstream processor consumes (the kpi
    /// processor reads exceptions and audit records). As for canonical events, the writer's
    /// schema is resolved to this build's, so the upstream processor may run an older or newer
    /// compatible schema.
    pub fn decode_consumed<T: DeserializeOwned>(
        &self,
        output: Output,
        bytes: Option<&[u8]>,
    ) -> Result<T, CodecError> {
        let own = self
            .outputs
            .get(&output)
            .ok_or_else(|| CodecError::Framing(format!("output {output:?} has no schema")))?;
        self.read_framed(own, bytes)
    }

    /// A Confluent-framed value read as `own`'s type: straight into `T` when written with
    /// `own`'s schema, through schema resolution from the writer's schema otherwise.
    fn read_framed<T: DeserializeOwned>(
        &self,
        own: &Subject,
        bytes: Option<&[u8]>,
    ) -> Result<T, CodecError> {
        let (id, mut body) = match get_bytes_result(bytes) {
            BytesResult::Valid(id, body) => (id, body),
            BytesResult::Null => return Err(CodecError::Framing("null value".into())),
            BytesResult::Invalid(raw) => {
                return Err(CodecError::Framing(format!(
                    "{} byte(s), first byte {:#04x} (expected magic byte 0x00 and a 4-byte schema id)",
                    raw.len(),
                    raw.first().copied().unwrap_or_default()
                )));
            }
        };
        let avro =
            |e: apache_avro::Error| CodecError::Avro { schema_id: id, message: e.to_string() };
        if id == own.id {
            return own.reader.read_deser(&mut body).map_err(avro);
        }
        let writer_schema = self.resolver.schema_by_id(id)?;
        let reader = GenericDatumReader::builder(writer_schema)
            .reader_schema(own.schema)
            .build()
            .map_err(avro)?;
        let value = reader.read_value(&mut body).map_err(avro)?;
        from_value(&value).map_err(avro)
    }

    /// Encodes a canonical event for its topic into `buf` (cleared first).
    pub fn encode_event(
        &self,
        event: &CanonicalEvent,
        buf: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        let subject = self.inputs.get(&event.topic()).ok_or_else(|| {
            CodecError::Framing(format!("topic {} has no registered schema", event.topic()))
        })?;
        match event {
            CanonicalEvent::Scan(e) => frame(subject, e, buf),
            CanonicalEvent::Receipt(e) => frame(subject, e, buf),
            CanonicalEvent::Pick(e) => frame(subject, e, buf),
            CanonicalEvent::Count(e) => frame(subject, e, buf),
            CanonicalEvent::Task(e) => frame(subject, e, buf),
            CanonicalEvent::Asn(e) => frame(subject, e, buf),
            CanonicalEvent::Book(e) => frame(subject, e, buf),
            CanonicalEvent::Allocation(e) => frame(subject, e, buf),
            CanonicalEvent::Ack(e) => frame(subject, e, buf),
            CanonicalEvent::Item(e) => frame(subject, e, buf),
            CanonicalEvent::Approval(e) => frame(subject, e, buf),
        }
    }

    /// Encodes an output record (exception, action, audit record or DLQ envelope) into `buf`.
    pub fn encode_output<T: Serialize>(
        &self,
        output: Output,
        value: &T,
        buf: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        let subject = self
            .outputs
            .get(&output)
            .ok_or_else(|| CodecError::Framing(format!("output {output:?} has no schema")))?;
        frame(subject, value, buf)
    }

    /// Decodes an output record read back (tests, the demo's report, evaluation).
    pub fn decode_output<T: DeserializeOwned>(
        &self,
        output: Output,
        bytes: &[u8],
    ) -> Result<T, CodecError> {
        let (id, mut body) = match get_bytes_result(Some(bytes)) {
            BytesResult::Valid(id, body) => (id, body),
            _ => {
                return Err(CodecError::Framing(format!(
                    "{} byte(s) without a frame",
                    bytes.len()
                )));
            }
        };
        let avro =
            |e: apache_avro::Error| CodecError::Avro { schema_id: id, message: e.to_string() };
        if let Some(own) = self.outputs.get(&output).filter(|s| s.id == id) {
            return own.reader.read_deser(&mut body).map_err(avro);
        }
        let schema = self.resolver.schema_by_id(id)?;
        GenericDatumReader::builder(schema)
            .build()
            .map_err(avro)?
            .read_deser(&mut body)
            .map_err(avro)
    }
}

fn frame<T: Serialize>(subject: &Subject, value: &T, buf: &mut Vec<u8>) -> Result<(), CodecError> {
    buf.clear();
    buf.push(0);
    buf.extend_from_slice(&subject.id.to_be_bytes());
    subject
        .writer
        .write_ser(buf, value)
        .map(|_| ())
        .map_err(|e| CodecError::Avro { schema_id: subject.id, message: e.to_string() })
}

impl Codec {
    /// The resolver this codec finds writer schemas through: the normalize processor looks
    /// up the writer schemas of Avro raw records with it, so one deployment has one cache.
    pub fn resolver(&self) -> &Arc<dyn SchemaResolver> {
        &self.resolver
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use invex_model::{AuditRecord, Decision, ExceptionId, ExceptionStatus};

    use super::*;
    use crate::schema::EmbeddedResolver;

    #[test]
    fn a_consumed_output_round_trips_and_null_or_garbage_is_a_framing_error() {
        let codec =
            Codec::new(Arc::new(EmbeddedResolver::new().unwrap()), &Topics::new("", "t")).unwrap();
        let audit = AuditRecord {
            audit_id: "a-1".into(),
            exception_id: ExceptionId("e-1".into()),
            exception_version: 1,
            tenant_id: "t1".into(),
            site_id: "DC1".into(),
            at: 1_767_225_600_000,
            decision: Decision::Opened,
            from_status: None,
            to_status: ExceptionStatus::Open,
            rule_id: "CC-001".into(),
            policy_version: "p1".into(),
            input_event_ids: vec!["ev-1".into()],
            actor: None,
            action_ids: Vec::new(),
            note: "variance -3".into(),
            details: BTreeMap::from([("count_seq".to_owned(), "1".to_owned())]),
        };
        let mut buf = Vec::new();
        codec.encode_output(Output::Audit, &audit, &mut buf).unwrap();
        let back: AuditRecord = codec.decode_consumed(Output::Audit, Some(&buf)).unwrap();
        assert_eq!(back, audit);
        for bytes in [None, Some(&b"junk"[..])] {
            let error = codec.decode_consumed::<AuditRecord>(Output::Audit, bytes).unwrap_err();
            assert!(matches!(error, CodecError::Framing(_)), "{error}");
        }
    }
}
