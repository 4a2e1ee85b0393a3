//! Where `invex simulate` sends raw records: a Kafka cluster or a JSON-lines file.
//!
//! The Kafka sink produces each event as its vendor sends it (`raw::vendor_of`, Avro framed
//! with the writer schema ids of [`AvroIds`]); the file sink writes JSON lines
//! (`raw::raw_record`). The Kafka sink is an idempotent producer (librdkafka retries without
//! duplicating); delivery failures are counted by the producer context and reported at the
//! end, so a run that lost records says so and exits non-zero instead of pretending success.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, anyhow};
use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};

use invex_model::CanonicalEvent;

use super::raw::{AvroIds, raw_record, vendor_of};

/// Counts delivery failures reported by librdkafka.
#[derive(Clone, Default)]
pub(crate) struct Failures(Arc<AtomicU64>);

impl ClientContext for Failures {}

impl ProducerContext for Failures {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: Self::DeliveryOpaque) {
        if result.is_err() {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A destination for raw records.
pub(crate) enum Sink {
    /// JSON lines.
    File(BufWriter<File>),
    /// A Kafka cluster.
    Kafka { producer: BaseProducer<Failures>, failures: Failures, ids: AvroIds },
}

impl Sink {
    /// A JSON-lines file at `path` (created or truncated).
    pub(crate) fn file(path: &Path) -> anyhow::Result<Self> {
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self::File(BufWriter::new(file)))
    }

    /// An idempotent producer on `base` (bootstrap servers and client properties) that
    /// frames Avro values with `ids`.
    pub(crate) fn kafka(mut base: ClientConfig, ids: AvroIds) -> anyhow::Result<Self> {
        let failures = Failures::default();
        let producer = base
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .create_with_context(failures.clone())
            .context("creating the producer")?;
        Ok(Self::Kafka { producer, failures, ids })
    }

    /// Sends `event` as its vendor's raw record on `prefix`'s raw topic (waiting while the
    /// producer queue is full).
    pub(crate) fn send(&mut self, prefix: &str, event: &CanonicalEvent) -> anyhow::Result<()> {
        match self {
            Self::File(out) => {
                serde_json::to_writer(&mut *out, &raw_record(prefix, event)?)?;
                out.write_all(b"\n")?;
            }
            Self::Kafka { producer, ids, .. } => {
                let vendor = vendor_of(event);
                let value = ids.value(vendor, event)?;
                let topic = format!("{prefix}{}", vendor.raw_topic());
                let key = event.partition_key().to_string();
                let mut next = BaseRecord::to(&topic).key(&key).payload(&value);
                loop {
                    match producer.send(next) {
                        Ok(()) => break,
                        Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                            next = back;
                            producer.poll(Duration::from_millis(20));
                        }
                        Err((e, _)) => {
                            return Err(e).with_context(|| format!("producing to {topic}"));
                        }
                    }
                }
                producer.poll(Duration::ZERO);
            }
        }
        Ok(())
    }

    /// Flushes everything; fails when a record could not be delivered.
    pub(crate) fn finish(self) -> anyhow::Result<()> {
        match self {
            Self::File(mut out) => out.flush().context("writing the raw records"),
            Self::Kafka { producer, failures, .. } => {
                producer.flush(Duration::from_secs(60)).context("flushing the producer")?;
                match failures.0.load(Ordering::Relaxed) {
                    0 => Ok(()),
                    n => Err(anyhow!("{n} record(s) could not be delivered")),
                }
            }
        }
    }
}
