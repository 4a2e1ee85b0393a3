//! Companion events derived from simulated ones, as the WMS's neighbours would send them.
//!
//! - Before each receipt, the ERP's ASN line (one hour earlier, quantity as received) and the
//!   receipt names it, so receiving variance has something to reconcile.
//! - After each receipt, the integration layer's goods-receipt posting: SENT, then the ERP's
//!   ACK 30 seconds later, so the sync detector arms and cancels its acknowledgement timer.
//! - Before each pick, the OMS allocation it fulfils (ten minutes earlier) and the picker's
//!   barcode scan (five seconds earlier, matching the task), so allocation, duplicate-pick
//!   and barcode checks all run.
//!
//! Ids derive from the simulated event's id, so the result is as deterministic as the
//! simulator. The output is stably sorted by event time, which keeps the simulator's order
//! among events of the same millisecond.

use std::collections::HashMap;

use invex_model::{
    AckStatus, AsnLine, CanonicalEvent, EpcisAction, EventHeader, IntegrationAck, OrderAllocation,
    PickEvent, ReceiptLine, ScanEvent, ScanResult, SourceSystem,
};

const MINUTE_MS: i64 = 60_000;
const ASN_LEAD_MS: i64 = 60 * MINUTE_MS;
const ALLOCATION_LEAD_MS: i64 = 10 * MINUTE_MS;
const SCAN_LEAD_MS: i64 = 5_000;
const ACK_DELAY_MS: i64 = 30_000;
const PROMISED_SHIP_MS: i64 = 24 * 60 * MINUTE_MS;

/// `events` plus their companions, stably sorted by event time.
pub(crate) fn add(events: Vec<CanonicalEvent>) -> Vec<CanonicalEvent> {
    let mut gtins: HashMap<(String, String), String> = HashMap::new();
    let mut out = Vec::with_capacity(events.len() * 2);
    for event in events {
        match event {
            CanonicalEvent::Item(item) => {
                if let Some(gtin) = item.gtins.first() {
                    gtins.insert((item.header.site_id.clone(), item.sku.clone()), gtin.clone());
                }
                out.push(CanonicalEvent::Item(item));
            }
            CanonicalEvent::Receipt(mut receipt) => {
                let asn = asn_for(&receipt);
                receipt.asn_id = Some(asn.asn_id.clone());
                let sent = posting_of(&receipt, AckStatus::Sent, 0);
                let acked = posting_of(&receipt, AckStatus::Ack, ACK_DELAY_MS);
                out.extend([
                    CanonicalEvent::Asn(asn),
                    CanonicalEvent::Receipt(receipt),
                    CanonicalEvent::Ack(sent),
                    CanonicalEvent::Ack(acked),
                ]);
            }
            CanonicalEvent::Pick(mut pick) => {
                let key = (pick.header.site_id.clone(), pick.sku.clone());
                let gtin = gtins.get(&key).cloned();
                let allocation = allocation_for(&pick);
                pick.allocation_id = Some(allocation.allocation_id.clone());
                let scan = scan_for(&pick, gtin);
                out.extend([
                    CanonicalEvent::Allocation(allocation),
                    CanonicalEvent::Scan(scan),
                    CanonicalEvent::Pick(pick),
                ]);
            }
            other => out.push(other),
        }
    }
    out.sort_by_key(|e| e.header().event_time);
    out
}

/// A header for a companion of `of`, `offset_ms` after it, from `source`.
fn header(of: &EventHeader, suffix: &str, offset_ms: i64, source: SourceSystem) -> EventHeader {
    let event_time = of.event_time.saturating_add(offset_ms);
    EventHeader {
        event_id: format!("{}-{suffix}", of.event_id),
        event_time,
        record_time: event_time.saturating_add(1_000),
        source_system: source,
        operator_id: None,
        device_id: None,
        action: EpcisAction::Observe,
        biz_step: "other".to_owned(),
        disposition: None,
        error_declaration: None,
        ..of.clone()
    }
}

fn asn_for(receipt: &ReceiptLine) -> AsnLine {
    AsnLine {
        header: header(&receipt.header, "asn", -ASN_LEAD_MS, SourceSystem::Erp),
        asn_id: format!("ASN-{}", receipt.receipt_id),
        po_id: receipt.po_id.clone().unwrap_or_else(|| format!("PO-{}", receipt.receipt_id)),
        line_no: receipt.line_no,
        supplier_id: receipt.supplier_id.clone().unwrap_or_else(|| "SUP-000".to_owned()),
        sku: receipt.sku.clone(),
        gtin: receipt.gtin.clone(),
        qty_expected: receipt.qty_received,
        uom: receipt.uom.clone(),
        expected_lots: Vec::new(),
        ssccs: Vec::new(),
        under_tolerance_pct: None,
        over_tolerance_pct: None,
        unlimited_over: false,
        min_remaining_shelf_life_days: None,
        eta: Some(receipt.header.event_time),
    }
}

fn posting_of(receipt: &ReceiptLine, status: AckStatus, delay_ms: i64) -> IntegrationAck {
    let suffix = if status == AckStatus::Sent { "gr-sent" } else { "gr-ack" };
    IntegrationAck {
        header: header(&receipt.header, suffix, delay_ms, SourceSystem::Wms),
        message_id: format!("GR-MSG-{}", receipt.receipt_id),
        direction: "WMS_TO_ERP".to_owned(),
        doc_type: "GR".to_owned(),
        sku: receipt.sku.clone(),
        quantity: receipt.qty_accepted,
        related_event_ids: vec![receipt.header.event_id.clone()],
        status,
        error_code: None,
        attempt: 1,
    }
}

fn allocation_for(pick: &PickEvent) -> OrderAllocation {
    OrderAllocation {
        header: header(&pick.header, "alloc", -ALLOCATION_LEAD_MS, SourceSystem::Oms),
        allocation_id: format!("AL-{}", pick.pick_task_id),
        order_id: pick.order_id.clone(),
        order_line: pick.order_line,
        channel: Some("WEB".to_owned()),
        sku: pick.sku.clone(),
        location_id: Some(pick.location_id.clone()),
        lot: pick.lot.clone(),
        qty_ordered: pick.qty_requested,
        qty_allocated: pick.qty_requested,
        uom: pick.uom.clone(),
        status: "RELEASED".to_owned(),
        promised_ship_time: Some(pick.header.event_time.saturating_add(PROMISED_SHIP_MS)),
    }
}

fn scan_for(pick: &PickEvent, gtin: Option<String>) -> ScanEvent {
    let mut header = header(&pick.header, "scan", -SCAN_LEAD_MS, SourceSystem::Edge);
    header.operator_id.clone_from(&pick.header.operator_id);
    header.device_id.clone_from(&pick.header.device_id);
    header.biz_step = "picking".to_owned();
    header.disposition = Some("active".to_owned());
    ScanEvent {
        header,
        raw_barcode: gtin.clone().unwrap_or_else(|| pick.sku.clone()),
        symbology: Some("GS1-128".to_owned()),
        sku: pick.sku.clone(),
        gtin: gtin.clone(),
        sscc: None,
        lpn: None,
        lot: pick.lot.clone(),
        expiry_date: None,
        serial: None,
        location_id: pick.location_id.clone(),
        quantity: pick.qty_picked,
        uom: pick.uom.clone(),
        scan_result: ScanResult::Ok,
        task_id: Some(pick.pick_task_id.clone()),
        task_type: Some("PICK".to_owned()),
        expected_gtin: gtin,
        expected_lot: pick.lot.clone(),
        expected_location_id: Some(pick.location_id.clone()),
    }
}
