//! Representative values of every subject's Rust type, built by hand.
//!
//! Each builder takes a [`Fill`]: `All` sets every optional field and fills every list and map,
//! `Required` leaves them `None` or empty, so the two values together reach both branches of
//! every `["null", T]` union and both the empty and non-empty encodings of arrays and maps.

use std::collections::BTreeMap;

use invex_model::{
    AckStatus, ActionCommand, ActionId, ActionType, Approval, ApprovalDecision, ApprovalVerdict,
    AsnLine, AuditRecord, BookSnapshot, ConditionCode, CountEvent, CountType, Decision,
    DlqEnvelope, EpcisAction, ErrorClass, ErrorDeclaration, EventHeader, ExceptionId,
    ExceptionRecord, ExceptionStatus, ExceptionType, ExpectedLot, IntegrationAck, ItemMaster,
    OrderAllocation, OwnerTeam, PickEvent, Quantities, ReceiptLine, RequestedBy, RootCause,
    RootCauseCategory, ScanEvent, ScanResult, SourceSystem, StockType, TaskEvent, TaskStatus,
    TaskType, Valuation,
};

/// 2026-01-01T08:00:00Z in UTC milliseconds.
const T0: i64 = 1_767_254_400_000;
/// 2027-06-30 in days since the epoch.
const EXPIRY: i32 = 20_634;

/// Whether optional fields, lists and maps are filled.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fill {
    /// Every optional field set, every list and map non-empty.
    All,
    /// Every optional field `None`, every list and map empty.
    Required,
}

impl Fill {
    /// Both fills, for tests that must see both.
    pub(crate) const BOTH: [Self; 2] = [Self::All, Self::Required];

    fn opt<T>(self, value: T) -> Option<T> {
        match self {
            Self::All => Some(value),
            Self::Required => None,
        }
    }

    fn text(self, value: &str) -> Option<String> {
        self.opt(value.to_owned())
    }

    fn list<T>(self, items: Vec<T>) -> Vec<T> {
        match self {
            Self::All => items,
            Self::Required => Vec::new(),
        }
    }

    fn texts(self, items: &[&str]) -> Vec<String> {
        self.list(items.iter().map(|s| (*s).to_owned()).collect())
    }

    fn map(self, pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        let pairs = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        self.list(pairs.collect()).into_iter().collect()
    }
}

fn header(fill: Fill, event_id: &str, source_system: SourceSystem) -> EventHeader {
    EventHeader {
        event_id: event_id.to_owned(),
        event_time: T0,
        event_tz_offset: "+01:00".to_owned(),
        record_time: T0 + 1_250,
        tenant_id: "t1".to_owned(),
        site_id: "DC1".to_owned(),
        source_system,
        source_seq: 4_711,
        operator_id: fill.text("op-17"),
        device_id: fill.text("rf-042"),
        action: EpcisAction::Observe,
        biz_step: "cycle_counting".to_owned(),
        disposition: fill.text("active"),
        error_declaration: fill.opt(ErrorDeclaration {
            reason: "incorrect_data".to_owned(),
            corrects_event_ids: vec!["ev-0001".to_owned(), "ev-0002".to_owned()],
        }),
    }
}

pub(crate) fn scan_event(fill: Fill) -> ScanEvent {
    ScanEvent {
        header: header(fill, "ev-scan-1", SourceSystem::Edge),
        raw_barcode: "(01)09506000134352(10)L42(17)270630".to_owned(),
        symbology: fill.text("GS1-128"),
        sku: "SKU-9".to_owned(),
        gtin: fill.text("09506000134352"),
        sscc: fill.text("106141411234567897"),
        lpn: fill.text("LPN-77"),
        lot: fill.text("L42"),
        expiry_date: fill.opt(EXPIRY),
        serial: fill.text("SN-1"),
        location_id: "A-01-02".to_owned(),
        quantity: 12,
        uom: "EA".to_owned(),
        scan_result: ScanResult::UnknownItem,
        task_id: fill.text("task-5"),
        task_type: fill.text("PICK"),
        expected_gtin: fill.text("09506000134369"),
        expected_lot: fill.text("L41"),
        expected_location_id: fill.text("A-01-03"),
    }
}

pub(crate) fn receipt_line(fill: Fill) -> ReceiptLine {
    ReceiptLine {
        header: header(fill, "ev-rcpt-1", SourceSystem::Wms),
        receipt_id: "GR-100".to_owned(),
        line_no: 3,
        asn_id: fill.text("ASN-7"),
        po_id: fill.text("PO-55"),
        po_line: fill.opt(20),
        supplier_id: fill.text("SUP-1"),
        carrier_id: fill.text("CAR-9"),
        sku: "SKU-9".to_owned(),
        gtin: fill.text("09506000134352"),
        lot: fill.text("L42"),
        expiry_date: fill.opt(EXPIRY),
        serials: fill.texts(&["SN-1", "SN-2"]),
        location_id: "DOCK-3".to_owned(),
        qty_received: 96,
        qty_accepted: 90,
        uom: "CS".to_owned(),
        condition_code: ConditionCode::Damaged,
        stock_type: StockType::QualityInspection,
        lpn: fill.text("LPN-77"),
        receipt_closed: true,
    }
}

pub(crate) fn pick_event(fill: Fill) -> PickEvent {
    PickEvent {
        header: header(fill, "ev-pick-1", SourceSystem::Wms),
        pick_task_id: "PT-1".to_owned(),
        order_id: "SO-1".to_owned(),
        order_line: 2,
        allocation_id: fill.text("AL-1"),
        location_id: "A-01-02".to_owned(),
        sku: "SKU-9".to_owned(),
        lot: fill.text("L42"),
        serials: fill.texts(&["SN-3"]),
        qty_requested: 10,
        qty_picked: 7,
        uom: "EA".to_owned(),
        short_reason: fill.text("EMPTY_LOCATION"),
        confirm_method: "VOICE".to_owned(),
    }
}

pub(crate) fn count_event(fill: Fill) -> CountEvent {
    CountEvent {
        header: header(fill, "ev-count-1", SourceSystem::Wms),
        count_doc_id: "CC-9".to_owned(),
        count_type: CountType::NearZero,
        count_seq: 2,
        blind: true,
        location_id: "A-01-02".to_owned(),
        sku: "SKU-9".to_owned(),
        lot: fill.text("L42"),
        counted_qty: 0,
        uom: "EA".to_owned(),
        wms_book_qty_at_freeze: fill.opt(14),
        freeze_time: T0 - 60_000,
        counter_id: fill.text("op-17"),
    }
}

pub(crate) fn task_event(fill: Fill) -> TaskEvent {
    TaskEvent {
        header: header(fill, "ev-task-1", SourceSystem::Wms),
        task_id: "TK-1".to_owned(),
        task_type: TaskType::Replenishment,
        status: TaskStatus::Confirmed,
        sku: "SKU-9".to_owned(),
        lot: fill.text("L42"),
        quantity: 48,
        uom: "EA".to_owned(),
        from_location_id: "R-10-01".to_owned(),
        suggested_location_id: fill.text("A-01-02"),
        actual_location_id: fill.text("A-01-04"),
        override_reason: fill.text("FACE_FULL"),
        lpn: fill.text("LPN-78"),
    }
}

pub(crate) fn asn_line(fill: Fill) -> AsnLine {
    AsnLine {
        header: header(fill, "ev-asn-1", SourceSystem::Erp),
        asn_id: "ASN-7".to_owned(),
        po_id: "PO-55".to_owned(),
        line_no: 1,
        supplier_id: "SUP-1".to_owned(),
        sku: "SKU-9".to_owned(),
        gtin: fill.text("09506000134352"),
        qty_expected: 100,
        uom: "CS".to_owned(),
        expected_lots: fill.list(vec![
            ExpectedLot { lot: "L42".to_owned(), expiry_date: Some(EXPIRY), quantity: 60 },
            ExpectedLot { lot: "L43".to_owned(), expiry_date: None, quantity: 40 },
        ]),
        ssccs: fill.texts(&["106141411234567897"]),
        under_tolerance_pct: fill.opt(2.5),
        over_tolerance_pct: fill.opt(0.25),
        unlimited_over: false,
        min_remaining_shelf_life_days: fill.opt(90),
        eta: fill.opt(T0 + 86_400_000),
    }
}

pub(crate) fn book_snapshot(fill: Fill) -> BookSnapshot {
    BookSnapshot {
        header: header(fill, "ev-book-1", SourceSystem::Erp),
        snapshot_id: "SNAP-20260101".to_owned(),
        location_id: "A-01-02".to_owned(),
        sku: "SKU-9".to_owned(),
        lot: fill.text("L42"),
        stock_type: StockType::Blocked,
        quantity: -3,
        uom: "EA".to_owned(),
        unit_cost: 12.75,
        currency: "EUR".to_owned(),
    }
}

pub(crate) fn order_allocation(fill: Fill) -> OrderAllocation {
    OrderAllocation {
        header: header(fill, "ev-alloc-1", SourceSystem::Oms),
        allocation_id: "AL-1".to_owned(),
        order_id: "SO-1".to_owned(),
        order_line: 2,
        channel: fill.text("WEB"),
        sku: "SKU-9".to_owned(),
        location_id: fill.text("A-01-02"),
        lot: fill.text("L42"),
        qty_ordered: 10,
        qty_allocated: 8,
        uom: "EA".to_owned(),
        status: "RELEASED".to_owned(),
        promised_ship_time: fill.opt(T0 + 172_800_000),
    }
}

pub(crate) fn integration_ack(fill: Fill) -> IntegrationAck {
    IntegrationAck {
        header: header(fill, "ev-ack-1", SourceSystem::Erp),
        message_id: "MSG-1".to_owned(),
        direction: "WMS_TO_ERP".to_owned(),
        doc_type: "ADJ".to_owned(),
        sku: "SKU-9".to_owned(),
        quantity: -4,
        related_event_ids: fill.texts(&["ev-count-1"]),
        status: AckStatus::Retrying,
        error_code: fill.text("M7-021"),
        attempt: 3,
    }
}

pub(crate) fn item_master(fill: Fill) -> ItemMaster {
    ItemMaster {
        header: header(fill, "ev-item-1", SourceSystem::Erp),
        sku: "SKU-9".to_owned(),
        gtins: fill.texts(&["09506000134352", "19506000134359"]),
        base_uom: "EA".to_owned(),
        case_pack: fill.opt(12),
        abc_class: "A".to_owned(),
        unit_cost: 12.75,
        currency: "EUR".to_owned(),
        lot_controlled: true,
        serial_controlled: false,
        min_remaining_shelf_life_days: fill.opt(90),
    }
}

pub(crate) fn approval_decision(fill: Fill) -> ApprovalDecision {
    ApprovalDecision {
        header: header(fill, "ev-appr-1", SourceSystem::Human),
        exception_id: "exc-0123456789abcdef0123456789abcdef".to_owned(),
        approval_request_id: fill.text("act-0123456789abcdef0123456789abcdef"),
        verdict: ApprovalVerdict::RequestRecount,
        actor: "m.jansen".to_owned(),
        actor_role: fill.text("FINANCE_CONTROLLER"),
        comment: fill.text("count the overflow bay too"),
        reason_code: fill.text("701"),
        sku: "SKU-9".to_owned(),
    }
}

fn exception_id() -> ExceptionId {
    ExceptionId::derive("CYCLE_COUNT_DISCREPANCY", "t1", "DC1", "SKU-9|A-01-02|L42", "ev-count-1")
}

pub(crate) fn exception_record(fill: Fill) -> ExceptionRecord {
    ExceptionRecord {
        exception_id: exception_id(),
        version: 4,
        exception_type: ExceptionType::CycleCountDiscrepancy,
        subtype: fill.text("SHORT"),
        severity: 3,
        status: ExceptionStatus::AwaitingApproval,
        status_reason: fill.text("AWAITING_VENDOR"),
        tenant_id: "t1".to_owned(),
        site_id: "DC1".to_owned(),
        subject: "SKU-9|A-01-02|L42".to_owned(),
        location_id: fill.text("A-01-02"),
        sku: "SKU-9".to_owned(),
        lot: fill.text("L42"),
        quantities: Quantities {
            expected: fill.opt(14),
            observed: fill.opt(0),
            book: fill.opt(14),
            variance: -14,
            variance_pct: fill.opt(-100.0),
            uom: "EA".to_owned(),
        },
        valuation: Valuation {
            variance_value: -178.5,
            unit_cost: 12.75,
            currency: "EUR".to_owned(),
        },
        rule_id: "count.variance.v1".to_owned(),
        policy_version: "2026.01.1".to_owned(),
        opened_at: T0,
        updated_at: T0 + 3_600_000,
        resolved_at: fill.opt(T0 + 7_200_000),
        resolution: fill.text("ADJUSTED"),
        source_event_ids: fill.texts(&["ev-count-1", "ev-book-1"]),
        root_cause: fill.opt(RootCause {
            category: RootCauseCategory::SystemSync,
            code: "ERP_BOOK_STALE".to_owned(),
            confidence: 0.625,
            signals: vec!["book older than last pick".to_owned()],
        }),
        owner_team: OwnerTeam::InventoryControl,
        approval: fill.opt(Approval {
            tier: "SUPERVISOR".to_owned(),
            approver_group: "dc1-supervisors".to_owned(),
            request_id: "act-0123456789abcdef0123456789abcdef".to_owned(),
            decision: Some(ApprovalVerdict::Approve),
            approver: None,
            decided_at: Some(T0 + 5_400_000),
        }),
        recount_attempts: 1,
        escalation_level: 2,
        correlation: fill.map(&[("count_doc_id", "CC-9"), ("order_id", "SO-1")]),
    }
}

pub(crate) fn action_command(fill: Fill) -> ActionCommand {
    let exception = exception_id();
    ActionCommand {
        action_id: ActionId::derive(&exception, "STOCK_ADJUSTMENT", 1),
        action_type: ActionType::StockAdjustment,
        exception_id: exception,
        attempt: 1,
        tenant_id: "t1".to_owned(),
        site_id: "DC1".to_owned(),
        location_id: fill.text("A-01-02"),
        sku: "SKU-9".to_owned(),
        lot: fill.text("L42"),
        quantity: fill.opt(-14),
        uom: fill.text("EA"),
        value: fill.opt(-178.5),
        currency: fill.text("EUR"),
        reason_code: fill.text("701"),
        approval_ref: fill.text("ev-appr-1"),
        approval_tier: fill.text("SUPERVISOR"),
        target_group: "dc1-inventory-control".to_owned(),
        priority: 2,
        due_at: fill.opt(T0 + 14_400_000),
        requested_by: RequestedBy::User,
        rule_id: "count.variance.v1".to_owned(),
        policy_version: "2026.01.1".to_owned(),
        created_at: T0 + 5_400_000,
        details: fill.map(&[("movement_type", "701")]),
    }
}

pub(crate) fn audit_record(fill: Fill) -> AuditRecord {
    AuditRecord {
        audit_id: "aud-1".to_owned(),
        exception_id: exception_id(),
        exception_version: 4,
        tenant_id: "t1".to_owned(),
        site_id: "DC1".to_owned(),
        at: T0 + 5_400_000,
        decision: Decision::DecisionIgnored,
        from_status: fill.opt(ExceptionStatus::AwaitingApproval),
        to_status: ExceptionStatus::Actioning,
        rule_id: "human".to_owned(),
        policy_version: "2026.01.1".to_owned(),
        input_event_ids: fill.texts(&["ev-appr-1"]),
        actor: fill.text("m.jansen"),
        action_ids: fill.texts(&["act-1", "act-2"]),
        note: "approved within supervisor limit".to_owned(),
        details: fill.map(&[("variance", "-14"), ("tolerance_pct", "2")]),
    }
}

pub(crate) fn dlq_envelope(fill: Fill) -> DlqEnvelope {
    DlqEnvelope {
        source_topic: "wh.count".to_owned(),
        source_partition: 7,
        source_offset: 123_456_789_012,
        source_timestamp: fill.opt(T0),
        key: fill.opt(b"t1|DC1|SKU-9".to_vec()),
        value: fill.opt(vec![0, 0, 0, 0, 42, 0xff, 0x80, 0x01]),
        schema_id: fill.opt(42),
        error_class: ErrorClass::Deserialization,
        error_message: "field counted_qty: expected long".to_owned(),
        processor: "detect".to_owned(),
        failed_at: T0 + 10,
    }
}

/// A partial KPI record.
pub(crate) fn kpi_record(fill: Fill) -> invex_model::KpiRecord {
    let histogram = |p: Option<i64>| invex_model::DurationHistogram {
        bounds_ms: vec![60_000, 3_600_000],
        counts: fill.list(vec![1, 0, 2]),
        sum_ms: 7_300_000,
        p50_ms: p,
        p90_ms: p,
        p99_ms: p,
    };
    invex_model::KpiRecord {
        tenant_id: "acme".into(),
        site_id: "DC1".into(),
        exception_type: ExceptionType::SyncFailure,
        window_start: T0,
        window_end: T0 + 3_600_000,
        task: 2,
        opened: 3,
        resolved: 1,
        open_backlog: 5,
        oldest_open_age_ms: fill.opt(86_400_000),
        open_age: histogram(fill.opt(3_600_000)),
        time_to_resolve: histogram(fill.opt(60_000)),
        value_at_risk: fill
            .list(vec![invex_model::MoneyAmount { currency: "EUR".into(), amount: 1.5 }]),
        root_causes: fill.list(vec![invex_model::RootCauseCount {
            category: RootCauseCategory::Carrier,
            count: 2,
        }]),
        count_evaluations: 9,
        count_hits: 8,
    }
}
