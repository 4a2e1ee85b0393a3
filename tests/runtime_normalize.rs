//! The normalize processor on librdkafka's in-process mock cluster.
//!
//! Simulator events are rendered as the vendor that sends them would (`invex_sim::Vendor`: the
//! ERP's IDocs for ERP events, the WMS's webhooks for the rest, and in the Avro tests the
//! RF-scanner gateway's datums for scans and counts, framed with the id of its writer schema)
//! and produced to the raw topics, keyed `tenant|site|sku` and put on known partitions; the
//! real processor (consumer group, RocksDB, exactly-once) publishes to the canonical topics,
//! which are read back with `read_committed` and decoded. What it must publish is the
//! simulator's events with every transport copy (a redelivery under the same id, a retry
//! under a new one) dropped: the first copy of each content hash, keyed `tenant|site|sku`.
//!
//! The mock does not hide aborted transactions from read_committed readers, so the abort test
//! counts copies (as `runtime_mock::an_aborted_transaction_changes_no_state` does).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use invex_model::{CanonicalEvent, CanonicalTopic, DlqEnvelope, SourceSystem};
use invex_runtime::admin::{create_on_mock, normalize_topics};
use invex_runtime::normalize::{ContentHash, Normalizer, framed};
use invex_runtime::{
    Metrics, Output, Processor, ProcessorHandle, RuntimeConfig, embedded_schema_text,
};
use invex_sim::Vendor;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

use crate::support::{Cluster, Running, assert_same, canonical, sim_events};

/// One raw record as a vendor sends it.
struct Raw {
    topic: String,
    partition: i32,
    key: String,
    value: Vec<u8>,
}

/// A mock cluster with the detect processor's topics plus the raw topics and the normalize
/// changelog.
fn cluster(partitions: i32) -> Cluster {
    let env = Cluster::mock(partitions);
    let specs = normalize_topics(&env.topics, &Normalizer::shipped().unwrap(), partitions, 2);
    // The canonical topics and the DLQ exist already; the co-partitioned ones are new.
    let new: Vec<_> = specs.into_iter().filter(|s| s.co_partitioned).collect();
    create_on_mock(env.mock_cluster(), &new).unwrap();
    env
}

/// Starts a normalize processor with the shipped sources and a pinned clock.
fn start(cfg: RuntimeConfig) -> Running {
    let normalizer = Normalizer::shipped().unwrap();
    let processor = Processor::normalize(cfg, normalizer).unwrap().with_clock(Arc::new(|| 0));
    let handle = processor.handle();
    let thread = std::thread::spawn(move || processor.run());
    Running { handle, thread }
}

/// The vendor whose system sends `event`.
fn vendor_of(event: &CanonicalEvent) -> Vendor {
    match event.header().source_system {
        SourceSystem::Erp => Vendor::ErpIdoc,
        _ => Vendor::WmsWebhook,
    }
}

fn raw(env: &Cluster, vendor: Vendor, event: &CanonicalEvent) -> Raw {
    Raw {
        topic: env.topics.raw(vendor.raw_topic()),
        partition: env.partition_of(event),
        key: event.partition_key().to_string(),
        value: vendor.render(event),
    }
}

/// The RF-scanner gateway's datum of `event` in the Confluent frame, with the id its writer
/// schema has in the cluster's resolver.
fn rf_raw(env: &Cluster, event: &CanonicalEvent) -> Raw {
    let vendor = Vendor::RfScanner;
    let stem = format!("{}-value", vendor.raw_topic());
    let text = embedded_schema_text(&stem).unwrap();
    let subject = format!("{}{stem}", env.topics.prefix());
    let (id, _) = env.codec.resolver().register(&subject, text).unwrap();
    Raw { value: framed(id, &vendor.render(event)), ..raw(env, vendor, event) }
}

/// The vendor that sends `event` when the RF-scanner gateway sends scans and counts.
fn with_rf_scanner(env: &Cluster, event: &CanonicalEvent) -> Raw {
    if Vendor::RfScanner.carries(event.topic()) {
        rf_raw(env, event)
    } else {
        raw(env, vendor_of(event), event)
    }
}

fn produce(env: &Cluster, records: &[Raw]) {
    let producer: BaseProducer =
        env.client().set("enable.idempotence", "true").create().expect("producer");
    for r in records {
        let record = BaseRecord::to(&r.topic).key(&r.key).payload(&r.value).partition(r.partition);
        producer.send(record).map_err(|(e, _)| e).expect("send");
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
}

/// The offset after the last record of every raw partition once `records` are produced.
fn ends(records: &[Raw]) -> BTreeMap<(String, i32), i64> {
    let mut ends = BTreeMap::new();
    for r in records {
        *ends.entry((r.topic.clone(), r.partition)).or_insert(0) += 1;
    }
    ends
}

/// Every record of every canonical topic: its key and decoded event.
fn published(env: &Cluster) -> Vec<(String, CanonicalEvent)> {
    let mut out = Vec::new();
    for (topic, name) in env.topics.inputs() {
        for record in env.read_topic(name) {
            let key = String::from_utf8(record.key.clone().unwrap_or_default()).unwrap();
            out.push((key, env.codec.decode(*topic, Some(&record.value)).unwrap()));
        }
    }
    out
}

/// The first copy of every content hash, keyed `tenant|site|sku`.
fn first_copies(events: &[CanonicalEvent]) -> Vec<(String, CanonicalEvent)> {
    let mut seen = BTreeSet::new();
    events
        .iter()
        .filter(|e| seen.insert(ContentHash::of(e)))
        .map(|e| (e.partition_key().to_string(), e.clone()))
        .collect()
}

/// A retry of `event`: the same fact under a new id, sequence number and send time.
fn retry_of(event: &CanonicalEvent) -> CanonicalEvent {
    let mut retry = event.clone();
    let header = retry.header_mut();
    header.event_id.push_str("-retry");
    header.record_time += 60_000;
    header.source_seq += 1;
    retry
}

#[test]
fn vendor_traffic_of_both_shapes_is_published_as_the_simulators_canonical_events() {
    let env = cluster(3);
    let events = sim_events(7, 200, 3);
    let records: Vec<Raw> = events.iter().map(|e| raw(&env, vendor_of(e), e)).collect();
    let handle = run_to_end(&env, &records);

    let want = first_copies(&events);
    assert_same("canonical events", &published(&env), &want);
    let dropped = (events.len() - want.len()) as u64;
    assert!(dropped > 0, "the simulator's transport duplicates reach normalize");
    assert_eq!(Metrics::total(&handle.metrics.normalize_duplicates), dropped);
    let by_source = |source: &str| {
        let topics = env.topics.inputs().iter().map(|(t, _)| t.name());
        topics.map(|t| handle.metrics.normalize_events.with_label_values(&[source, t]).get()).sum()
    };
    let (wms, erp): (u64, u64) = (by_source("wms-webhook"), by_source("erp-idoc"));
    assert!(wms > 0 && erp > 0, "both vendor shapes carry traffic: {wms} WMS, {erp} ERP");
    assert_eq!(wms + erp, want.len() as u64);
    assert!(env.read_output(Output::Dlq).is_empty());
}

#[test]
fn a_vendor_retry_under_a_new_id_and_send_time_is_dropped_and_counted() {
    let env = cluster(2);
    let events = sim_events(8, 50, 1);
    let mut records = Vec::new();
    let mut originals = Vec::new();
    for (vendor, event) in Vendor::ALL.into_iter().zip(&events) {
        records.push(raw(&env, vendor, event));
        records.push(raw(&env, vendor, &retry_of(event)));
        originals.push((event.partition_key().to_string(), event.clone()));
    }
    let handle = run_to_end(&env, &records);

    assert_same("canonical events", &published(&env), &originals);
    for vendor in Vendor::ALL {
        let dropped =
            handle.metrics.normalize_duplicates.with_label_values(&[vendor.source_name()]);
        assert_eq!(dropped.get(), 1, "{vendor:?}");
    }
    assert_eq!(handle.metrics.duplicates.get(), 2, "two input records were duplicates");
    let rendered = handle.metrics.render();
    assert!(
        rendered.contains("invex_normalize_duplicates_total{source=\"erp-idoc\"} 1"),
        "{rendered}"
    );
}

#[test]
fn garbage_and_a_missing_field_are_dead_lettered_with_the_field_path_and_the_next_record_arrives() {
    let env = cluster(2);
    let events = sim_events(9, 50, 2);
    let count = events.iter().find(|e| e.topic() == CanonicalTopic::Count).unwrap();
    let good = raw(&env, Vendor::WmsWebhook, count);
    let mut doc: serde_json::Value = serde_json::from_slice(&good.value).unwrap();
    let item = doc.pointer_mut("/data/item").and_then(|v| v.as_object_mut());
    item.expect("a WMS webhook names its item").remove("sku");
    let garbage = b"{\"eventType\": \"inventory.count".to_vec();
    let records = [
        Raw { value: garbage.clone(), ..raw(&env, Vendor::WmsWebhook, count) },
        Raw { value: serde_json::to_vec(&doc).unwrap(), ..raw(&env, Vendor::WmsWebhook, count) },
        good,
    ];
    let handle = run_to_end(&env, &records);

    assert_same("canonical events", &published(&env), &first_copies(std::slice::from_ref(count)));
    let dead = env.read_output(Output::Dlq);
    assert_eq!(dead.len(), 2, "the garbage and the record without SKU");
    let key = count.partition_key().to_string();
    let envelopes: Vec<DlqEnvelope> =
        dead.iter().map(|r| env.codec.decode_output(Output::Dlq, &r.value).unwrap()).collect();
    for (record, envelope) in dead.iter().zip(&envelopes) {
        assert_eq!(record.key.as_deref(), Some(key.as_bytes()), "the DLQ keeps the original key");
        assert_eq!(record.header("invex.dlq.topic"), records[0].topic);
        assert_eq!(envelope.processor, "normalize");
        assert_eq!(envelope.key.as_deref(), Some(key.as_bytes()));
    }
    let by_offset = |offset: i64| {
        let i = envelopes.iter().position(|e| e.source_offset == offset).unwrap();
        (&dead[i], &envelopes[i])
    };
    let (record, envelope) = by_offset(0);
    assert_eq!(record.header("invex.dlq.error.class"), "DESERIALIZATION");
    assert_eq!(envelope.value.as_deref(), Some(&garbage[..]), "the original value");
    assert!(envelope.error_message.contains("invalid JSON"), "{}", envelope.error_message);
    let (record, envelope) = by_offset(1);
    assert_eq!(record.header("invex.dlq.error.class"), "VALIDATION");
    for part in ["source `wms-webhook`", "kind `count`", "field `sku`", "\"/data/item/sku\""] {
        assert!(envelope.error_message.contains(part), "{part}: {}", envelope.error_message);
    }
    assert_eq!(envelope.value.as_deref(), Some(&records[1].value[..]), "the original value");
    assert_eq!(Metrics::total(&handle.metrics.dlq), 2);
}

#[test]
fn avro_scans_and_counts_and_json_vendor_traffic_are_published_as_the_simulators_events() {
    let env = cluster(3);
    let events = sim_events(12, 200, 3);
    let records: Vec<Raw> = events.iter().map(|e| with_rf_scanner(&env, e)).collect();
    let handle = run_to_end(&env, &records);

    let want = first_copies(&events);
    assert_same("canonical events", &published(&env), &want);
    let by_source = |source: &str| -> u64 {
        let topics = env.topics.inputs().iter().map(|(t, _)| t.name());
        topics.map(|t| handle.metrics.normalize_events.with_label_values(&[source, t]).get()).sum()
    };
    let [rf, wms, erp] = ["rf-scanner", "wms-webhook", "erp-idoc"].map(by_source);
    assert!(rf > 0 && wms > 0 && erp > 0, "{rf} RF, {wms} WMS, {erp} ERP");
    let carried = want.iter().filter(|(_, e)| Vendor::RfScanner.carries(e.topic())).count();
    assert_eq!(rf, carried as u64, "every scan and count came through the Avro source");
    assert_eq!(rf + wms + erp, want.len() as u64);
    assert!(env.read_output(Output::Dlq).is_empty());
}

#[test]
fn bad_avro_records_are_dead_lettered_with_schema_id_and_reason_and_the_next_record_arrives() {
    let env = cluster(2);
    let events = sim_events(13, 50, 2);
    let count = events.iter().find(|e| e.topic() == CanonicalTopic::Count).unwrap();
    let good = rf_raw(&env, count);
    let id = u32::from_be_bytes(good.value[1..5].try_into().unwrap());
    let unknown = [&[0, 0x7f, 0xff, 0xff, 0x00][..], &good.value[5..]].concat();
    let truncated = good.value[..good.value.len() - 3].to_vec();
    let mut no_sku = count.clone();
    if let CanonicalEvent::Count(c) = &mut no_sku {
        c.sku.clear();
    }
    let records = [
        Raw { value: unknown, ..rf_raw(&env, count) },
        Raw { value: truncated, ..rf_raw(&env, count) },
        Raw { value: rf_raw(&env, &no_sku).value, ..rf_raw(&env, count) },
        good,
    ];
    let handle = run_to_end(&env, &records);

    assert_same("canonical events", &published(&env), &first_copies(std::slice::from_ref(count)));
    let dead = env.read_output(Output::Dlq);
    assert_eq!(dead.len(), 3, "the unknown id, the truncated datum, the empty SKU");
    let envelopes: Vec<DlqEnvelope> =
        dead.iter().map(|r| env.codec.decode_output(Output::Dlq, &r.value).unwrap()).collect();
    let by_offset = |offset: i64| {
        let i = envelopes.iter().position(|e| e.source_offset == offset).unwrap();
        (&dead[i], &envelopes[i])
    };
    let expect = [
        (0, 0x7fff_ff00, "DESERIALIZATION", &["unknown writer schema id 2147483392"][..]),
        (1, id, "DESERIALIZATION", &["truncated datum: its ", "end inside a value"]),
        (2, id, "VALIDATION", &["kind `count`", "field `sku`", "(raw \"/payload/sku\")"]),
    ];
    for (offset, schema_id, class, says) in expect {
        let (record, envelope) = by_offset(offset);
        assert_eq!(record.header("invex.dlq.error.class"), class, "record {offset}");
        assert_eq!(record.header("invex.dlq.schema.id"), schema_id.to_string());
        assert_eq!(envelope.schema_id, Some(schema_id as i32));
        assert_eq!(record.header("invex.dlq.topic"), records[0].topic);
        assert_eq!(envelope.value.as_deref(), Some(&records[offset as usize].value[..]));
        let message = &envelope.error_message;
        assert!(message.starts_with("source `rf-scanner`, schema id "), "{message}");
        for part in says {
            assert!(message.contains(part), "{part}: {message}");
        }
    }
    assert_eq!(Metrics::total(&handle.metrics.dlq), 3);
}

/// Runs `records` through one instance with `fault` injected before it starts.
/// Produces `records`, runs a fresh instance until it has committed them all, stops it.
fn run_to_end(env: &Cluster, records: &[Raw]) -> ProcessorHandle {
    run_with_fault(env, records, |_| {})
}

fn run_with_fault(env: &Cluster, records: &[Raw], fault: impl FnOnce(&Cluster)) -> ProcessorHandle {
    produce(env, records);
    fault(env);
    let dir = tempfile::tempdir().unwrap();
    let running = start(env.config(dir.path()));
    running.wait_committed(&ends(records));
    running.stop()
}

/// Nothing lost, nothing foreign, and every published record visible; on the mock, which
/// does not hide aborted transactions, the events of the failed transaction show twice.
fn assert_published_again(env: &Cluster, events: &[CanonicalEvent], handle: &ProcessorHandle) {
    let want = first_copies(events);
    let got = published(env);
    assert_same("distinct canonical events", &distinct(&got), &distinct(&want));
    assert_eq!(got.len() as u64, Metrics::total(&handle.metrics.outputs), "all visible");
    assert!(got.len() > want.len(), "the failed transaction's events were not published again");
}

fn distinct<T: serde::Serialize>(records: &[T]) -> Vec<String> {
    let set: BTreeSet<String> = canonical(records).into_iter().collect();
    set.into_iter().collect()
}

/// The first transaction aborts; every event in it is published again, so its dedupe state
/// was discarded with it (had it survived, the records read again would be taken for
/// duplicates and, on a broker that hides aborted transactions, lost).
#[test]
fn an_aborted_transaction_publishes_its_events_again_and_loses_none() {
    let env = cluster(2);
    let events = sim_events(10, 200, 3);
    let records: Vec<Raw> = events.iter().map(|e| raw(&env, vendor_of(e), e)).collect();
    // The group coordinator refuses the first transactional offset commit as if a rebalance
    // had happened (an abortable error): the transaction is aborted, the consumer rewinds and
    // the same records are processed again.
    let handle = run_with_fault(&env, &records, |env| {
        env.mock_cluster().request_errors(
            RDKafkaApiKey::TxnOffsetCommit,
            &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION],
        );
    });
    let metrics = handle.metrics.render();
    assert!(metrics.contains("invex_transactions_total{result=\"abort\"}"), "{metrics}");
    assert_published_again(&env, &events, &handle);
}

/// The first commit finds the producer fenced: the transaction is lost, a new producer
/// replaces the old one and the batch is redone.
#[test]
fn a_fenced_producer_is_rebuilt_and_its_events_published_once_more() {
    let env = cluster(2);
    let events = sim_events(11, 200, 3);
    let records: Vec<Raw> = events.iter().map(|e| raw(&env, vendor_of(e), e)).collect();
    let handle = run_with_fault(&env, &records, |env| {
        env.mock_cluster().request_errors(
            RDKafkaApiKey::EndTxn,
            &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_PRODUCER_FENCED],
        );
    });
    assert_eq!(handle.metrics.producer_rebuilds.get(), 1, "the fenced producer was not rebuilt");
    assert_published_again(&env, &events, &handle);
}

/// A fresh instance on an empty state directory restores `norm.seen` from its changelog and
/// continues: what the first instance published is not published again (the mock cluster
/// does not store transactional offsets, so the fresh instance re-reads every raw record),
/// what came after is, each event exactly once.
#[test]
fn a_fresh_instance_publishes_every_event_exactly_once() {
    let env = cluster(3);
    let events = sim_events(21, 300, 4);
    let records: Vec<Raw> = events.iter().map(|e| raw(&env, vendor_of(e), e)).collect();
    let (first_half, second_half) = records.split_at(records.len() / 2);
    produce(&env, first_half);
    let first = tempfile::tempdir().unwrap();
    let running = start(env.config(first.path()));
    running.wait_committed(&ends(first_half));
    running.stop();

    produce(&env, second_half);
    let second = tempfile::tempdir().unwrap();
    let running = start(env.config(second.path()));
    running.wait_committed(&ends(&records));
    let handle = running.stop();
    assert!(handle.metrics.restored.get() > 0, "the fresh instance restored nothing");
    assert!(Metrics::total(&handle.metrics.normalize_duplicates) > first_half.len() as u64 / 2);
    assert_same("canonical events", &published(&env), &first_copies(&events));
}
