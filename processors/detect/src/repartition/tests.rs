use std::sync::Arc;

use invex_model::{
    CanonicalEvent, Decision, EpcisAction, EventHeader, ExceptionType, ScanEvent, ScanResult,
    SourceSystem,
};

use super::*;
use crate::engine::Engine;
use crate::output::Outputs;
use crate::policy::Policy;
use crate::store::{MemStore, StoreName};

const XSITE: StoreName = StoreName("ls.xsite");

fn sighting(site: &str, time: i64, id: &str, consumed: bool) -> SerialSighting {
    SerialSighting {
        tenant_id: "t1".into(),
        site_id: site.into(),
        sku: "SKU-1".into(),
        serial: "SN-1".into(),
        location_id: format!("{site}-L1"),
        event_time: time,
        event_id: id.into(),
        consumed,
    }
}

fn finding() -> SerialFinding {
    SerialFinding {
        tenant_id: "t1".into(),
        site_id: "DC2".into(),
        sku: "SKU-1".into(),
        serial: "SN-1".into(),
        location_id: "L5".into(),
        event_time: 2_000,
        event_id: "e2".into(),
        other_site_id: "DC1".into(),
        other_location_id: "DOCK".into(),
        other_event_time: 1_000,
        other_event_id: "e1".into(),
    }
}

fn scan(site: &str, time: i64, id: &str, location: &str) -> CanonicalEvent {
    CanonicalEvent::Scan(ScanEvent {
        header: EventHeader {
            event_id: id.into(),
            event_time: time,
            event_tz_offset: "+00:00".into(),
            record_time: time,
            tenant_id: "t1".into(),
            site_id: site.into(),
            source_system: SourceSystem::Edge,
            source_seq: 1,
            operator_id: None,
            device_id: None,
            action: EpcisAction::Observe,
            biz_step: String::new(),
            disposition: None,
            error_declaration: None,
        },
        raw_barcode: "0".into(),
        symbology: None,
        sku: "SKU-1".into(),
        gtin: None,
        sscc: None,
        lpn: None,
        lot: None,
        expiry_date: None,
        serial: Some("SN-1".into()),
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

struct Task {
    engine: Engine,
    store: MemStore,
    out: Outputs,
}

impl Task {
    fn new() -> Self {
        Self {
            engine: Engine::new(Arc::new(Policy::default_policy())),
            store: MemStore::with_stores(Engine::store_names()),
            out: Outputs::default(),
        }
    }

    /// Processes an internal record; returns what it sent to the internal topics.
    fn internal(&mut self, record: Repartitioned) -> Vec<Repartitioned> {
        self.engine.process_repartitioned(&record, 0, &mut self.store, &mut self.out).unwrap();
        std::mem::take(&mut self.out.repartitioned)
    }
}

#[test]
fn each_variant_has_its_topic_key_and_time() {
    let s = Repartitioned::Sighting(sighting("DC1", 1_000, "e1", false));
    assert_eq!(s.topic(), RepartitionTopic::SerialSightings);
    assert_eq!(s.key(), "t1|SKU-1|SN-1");
    assert_eq!(s.event_time(), 1_000);
    let f = Repartitioned::Finding(finding());
    assert_eq!(f.topic(), RepartitionTopic::SerialFindings);
    assert_eq!(f.key(), "t1|DC2|SKU-1", "the key of the canonical topics: the item's task");
    assert_eq!(f.event_time(), 2_000, "the later sighting's time");
    let names: Vec<&str> = RepartitionTopic::ALL.iter().map(|t| t.name()).collect();
    assert_eq!(names, ["ls-sightings", "ls-findings"]);
}

#[test]
fn records_round_trip_through_json_tagged_by_kind() {
    for record in [
        Repartitioned::Sighting(sighting("DC1", 1_000, "e1", true)),
        Repartitioned::Finding(finding()),
    ] {
        let json = serde_json::to_value(&record).unwrap();
        let kind =
            if matches!(record, Repartitioned::Sighting(_)) { "sighting" } else { "finding" };
        assert_eq!(json["kind"], kind);
        assert_eq!(json["serial"], "SN-1");
        assert_eq!(serde_json::from_value::<Repartitioned>(json).unwrap(), record);
    }
}

#[test]
fn a_sighting_processed_again_emits_no_second_finding() {
    let mut task = Task::new();
    let first = Repartitioned::Sighting(sighting("DC1", 1_000, "e1", false));
    let second = Repartitioned::Sighting(sighting("DC2", 2_000, "e2", false));
    assert!(task.internal(first.clone()).is_empty());
    assert_eq!(
        task.internal(second.clone()),
        vec![Repartitioned::Finding(SerialFinding {
            location_id: "DC2-L1".into(),
            other_location_id: "DC1-L1".into(),
            ..finding()
        })]
    );
    let writes = task.store.changelog().len();
    // At-least-once redelivery of both, in their order: the older one is no late sighting.
    assert!(task.internal(first).is_empty());
    assert!(task.internal(second).is_empty());
    assert_eq!(task.store.changelog().len(), writes, "a repeat writes nothing");
    assert_eq!(task.store.entries(XSITE).len(), 1);
}

#[test]
fn the_older_sighting_arriving_second_fires_at_the_later_site_and_is_not_kept() {
    let mut task = Task::new();
    assert!(task.internal(Repartitioned::Sighting(sighting("DC2", 2_000, "e2", false))).is_empty());
    let sent = task.internal(Repartitioned::Sighting(sighting("DC1", 1_000, "e1", false)));
    let [Repartitioned::Finding(f)] = sent.as_slice() else { panic!("one finding: {sent:?}") };
    assert_eq!((f.site_id.as_str(), f.other_site_id.as_str()), ("DC2", "DC1"));
    // A consumption at DC1 after DC2's sighting: compared with the kept DC2 sighting, the
    // earlier one is DC2's, present, so DC1 gets its own finding.
    let sent = task.internal(Repartitioned::Sighting(sighting("DC1", 3_000, "e3", true)));
    let [Repartitioned::Finding(f)] = sent.as_slice() else { panic!("one finding: {sent:?}") };
    assert_eq!((f.site_id.as_str(), f.other_site_id.as_str()), ("DC1", "DC2"));
}

#[test]
fn a_transfer_and_a_same_site_sighting_find_nothing() {
    let mut task = Task::new();
    assert!(task.internal(Repartitioned::Sighting(sighting("DC1", 1_000, "e1", true))).is_empty());
    assert!(task.internal(Repartitioned::Sighting(sighting("DC2", 2_000, "e2", false))).is_empty());
    assert!(task.internal(Repartitioned::Sighting(sighting("DC2", 3_000, "e3", false))).is_empty());
}

#[test]
fn internal_records_leave_stream_time_unchanged() {
    let mut task = Task::new();
    task.engine
        .process(&scan("DC1", 5_000, "s1", "L1"), 0, &mut task.store, &mut task.out)
        .unwrap();
    task.out.repartitioned.clear();
    assert_eq!(task.engine.stream_time(), Some(5_000));
    task.internal(Repartitioned::Sighting(sighting("DC2", 9_000, "e9", false)));
    task.internal(Repartitioned::Finding(SerialFinding { event_time: 9_500, ..finding() }));
    assert_eq!(task.engine.stream_time(), Some(5_000));
    let mut restarted = Engine::new(Arc::new(Policy::default_policy()));
    restarted.on_wall_clock(0, &mut task.store, &mut task.out).unwrap();
    assert_eq!(restarted.stream_time(), Some(5_000), "nothing persisted a later stream time");
}

#[test]
fn loop_back_opens_ls_005_at_the_later_site_with_both_sightings_as_evidence() {
    let mut task = Task::new();
    for event in [scan("DC1", 1_000, "s1", "DOCK"), scan("DC2", 2_000, "s2", "L5")] {
        task.engine.process(&event, 0, &mut task.store, &mut task.out).unwrap();
        let looped = task.engine.loop_back(0, &mut task.store, &mut task.out).unwrap();
        assert!(task.out.repartitioned.is_empty(), "loop_back drains the internal records");
        assert_eq!(looped.exceptions, task.out.exceptions.len());
    }
    let [exception] = task.out.exceptions.as_slice() else { panic!("{:?}", task.out.exceptions) };
    assert_eq!(exception.exception_type, ExceptionType::LotSerialInconsistency);
    assert_eq!((exception.site_id.as_str(), exception.rule_id.as_str()), ("DC2", "LS-005"));
    assert_eq!(exception.subtype.as_deref(), Some("SERIAL_TWO_SITES"));
    assert_eq!(exception.subject, "SKU-1|serial|SN-1");
    assert_eq!(exception.source_event_ids, ["s1", "s2"]);
    let opened = task.out.audit.iter().find(|a| a.decision == Decision::Opened).unwrap();
    let evidence: Vec<(&str, &str)> =
        opened.details.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        evidence,
        [
            ("event_id", "s2"),
            ("event_time", "2000"),
            ("location", "L5"),
            ("previous_event_id", "s1"),
            ("previous_event_time", "1000"),
            ("previous_location", "DOCK"),
            ("previous_site", "DC1"),
            ("site", "DC2"),
        ]
    );
    assert_eq!(opened.policy_version, Policy::default_policy().version());
}

#[test]
fn a_blank_internal_record_is_poison_and_changes_nothing() {
    let mut task = Task::new();
    let blank = Repartitioned::Sighting(SerialSighting {
        serial: " ".into(),
        ..sighting("DC1", 0, "e1", false)
    });
    let err = task.engine.process_repartitioned(&blank, 0, &mut task.store, &mut task.out);
    let err = err.unwrap_err();
    assert!(err.is_poison());
    assert!(err.to_string().contains("ls-sightings"), "{err}");
    assert!(err.to_string().contains("serial is empty"), "{err}");
    assert!(task.store.changelog().is_empty());
}
