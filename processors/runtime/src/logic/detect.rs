//! The detect processor's logic: canonical events through every detector.
//!
//! Inputs are the canonical topics (Avro, keyed `tenant|site|sku`); a record whose key is not
//! the key of its value is refused, since it would sit in the wrong task. Outputs are
//! exceptions, actions (with CloudEvents `ce_*` headers and `idempotency-key`; with
//! `outputs.actions_json` on, every action a second time as JSON to `actions.json`, for
//! n8n and other kafkajs-based consumers that decode neither Avro nor snappy, lz4 or zstd
//! batches) and audit records. With `application.late_records = "dead-letter"`, an event more
//! than the grace period behind its task's stream time goes to the DLQ as `LATE` and the
//! detectors never see it.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use invex_detect::{DetectError, Engine, Outputs, Policy};
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

/// The detectors, their outputs' topics and the late-record rule.
pub(crate) struct DetectLogic {
    policy: Arc<Policy>,
    stores: Vec<&'static str>,
    /// Canonical input names, in [`CanonicalTopic::ALL`] order.
    inputs: Vec<String>,
    topics: Vec<CanonicalTopic>,
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
        Self {
            policy,
            stores: Engine::store_names().iter().map(|s| s.as_str()).collect(),
            inputs: topics.inputs().iter().map(|(_, name)| name.clone()).collect(),
            topics: topics.inputs().iter().map(|(t, _)| *t).collect(),
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
}

impl TaskLogic for DetectLogic {
    type Input = CanonicalEvent;
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
        Engine::new(Arc::clone(&self.policy))
    }

    fn decode(
        &self,
        codec: &Codec,
        input: usize,
        msg: &BorrowedMessage<'_>,
    ) -> Result<(i64, CanonicalEvent), Rejected> {
        let topic = self.topics.get(input).copied().ok_or_else(|| {
            Rejected::of(msg, ErrorClass::Processing, format!("no input {input}"), None)
        })?;
        let event =
            retrying_transient(CodecError::is_transient, || codec.decode(topic, msg.payload()))
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
        Ok((header.event_time, event))
    }

    fn stream_time(&self, engine: &Engine) -> Option<i64> {
        engine.stream_time()
    }

    fn process(
        &mut self,
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
