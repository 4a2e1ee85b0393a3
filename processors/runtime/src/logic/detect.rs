//! The detect processor's logic: canonical events through the configured detectors
//! (`detect.detectors`, every one by default).
//!
//! Inputs are the canonical topics (Avro, keyed `tenant|site|sku`); a record whose key is not
//! the key of its value is refused, since it would sit in the wrong task. Outputs are
//! exceptions, actions (with CloudEvents `ce_*` headers and `idempotency-key`; with
//! `outputs.actions_json` on, every action a second time as JSON to `actions.json`, for
//! n8n and other kafkajs-based consumers that decode neither Avro nor snappy, lz4 or zstd
//! batches) and audit records. With `application.late_records = "dead-letter"`, an event more
//! than the grace period behind its task's stream time goes to the DLQ as `LATE` and the
//! detectors never see it.
//!
//! Detect tasks also talk to each other through repartition topics (JSON values, as Kafka
//! Streams' internal topics carry the application's own serde, not a registry subject): a
//! serial sighting goes out keyed by serial, so that one task sees every sighting of a serial
//! whatever the site, and what that task finds comes back keyed `tenant|site|sku` to the item's
//! task, which owns the exception (see `invex_detect::Repartitioned`). These records are read
//! like the canonical inputs (partition p of each topic, ordered by event time) but are never
//! late: the grace period applied to the event they came from.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use invex_detect::{
    DetectError, Engine, Outputs, Policy, RepartitionTopic, Repartitioned, Selection,
};
use invex_model::{ActionCommand, CanonicalEvent, CanonicalTopic, ErrorClass};
use invex_state::TaskStore;
use rdkafka::message::{BorrowedMessage, Header, Message, OwnedHeaders};

use super::{Rejected, Step, TaskLogic, Verdict, retrying_transient, undecodable};
use crate::admin::{TopicSpec, detect_topics};
use crate::codec::{Codec, CodecError};
use crate::config::{LateRecords, RuntimeConfig};
use crate::error::RuntimeError;
use crate::metrics::Metrics;
use crate::sink::Sink;
use crate::store::TaskStorePort;
use crate::topics::{Output, Topics};

const AVRO: &str = "application/avro";
const JSON: &str = "application/json";

/// What a detect task reads.
// Canonical events are the common case: boxing them would cost an allocation per record to
// save buffer space only while internal records are queued.
#[allow(clippy::large_enum_variant)]
pub(crate) enum DetectInput {
    /// A canonical event.
    Event(CanonicalEvent),
    /// A record another detect task (or this one) sent through a repartition topic.
    Internal(Repartitioned),
}

/// What an input index of a detect task reads.
#[derive(Debug, Clone, Copy)]
enum Source {
    Canonical(CanonicalTopic),
    Internal(RepartitionTopic),
}

/// The detectors, their outputs' topics and the late-record rule.
pub(crate) struct DetectLogic {
    policy: Arc<Policy>,
    /// The detectors each task's engine runs.
    detectors: Selection,
    stores: Vec<&'static str>,
    /// Input names: the canonical topics in [`CanonicalTopic::ALL`] order, then the
    /// repartition topics in [`RepartitionTopic::ALL`] order (ties in event time go to the
    /// earlier input).
    inputs: Vec<String>,
    sources: Vec<Source>,
    /// Repartition topics with their names.
    repartition: Vec<(RepartitionTopic, String)>,
    exceptions: String,
    actions: String,
    /// The JSON mirror of `actions`, when configured.
    actions_json: Option<String>,
    audit: String,
    /// CloudEvents `source` of actions.
    source: String,
    /// Grace period (ms) when late records are dead-lettered; `None` when they are processed.
    late_after: Option<i64>,
    buf: Vec<u8>,
    metrics: Metrics,
}

impl DetectLogic {
    pub(crate) fn new(
        policy: Arc<Policy>,
        cfg: &RuntimeConfig,
        topics: &Topics,
        metrics: Metrics,
    ) -> Self {
        let repartition: Vec<(RepartitionTopic, String)> =
            RepartitionTopic::ALL.iter().map(|t| (*t, topics.repartition(*t))).collect();
        let canonical = topics.inputs().iter().map(|(t, name)| (Source::Canonical(*t), name));
        let internal = repartition.iter().map(|(t, name)| (Source::Internal(*t), name));
        let (sources, inputs) = canonical.chain(internal).map(|(s, n)| (s, n.clone())).unzip();
        Self {
            policy,
            detectors: cfg.detectors.clone(),
            stores: Engine::store_names().iter().map(|s| s.as_str()).collect(),
            inputs,
            sources,
            repartition,
            exceptions: topics.output(Output::Exceptions),
            actions: topics.output(Output::Actions),
            actions_json: cfg.actions_json.then(|| topics.output(Output::ActionsJson)),
            audit: topics.output(Output::Audit),
            source: format!("urn:invex:{}", cfg.application_id),
            late_after: (cfg.late_records == LateRecords::DeadLetter)
                .then(|| i64::try_from(cfg.grace.as_millis()).unwrap_or(i64::MAX)),
            buf: Vec::with_capacity(1024),
            metrics,
        }
    }

    fn emit_with(
        &self,
        sink: &Sink,
        outputs: &Outputs,
        buf: &mut Vec<u8>,
    ) -> Result<(), RuntimeError> {
        let codec = sink.codec();
        for exception in &outputs.exceptions {
            codec.encode_output(Output::Exceptions, exception, buf)?;
            let key = Some(exception.exception_id.0.as_bytes());
            sink.send(&self.exceptions, None, key, Some(buf), None, 0)?;
        }
        for action in &outputs.actions {
            codec.encode_output(Output::Actions, action, buf)?;
            let headers = self.cloudevents(action, AVRO);
            let key = Some(action.exception_id.0.as_bytes());
            sink.send(&self.actions, None, key, Some(buf), Some(headers), 0)?;
            if let Some(mirror) = &self.actions_json {
                buf.clear();
                serde_json::to_writer(&mut *buf, action).map_err(|e| {
                    RuntimeError::Setup(format!("action {} as JSON: {e}", action.action_id.0))
                })?;
                let headers = self.cloudevents(action, JSON);
                sink.send(mirror, None, key, Some(buf), Some(headers), 0)?;
            }
        }
        for audit in &outputs.audit {
            codec.encode_output(Output::Audit, audit, buf)?;
            let key = Some(audit.exception_id.0.as_bytes());
            sink.send(&self.audit, None, key, Some(buf), None, 0)?;
        }
        for record in &outputs.repartitioned {
            buf.clear();
            serde_json::to_writer(&mut *buf, record)
                .map_err(|e| RuntimeError::Setup(format!("repartitioned record as JSON: {e}")))?;
            let key = record.key();
            let topic = self.repartition_name(record.topic());
            sink.send(topic, None, Some(key.as_bytes()), Some(buf), None, 0)?;
        }
        let counts = [
            ("exceptions", outputs.exceptions.len()),
            ("actions", outputs.actions.len()),
            ("actions.json", if self.actions_json.is_some() { outputs.actions.len() } else { 0 }),
            ("audit", outputs.audit.len()),
            ("repartition", outputs.repartitioned.len()),
        ];
        for (name, n) in counts {
            if n > 0 {
                self.metrics.outputs.with_label_values(&[name]).inc_by(n as u64);
            }
        }
        Ok(())
    }

    fn repartition_name(&self, topic: RepartitionTopic) -> &str {
        self.repartition.iter().find(|(t, _)| *t == topic).map_or("", |(_, name)| name.as_str())
    }

    fn process_event(
        &self,
        engine: &mut Engine,
        store: &mut TaskStore,
        event: CanonicalEvent,
        step: Step<'_>,
        out: &mut Outputs,
    ) -> Result<Verdict, RuntimeError> {
        if let Some(grace) = self.late_after.filter(|grace| step.lateness > *grace) {
            let message = format!(
                "event time {} is {} ms behind stream time {} (grace {grace} ms)",
                event.header().event_time,
                step.lateness,
                engine.stream_time().unwrap_or_default(),
            );
            return Ok(Verdict::Rejected(dead_event(
                step.codec,
                &event,
                ErrorClass::Late,
                message,
            )));
        }
        let mut port = TaskStorePort(store);
        match engine.process(&event, step.wall_clock, &mut port, out) {
            Ok(outcome) if outcome.duplicate => Ok(Verdict::Duplicate),
            Ok(_) => Ok(Verdict::Processed),
            Err(e) if e.is_poison() => Ok(Verdict::Rejected(dead_event(
                step.codec,
                &event,
                ErrorClass::Processing,
                e.to_string(),
            ))),
            Err(e) => Err(detect_failure(e)),
        }
    }

    fn process_internal(
        engine: &mut Engine,
        store: &mut TaskStore,
        record: &Repartitioned,
        wall_clock: i64,
        out: &mut Outputs,
    ) -> Result<Verdict, RuntimeError> {
        let mut port = TaskStorePort(store);
        match engine.process_repartitioned(record, wall_clock, &mut port, out) {
            Ok(_) => Ok(Verdict::Processed),
            Err(e) if e.is_poison() => {
                Ok(Verdict::Rejected(dead_internal(record, ErrorClass::Processing, e.to_string())))
            }
            Err(e) => Err(detect_failure(e)),
        }
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
}

impl TaskLogic for DetectLogic {
    type Input = DetectInput;
    type Task = Engine;
    type Outputs = Outputs;

    const PROCESSOR: &'static str = "detect";
    const WALL_CLOCK_TIMERS: bool = true;

    fn stores(&self) -> &[&'static str] {
        &self.stores
    }

    fn inputs(&self) -> &[String] {
        &self.inputs
    }

    fn topic_specs(&self, topics: &Topics) -> Vec<TopicSpec> {
        detect_topics(topics, &self.stores, 1, 1)
    }

    fn new_task(&self) -> Engine {
        Engine::with_selection(Arc::clone(&self.policy), &self.detectors)
    }

    fn decode(
        &self,
        codec: &Codec,
        input: usize,
        msg: &BorrowedMessage<'_>,
    ) -> Result<(i64, DetectInput), Rejected> {
        match self.sources.get(input) {
            Some(Source::Canonical(topic)) => decode_event(codec, *topic, msg),
            Some(Source::Internal(topic)) => decode_internal(*topic, msg),
            None => {
                Err(Rejected::of(msg, ErrorClass::Processing, format!("no input {input}"), None))
            }
        }
    }

    fn stream_time(&self, engine: &Engine) -> Option<i64> {
        engine.stream_time()
    }

    fn process(
        &mut self,
        engine: &mut Engine,
        store: &mut TaskStore,
        input: DetectInput,
        step: Step<'_>,
        out: &mut Outputs,
    ) -> Result<Verdict, RuntimeError> {
        match input {
            DetectInput::Event(event) => self.process_event(engine, store, event, step, out),
            DetectInput::Internal(record) => {
                Self::process_internal(engine, store, &record, step.wall_clock, out)
            }
        }
    }

    fn tick(
        &mut self,
        engine: &mut Engine,
        store: &mut TaskStore,
        wall_clock: i64,
        out: &mut Outputs,
    ) -> Result<(), RuntimeError> {
        let mut port = TaskStorePort(store);
        let outcome = engine.on_wall_clock(wall_clock, &mut port, out).map_err(detect_failure)?;
        self.metrics.expired.inc_by(outcome.expired as u64);
        Ok(())
    }

    fn emit(&mut self, sink: &Sink, out: &mut Outputs) -> Result<(), RuntimeError> {
        let mut buf = std::mem::take(&mut self.buf);
        let result = self.emit_with(sink, out, &mut buf);
        self.buf = buf;
        out.clear();
        result
    }
}

/// Decodes a canonical event and checks that its record key is its item key.
fn decode_event(
    codec: &Codec,
    topic: CanonicalTopic,
    msg: &BorrowedMessage<'_>,
) -> Result<(i64, DetectInput), Rejected> {
    let event = retrying_transient(CodecError::is_transient, || codec.decode(topic, msg.payload()))
        .map_err(|e| undecodable(msg, &e))?;
    let header = event.header();
    let key = msg.key().unwrap_or_default();
    if !key_matches(key, &header.tenant_id, &header.site_id, event.sku()) {
        let message = format!(
            "record key {:?} is not tenant|site|sku of its value ({}|{}|{}); canonical topics must be keyed by it",
            String::from_utf8_lossy(key),
            header.tenant_id,
            header.site_id,
            event.sku()
        );
        return Err(Rejected::of(msg, ErrorClass::Validation, message, None));
    }
    Ok((header.event_time, DetectInput::Event(event)))
}

/// Decodes a record of a repartition topic: JSON of the kind that topic carries, under the
/// key that record must have (anything else was not written by invex and would sit in the
/// wrong task).
fn decode_internal(
    topic: RepartitionTopic,
    msg: &BorrowedMessage<'_>,
) -> Result<(i64, DetectInput), Rejected> {
    let record: Repartitioned =
        serde_json::from_slice(msg.payload().unwrap_or_default()).map_err(|e| {
            let message = format!("not a {} record: {e}", topic.name());
            Rejected::of(msg, ErrorClass::Deserialization, message, None)
        })?;
    if record.topic() != topic {
        let message = format!("a {} record on the {} topic", record.topic().name(), topic.name());
        return Err(Rejected::of(msg, ErrorClass::Validation, message, None));
    }
    let key = record.key();
    if msg.key() != Some(key.as_bytes()) {
        let message = format!(
            "record key {:?} is not the key of its value ({key})",
            String::from_utf8_lossy(msg.key().unwrap_or_default())
        );
        return Err(Rejected::of(msg, ErrorClass::Validation, message, None));
    }
    Ok((record.event_time(), DetectInput::Internal(record)))
}

/// A decoded internal record that goes to the DLQ, re-encoded as it was read.
fn dead_internal(record: &Repartitioned, class: ErrorClass, message: String) -> Rejected {
    Rejected {
        timestamp: Some(record.event_time()),
        key: Some(record.key().into_bytes()),
        value: serde_json::to_vec(record).ok(),
        class,
        message,
        schema_id: None,
    }
}

/// A decoded event that goes to the DLQ: its value is re-encoded (the same schema, so the
/// same bytes a consumer of the input topic would decode) since the read buffer is gone.
fn dead_event(
    codec: &Codec,
    event: &CanonicalEvent,
    class: ErrorClass,
    message: String,
) -> Rejected {
    let mut value = Vec::new();
    let value = codec.encode_event(event, &mut value).ok().map(|()| value);
    // Confluent framing: magic byte 0, then the schema id big-endian.
    let schema_id = value
        .as_deref()
        .and_then(|v| v.get(1..5))
        .and_then(|id| <[u8; 4]>::try_from(id).ok())
        .map(u32::from_be_bytes);
    Rejected {
        timestamp: Some(event.header().event_time),
        key: Some(event.partition_key().to_string().into_bytes()),
        value,
        class,
        message,
        schema_id,
    }
}

fn detect_failure(e: DetectError) -> RuntimeError {
    RuntimeError::Detect(e.to_string())
}

/// True when `key` is exactly `tenant|site|sku`, compared without building the string.
fn key_matches(key: &[u8], tenant: &str, site: &str, sku: &str) -> bool {
    let expected_len = tenant.len() + site.len() + sku.len() + 2;
    if key.len() != expected_len {
        return false;
    }
    let (t, rest) = key.split_at(tenant.len());
    let (s, rest) = rest[1..].split_at(site.len());
    t == tenant.as_bytes()
        && key[tenant.len()] == b'|'
        && s == site.as_bytes()
        && rest[0] == b'|'
        && &rest[1..] == sku.as_bytes()
}

#[cfg(test)]
mod tests {
    use super::key_matches;

    #[test]
    fn key_must_be_exactly_tenant_site_sku() {
        assert!(key_matches(b"t|DC1|SKU-1", "t", "DC1", "SKU-1"));
        assert!(!key_matches(b"t|DC1|SKU-2", "t", "DC1", "SKU-1"));
        assert!(!key_matches(b"t|DC2|SKU-1", "t", "DC1", "SKU-1"));
        assert!(!key_matches(b"tDDC1|SKU-1", "t", "DC1", "SKU-1"));
        assert!(!key_matches(b"t|DC1", "t", "DC1", "SKU-1"));
        assert!(!key_matches(b"", "", "", ""));
    }
}
