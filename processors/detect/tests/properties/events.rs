//! Event builders: one canonical event of item SKU-1 at site DC1 per kind of step, with the
//! fixed ids (tasks, orders, allocations, ASN, receipt, messages) the steps refer to.

use invex_model::{
    AckStatus, AsnLine, BookSnapshot, CanonicalEvent, ConditionCode, CountEvent, CountType,
    EpcisAction, EventHeader, IntegrationAck, ItemMaster, OrderAllocation, PickEvent, ReceiptLine,
    ScanEvent, ScanResult, SourceSystem, StockType, TaskEvent, TaskStatus, TaskType,
};

use crate::ops::{LOCATIONS, START};

pub(crate) fn header(id: &str, time: i64, system: SourceSystem) -> EventHeader {
    EventHeader {
        event_id: id.to_owned(),
        event_time: time,
        event_tz_offset: "+00:00".to_owned(),
        record_time: time,
        tenant_id: "t1".to_owned(),
        site_id: "DC1".to_owned(),
        source_system: system,
        source_seq: 0,
        operator_id: None,
        device_id: None,
        action: EpcisAction::Observe,
        biz_step: String::new(),
        disposition: None,
        error_declaration: None,
    }
}

/// The same event under another event id (a producer retry).
pub(crate) fn with_event_id(mut event: CanonicalEvent, id: &str) -> CanonicalEvent {
    event.header_mut().event_id = id.to_owned();
    event
}

pub(crate) fn allocate(id: &str, t: i64, a: usize, qty: i64) -> CanonicalEvent {
    CanonicalEvent::Allocation(allocation_event(id, t, a, qty))
}

fn allocation_event(id: &str, t: i64, a: usize, qty: i64) -> OrderAllocation {
    OrderAllocation {
        header: header(id, t, SourceSystem::Oms),
        allocation_id: format!("A{a}"),
        order_id: format!("O{a}"),
        order_line: 1,
        channel: None,
        sku: "SKU-1".to_owned(),
        location_id: Some(LOCATIONS[0].to_owned()),
        lot: None,
        qty_ordered: qty,
        qty_allocated: qty,
        uom: "EA".to_owned(),
        status: "RELEASED".to_owned(),
        promised_ship_time: None,
    }
}

pub(crate) fn pick_line(
    id: &str,
    t: i64,
    line: usize,
    qty: i64,
    alloc: Option<usize>,
) -> CanonicalEvent {
    let mut p = pick_event(id, t, LOCATIONS[line % 2], qty);
    p.pick_task_id = format!("T{line}");
    p.order_id = format!("O{line}");
    p.qty_requested = 4;
    p.allocation_id = alloc.map(|a| format!("A{a}"));
    CanonicalEvent::Pick(p)
}

pub(crate) fn asn(id: &str, t: i64, qty: i64) -> CanonicalEvent {
    CanonicalEvent::Asn(AsnLine {
        header: header(id, t, SourceSystem::Erp),
        asn_id: "ASN-1".to_owned(),
        po_id: "PO-1".to_owned(),
        line_no: 1,
        supplier_id: "SUP-1".to_owned(),
        sku: "SKU-1".to_owned(),
        gtin: None,
        qty_expected: qty,
        uom: "EA".to_owned(),
        expected_lots: Vec::new(),
        ssccs: Vec::new(),
        under_tolerance_pct: None,
        over_tolerance_pct: Some(5.0),
        unlimited_over: false,
        min_remaining_shelf_life_days: None,
        eta: None,
    })
}

pub(crate) fn receive(id: &str, t: i64, qty: i64, closed: bool, damaged: bool) -> CanonicalEvent {
    CanonicalEvent::Receipt(receipt_event(id, t, qty, closed, damaged))
}

fn receipt_event(id: &str, t: i64, qty: i64, closed: bool, damaged: bool) -> ReceiptLine {
    ReceiptLine {
        header: header(id, t, SourceSystem::Wms),
        receipt_id: "GR-1".to_owned(),
        line_no: 1,
        asn_id: Some("ASN-1".to_owned()),
        po_id: Some("PO-1".to_owned()),
        po_line: Some(1),
        supplier_id: Some("SUP-1".to_owned()),
        carrier_id: Some("CAR-1".to_owned()),
        sku: "SKU-1".to_owned(),
        gtin: None,
        lot: None,
        expiry_date: None,
        serials: Vec::new(),
        location_id: "DOCK".to_owned(),
        qty_received: qty,
        qty_accepted: qty,
        uom: "EA".to_owned(),
        condition_code: if damaged { ConditionCode::Damaged } else { ConditionCode::Good },
        stock_type: StockType::Unrestricted,
        lpn: None,
        receipt_closed: closed,
    }
}

pub(crate) fn putaway(id: &str, t: i64, qty: i64, elsewhere: bool) -> CanonicalEvent {
    let mut task = task_event(id, t, "DOCK", LOCATIONS[0], qty);
    task.task_type = TaskType::Putaway;
    task.actual_location_id = Some(LOCATIONS[usize::from(elsewhere)].to_owned());
    CanonicalEvent::Task(task)
}

pub(crate) fn damaged_scan(id: &str, t: i64, loc: &str, qty: i64) -> CanonicalEvent {
    let mut scan = scan_event(id, t, loc, qty);
    scan.header.disposition = Some("damaged".to_owned());
    CanonicalEvent::Scan(scan)
}

fn scan_event(id: &str, t: i64, loc: &str, qty: i64) -> ScanEvent {
    ScanEvent {
        header: header(id, t, SourceSystem::Edge),
        raw_barcode: "0".to_owned(),
        symbology: None,
        sku: "SKU-1".to_owned(),
        gtin: None,
        sscc: None,
        lpn: None,
        lot: None,
        expiry_date: None,
        serial: None,
        location_id: loc.to_owned(),
        quantity: qty,
        uom: "EA".to_owned(),
        scan_result: ScanResult::Ok,
        task_id: None,
        task_type: None,
        expected_gtin: None,
        expected_lot: None,
        expected_location_id: None,
    }
}

pub(crate) fn master(
    id: &str,
    t: i64,
    lot_controlled: bool,
    min_shelf_life: Option<i32>,
) -> CanonicalEvent {
    CanonicalEvent::Item(ItemMaster {
        header: header(id, t, SourceSystem::Erp),
        sku: "SKU-1".to_owned(),
        gtins: Vec::new(),
        base_uom: "EA".to_owned(),
        case_pack: None,
        abc_class: "B".to_owned(),
        unit_cost: 4.0,
        currency: "EUR".to_owned(),
        lot_controlled,
        serial_controlled: false,
        min_remaining_shelf_life_days: min_shelf_life,
    })
}

/// Status SENT (0), ACK (1), ERROR (2) or RETRYING (3) of posting M<message>.
pub(crate) fn ack(id: &str, t: i64, message: usize, status: u8) -> CanonicalEvent {
    CanonicalEvent::Ack(IntegrationAck {
        header: header(id, t, SourceSystem::Erp),
        message_id: format!("M{message}"),
        direction: "WMS_TO_ERP".to_owned(),
        doc_type: "GI".to_owned(),
        sku: "SKU-1".to_owned(),
        quantity: -3,
        related_event_ids: Vec::new(),
        status: match status {
            0 => AckStatus::Sent,
            1 => AckStatus::Ack,
            2 => AckStatus::Error,
            _ => AckStatus::Retrying,
        },
        error_code: None,
        attempt: 1,
    })
}

/// A no-read (0), a wrong item for task T<loc> (1) or an item the device does not know (2).
pub(crate) fn scan(id: &str, t: i64, loc: usize, result: u8) -> CanonicalEvent {
    let mut scan = scan_event(id, t, LOCATIONS[loc], 1);
    scan.scan_result = match result {
        0 => ScanResult::NoRead,
        1 => ScanResult::Mismatch,
        _ => ScanResult::UnknownItem,
    };
    scan.task_id = Some(format!("T{loc}"));
    scan.expected_gtin = Some("0400".to_owned());
    scan.gtin = Some("0999".to_owned());
    CanonicalEvent::Scan(scan)
}

pub(crate) fn expiring(id: &str, t: i64, lot: usize, days: i32, kind: u8) -> CanonicalEvent {
    let lot_id = format!("LOT{lot}");
    let expiry = i32::try_from(START / 86_400_000).unwrap_or(0) + days;
    match kind {
        0 => {
            let mut scan = scan_event(id, t, LOCATIONS[lot], 1);
            scan.lot = Some(lot_id);
            scan.expiry_date = Some(expiry);
            CanonicalEvent::Scan(scan)
        }
        1 => {
            let mut r = receipt_event(id, t, 3, false, false);
            r.asn_id = None;
            r.lot = Some(lot_id);
            r.expiry_date = Some(expiry);
            CanonicalEvent::Receipt(r)
        }
        _ => {
            let mut a = allocation_event(id, t, lot + 2, 2);
            a.lot = Some(lot_id);
            a.promised_ship_time = Some(START + 10 * 86_400_000);
            CanonicalEvent::Allocation(a)
        }
    }
}

pub(crate) fn book(id: &str, t: i64, loc: &str, qty: i64) -> CanonicalEvent {
    CanonicalEvent::Book(BookSnapshot {
        header: header(id, t, SourceSystem::Erp),
        snapshot_id: format!("snap-{id}"),
        location_id: loc.to_owned(),
        sku: "SKU-1".to_owned(),
        lot: None,
        stock_type: StockType::Unrestricted,
        quantity: qty,
        uom: "EA".to_owned(),
        unit_cost: 4.0,
        currency: "EUR".to_owned(),
    })
}

pub(crate) fn pick(id: &str, t: i64, loc: &str, qty: i64) -> CanonicalEvent {
    CanonicalEvent::Pick(pick_event(id, t, loc, qty))
}

fn pick_event(id: &str, t: i64, loc: &str, qty: i64) -> PickEvent {
    PickEvent {
        header: header(id, t, SourceSystem::Wms),
        pick_task_id: format!("pick-{id}"),
        order_id: format!("ord-{id}"),
        order_line: 1,
        allocation_id: None,
        location_id: loc.to_owned(),
        sku: "SKU-1".to_owned(),
        lot: None,
        serials: Vec::new(),
        qty_requested: qty,
        qty_picked: qty,
        uom: "EA".to_owned(),
        short_reason: None,
        confirm_method: "SCAN".to_owned(),
    }
}

pub(crate) fn move_task(id: &str, t: i64, from: &str, to: &str, qty: i64) -> CanonicalEvent {
    CanonicalEvent::Task(task_event(id, t, from, to, qty))
}

fn task_event(id: &str, t: i64, from: &str, to: &str, qty: i64) -> TaskEvent {
    TaskEvent {
        header: header(id, t, SourceSystem::Wms),
        task_id: format!("task-{id}"),
        task_type: TaskType::Move,
        status: TaskStatus::Confirmed,
        sku: "SKU-1".to_owned(),
        lot: None,
        quantity: qty,
        uom: "EA".to_owned(),
        from_location_id: from.to_owned(),
        suggested_location_id: Some(to.to_owned()),
        actual_location_id: None,
        override_reason: None,
        lpn: None,
    }
}

pub(crate) fn count(
    id: &str,
    t: i64,
    loc: &str,
    counted: i64,
    seq: i32,
    wms: Option<i64>,
) -> CanonicalEvent {
    CanonicalEvent::Count(CountEvent {
        header: header(id, t, SourceSystem::Wms),
        count_doc_id: format!("doc-{id}"),
        count_type: if seq == 1 { CountType::Abc } else { CountType::Demand },
        count_seq: seq,
        blind: true,
        location_id: loc.to_owned(),
        sku: "SKU-1".to_owned(),
        lot: None,
        counted_qty: counted,
        uom: "EA".to_owned(),
        wms_book_qty_at_freeze: wms,
        freeze_time: t - 60_000,
        counter_id: None,
    })
}
