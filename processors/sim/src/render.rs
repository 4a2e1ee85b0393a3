//! Turning compact records into canonical events.
//!
//! Rendering is a pure function of the record, its position and the catalogue: event ids are
//! `sim-<seed>-<n>` with `n` the position in the stream (answers to actions continue the
//! numbering), document ids are derived from per-kind document numbers, and `record_time` is
//! the event time plus a fixed latency per source system.

use invex_model::{
    AsnLine, BookSnapshot, CanonicalEvent, CountEvent, EpcisAction, EventHeader, ExpectedLot,
    IntegrationAck, ItemMaster, PickEvent, ReceiptLine, ScanEvent, ScanResult, SourceSystem,
    StockType, TaskEvent, TaskStatus, TaskType,
};

use crate::catalog::{CLASS_SYMBOLS, Catalog};
use crate::config::SimConfig;
use crate::record::{Body, CountRecord, LotTag, ReceiptRecord, Record};

/// Unit of measure of every simulated quantity.
const UOM: &str = "EA";

/// Where an event sits in the stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stamp {
    /// Position in the stream (event id suffix).
    pub(crate) number: u64,
    pub(crate) time: i64,
    pub(crate) seq: i64,
    pub(crate) source: SourceSystem,
}

/// Renders records against a configuration and catalogue.
pub(crate) struct Renderer<'a> {
    pub(crate) cfg: &'a SimConfig,
    pub(crate) cat: &'a Catalog,
}

impl Renderer<'_> {
    /// The canonical event of the `number`-th record.
    pub(crate) fn render(&self, number: u64, record: &Record) -> CanonicalEvent {
        let stamp =
            Stamp { number, time: record.time, seq: record.seq, source: record.body.source() };
        match record.body {
            Body::Item { site, item } => self.item(stamp, site as usize, item as usize),
            Body::Book { slot, snapshot, qty } => self.book(stamp, slot as usize, snapshot, qty),
            Body::Asn { number, slot, qty, lot } => {
                self.asn(stamp, number, slot as usize, qty, lot)
            }
            Body::Receipt(r) => self.receipt(stamp, &r),
            Body::Putaway { number, from, to, suggested, qty } => {
                let slots = [from as usize, to as usize, suggested as usize];
                self.putaway(stamp, number, slots, qty)
            }
            Body::Scan { pick, slot, scanned, result } => {
                self.scan(stamp, pick, slot as usize, scanned as usize, result)
            }
            Body::Ack { message, slot, qty, status } => {
                self.ack(stamp, message, slot as usize, qty, status)
            }
            Body::Pick { number, slot, requested, picked } => {
                self.pick(stamp, number, slot as usize, (requested, picked))
            }
            Body::Count(count) => self.count(stamp, &count),
        }
    }

    /// A header with the fields every event shares.
    pub(crate) fn header(
        &self,
        stamp: Stamp,
        site: &str,
        action: EpcisAction,
        biz_step: &str,
    ) -> EventHeader {
        EventHeader {
            event_id: format!("sim-{}-{}", self.cfg.seed, stamp.number),
            event_time: stamp.time,
            event_tz_offset: self.cfg.tz_offset.clone(),
            record_time: stamp.time.saturating_add(latency_ms(stamp.source)),
            tenant_id: self.cfg.tenant.clone(),
            site_id: site.to_owned(),
            source_system: stamp.source,
            source_seq: stamp.seq,
            operator_id: None,
            device_id: None,
            action,
            biz_step: biz_step.to_owned(),
            disposition: None,
            error_declaration: None,
        }
    }

    /// Header of a stock event at `slot`, with operator, device and disposition.
    fn stock_header(
        &self,
        stamp: Stamp,
        slot: usize,
        action: EpcisAction,
        biz_step: &str,
        who: (String, String),
    ) -> EventHeader {
        let site = &self.cat.sites[self.cat.slots[slot].site].id;
        EventHeader {
            operator_id: Some(who.0),
            device_id: Some(who.1),
            disposition: Some("active".to_owned()),
            ..self.header(stamp, site, action, biz_step)
        }
    }

    fn item(&self, stamp: Stamp, site: usize, item: usize) -> CanonicalEvent {
        let it = &self.cat.items[item];
        CanonicalEvent::Item(ItemMaster {
            header: self.header(stamp, &self.cat.sites[site].id, EpcisAction::Add, "other"),
            sku: it.sku.clone(),
            gtins: vec![it.gtin.clone()],
            base_uom: UOM.to_owned(),
            case_pack: Some(it.case_pack),
            abc_class: CLASS_SYMBOLS[it.class].to_owned(),
            unit_cost: it.unit_cost,
            currency: self.cfg.currency.clone(),
            lot_controlled: false,
            serial_controlled: false,
            min_remaining_shelf_life_days: None,
        })
    }

    fn book(&self, stamp: Stamp, slot: usize, snapshot: u32, quantity: i64) -> CanonicalEvent {
        let place = &self.cat.slots[slot];
        let (site, item) = (&self.cat.sites[place.site].id, &self.cat.items[place.item]);
        CanonicalEvent::Book(BookSnapshot {
            header: self.header(stamp, site, EpcisAction::Observe, "other"),
            snapshot_id: format!("ERP-{site}-{snapshot:03}"),
            location_id: place.location.clone(),
            sku: item.sku.clone(),
            lot: None,
            stock_type: StockType::Unrestricted,
            quantity,
            uom: UOM.to_owned(),
            unit_cost: item.unit_cost,
            currency: self.cfg.currency.clone(),
        })
    }

    fn asn(
        &self,
        stamp: Stamp,
        number: u32,
        slot: usize,
        qty: i64,
        lot: Option<LotTag>,
    ) -> CanonicalEvent {
        let place = &self.cat.slots[slot];
        let (site, item) = (&self.cat.sites[place.site].id, &self.cat.items[place.item]);
        CanonicalEvent::Asn(AsnLine {
            header: self.header(stamp, site, EpcisAction::Add, "shipping"),
            asn_id: ids::asn(site, number),
            po_id: format!("PO-{site}-{number:06}"),
            line_no: 1,
            supplier_id: supplier(place.item),
            sku: item.sku.clone(),
            gtin: Some(item.gtin.clone()),
            qty_expected: qty,
            uom: UOM.to_owned(),
            expected_lots: lot
                .map(|l| ExpectedLot {
                    lot: ids::lot(site, l.number),
                    expiry_date: Some(l.expiry),
                    quantity: qty,
                })
                .into_iter()
                .collect(),
            ssccs: Vec::new(),
            under_tolerance_pct: None,
            over_tolerance_pct: None,
            unlimited_over: false,
            min_remaining_shelf_life_days: None,
            eta: None,
        })
    }

    fn receipt(&self, stamp: Stamp, r: &ReceiptRecord) -> CanonicalEvent {
        let (number, slot) = (r.number, r.slot as usize);
        let place = &self.cat.slots[slot];
        let (site, item) = (&self.cat.sites[place.site].id, &self.cat.items[place.item]);
        let who = (format!("receiver-{}", number % 8 + 1), format!("rf-rcv-{}", number % 8 + 1));
        let stock_type = if r.accepted > 0 { StockType::Unrestricted } else { StockType::Blocked };
        CanonicalEvent::Receipt(ReceiptLine {
            header: self.stock_header(stamp, slot, EpcisAction::Add, "receiving", who),
            receipt_id: ids::receipt(site, number),
            line_no: 1,
            asn_id: Some(ids::asn(site, number)),
            po_id: Some(format!("PO-{site}-{number:06}")),
            po_line: Some(1),
            supplier_id: Some(supplier(place.item)),
            carrier_id: Some(format!("CAR-{:02}", number % 7 + 1)),
            sku: item.sku.clone(),
            gtin: Some(item.gtin.clone()),
            lot: r.lot.map(|l| ids::lot(site, l.number)),
            expiry_date: r.lot.map(|l| l.expiry),
            serials: Vec::new(),
            location_id: place.location.clone(),
            qty_received: r.received,
            qty_accepted: r.accepted,
            uom: UOM.to_owned(),
            condition_code: r.condition,
            stock_type,
            lpn: Some(format!("LPN-{site}-{number:06}")),
            receipt_closed: true,
        })
    }

    fn putaway(
        &self,
        stamp: Stamp,
        number: u32,
        [from, to, suggested]: [usize; 3],
        qty: i64,
    ) -> CanonicalEvent {
        let site = &self.cat.sites[self.cat.slots[to].site].id;
        let target = self.cat.slots[to].location.clone();
        let who = (format!("driver-{}", number % 12 + 1), format!("truck-{}", number % 12 + 1));
        CanonicalEvent::Task(TaskEvent {
            header: self.stock_header(stamp, to, EpcisAction::Observe, "storing", who),
            task_id: ids::putaway(site, number),
            task_type: TaskType::Putaway,
            status: TaskStatus::Confirmed,
            sku: self.cat.items[self.cat.slots[to].item].sku.clone(),
            lot: None,
            quantity: qty,
            uom: UOM.to_owned(),
            from_location_id: self.cat.slots[from].location.clone(),
            suggested_location_id: Some(self.cat.slots[suggested].location.clone()),
            actual_location_id: Some(target),
            override_reason: None,
            lpn: Some(format!("LPN-{site}-{number:06}")),
        })
    }

    fn pick(
        &self,
        stamp: Stamp,
        number: u32,
        slot: usize,
        (requested, picked): (i64, i64),
    ) -> CanonicalEvent {
        let place = &self.cat.slots[slot];
        let site = &self.cat.sites[place.site].id;
        let who = (format!("picker-{:02}", number % 40 + 1), format!("rf-{:02}", number % 40 + 1));
        CanonicalEvent::Pick(PickEvent {
            header: self.stock_header(stamp, slot, EpcisAction::Delete, "picking", who),
            pick_task_id: ids::pick(site, number),
            order_id: ids::order(site, number),
            order_line: ids::order_line(number),
            allocation_id: None,
            location_id: place.location.clone(),
            sku: self.cat.items[place.item].sku.clone(),
            lot: None,
            serials: Vec::new(),
            qty_requested: requested,
            qty_picked: picked,
            uom: UOM.to_owned(),
            short_reason: (picked < requested).then(|| "INSUFFICIENT_STOCK".to_owned()),
            confirm_method: "SCAN".to_owned(),
        })
    }

    fn scan(
        &self,
        stamp: Stamp,
        pick: u32,
        slot: usize,
        scanned: usize,
        result: ScanResult,
    ) -> CanonicalEvent {
        let place = &self.cat.slots[slot];
        let site = &self.cat.sites[place.site].id;
        let (expected, read) = (&self.cat.items[place.item], &self.cat.items[scanned]);
        let read_ok = result != ScanResult::NoRead;
        let who = (format!("picker-{:02}", pick % 40 + 1), format!("rf-{:02}", pick % 40 + 1));
        CanonicalEvent::Scan(ScanEvent {
            header: self.stock_header(stamp, slot, EpcisAction::Observe, "picking", who),
            raw_barcode: if read_ok { format!("(01){}", read.gtin) } else { String::new() },
            symbology: Some("GS1-128".to_owned()),
            sku: read.sku.clone(),
            gtin: read_ok.then(|| read.gtin.clone()),
            sscc: None,
            lpn: None,
            lot: None,
            expiry_date: None,
            serial: None,
            location_id: place.location.clone(),
            quantity: 1,
            uom: UOM.to_owned(),
            scan_result: result,
            task_id: Some(ids::pick(site, pick)),
            task_type: Some("PICK".to_owned()),
            expected_gtin: Some(expected.gtin.clone()),
            expected_lot: None,
            expected_location_id: Some(place.location.clone()),
        })
    }

    fn ack(
        &self,
        stamp: Stamp,
        message: u32,
        slot: usize,
        quantity: i64,
        status: invex_model::AckStatus,
    ) -> CanonicalEvent {
        let place = &self.cat.slots[slot];
        let site = &self.cat.sites[place.site].id;
        CanonicalEvent::Ack(IntegrationAck {
            header: self.header(stamp, site, EpcisAction::Observe, "receiving"),
            message_id: ids::message(site, message),
            direction: "WMS_TO_ERP".to_owned(),
            doc_type: "GR".to_owned(),
            sku: self.cat.items[place.item].sku.clone(),
            quantity,
            related_event_ids: Vec::new(),
            status,
            error_code: None,
            attempt: 1,
        })
    }

    fn count(&self, stamp: Stamp, c: &CountRecord) -> CanonicalEvent {
        let slot = c.slot as usize;
        let place = &self.cat.slots[slot];
        let site = &self.cat.sites[place.site].id;
        let counter = format!("counter-{}", c.number % 6 + 1);
        let who = (counter.clone(), format!("rf-cnt-{}", c.number % 6 + 1));
        CanonicalEvent::Count(CountEvent {
            header: self.stock_header(stamp, slot, EpcisAction::Observe, "cycle_counting", who),
            count_doc_id: format!("CC-{site}-{:06}", c.number),
            count_type: c.count_type,
            count_seq: c.count_seq,
            blind: true,
            location_id: place.location.clone(),
            sku: self.cat.items[place.item].sku.clone(),
            lot: None,
            counted_qty: c.counted,
            uom: UOM.to_owned(),
            // A WMS reports no book at freeze it holds below zero (vendors refuse negative
            // stock figures), rather than a figure no counter can compare with.
            wms_book_qty_at_freeze: (c.wms_at_freeze >= 0).then_some(c.wms_at_freeze),
            freeze_time: c.freeze_time,
            counter_id: Some(counter),
        })
    }
}

fn supplier(item: usize) -> String {
    format!("SUP-{:03}", item % 40 + 1)
}

/// Document ids, shared by rendering and the ground truth (which names exceptions by them).
pub(crate) mod ids {
    /// ASN of receipt number `n`.
    pub(crate) fn asn(site: &str, n: u32) -> String {
        format!("ASN-{site}-{n:06}")
    }

    /// Receipt document `n`.
    pub(crate) fn receipt(site: &str, n: u32) -> String {
        format!("GR-{site}-{n:06}")
    }

    /// Lot delivered with ASN `n`.
    pub(crate) fn lot(site: &str, n: u32) -> String {
        format!("L{site}-{n:06}")
    }

    /// Putaway task of receipt `n`.
    pub(crate) fn putaway(site: &str, n: u32) -> String {
        format!("PA-{site}-{n:06}")
    }

    /// Pick task of pick line `n`.
    pub(crate) fn pick(site: &str, n: u32) -> String {
        format!("PK-{site}-{n:07}")
    }

    /// Customer order of pick line `n` (three lines per order).
    pub(crate) fn order(site: &str, n: u32) -> String {
        format!("SO-{site}-{:07}", n / 3 + 1)
    }

    /// Order line of pick line `n`.
    pub(crate) fn order_line(n: u32) -> i32 {
        (n % 3 + 1) as i32
    }

    /// Goods-receipt posting message `n`.
    pub(crate) fn message(site: &str, n: u32) -> String {
        format!("GR-MSG-{site}-{n:06}")
    }

    /// Number of distinct adjustment posting documents: ten digits, like an ERP's material
    /// document numbers.
    pub(crate) const ADJUSTMENT_DOCUMENTS: u64 = 10_000_000_000;

    /// Adjustment posting message of document `n` (below [`ADJUSTMENT_DOCUMENTS`]).
    pub(crate) fn adjustment(site: &str, n: u64) -> String {
        format!("ADJ-MSG-{site}-{n:010}")
    }
}

/// How long after the fact each source records an event.
fn latency_ms(source: SourceSystem) -> i64 {
    match source {
        SourceSystem::Edge => 400,
        SourceSystem::Wms => 150,
        SourceSystem::Erp => 2_000,
        SourceSystem::Oms => 300,
        SourceSystem::Human => 1_000,
        SourceSystem::Simulator => 0,
    }
}
