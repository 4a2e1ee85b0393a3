//! The demo's side of Kafka: simulator traffic in, outputs read back, answers to actions out.
//!
//! Warehouses do not publish canonical events, their systems send what they send: every
//! simulator event (and every answer to an action) is rendered by the system of record of its
//! canonical topic ([`vendor_of`]: the RF-scanner gateway's Avro for scans and counts, the
//! ERP's IDoc export for ASN lines, book snapshots, item master and integration
//! acknowledgements, the WMS's webhooks for everything else, so all three shipped shapes
//! carry traffic) and produced to that vendor's raw topic, keyed by the event's
//! `tenant|site|sku` (a stable business key: dedupe is per task). The gateway's datums are
//! framed with its writer schema's id in the embedded resolver, the one the demo's normalize
//! processor reads them with. The normalize processor maps it all to the canonical topics.
//! One raw topic per canonical topic keeps each canonical partition in its raw partition's
//! order (a task orders records across its topics by event time, but within one partition by
//! offset).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use invex_model::{ActionCommand, ActionType, CanonicalEvent, CanonicalTopic, ExceptionRecord};
use invex_runtime::{Codec, EmbeddedResolver, Output, RuntimeConfig, Topics, base_client_config};
use invex_sim::{Simulator, Vendor};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use crate::simulate::AvroIds;

/// Producer of simulator traffic and reader of the processor's outputs.
pub(crate) struct Traffic {
    producer: BaseProducer,
    reader: BaseConsumer,
    codec: Codec,
    /// Writer schema ids of the Avro vendors, in the embedded resolver.
    ids: AvroIds,
    topics: Topics,
    simulator: Simulator,
    exhausted: bool,
    produced: u64,
    responses: u64,
    by_vendor: BTreeMap<Vendor, u64>,
    seen_actions: HashSet<String>,
    actions_by_type: BTreeMap<ActionType, u64>,
}

/// The vendor whose system is the system of record of `event`'s canonical topic.
fn vendor_of(event: &CanonicalEvent) -> Vendor {
    match event.topic() {
        CanonicalTopic::Scan | CanonicalTopic::Count => Vendor::RfScanner,
        CanonicalTopic::Asn | CanonicalTopic::Book | CanonicalTopic::Item | CanonicalTopic::Ack => {
            Vendor::ErpIdoc
        }
        _ => Vendor::WmsWebhook,
    }
}

impl Traffic {
    pub(crate) fn new(
        cfg: &RuntimeConfig,
        topics: &Topics,
        simulator: Simulator,
    ) -> anyhow::Result<Self> {
        let base = base_client_config(cfg);
        let producer: BaseProducer = base
            .clone()
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .create()
            .context("creating the traffic producer")?;
        let reader: BaseConsumer = base
            .clone()
            .set("group.id", "invex-demo-reader")
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed")
            .create()
            .context("creating the output reader")?;
        let mut tpl = TopicPartitionList::new();
        let metadata = reader
            .fetch_metadata(None, Duration::from_secs(10))
            .context("reading topic metadata")?;
        for output in [Output::Exceptions, Output::Actions] {
            let name = topics.output(output);
            let partitions = metadata
                .topics()
                .iter()
                .find(|t| t.name() == name)
                .map_or(0, |t| t.partitions().len());
            for p in 0..partitions as i32 {
                tpl.add_partition_offset(&name, p, Offset::Beginning)?;
            }
        }
        reader.assign(&tpl).context("assigning output partitions")?;
        let resolver = Arc::new(EmbeddedResolver::new()?);
        let ids = AvroIds::register(resolver.as_ref(), topics.prefix())?;
        let codec = Codec::new(resolver, topics)?;
        Ok(Self {
            producer,
            reader,
            codec,
            ids,
            topics: topics.clone(),
            simulator,
            exhausted: false,
            produced: 0,
            responses: 0,
            by_vendor: BTreeMap::new(),
            seen_actions: HashSet::new(),
            actions_by_type: BTreeMap::new(),
        })
    }

    /// Produces `event` as its vendor's raw record.
    fn send(&mut self, event: &CanonicalEvent) -> anyhow::Result<()> {
        let vendor = vendor_of(event);
        let payload = self.ids.value(vendor, event)?;
        let key = event.partition_key().to_string();
        let topic = self.topics.raw(vendor.raw_topic());
        let mut record = BaseRecord::to(&topic).key(key.as_bytes()).payload(&payload);
        loop {
            match self.producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    self.producer.poll(Duration::from_millis(20));
                }
                Err((e, _)) => return Err(e).with_context(|| format!("producing to {topic}")),
            }
        }
        self.produced += 1;
        *self.by_vendor.entry(vendor).or_default() += 1;
        Ok(())
    }

    /// Produces up to `max` simulator events as raw vendor records.
    pub(crate) fn produce_some(&mut self, max: usize) -> anyhow::Result<()> {
        for _ in 0..max {
            let Some(event) = self.simulator.next_event() else {
                self.exhausted = true;
                break;
            };
            self.send(&event)?;
        }
        self.producer.flush(Duration::from_secs(30)).context("flushing simulator traffic")?;
        Ok(())
    }

    /// Reads outputs for up to `budget`; answers new actions through the simulator.
    pub(crate) fn collect(
        &mut self,
        exceptions: &mut BTreeMap<String, ExceptionRecord>,
        budget: Duration,
    ) -> anyhow::Result<()> {
        let start = Instant::now();
        let exceptions_topic = self.topics.output(Output::Exceptions);
        while start.elapsed() < budget {
            let Some(message) = self.reader.poll(Duration::from_millis(10)) else { continue };
            let message = message.context("reading outputs")?;
            let Some(payload) = message.payload() else { continue };
            if message.topic() == exceptions_topic {
                let record: ExceptionRecord =
                    self.codec.decode_output(Output::Exceptions, payload)?;
                let newer = exceptions
                    .get(&record.exception_id.0)
                    .is_none_or(|old| old.version < record.version);
                if newer {
                    exceptions.insert(record.exception_id.0.clone(), record);
                }
            } else {
                let action: ActionCommand = self.codec.decode_output(Output::Actions, payload)?;
                self.answer(action)?;
            }
        }
        self.producer.flush(Duration::from_secs(30)).context("flushing responses")?;
        Ok(())
    }

    fn answer(&mut self, action: ActionCommand) -> anyhow::Result<()> {
        if !self.seen_actions.insert(action.action_id.0.clone()) {
            return Ok(());
        }
        *self.actions_by_type.entry(action.action_type).or_default() += 1;
        for response in self.simulator.respond(&action) {
            self.send(&response)?;
            self.responses += 1;
        }
        Ok(())
    }

    pub(crate) fn exhausted(&self) -> bool {
        self.exhausted
    }

    /// Raw records produced (simulator events and answers).
    pub(crate) fn produced(&self) -> u64 {
        self.produced
    }

    /// Raw records produced, by vendor.
    pub(crate) fn by_vendor(&self) -> &BTreeMap<Vendor, u64> {
        &self.by_vendor
    }

    pub(crate) fn responses(&self) -> u64 {
        self.responses
    }

    pub(crate) fn actions_seen(&self) -> u64 {
        self.seen_actions.len() as u64
    }

    pub(crate) fn actions_by_type(&self) -> &BTreeMap<ActionType, u64> {
        &self.actions_by_type
    }

    pub(crate) fn simulator(&self) -> &Simulator {
        &self.simulator
    }
}
