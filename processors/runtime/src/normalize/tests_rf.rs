//! The shipped Avro source: the simulator's RF-scanner gateway datums (written by apache-avro
//! with the shipped writer schema) decode with the schema the embedded resolver serves, to
//! their last byte, and normalize back to exactly the events they were rendered from, with the
//! original's key and content hash.

use std::sync::Arc;

use apache_avro::Schema;
use invex_model::{
    CanonicalEvent, CanonicalTopic, CountEvent, CountType, EpcisAction, ErrorDeclaration,
    EventHeader, ScanEvent, ScanResult, SourceSystem,
};
use invex_sim::{SimConfig, Simulator, Vendor};

use super::*;
use crate::schema::{EmbeddedResolver, SchemaResolver, embedded_schema_text};

const SUBJECT: &str = "raw.rf.scanner-value";
const T0: i64 = 1_767_254_400_250; // 2026-01-01T08:00:00.250Z

/// The shipped sources, the embedded writer schemas and the RF schema's embedded id.
fn shipped() -> (Normalizer, WriterSchemas, u32) {
    let resolver = Arc::new(EmbeddedResolver::new().unwrap());
    let text = embedded_schema_text(SUBJECT).unwrap();
    let (id, _) = resolver.register(&format!("acme.{SUBJECT}"), text).unwrap();
    (Normalizer::shipped().unwrap(), WriterSchemas::new(resolver), id)
}

fn assert_round_trips(shipped: &(Normalizer, WriterSchemas, u32), event: &CanonicalEvent) {
    let (n, schemas, id) = shipped;
    let datum = Vendor::RfScanner.render(event);
    let mut out = n
        .normalize_with("rf-scanner", &framed(*id, &datum), schemas)
        .unwrap_or_else(|e| panic!("{e}\n{event:?}"));
    assert_eq!(out.len(), 1);
    let got = out.remove(0);
    assert_eq!(&got.event, event);
    assert_eq!(got.key, event.partition_key().to_string());
    assert_eq!(got.content_hash, ContentHash::of(event));
}

#[test]
fn the_shipped_rf_source_pins_the_record_of_the_shipped_writer_schema() {
    let (n, _, _) = shipped();
    let source = n.source(Vendor::RfScanner.source_name()).unwrap();
    assert_eq!((source.format(), source.topic()), (Format::Avro, Vendor::RfScanner.raw_topic()));
    let schema = Schema::parse_str(embedded_schema_text(SUBJECT).unwrap()).unwrap();
    let Schema::Record(record) = schema else { panic!("not a record") };
    assert_eq!(source.pinned_record(), Some(record.name.fullname(None).as_str()));
    let mut topics: Vec<_> = source.kinds().map(|(_, topic)| topic).collect();
    topics.sort();
    assert_eq!(topics, [CanonicalTopic::Scan, CanonicalTopic::Count]);
    for topic in CanonicalTopic::ALL {
        assert_eq!(Vendor::RfScanner.carries(topic), topics.contains(&topic), "{topic}");
    }
}

#[test]
fn the_simulators_scans_and_counts_round_trip_through_the_rf_gateway() {
    let shipped = shipped();
    let config =
        SimConfig { seed: 17, skus_per_site: 200, duration_ms: 3_600_000, ..SimConfig::default() };
    let (mut scans, mut counts) = (0, 0);
    for event in Simulator::new(config).unwrap() {
        match event.topic() {
            CanonicalTopic::Scan => scans += 1,
            CanonicalTopic::Count => counts += 1,
            _ => continue,
        }
        assert_round_trips(&shipped, &event);
    }
    assert!(scans > 50 && counts > 50, "{scans} scans, {counts} counts");
}

fn header(n: u32, full: bool, source_system: SourceSystem) -> EventHeader {
    let some = |text: &str| full.then(|| text.to_owned());
    EventHeader {
        event_id: format!("e-{n}"),
        event_time: T0 + i64::from(n),
        event_tz_offset: "-05:30".to_owned(),
        record_time: T0 + 1_500,
        tenant_id: "acme".to_owned(),
        site_id: "DC1".to_owned(),
        source_system,
        source_seq: 77,
        operator_id: some("OP-7"),
        device_id: some("RF-12"),
        action: if full { EpcisAction::Delete } else { EpcisAction::Observe },
        biz_step: "cycle_counting".to_owned(),
        disposition: some("active"),
        error_declaration: full.then(|| ErrorDeclaration {
            reason: "incorrect_data".to_owned(),
            corrects_event_ids: vec!["e-0".to_owned(), "e-00".to_owned()],
        }),
    }
}

fn scan(full: bool) -> CanonicalEvent {
    let some = |text: &str| full.then(|| text.to_owned());
    CanonicalEvent::Scan(ScanEvent {
        header: header(1, full, SourceSystem::Edge),
        raw_barcode: "(01)04000000000013(10)L1\u{1d}(21)S9".to_owned(),
        symbology: some("GS1-128"),
        sku: "SKU-1".to_owned(),
        gtin: some("04000000000013"),
        sscc: some("340123450000000018"),
        lpn: some("LPN-1"),
        lot: some("L1"),
        expiry_date: full.then_some(-3),
        serial: some("S9"),
        location_id: "A-01-02".to_owned(),
        quantity: if full { i64::MAX } else { 0 },
        uom: "CS".to_owned(),
        scan_result: if full { ScanResult::UnknownItem } else { ScanResult::NoRead },
        task_id: some("PK-1"),
        task_type: some("PICK"),
        expected_gtin: some("04000000000020"),
        expected_lot: some("L2"),
        expected_location_id: some("A-01-03"),
    })
}

fn count(full: bool) -> CanonicalEvent {
    CanonicalEvent::Count(CountEvent {
        header: header(2, full, if full { SourceSystem::Simulator } else { SourceSystem::Wms }),
        count_doc_id: "CC-9".to_owned(),
        count_type: if full { CountType::EmptyLocation } else { CountType::Abc },
        count_seq: 3,
        blind: full,
        location_id: "B-02-01".to_owned(),
        sku: "SKU-2".to_owned(),
        lot: full.then(|| "L7".to_owned()),
        counted_qty: if full { i64::MAX } else { 0 },
        uom: "EA".to_owned(),
        wms_book_qty_at_freeze: full.then_some(41),
        freeze_time: T0 - 60_000,
        counter_id: full.then(|| "OP-8".to_owned()),
    })
}

#[test]
fn fully_populated_and_sparse_scans_and_counts_round_trip() {
    let shipped = shipped();
    for full in [true, false] {
        assert_round_trips(&shipped, &scan(full));
        assert_round_trips(&shipped, &count(full));
    }
}
