//! Picks, their scans and faults, and theft.
//!
//! The WMS sends a picker to the first storage location whose books show stock and that is
//! not on hold; the picker takes what the shelf and books allow (a short pick reports what was
//! there). Pick faults, at most one per line, each only at a location without another fault:
//! - WRONG_ITEM_SCAN: the picker first scans a look-alike item (the next SKU), the scanner
//!   flags the mismatch and the picker rescans: one BARCODE_MISMATCH `sku|task|ITEM_MISMATCH`
//!   on the look-alike's SKU; the pick itself is right.
//! - REPEATED_NO_READ: three no-reads a second apart, then a good read: BARCODE_MISMATCH
//!   `sku|location` (at most once per location; single recovered no-reads are benign and kept
//!   11 minutes apart from any other no-read at the location, so they never reach the
//!   threshold of 3). The no-reads precede the pick's time: a scanner cannot fail three times
//!   in one millisecond, and three identical reads at one instant would be one read sent three
//!   times, which normalize rightly drops as a vendor retry.
//! - DOUBLE_CONFIRMATION: the line is confirmed again 30 s to 5 minutes later; the books drop
//!   twice, the shelf once: DUPLICATE_PICK `sku|task|order|line`.
//! - UOM_ERROR: the line is confirmed in eaches for cases picked; the books drop by the pack
//!   factor, the shelf by what was picked.
//! - THEFT (its own activity): 30-100 % of an unlocked A-to-C shelf disappears.
//!
//! Consequences, mirrored from the detectors' rules: a book below zero is a NEGATIVE_ON_HAND
//! `sku|location|` (and, since the ERP does not book below zero, a SYNC_FAILURE at the next
//! snapshot); a short pick while the book still shows stock is an
//! ORDER_ALLOCATION_CONFLICT `sku|location||SHORT_PICK` (once per location: it stays open);
//! the first count of a faulted location is a count discrepancy (see `inject`).

use invex_model::{ExceptionType, ScanResult};
use rand::Rng;

use crate::books::{Delta, PendingFault};
use crate::generate::World;
use crate::inject::Entry;
use crate::record::Body;
use crate::render::ids;
use crate::schedule::Activity;
use crate::truth::FaultKind;

/// No-reads closer than this at one location could add up to the detector's threshold.
const NO_READ_SPACING_MS: i64 = 11 * 60_000;
/// A picker retries a failed read after this long.
const NO_READ_RETRY_MS: i64 = 1_000;
/// Failed reads before the good one on a REPEATED_NO_READ line.
const REPEATED_NO_READS: i64 = 3;

/// The fault of one pick line, decided before the pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineFault {
    WrongItem,
    NoReads,
    SingleNoRead,
    Double,
    Uom,
}

impl World<'_> {
    /// One pick line at `site`.
    pub(crate) fn pick(&mut self, time: i64, site: usize) {
        let Some(item) = self.cat.sample_item(self.rng) else { return };
        let placement = &self.cat.placements[site][item];
        let open = |s: &usize| !self.books[*s].on_hold && self.books[*s].booked() > 0;
        let Some(slot) = placement.storage.iter().copied().find(open) else { return };
        let max = self.cfg.classes.all()[self.cat.items[item].class].max_pick_qty;
        let requested = self.rng.random_range(1..=max);
        self.numbers.pick += 1;
        let number = self.numbers.pick;
        let fault = self.line_fault(time, slot);
        self.scans(time, number, slot, fault);
        let picked = requested.min(self.books[slot].available());
        let pack = self.cat.items[item].case_pack;
        let recorded =
            if fault == Some(LineFault::Uom) && picked > 0 { picked * pack } else { picked };
        self.take(time, slot, picked, recorded);
        self.emit(time, Body::Pick { number, slot: slot as u32, requested, picked: recorded });
        if recorded < requested && self.books[slot].ledger > 0 {
            self.ghost_stock(time, slot);
        }
        match fault {
            Some(LineFault::Uom) if recorded != picked => {
                self.pend(time, slot, FaultKind::UomError);
                self.check_negative(time, slot);
            }
            Some(LineFault::Double) if recorded > 0 => {
                let at = time + self.rng.random_range(30..=300) * 1000;
                if at < self.cfg.end_time() {
                    self.pend(time, slot, FaultKind::DoubleConfirmation);
                    let a = Activity::Reconfirm { number, slot, requested, picked: recorded };
                    self.queue.push(at, a);
                }
            }
            _ => {}
        }
    }

    fn line_fault(&mut self, time: i64, slot: usize) -> Option<LineFault> {
        let f = &self.cfg.faults;
        let ladder = [
            (f.wrong_item_scan, LineFault::WrongItem),
            (f.repeated_no_read, LineFault::NoReads),
            (f.single_no_read, LineFault::SingleNoRead),
            (f.double_confirmation, LineFault::Double),
            (f.uom_error, LineFault::Uom),
        ];
        let draw: f64 = self.rng.random();
        let mut edge = 0.0;
        let fault = ladder.into_iter().find_map(|(share, fault)| {
            edge += share;
            (draw < edge).then_some(fault)
        })?;
        let book = &self.books[slot];
        let quiet = book.last_no_read.is_none_or(|t| t + NO_READ_SPACING_MS < time);
        let free = !book.locked && book.pending_inbound == 0;
        let ok = match fault {
            LineFault::WrongItem => self.cat.items.len() > 1,
            LineFault::NoReads => {
                let first = time - REPEATED_NO_READS * NO_READ_RETRY_MS;
                quiet && !book.no_read_recorded && first >= self.cfg.start_time
            }
            LineFault::SingleNoRead => quiet,
            LineFault::Double | LineFault::Uom => free,
        };
        ok.then_some(fault)
    }

    fn scans(&mut self, time: i64, pick: u32, slot: usize, fault: Option<LineFault>) {
        let item = self.cat.slots[slot].item;
        let scan_at = |w: &mut Self, at: i64, scanned: usize, result: ScanResult| {
            let body = Body::Scan { pick, slot: slot as u32, scanned: scanned as u32, result };
            w.emit(at, body);
        };
        let scan = |w: &mut Self, scanned: usize, result: ScanResult| {
            scan_at(w, time, scanned, result);
        };
        match fault {
            Some(LineFault::WrongItem) => {
                let other = (item + 1) % self.cat.items.len();
                scan(self, other, ScanResult::Mismatch);
                scan(self, item, ScanResult::Ok);
                let site = self.cat.slots[slot].site;
                let (site_id, other_sku) = (&self.cat.sites[site].id, &self.cat.items[other].sku);
                let subject = format!("{other_sku}|{}|ITEM_MISMATCH", ids::pick(site_id, pick));
                let mut entry = self.stock_entry(
                    FaultKind::WrongItemScan,
                    ExceptionType::BarcodeMismatch,
                    slot,
                    "",
                );
                entry.slot = self.cat.placements[site][other].dock;
                entry.subject = subject;
                self.record(entry, time);
            }
            Some(LineFault::NoReads) => {
                let first = time - REPEATED_NO_READS * NO_READ_RETRY_MS;
                for k in 0..REPEATED_NO_READS {
                    scan_at(self, first + k * NO_READ_RETRY_MS, item, ScanResult::NoRead);
                }
                scan(self, item, ScanResult::Ok);
                let book = &mut self.books[slot];
                book.last_no_read = Some(time);
                book.no_read_recorded = true;
                let place = &self.cat.slots[slot];
                let mut entry = self.stock_entry(
                    FaultKind::RepeatedNoRead,
                    ExceptionType::BarcodeMismatch,
                    slot,
                    "",
                );
                entry.subject = format!("{}|{}", self.cat.items[place.item].sku, place.location);
                self.record(entry, first);
            }
            Some(LineFault::SingleNoRead) => {
                scan(self, item, ScanResult::NoRead);
                scan(self, item, ScanResult::Ok);
                self.books[slot].last_no_read = Some(time);
            }
            _ => {}
        }
    }

    /// The second confirmation of a line: the books drop again, the shelf does not.
    pub(crate) fn reconfirm(&mut self, time: i64, number: u32, slot: usize, qty: (i64, i64)) {
        let (requested, picked) = qty;
        self.take(time, slot, 0, picked);
        self.emit(time, Body::Pick { number, slot: slot as u32, requested, picked });
        let place = &self.cat.slots[slot];
        let site = &self.cat.sites[place.site].id;
        let sku = &self.cat.items[place.item].sku;
        let subject = format!(
            "{sku}|{}|{}|{}",
            ids::pick(site, number),
            ids::order(site, number),
            ids::order_line(number)
        );
        let mut entry =
            self.stock_entry(FaultKind::DoubleConfirmation, ExceptionType::DuplicatePick, slot, "");
        entry.subject = subject;
        entry.injected_at = time;
        self.push_truth(entry);
        self.check_negative(time, slot);
    }

    /// Stock of an unlocked location disappears without a transaction.
    pub(crate) fn theft(&mut self, time: i64, site: usize) {
        let Some(item) = self.cat.sample_item(self.rng) else { return };
        let placement = &self.cat.placements[site][item];
        let open = |s: &usize| {
            let b = &self.books[*s];
            !b.locked && !b.on_hold && b.pending_inbound == 0 && b.phys >= 2
        };
        let Some(slot) = placement.storage.iter().copied().find(open) else { return };
        let phys = self.books[slot].phys;
        let share = self.rng.random_range(0.3..=1.0);
        let stolen = ((phys as f64 * share).ceil() as i64).clamp(2, phys);
        self.books[slot].apply(time, Delta { phys: -stolen, wms: 0, erp: 0 });
        self.pend(time, slot, FaultKind::Theft);
    }

    /// Takes `shelf` off the shelf and `booked` off the books. The ERP refuses to post an
    /// issue below zero (SAP's default), so its book stops at zero where the WMS book goes
    /// negative; the sync rule then sees the two disagree.
    fn take(&mut self, time: i64, slot: usize, shelf: i64, booked: i64) {
        let book = &mut self.books[slot];
        let erp = booked.min(book.erp.max(0));
        book.apply(time, Delta { phys: -shelf, wms: -booked, erp: -erp });
        book.touch(time);
    }

    /// Marks a location's fault for the count that will reveal it, and locks it.
    fn pend(&mut self, time: i64, slot: usize, kind: FaultKind) {
        *self.injected.entry(kind).or_default() += 1;
        let book = &mut self.books[slot];
        book.locked = true;
        book.fault = Some(PendingFault { kind, injected_at: time });
    }

    fn record(&mut self, mut entry: Entry, time: i64) {
        *self.injected.entry(entry.kind).or_default() += 1;
        entry.injected_at = time;
        self.push_truth(entry);
    }

    /// NEGATIVE_ON_HAND when the book went below zero (it stays so: the location is locked).
    fn check_negative(&mut self, time: i64, slot: usize) {
        let book = &self.books[slot];
        let Some(fault) = book.fault.filter(|_| book.ledger < 0 && !book.negative_recorded) else {
            return;
        };
        self.books[slot].negative_recorded = true;
        let mut entry = self.stock_entry(fault.kind, ExceptionType::NegativeOnHand, slot, "");
        entry.injected_at = fault.injected_at.min(time);
        self.push_truth(entry);
    }

    /// A short pick while the book still shows stock (once per location).
    fn ghost_stock(&mut self, time: i64, slot: usize) {
        let book = &self.books[slot];
        let Some(fault) = book.fault.filter(|_| !book.ghost_recorded) else { return };
        self.books[slot].ghost_recorded = true;
        let mut entry = self.stock_entry(
            fault.kind,
            ExceptionType::OrderAllocationConflict,
            slot,
            "|SHORT_PICK",
        );
        entry.injected_at = fault.injected_at.min(time);
        self.push_truth(entry);
    }
}
