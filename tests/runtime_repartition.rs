//! The detect processor's repartition topics on librdkafka's mock cluster: a serial seen at two
//! sites is found by the task that owns the serial, and the exception is opened by the task
//! that owns the item of the later sighting.

use std::time::{Duration, Instant};

use invex_detect::RepartitionTopic;
use invex_model::{
    CanonicalEvent, EpcisAction, EventHeader, ExceptionRecord, ScanEvent, ScanResult, SourceSystem,
};

use invex_runtime::ProcessorHandle;

use crate::support::{Cluster, Running};

/// A scan of `serial` of `sku` at `site`, location `location`, `minutes` into the day.
fn serial_scan(
    site: &str,
    sku: &str,
    serial: &str,
    location: &str,
    minutes: i64,
) -> CanonicalEvent {
    let event_time = 1_767_225_600_000 + minutes * 60_000;
    CanonicalEvent::Scan(ScanEvent {
        header: EventHeader {
            event_id: format!("scan-{site}-{serial}-{minutes}"),
            event_time,
            event_tz_offset: "+00:00".into(),
            record_time: event_time,
            tenant_id: "acme".into(),
            site_id: site.into(),
            source_system: SourceSystem::Edge,
            source_seq: minutes,
            operator_id: None,
            device_id: None,
            action: EpcisAction::Observe,
            biz_step: "storing".into(),
            disposition: None,
            error_declaration: None,
        },
        raw_barcode: format!("(01)00000000000017(21){serial}"),
        symbology: Some("GS1-128".into()),
        sku: sku.into(),
        gtin: None,
        sscc: None,
        lpn: None,
        lot: None,
        expiry_date: None,
        serial: Some(serial.into()),
        location_id: location.into(),
        quantity: 1,
        uom: "EA".into(),
        scan_result: ScanResult::Ok,
        task_id: None,
        task_type: None,
        expected_gtin: None,
        expected_lot: None,
        expected_location_id: None,
    })
}

impl Cluster {
    /// The partition each record of canonical topic `scan` landed on, by record key.
    fn scan_partitions(&self) -> Vec<(String, i32)> {
        let topic = self.topics.input(invex_model::CanonicalTopic::Scan).to_owned();
        let records = self.read_topic(&topic);
        records
            .iter()
            .map(|r| {
                (String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()).into(), r.partition)
            })
            .collect()
    }
}

/// Waits for an exception of subtype `subtype`, returning every exception read then.
fn wait_for_subtype(env: &Cluster, running: &Running, subtype: &str) -> Vec<ExceptionRecord> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let exceptions = env.exceptions();
        if exceptions.iter().any(|e| e.subtype.as_deref() == Some(subtype)) {
            return exceptions;
        }
        assert!(Instant::now() < deadline, "no {subtype} exception; got {exceptions:#?}");
        assert!(!running.thread.is_finished(), "the processor stopped early");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The SKU and serial the tests scan at two sites.
const SKU: &str = "SKU-CROSS-7";
const SERIAL: &str = "SN-0042";

/// Scans [`SERIAL`] at DC1 and, 30 minutes later, at DC2; runs a processor until the
/// cross-site exception is visible and stops it. Returns the exceptions read then.
fn scan_one_serial_at_two_sites(env: &Cluster) -> (Vec<ExceptionRecord>, ProcessorHandle) {
    let events = [
        serial_scan("DC1", SKU, SERIAL, "A-01-01", 0),
        serial_scan("DC2", SKU, SERIAL, "B-07-02", 30),
    ];
    // librdkafka's default partitioner, the one the processor's own producer uses for the
    // repartition topics (a deployment's producers must agree on it: see the README on
    // co-partitioning).
    env.produce_to(&events, |_| None);
    let dir = tempfile::tempdir().unwrap();
    let running = Running::start(env.config(dir.path()));
    let exceptions = wait_for_subtype(env, &running, "SERIAL_TWO_SITES");
    (exceptions, running.stop())
}

#[test]
fn a_serial_seen_at_two_sites_is_found_by_its_serial_task_and_opened_by_the_later_items_task() {
    let env = Cluster::mock(4);
    let (exceptions, handle) = scan_one_serial_at_two_sites(&env);

    let partitions = env.scan_partitions();
    let of = |site: &str| partitions.iter().find(|(k, _)| k.contains(site)).map(|(_, p)| *p);
    assert_ne!(of("DC1"), of("DC2"), "precondition: the two items live in different tasks");
    let cross: Vec<&ExceptionRecord> =
        exceptions.iter().filter(|e| e.subtype.as_deref() == Some("SERIAL_TWO_SITES")).collect();
    assert_eq!(cross.len(), 1, "one exception version: {cross:#?}");
    let exception = cross[0];
    assert_eq!(exception.site_id, "DC2", "the later sighting's site owns it");
    assert_eq!(exception.sku, SKU);
    assert!(exception.subject.contains(SERIAL), "subject {}", exception.subject);

    let sightings = env.read_topic(&env.topics.repartition(RepartitionTopic::SerialSightings));
    let findings = env.read_topic(&env.topics.repartition(RepartitionTopic::SerialFindings));
    assert_eq!(sightings.len(), 2, "one sighting per scan");
    let serial_key = format!("acme|{SKU}|{SERIAL}");
    assert!(sightings.iter().all(|r| r.key.as_deref() == Some(serial_key.as_bytes())));
    assert_eq!(findings.len(), 1, "one finding");
    assert_eq!(findings[0].key.as_deref(), Some(format!("acme|DC2|{SKU}").as_bytes()));
    assert_eq!(Some(findings[0].partition), of("DC2"), "the finding reaches DC2's item task");
    let repartitioned = handle.metrics.outputs.with_label_values(&["repartition"]).get();
    assert_eq!(repartitioned, 3, "two sightings and one finding produced");
}

#[test]
fn bad_records_on_a_repartition_topic_are_dead_lettered_and_the_next_ones_still_count() {
    let env = Cluster::mock(4);
    let sightings = env.topics.repartition(RepartitionTopic::SerialSightings);
    env.produce_raw(&sightings, 0, b"acme|SKU-X|SN-1", b"not json");
    let misplaced = br#"{"kind":"sighting","tenant_id":"acme","site_id":"DC1","sku":"SKU-X",
        "serial":"SN-1","location_id":"A-01","event_time":0,"event_id":"e-1","consumed":false}"#;
    env.produce_raw(&sightings, 0, b"acme|DC1|SKU-X", misplaced);
    let (_, handle) = scan_one_serial_at_two_sites(&env);

    let dead: std::collections::BTreeMap<String, _> = env
        .read_output(invex_runtime::Output::Dlq)
        .into_iter()
        .map(|d| (d.header("invex.dlq.error.class"), d))
        .collect();
    assert_eq!(dead.keys().collect::<Vec<_>>(), ["DESERIALIZATION", "VALIDATION"]);
    assert_eq!(dead["DESERIALIZATION"].header("invex.dlq.topic"), sightings);
    assert_eq!(dead["VALIDATION"].key.as_deref(), Some(&b"acme|DC1|SKU-X"[..]), "original key");
    assert_eq!(handle.metrics.dlq.with_label_values(&["VALIDATION"]).get(), 1);
}
