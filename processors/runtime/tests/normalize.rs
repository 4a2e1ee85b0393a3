//! Vendor-shaped raw traffic normalizes back to exactly the canonical events it was rendered
//! from, through every shipped mapping: a seeded simulator run (with the warehouse's answers
//! to recount tasks and approval requests) and a fully populated and a sparse event of every
//! canonical type. Key and content hash are those of the original event.

use std::collections::{BTreeMap, BTreeSet};

use invex_model::{
    AckStatus, ActionCommand, ActionId, ActionType, ApprovalDecision, ApprovalVerdict, AsnLine,
    BookSnapshot, CanonicalEvent, CanonicalTopic, ConditionCode, CountEvent, CountType,
    EpcisAction, ErrorDeclaration, EventHeader, ExceptionId, ExpectedLot, IntegrationAck,
    ItemMaster, OrderAllocation, PickEvent, ReceiptLine, RequestedBy, ScanEvent, ScanResult,
    SourceSystem, StockType, TaskEvent, TaskStatus, TaskType,
};
use invex_runtime::normalize::{ContentHash, Normalized, Normalizer};
use invex_sim::{FaultKind, SimConfig, Simulator, Transport, Vendor};

/// Renders `event` as `vendor` and normalizes it back, asserting one event comes out.
fn round_trip(n: &Normalizer, vendor: Vendor, event: &CanonicalEvent) -> Normalized {
    let raw = vendor.render(event);
    let mut out = n
        .normalize(vendor.source_name(), &raw)
        .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&raw)));
    assert_eq!(out.len(), 1);
    out.remove(0)
}

/// Asserts both vendors carry `event` losslessly, with the original's key and hash.
fn assert_round_trips(n: &Normalizer, event: &CanonicalEvent) {
    let key = event.partition_key().to_string();
    let hash = ContentHash::of(event);
    for vendor in Vendor::ALL {
        let got = round_trip(n, vendor, event);
        assert_eq!(&got.event, event, "{vendor:?}");
        assert_eq!((got.key.as_str(), got.content_hash), (key.as_str(), hash), "{vendor:?}");
    }
}

/// The warehouse's answers to a recount task and an approval request per expected exception.
fn answers(sim: &mut Simulator) -> Vec<CanonicalEvent> {
    let faults = sim.ground_truth().to_vec();
    let mut out = Vec::new();
    for fault in &faults {
        for action_type in [ActionType::RecountTask, ActionType::ApprovalRequest] {
            let exception =
                ExceptionId::derive("CC", &fault.tenant, &fault.site, &fault.subject, "e");
            out.extend(sim.respond(&ActionCommand {
                action_id: ActionId::derive(&exception, action_type.as_str(), 1),
                action_type,
                exception_id: exception,
                attempt: 1,
                tenant_id: fault.tenant.clone(),
                site_id: fault.site.clone(),
                location_id: fault.location_id.clone(),
                sku: fault.sku.clone(),
                lot: fault.lot.clone(),
                quantity: Some(-3),
                uom: Some("EA".to_owned()),
                value: None,
                currency: None,
                reason_code: None,
                approval_ref: None,
                approval_tier: Some("SUPERVISOR".to_owned()),
                target_group: "ops".to_owned(),
                priority: 2,
                due_at: None,
                requested_by: RequestedBy::Rule,
                rule_id: "CC-001".to_owned(),
                policy_version: "1".to_owned(),
                created_at: sim.config().end_time(),
                details: BTreeMap::new(),
            }));
        }
    }
    out
}

#[test]
fn a_seeded_simulator_run_round_trips_through_every_vendor() {
    let n = Normalizer::shipped().unwrap();
    let config = SimConfig {
        seed: 11,
        skus_per_site: 300,
        duration_ms: 3 * 3_600_000,
        ..SimConfig::default()
    };
    let mut sim = Simulator::new(config).unwrap();
    let mut events: Vec<CanonicalEvent> = sim.by_ref().collect();
    let answers = answers(&mut sim);
    assert!(answers.iter().any(|e| e.topic() == CanonicalTopic::Approvals));
    assert!(answers.iter().any(|e| e.topic() == CanonicalTopic::Count));
    events.extend(answers);
    let mut seen = BTreeSet::new();
    for event in &events {
        assert_round_trips(&n, event);
        seen.insert(event.topic());
    }
    let mut emitted: BTreeSet<CanonicalTopic> =
        sim.stats().events_by_topic.keys().map(|t| t.parse().unwrap()).collect();
    emitted.insert(CanonicalTopic::Approvals);
    assert_eq!(seen, emitted, "every event type the simulator emits was covered");
    assert!(seen.len() >= 7, "{seen:?}");
}

/// Normalize drops an event whose content hash it has seen as a vendor retry, so two distinct
/// warehouse events must never hash equal: no transport noise, every event a real one.
#[test]
fn distinct_simulator_events_never_share_a_content_hash() {
    let mut config = SimConfig {
        seed: 5,
        skus_per_site: 300,
        duration_ms: 3 * 3_600_000,
        transport: Transport { duplicate: 0.0, retry: 0.0, late: 0.0 },
        ..SimConfig::default()
    };
    config.faults.repeated_no_read = 0.02;
    let mut sim = Simulator::new(config).unwrap();
    let mut first: BTreeMap<ContentHash, CanonicalEvent> = BTreeMap::new();
    let mut no_reads = 0;
    for event in sim.by_ref() {
        if let CanonicalEvent::Scan(scan) = &event {
            no_reads += usize::from(scan.scan_result == ScanResult::NoRead);
        }
        if let Some(earlier) = first.insert(ContentHash::of(&event), event.clone()) {
            panic!("equal content:\n{earlier:?}\n{event:?}");
        }
    }
    let repeated = sim.ground_truth().iter().filter(|f| f.kind == FaultKind::RepeatedNoRead);
    assert!(repeated.count() >= 3, "the run has repeated no-reads to check");
    assert!(no_reads >= 9, "{no_reads}");
}

#[test]
fn every_canonical_type_round_trips_fully_populated_and_sparse() {
    let n = Normalizer::shipped().unwrap();
    let mut topics = BTreeSet::new();
    for event in full_events().iter().chain(&sparse_events()) {
        assert_round_trips(&n, event);
        topics.insert(event.topic());
    }
    assert_eq!(topics.len(), CanonicalTopic::ALL.len());
}

#[test]
fn a_vendor_retry_with_a_new_id_sequence_and_send_time_hashes_equal() {
    let n = Normalizer::shipped().unwrap();
    for event in full_events() {
        let mut retry = event.clone();
        let header = retry.header_mut();
        header.event_id.push_str("-retry");
        header.record_time += 60_000;
        header.source_seq += 1;
        let mut changed = event.clone();
        changed.header_mut().event_time += 1;
        for vendor in Vendor::ALL {
            let original = round_trip(&n, vendor, &event).content_hash;
            assert_eq!(original, round_trip(&n, vendor, &retry).content_hash);
            assert_ne!(original, round_trip(&n, vendor, &changed).content_hash);
        }
    }
}

const T0: i64 = 1_767_254_400_250; // 2026-01-01T08:00:00.250Z

fn s(text: &str) -> Option<String> {
    Some(text.to_owned())
}

fn v(items: &[&str]) -> Vec<String> {
    items.iter().map(|i| (*i).to_owned()).collect()
}

/// A header with every optional field set (`full`) or none.
fn header(n: i64, full: bool, source: SourceSystem) -> EventHeader {
    EventHeader {
        event_id: format!("evt-{n}"),
        event_time: T0 + n * 1_001,
        event_tz_offset: if full { "-05:30" } else { "+00:00" }.to_owned(),
        record_time: T0 + n * 1_001 + 417,
        tenant_id: "acme".to_owned(),
        site_id: "DC-2".to_owned(),
        source_system: source,
        source_seq: 1_000 + n,
        operator_id: full.then(|| "op \"7\"".to_owned()),
        device_id: full.then(|| "rf-7".to_owned()),
        action: if full { EpcisAction::Add } else { EpcisAction::Delete },
        biz_step: "receiving".to_owned(),
        disposition: full.then(|| "damaged".to_owned()),
        error_declaration: full.then(|| ErrorDeclaration {
            reason: "incorrect_data".to_owned(),
            corrects_event_ids: v(&["evt-0", "evt-00"]),
        }),
    }
}

fn full_events() -> Vec<CanonicalEvent> {
    let h = |n| header(n, true, SourceSystem::Edge);
    vec![
        CanonicalEvent::Scan(ScanEvent {
            header: h(1),
            raw_barcode: "(01)04000000000013(10)L1\u{1d}(21)S9".to_owned(),
            symbology: s("GS1-128"),
            sku: "SKU-1".to_owned(),
            gtin: s("04000000000013"),
            sscc: s("340123450000000018"),
            lpn: s("LPN-1"),
            lot: s("L1"),
            expiry_date: Some(20_634),
            serial: s("S9"),
            location_id: "A-01-02".to_owned(),
            quantity: 1,
            uom: "CS".to_owned(),
            scan_result: ScanResult::Mismatch,
            task_id: s("PK-1"),
            task_type: s("PICK"),
            expected_gtin: s("04000000000020"),
            expected_lot: s("L2"),
            expected_location_id: s("A-01-03"),
        }),
        CanonicalEvent::Receipt(ReceiptLine {
            header: h(2),
            receipt_id: "GR-1".to_owned(),
            line_no: 3,
            asn_id: s("ASN-1"),
            po_id: s("PO-1"),
            po_line: Some(20),
            supplier_id: s("SUP-1"),
            carrier_id: s("CAR-1"),
            sku: "SKU-2".to_owned(),
            gtin: s("04000000000020"),
            lot: s("L3"),
            expiry_date: Some(-3),
            serials: v(&["S1", "S2"]),
            location_id: "DOCK-1".to_owned(),
            qty_received: 12,
            qty_accepted: 10,
            uom: "CS".to_owned(),
            condition_code: ConditionCode::Damaged,
            stock_type: StockType::QualityInspection,
            lpn: s("LPN-2"),
            receipt_closed: false,
        }),
        CanonicalEvent::Pick(PickEvent {
            header: h(3),
            pick_task_id: "PK-2".to_owned(),
            order_id: "SO-1".to_owned(),
            order_line: 4,
            allocation_id: s("AL-1"),
            location_id: "A-02-01".to_owned(),
            sku: "SKU-3".to_owned(),
            lot: s("L4"),
            serials: v(&["S3"]),
            qty_requested: 5,
            qty_picked: 2,
            uom: "CS".to_owned(),
            short_reason: s("INSUFFICIENT_STOCK"),
            confirm_method: "VOICE".to_owned(),
        }),
        CanonicalEvent::Count(CountEvent {
            header: h(4),
            count_doc_id: "CC-1".to_owned(),
            count_type: CountType::NearZero,
            count_seq: 2,
            blind: false,
            location_id: "A-03-01".to_owned(),
            sku: "SKU-4".to_owned(),
            lot: s("L5"),
            counted_qty: 0,
            uom: "PAL".to_owned(),
            wms_book_qty_at_freeze: Some(3),
            freeze_time: T0 - 59_999,
            counter_id: s("counter-1"),
        }),
        CanonicalEvent::Task(TaskEvent {
            header: h(5),
            task_id: "RP-1".to_owned(),
            task_type: TaskType::Replenishment,
            status: TaskStatus::Cancelled,
            sku: "SKU-5".to_owned(),
            lot: s("L6"),
            quantity: 24,
            uom: "CS".to_owned(),
            from_location_id: "R-01".to_owned(),
            suggested_location_id: s("A-04-01"),
            actual_location_id: s("A-04-02"),
            override_reason: s("LOCATION_FULL"),
            lpn: s("LPN-3"),
        }),
        CanonicalEvent::Asn(AsnLine {
            header: h(6),
            asn_id: "ASN-2".to_owned(),
            po_id: "PO-2".to_owned(),
            line_no: 1,
            supplier_id: "SUP-2".to_owned(),
            sku: "SKU-6".to_owned(),
            gtin: s("04000000000037"),
            qty_expected: 100,
            uom: "CS".to_owned(),
            expected_lots: vec![
                ExpectedLot { lot: "L7".to_owned(), expiry_date: Some(20_700), quantity: 60 },
                ExpectedLot { lot: "L8".to_owned(), expiry_date: None, quantity: 40 },
            ],
            ssccs: v(&["340123450000000025", "340123450000000032"]),
            under_tolerance_pct: Some(2.5),
            over_tolerance_pct: Some(10.0),
            unlimited_over: true,
            min_remaining_shelf_life_days: Some(90),
            eta: Some(T0 + 86_400_123),
        }),
        CanonicalEvent::Book(BookSnapshot {
            header: h(7),
            snapshot_id: "ERP-DC-2-001".to_owned(),
            location_id: "A-05-01".to_owned(),
            sku: "SKU-7".to_owned(),
            lot: s("L9"),
            stock_type: StockType::Blocked,
            quantity: 7,
            uom: "CS".to_owned(),
            unit_cost: 12.34,
            currency: "EUR".to_owned(),
        }),
        CanonicalEvent::Allocation(OrderAllocation {
            header: h(8),
            allocation_id: "AL-2".to_owned(),
            order_id: "SO-2".to_owned(),
            order_line: 2,
            channel: s("WEB"),
            sku: "SKU-8".to_owned(),
            location_id: s("A-06-01"),
            lot: s("L10"),
            qty_ordered: 3,
            qty_allocated: 1,
            uom: "CS".to_owned(),
            status: "RELEASED".to_owned(),
            promised_ship_time: Some(T0 + 3_600_007),
        }),
        CanonicalEvent::Ack(IntegrationAck {
            header: h(9),
            message_id: "MSG-1".to_owned(),
            direction: "WMS_TO_ERP".to_owned(),
            doc_type: "ADJ".to_owned(),
            sku: "SKU-9".to_owned(),
            quantity: -3,
            related_event_ids: v(&["evt-4"]),
            status: AckStatus::Error,
            error_code: s("M7/021"),
            attempt: 2,
        }),
        CanonicalEvent::Item(ItemMaster {
            header: h(10),
            sku: "SKU-10".to_owned(),
            gtins: v(&["04000000000044", "14000000000041"]),
            base_uom: "CS".to_owned(),
            case_pack: Some(12),
            abc_class: "A".to_owned(),
            unit_cost: 0.1,
            currency: "USD".to_owned(),
            lot_controlled: true,
            serial_controlled: true,
            min_remaining_shelf_life_days: Some(30),
        }),
        CanonicalEvent::Approval(ApprovalDecision {
            header: h(11),
            exception_id: "exc-1".to_owned(),
            approval_request_id: s("act-1"),
            verdict: ApprovalVerdict::RequestRecount,
            actor: "supervisor-1".to_owned(),
            actor_role: s("SUPERVISOR"),
            comment: s("line 1\nline 2 \u{e9}"),
            reason_code: s("4"),
            sku: "SKU-11".to_owned(),
        }),
    ]
}

/// The same events with every optional field absent, other enum values and, where the
/// simulator never sends `EA`, units in `EA` (the full events use `CS` and `PAL`).
fn sparse_events() -> Vec<CanonicalEvent> {
    let mut events = full_events();
    for (i, event) in events.iter_mut().enumerate() {
        *event.header_mut() = header(100 + i as i64, false, SourceSystem::Oms);
        match event {
            CanonicalEvent::Scan(e) => {
                (e.symbology, e.gtin, e.sscc, e.lpn, e.lot, e.serial) =
                    (None, None, None, None, None, None);
                (e.expiry_date, e.scan_result, e.task_id, e.task_type) =
                    (None, ScanResult::NoRead, None, None);
                (e.expected_gtin, e.expected_lot, e.expected_location_id) = (None, None, None);
                e.uom = "EA".to_owned();
            }
            CanonicalEvent::Receipt(e) => {
                (e.asn_id, e.po_id, e.po_line, e.supplier_id, e.carrier_id) =
                    (None, None, None, None, None);
                (e.gtin, e.lot, e.expiry_date, e.lpn, e.serials) =
                    (None, None, None, None, Vec::new());
                (e.condition_code, e.stock_type, e.receipt_closed) =
                    (ConditionCode::Rejected, StockType::Unrestricted, true);
            }
            CanonicalEvent::Pick(e) => {
                (e.allocation_id, e.lot, e.short_reason, e.serials) =
                    (None, None, None, Vec::new());
            }
            CanonicalEvent::Count(e) => {
                (e.lot, e.wms_book_qty_at_freeze, e.counter_id) = (None, None, None);
                (e.count_type, e.blind) = (CountType::EmptyLocation, true);
            }
            CanonicalEvent::Task(e) => {
                (e.lot, e.suggested_location_id, e.actual_location_id) = (None, None, None);
                (e.override_reason, e.lpn, e.task_type, e.status) =
                    (None, None, TaskType::Move, TaskStatus::Created);
            }
            CanonicalEvent::Asn(e) => {
                (e.gtin, e.expected_lots, e.ssccs, e.unlimited_over) =
                    (None, Vec::new(), Vec::new(), false);
                (e.under_tolerance_pct, e.over_tolerance_pct) = (None, None);
                (e.min_remaining_shelf_life_days, e.eta, e.uom) = (None, None, "EA".to_owned());
            }
            CanonicalEvent::Book(e) => e.lot = None,
            CanonicalEvent::Allocation(e) => {
                (e.channel, e.location_id, e.lot, e.promised_ship_time) = (None, None, None, None);
                e.uom = "EA".to_owned();
            }
            CanonicalEvent::Ack(e) => {
                (e.related_event_ids, e.error_code, e.status) =
                    (Vec::new(), None, AckStatus::Retrying);
            }
            CanonicalEvent::Item(e) => {
                (e.gtins, e.case_pack, e.min_remaining_shelf_life_days) = (Vec::new(), None, None);
                (e.lot_controlled, e.serial_controlled, e.base_uom) =
                    (false, false, "EA".to_owned());
            }
            CanonicalEvent::Approval(e) => {
                (e.approval_request_id, e.actor_role, e.comment, e.reason_code) =
                    (None, None, None, None);
                e.verdict = ApprovalVerdict::Hold;
            }
        }
    }
    events
}
