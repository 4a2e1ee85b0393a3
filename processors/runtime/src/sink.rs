//! Everything the processor writes: outputs, dead letters and changelog records.
//!
//! All of it goes through the one producer of the instance, so under exactly-once it all lands
//! in the open transaction. Values are encoded into one reused buffer; `send` never blocks
//! except when librdkafka's queue is full, where it polls (serving delivery reports) and retries.
//!
//! Actions carry CloudEvents attributes in binary-mode `ce_*` headers (id = action id,
//! subject = exception id, type = `com.invex.<action>.requested.v1`), plus `idempotency-key`.
//! With `outputs.actions_json` on, every action is produced a second time, as JSON with the
//! same headers (`content-type: application/json`), to `actions.json` in the same transaction:
//! for n8n and other kafkajs-based consumers, which decode neither Avro nor snappy, lz4 or
//! zstd batches (the producer compresses nothing; gzip set through `kafka.properties` also
//! suits them).
//! Dead letters keep the original key as record key and repeat their metadata as
//! `invex.dlq.*` headers for tools that never decode values.

use std::time::{Duration, UNIX_EPOCH};

use invex_detect::Outputs;
use invex_model::{ActionCommand, DlqEnvelope, ErrorClass};
use invex_state::ChangelogRecord;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord};

use crate::codec::Codec;
use crate::config::RuntimeConfig;
use crate::delivery::DeliveryTracker;
use crate::error::RuntimeError;
use crate::metrics::Metrics;
use crate::topics::{Output, Topics};

const AVRO: &str = "application/avro";
const JSON: &str = "application/json";

/// Where a dead-lettered record came from and why it failed.
pub(crate) struct DeadLetter<'a> {
    pub(crate) topic: &'a str,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) timestamp: Option<i64>,
    pub(crate) key: Option<&'a [u8]>,
    pub(crate) value: Option<&'a [u8]>,
    pub(crate) class: ErrorClass,
    pub(crate) message: String,
    pub(crate) schema_id: Option<u32>,
}

/// Builds the instance's producer (transactions initialised): at start and after fencing.
pub(crate) type ProducerFactory =
    Box<dyn Fn() -> Result<BaseProducer<DeliveryTracker>, RuntimeError> + Send>;

/// The instance's writer.
pub(crate) struct Sink {
    pub(crate) producer: BaseProducer<DeliveryTracker>,
    codec: Codec,
    exceptions: String,
    actions: String,
    /// The JSON mirror of `actions`, when configured.
    actions_json: Option<String>,
    audit: String,
    dlq: String,
    changelogs: Vec<String>,
    source: String,
    buf: Vec<u8>,
    metrics: Metrics,
}

impl Sink {
    pub(crate) fn new(
        producer: BaseProducer<DeliveryTracker>,
        codec: Codec,
        topics: &Topics,
        stores: &[&str],
        cfg: &RuntimeConfig,
        metrics: Metrics,
    ) -> Self {
        Self {
            producer,
            codec,
            exceptions: topics.output(Output::Exceptions),
            actions: topics.output(Output::Actions),
            actions_json: cfg.actions_json.then(|| topics.output(Output::ActionsJson)),
            audit: topics.output(Output::Audit),
            dlq: topics.output(Output::Dlq),
            changelogs: stores.iter().map(|s| topics.changelog(s)).collect(),
            source: format!("urn:invex:{}", cfg.application_id),
            buf: Vec::with_capacity(1024),
            metrics,
        }
    }

    pub(crate) fn codec(&self) -> &Codec {
        &self.codec
    }

    fn send(
        &self,
        topic: &str,
        partition: Option<i32>,
        key: Option<&[u8]>,
        payload: Option<&[u8]>,
        headers: Option<OwnedHeaders>,
        tag: usize,
    ) -> Result<(), RuntimeError> {
        let mut record = BaseRecord::with_opaque_to(topic, tag);
        if let Some(p) = partition {
            record = record.partition(p);
        }
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(v) = payload {
            record = record.payload(v);
        }
        if let Some(h) = headers {
            record = record.headers(h);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    self.producer.poll(Duration::from_millis(50));
                }
                Err((e, _)) => return Err(RuntimeError::kafka(format!("producing to {topic}"), e)),
            }
        }
    }

    /// Produces and drains every output of `outputs`.
    pub(crate) fn emit(&mut self, outputs: &mut Outputs) -> Result<(), RuntimeError> {
        let mut buf = std::mem::take(&mut self.buf);
        let result = self.emit_with(outputs, &mut buf);
        self.buf = buf;
        outputs.clear();
        result
    }

    fn emit_with(&self, outputs: &Outputs, buf: &mut Vec<u8>) -> Result<(), RuntimeError> {
        for exception in &outputs.exceptions {
            self.codec.encode_output(Output::Exceptions, exception, buf)?;
            self.send(
                &self.exceptions,
                None,
                Some(exception.exception_id.0.as_bytes()),
                Some(buf),
                None,
                0,
            )?;
        }
        for action in &outputs.actions {
            self.codec.encode_output(Output::Actions, action, buf)?;
            let headers = self.cloudevents(action, AVRO);
            let key = Some(action.exception_id.0.as_bytes());
            self.send(&self.actions, None, key, Some(buf), Some(headers), 0)?;
            if let Some(mirror) = &self.actions_json {
                buf.clear();
                serde_json::to_writer(&mut *buf, action).map_err(|e| {
                    RuntimeError::Setup(format!("action {} as JSON: {e}", action.action_id.0))
                })?;
                let headers = self.cloudevents(action, JSON);
                self.send(mirror, None, key, Some(buf), Some(headers), 0)?;
            }
        }
        for audit in &outputs.audit {
            self.codec.encode_output(Output::Audit, audit, buf)?;
            self.send(
                &self.audit,
                None,
                Some(audit.exception_id.0.as_bytes()),
                Some(buf),
                None,
                0,
            )?;
        }
        let counts = [
            ("exceptions", outputs.exceptions.len()),
            ("actions", outputs.actions.len()),
            ("actions.json", if self.actions_json.is_some() { outputs.actions.len() } else { 0 }),
            ("audit", outputs.audit.len()),
        ];
        for (name, n) in counts {
            if n > 0 {
                self.metrics.outputs.with_label_values(&[name]).inc_by(n as u64);
            }
        }
        Ok(())
    }

    fn cloudevents(&self, action: &ActionCommand, content_type: &str) -> OwnedHeaders {
        let time =
            UNIX_EPOCH + Duration::from_millis(u64::try_from(action.created_at).unwrap_or(0));
        let time = humantime::format_rfc3339_millis(time).to_string();
        let kind = action.action_type.cloudevents_type();
        OwnedHeaders::new_with_capacity(9)
            .insert(Header { key: "ce_specversion", value: Some("1.0") })
            .insert(Header { key: "ce_id", value: Some(action.action_id.0.as_str()) })
            .insert(Header { key: "ce_source", value: Some(self.source.as_str()) })
            .insert(Header { key: "ce_type", value: Some(kind.as_str()) })
            .insert(Header { key: "ce_subject", value: Some(action.exception_id.0.as_str()) })
            .insert(Header { key: "ce_time", value: Some(time.as_str()) })
            .insert(Header { key: "ce_datacontenttype", value: Some(content_type) })
            .insert(Header { key: "content-type", value: Some(content_type) })
            .insert(Header { key: "idempotency-key", value: Some(action.action_id.0.as_str()) })
    }

    /// Dead-letters one input record.
    pub(crate) fn dead_letter(
        &mut self,
        dead: DeadLetter<'_>,
        processor: &str,
        failed_at: i64,
    ) -> Result<(), RuntimeError> {
        let envelope = DlqEnvelope {
            source_topic: dead.topic.to_owned(),
            source_partition: dead.partition,
            source_offset: dead.offset,
            source_timestamp: dead.timestamp,
            key: dead.key.map(<[u8]>::to_vec),
            value: dead.value.map(<[u8]>::to_vec),
            schema_id: dead.schema_id.map(|id| id as i32),
            error_class: dead.class,
            error_message: dead.message,
            processor: processor.to_owned(),
            failed_at,
        };
        let mut buf = std::mem::take(&mut self.buf);
        self.codec.encode_output(Output::Dlq, &envelope, &mut buf)?;
        let class = format!("{:?}", dead.class).to_ascii_uppercase();
        let partition = dead.partition.to_string();
        let offset = dead.offset.to_string();
        let schema_id = dead.schema_id.map(|id| id.to_string()).unwrap_or_default();
        let headers = OwnedHeaders::new_with_capacity(6)
            .insert(Header { key: "invex.dlq.topic", value: Some(dead.topic) })
            .insert(Header { key: "invex.dlq.partition", value: Some(partition.as_str()) })
            .insert(Header { key: "invex.dlq.offset", value: Some(offset.as_str()) })
            .insert(Header { key: "invex.dlq.error.class", value: Some(class.as_str()) })
            .insert(Header {
                key: "invex.dlq.error.message",
                value: Some(envelope.error_message.as_str()),
            })
            .insert(Header { key: "invex.dlq.schema.id", value: Some(schema_id.as_str()) });
        let result = self.send(&self.dlq, None, dead.key, Some(&buf), Some(headers), 0);
        self.buf = buf;
        self.metrics.dlq.with_label_values(&[class.as_str()]).inc();
        result
    }

    /// Produces a task's changelog records to partition `partition` of each store's changelog,
    /// tagged so delivery reports yield the checkpoint offsets.
    pub(crate) fn changelog(
        &self,
        partition: i32,
        store_index: impl Fn(&str) -> Option<usize>,
        records: &[ChangelogRecord],
        source: &str,
    ) -> Result<(), RuntimeError> {
        for record in records {
            let Some(index) = store_index(&record.store) else {
                return Err(RuntimeError::Setup(format!(
                    "write to undeclared store {}",
                    record.store
                )));
            };
            let headers = OwnedHeaders::new_with_capacity(1)
                .insert(Header { key: "invex.source", value: Some(source) });
            self.send(
                &self.changelogs[index],
                Some(partition),
                Some(&record.key),
                record.value.as_deref(),
                Some(headers),
                index + 1,
            )?;
        }
        Ok(())
    }
}
