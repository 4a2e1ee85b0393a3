//! Everything the processor writes: outputs, dead letters and changelog records.
//!
//! All of it goes through the one producer of the instance, so under exactly-once it all lands
//! in the open transaction. What a processor's outputs are is its logic's business
//! (`crate::logic`: it encodes them and calls [`Sink::send`]); dead letters and changelog
//! records are written here. `send` never blocks except when librdkafka's queue is full, where
//! it polls (serving delivery reports) and retries. The producer compresses nothing, so
//! kafkajs-based consumers such as n8n can read every topic (gzip set through
//! `kafka.properties` also suits them).
//!
//! Dead letters keep the original key as record key and repeat their metadata as
//! `invex.dlq.*` headers for tools that never decode values.

use invex_model::{DlqEnvelope, ErrorClass};
use invex_state::ChangelogRecord;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord};

use crate::codec::Codec;
use crate::delivery::{DeliveryTracker, FLUSH_SLICE};
use crate::error::RuntimeError;
use crate::metrics::Metrics;
use crate::topics::{Output, Topics};

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
    dlq: String,
    changelogs: Vec<String>,
    buf: Vec<u8>,
    metrics: Metrics,
}

impl Sink {
    pub(crate) fn new(
        producer: BaseProducer<DeliveryTracker>,
        codec: Codec,
        topics: &Topics,
        stores: &[&str],
        metrics: Metrics,
    ) -> Self {
        Self {
            producer,
            codec,
            dlq: topics.output(Output::Dlq),
            changelogs: stores.iter().map(|s| topics.changelog(s)).collect(),
            buf: Vec::with_capacity(1024),
            metrics,
        }
    }

    pub(crate) fn codec(&self) -> &Codec {
        &self.codec
    }

    /// Produces one record (into the open transaction under exactly-once); `tag` is 0 for
    /// outputs (see `crate::delivery`).
    pub(crate) fn send(
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
                    // One flush slice: rdkafka's `poll` waits out its whole timeout, so a
                    // longer one would stall here after the queue has room again.
                    self.producer.poll(FLUSH_SLICE);
                }
                Err((e, _)) => return Err(RuntimeError::kafka(format!("producing to {topic}"), e)),
            }
        }
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
