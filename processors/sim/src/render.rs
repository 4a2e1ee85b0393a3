//! Turning compact records into canonical events.
//!
//! Rendering is a pure function of the record, its position and the catalogue: event ids are
//! `sim-<seed>-<n>` with `n` the position in the stream (answers to actions continue the
//! numbering), document ids are derived from per-kind document numbers, and `record_time` is
//! the event time plus a fixed latency per source system.

use invex_model::{
    BookSnapshot, CanonicalEvent, ConditionCode, CountEvent, EpcisAction, EventHeader, ItemMaster,
    PickEvent, ReceiptLine, SourceSystem, StockType, TaskEvent, TaskStatus, TaskType,
};

use crate::catalog::{CLASS_SYMBOLS, Catalog};
use crate::config::SimConfig;
use crate::record::{Body, CountRecord, Record};

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
            Body::Receipt { number, slot, qty } => self.receipt(stamp, number, slot as usize, qty),
            Body::Putaway { number, from, to, qty } => {
                self.putaway(stamp, number, (from as usize, to as usize), qty)
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

    fn receipt(&self, stamp: Stamp, number: u32, slot: usize, qty: i64) -> CanonicalEvent {
        let place = &self.cat.slots[slot];
        let (site, item) = (&self.cat.sites[place.site].id, &self.cat.items[place.item]);
        let who = (format!("receiver-{}", number % 8 + 1), format!("rf-rcv-{}", number % 8 + 1));
        CanonicalEvent::Receipt(ReceiptLine {
            header: self.stock_header(stamp, slot, EpcisAction::Add, "receiving", who),
            receipt_id: format!("GR-{site}-{number:06}"),
            line_no: 1,
            asn_id: None,
            po_id: Some(format!("PO-{site}-{number:06}")),
            po_line: Some(1),
            supplier_id: Some(format!("SUP-{:03}", place.item % 40 + 1)),
            carrier_id: Some(format!("CAR-{:02}", number % 7 + 1)),
            sku: item.sku.clone(),
            gtin: Some(item.gtin.clone()),
            lot: None,
            expiry_date: None,
            serials: Vec::new(),
            location_id: place.location.clone(),
            qty_received: qty,
            qty_accepted: qty,
            uom: UOM.to_owned(),
            condition_code: ConditionCode::Good,
            stock_type: StockType::Unrestricted,
            lpn: Some(format!("LPN-{site}-{number:06}")),
            receipt_closed: true,
        })
    }

    fn putaway(
        &self,
        stamp: Stamp,
        number: u32,
        (from, to): (usize, usize),
        qty: i64,
    ) -> CanonicalEvent {
        let site = &self.cat.sites[self.cat.slots[to].site].id;
        let target = self.cat.slots[to].location.clone();
        let who = (format!("driver-{}", number % 12 + 1), format!("truck-{}", number % 12 + 1));
        CanonicalEvent::Task(TaskEvent {
            header: self.stock_header(stamp, to, EpcisAction::Observe, "storing", who),
            task_id: format!("PA-{site}-{number:06}"),
            task_type: TaskType::Putaway,
            status: TaskStatus::Confirmed,
            sku: self.cat.items[self.cat.slots[to].item].sku.clone(),
            lot: None,
            quantity: qty,
            uom: UOM.to_owned(),
            from_location_id: self.cat.slots[from].location.clone(),
            suggested_location_id: Some(target.clone()),
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
            pick_task_id: format!("PK-{site}-{number:07}"),
            order_id: format!("SO-{site}-{:07}", number / 3 + 1),
            order_line: (number % 3 + 1) as i32,
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
            wms_book_qty_at_freeze: Some(c.wms_at_freeze),
            freeze_time: c.freeze_time,
            counter_id: Some(counter),
        })
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
