//! The normalize processor's logic: vendor records on raw topics to canonical events.
//!
//! Inputs are the raw topics of the loaded sources (`topology/sources/`), input `i` being
//! source `i`. Decoding maps a record with its source's rules (`crate::normalize`); the writer
//! schemas of Avro sources come from the deployment's resolver (the codec's), compiled once
//! per id and shared by every task. A record that cannot be mapped goes to the DLQ with its
//! original key and value, its writer schema id (Avro) and a message naming the source,
//! message kind, canonical field and raw pointer; a record whose writer schema cannot be
//! fetched because the registry is unreachable is retried, never dead-lettered. Processing
//! drops every event whose content hash the task published within `normalize.dedupe_ttl_ms`
//! of stream time (a vendor retry; counted per source), remembers the others (`norm.seen`,
//! see `seen`), and publishes them to their canonical topic: Avro in the Confluent framing, key
//! `tenant|site|sku`. Outputs, the changelog of `norm.seen` and the input offsets commit in
//! one transaction, so a crash neither loses an event nor publishes one twice.
//!
//! Dedupe is per task: a retry is caught when it reaches the same task as the original, which
//! holds when producers key raw records by a stable business key (`topology/topics.toml`).

use std::sync::{Arc, OnceLock};

use invex_model::CanonicalTopic;
use invex_state::TaskStore;
use prometheus::IntCounter;
use rdkafka::message::{BorrowedMessage, Message};

use super::seen::{SEEN, Seen};
use super::{OutputBuffer, Rejected, Step, TaskLogic, Verdict, retrying_transient};
use crate::admin::{TopicSpec, normalize_topics};
use crate::codec::Codec;
use crate::config::RuntimeConfig;
use crate::error::RuntimeError;
use crate::metrics::Metrics;
use crate::normalize::{NormalizeError, Normalized, Normalizer, Source, WriterSchemas};
use crate::sink::Sink;
use crate::topics::Topics;

/// The stores of the normalize processor.
pub const NORMALIZE_STORES: [&str; 1] = [SEEN];

/// One raw record, mapped: the events it carries, in record order.
pub(crate) struct Mapped {
    source: usize,
    events: Vec<Normalized>,
}

/// Events to publish.
#[derive(Default)]
pub(crate) struct Publish(Vec<Normalized>);

impl OutputBuffer for Publish {
    fn clear(&mut self) {
        self.0.clear();
    }
}

/// Metrics of one source, resolved once (no label lookup per record).
struct SourceCounters {
    duplicates: IntCounter,
    /// Events published, by canonical topic index; `None` for topics the source never maps.
    events: Vec<Option<IntCounter>>,
}

/// The loaded sources, the canonical topics and the dedupe TTL.
pub(crate) struct NormalizeLogic {
    normalizer: Arc<Normalizer>,
    stores: Vec<&'static str>,
    /// Raw topic of each source, prefixed.
    inputs: Vec<String>,
    /// Canonical topic names, by [`CanonicalTopic::ALL`] index.
    canonical: Vec<String>,
    ttl: i64,
    counters: Vec<SourceCounters>,
    /// `invex_output_records_total{output=<canonical topic>}`, by canonical topic index.
    written: Vec<IntCounter>,
    buf: Vec<u8>,
    /// Writer schemas of Avro records, through the codec's resolver (set on first use: the
    /// codec is built after the logic).
    writers: OnceLock<WriterSchemas>,
}

fn index(topic: CanonicalTopic) -> usize {
    CanonicalTopic::ALL.iter().position(|t| *t == topic).unwrap_or(0)
}

impl NormalizeLogic {
    pub(crate) fn new(
        normalizer: Arc<Normalizer>,
        cfg: &RuntimeConfig,
        topics: &Topics,
        metrics: &Metrics,
    ) -> Self {
        let counters = normalizer
            .sources()
            .iter()
            .map(|source| {
                let mut events = vec![None; CanonicalTopic::ALL.len()];
                for (_, topic) in source.kinds() {
                    events[index(topic)] = Some(
                        metrics.normalize_events.with_label_values(&[source.name(), topic.name()]),
                    );
                }
                SourceCounters {
                    duplicates: metrics.normalize_duplicates.with_label_values(&[source.name()]),
                    events,
                }
            })
            .collect();
        Self {
            inputs: normalizer.sources().iter().map(|s| topics.raw(s.topic())).collect(),
            canonical: CanonicalTopic::ALL.iter().map(|t| topics.input(*t).to_owned()).collect(),
            written: CanonicalTopic::ALL
                .iter()
                .map(|t| metrics.outputs.with_label_values(&[t.name()]))
                .collect(),
            ttl: i64::try_from(cfg.normalize.dedupe_ttl.as_millis()).unwrap_or(i64::MAX),
            stores: NORMALIZE_STORES.to_vec(),
            counters,
            normalizer,
            buf: Vec::with_capacity(1024),
            writers: OnceLock::new(),
        }
    }

    /// Maps one record, waiting out an unreachable schema registry.
    fn normalize(
        &self,
        codec: &Codec,
        source: &Source,
        raw: &[u8],
    ) -> Result<Vec<Normalized>, NormalizeError> {
        let writers = self.writers.get_or_init(|| WriterSchemas::new(Arc::clone(codec.resolver())));
        retrying_transient(NormalizeError::is_transient, || source.normalize_with(raw, writers))
    }

    fn publish(&mut self, sink: &Sink, events: &[Normalized]) -> Result<(), RuntimeError> {
        for normalized in events {
            let i = index(normalized.event.topic());
            sink.codec().encode_event(&normalized.event, &mut self.buf)?;
            let key = Some(normalized.key.as_bytes());
            sink.send(&self.canonical[i], None, key, Some(&self.buf), None, 0)?;
            self.written[i].inc();
        }
        Ok(())
    }
}

impl TaskLogic for NormalizeLogic {
    type Input = Mapped;
    type Task = Seen;
    type Outputs = Publish;

    const PROCESSOR: &'static str = "normalize";

    fn stores(&self) -> &[&'static str] {
        &self.stores
    }

    fn inputs(&self) -> &[String] {
        &self.inputs
    }

    fn topic_specs(&self, topics: &Topics) -> Vec<TopicSpec> {
        normalize_topics(topics, &self.normalizer, 1, 1)
    }

    fn new_task(&self) -> Seen {
        Seen::default()
    }

    fn decode(
        &self,
        codec: &Codec,
        input: usize,
        msg: &BorrowedMessage<'_>,
    ) -> Result<(i64, Mapped), Rejected> {
        let Some(source) = self.normalizer.sources().get(input) else {
            let message = format!("no source for input {input}");
            return Err(Rejected::of(msg, invex_model::ErrorClass::Processing, message, None));
        };
        match self.normalize(codec, source, msg.payload().unwrap_or_default()) {
            Ok(events) => {
                let time = events.iter().map(|n| n.event.header().event_time).min();
                Ok((time.unwrap_or(i64::MIN), Mapped { source: input, events }))
            }
            Err(e) => Err(Rejected::of(msg, e.error_class(), e.to_string(), e.schema_id)),
        }
    }

    fn stream_time(&self, seen: &Seen) -> Option<i64> {
        seen.stream_time()
    }

    fn process(
        &mut self,
        seen: &mut Seen,
        store: &mut TaskStore,
        mapped: Mapped,
        _step: Step<'_>,
        out: &mut Publish,
    ) -> Result<Verdict, RuntimeError> {
        let counters = &self.counters[mapped.source];
        let mut published = 0;
        for normalized in mapped.events {
            let event_time = normalized.event.header().event_time;
            if seen.admit(store, &normalized.content_hash, event_time, self.ttl)? {
                if let Some(counter) = &counters.events[index(normalized.event.topic())] {
                    counter.inc();
                }
                out.0.push(normalized);
                published += 1;
            } else {
                counters.duplicates.inc();
            }
        }
        Ok(if published == 0 { Verdict::Duplicate } else { Verdict::Processed })
    }

    fn emit(&mut self, sink: &Sink, out: &mut Publish) -> Result<(), RuntimeError> {
        let events = std::mem::take(&mut out.0);
        let result = self.publish(sink, &events);
        // Keep the allocation for the next batch.
        out.0 = events;
        out.0.clear();
        result
    }
}
