//! Fault injection and the ground truth it leads to.
//!
//! Faults are sized so the detector cannot miss them: every variance is at least 2 units and
//! at least 10 % of the book the detector compares with, well outside the widest class
//! tolerance (5 %). A fault locks its locations: no further inbound stock and no second fault,
//! so the variance can only grow (picks shrink the book, never the variance) and the recount
//! sees exactly what the fault left. All other counts are exact.
//!
//! - MISCOUNT: decided at the count; the shelf and books are right, the count is off.
//! - MISPLACED_STOCK: decided at the receipt of a two-location SKU; the putaway is confirmed to
//!   one location and stored at the other. Sized at the receipt from the current stock, which
//!   no later inbound can raise: `q >= shelf(X) / 9` makes `q >= 10 %` of X's book `shelf + q`,
//!   and `q >= book(Y) / 10` does the same at Y.
//! - SYNC_LAG: decided at the receipt; the putaway's ERP posting never arrives, and a snapshot
//!   between the putaway and the location's count carries the stale ERP quantity into the
//!   detector's baseline. `q >= shelf(X) / 10` makes the variance `q >= 10 %` of that baseline.
//!
//! Expected root cause is the one the exception ends with once the loop is closed: PROCESS
//! for a miscount (the detector relabels it PROCESS / MISCOUNT when the recount matches the
//! book, whatever it found at opening); otherwise the detector's rule applied to the history
//! at the count. A location whose count revealed a fault is put on hold (no picks), so a
//! detector that re-evaluates the root cause at the recount sees the same evidence.

use invex_model::{ExceptionType, RootCauseCategory};
use rand::Rng;

use crate::books::PendingFault;
use crate::generate::World;
use crate::render::ids;
use crate::respond::approver_rejects;
use crate::schedule::PutawayPlan;
use crate::truth::{Fault, FaultKind};

/// One ground-truth entry before it gets its id.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) kind: FaultKind,
    pub(crate) exception_type: ExceptionType,
    /// A slot of the site and item the exception is about.
    pub(crate) slot: usize,
    /// The detector's subject text.
    pub(crate) subject: String,
    pub(crate) location: Option<String>,
    pub(crate) lot: Option<String>,
    pub(crate) root: RootCauseCategory,
    pub(crate) injected_at: i64,
    pub(crate) resolution: Option<String>,
}

impl World<'_> {
    /// Records one exception the detectors should open.
    pub(crate) fn push_truth(&mut self, e: Entry) {
        let place = &self.cat.slots[e.slot];
        self.faults.push(Fault {
            fault_id: format!("flt-{}-{}", self.cfg.seed, self.faults.len() + 1),
            kind: e.kind,
            exception_type: e.exception_type,
            tenant: self.cfg.tenant.clone(),
            site: self.cat.sites[place.site].id.clone(),
            sku: self.cat.items[place.item].sku.clone(),
            subject: e.subject,
            location_id: e.location,
            lot: e.lot,
            expected_root_cause: e.root,
            injected_at: e.injected_at,
            expected_resolution: e.resolution,
        });
    }

    /// The truth entry of a stock subject (`sku|location|`) at `slot`.
    pub(crate) fn stock_entry(
        &self,
        kind: FaultKind,
        exception_type: ExceptionType,
        slot: usize,
        suffix: &str,
    ) -> Entry {
        let place = &self.cat.slots[slot];
        let sku = &self.cat.items[place.item].sku;
        Entry {
            kind,
            exception_type,
            slot,
            subject: format!("{sku}|{}|{suffix}", place.location),
            location: Some(place.location.clone()),
            lot: None,
            root: RootCauseCategory::Process,
            injected_at: 0,
            resolution: None,
        }
    }

    /// Possibly turns a planned putaway into a fault, enlarging its quantity as needed.
    pub(crate) fn decide_putaway_fault(&mut self, plan: &mut PutawayPlan, putaway_at: i64) {
        if let Some(other) = self.other_free_location(plan)
            && self.rng.random_bool(self.cfg.faults.wrong_bin_putaway)
        {
            plan.to = other;
            plan.stored_at = other;
            plan.fault = Some(FaultKind::WrongBinPutaway);
        } else if let Some(other) = self.misplace_candidate(plan, putaway_at)
            && self.rng.random_bool(self.cfg.faults.misplaced_stock)
        {
            let (x, y) = (&self.books[plan.to], &self.books[other]);
            let least = ceil_div(x.phys, 9).max(ceil_div(y.wms, 10));
            self.lock(plan, other, least, FaultKind::MisplacedStock);
        } else if self.sync_candidate(plan.to, putaway_at)
            && self.rng.random_bool(self.cfg.faults.sync_lag)
        {
            let least = ceil_div(self.books[plan.to].phys, 10);
            self.lock(plan, plan.to, least, FaultKind::SyncLag);
        }
    }

    /// The other location of a two-location SKU, when both are free.
    fn other_free_location(&self, plan: &PutawayPlan) -> Option<usize> {
        let slot = &self.cat.slots[plan.to];
        let storage = &self.cat.placements[slot.site][slot.item].storage;
        let other = storage.iter().copied().find(|&s| s != plan.to)?;
        let free = |s: usize| !self.books[s].locked && self.books[s].pending_inbound == 0;
        (free(plan.to) && free(other)).then_some(other)
    }

    /// The other location of a two-location SKU, when both are free and either is counted
    /// after the putaway.
    fn misplace_candidate(&self, plan: &PutawayPlan, putaway_at: i64) -> Option<usize> {
        let other = self.other_free_location(plan)?;
        let counted_after = |s: usize| self.books[s].count_at.is_some_and(|c| c > putaway_at);
        (counted_after(plan.to) || counted_after(other)).then_some(other)
    }

    /// A putaway confirmed elsewhere than suggested, without a reason: `sku|task`.
    pub(crate) fn wrong_bin_truth(&mut self, time: i64, plan: &PutawayPlan) {
        *self.injected.entry(FaultKind::WrongBinPutaway).or_default() += 1;
        let place = &self.cat.slots[plan.to];
        let site = &self.cat.sites[place.site].id;
        let sku = &self.cat.items[place.item].sku;
        let entry = Entry {
            kind: FaultKind::WrongBinPutaway,
            exception_type: ExceptionType::PutawayFailure,
            slot: plan.to,
            subject: format!("{sku}|{}", ids::putaway(site, plan.receipt)),
            location: Some(place.location.clone()),
            lot: None,
            root: RootCauseCategory::Process,
            injected_at: time,
            resolution: None,
        };
        self.push_truth(entry);
    }

    /// Whether the location is free and counted after a snapshot that follows the putaway.
    fn sync_candidate(&self, slot: usize, putaway_at: i64) -> bool {
        let book = &self.books[slot];
        let Some(count_at) = book.count_at else { return false };
        !book.locked
            && book.pending_inbound == 0
            && self.snapshot_times.iter().any(|&s| putaway_at < s && s < count_at)
    }

    fn lock(&mut self, plan: &mut PutawayPlan, stored_at: usize, least: i64, kind: FaultKind) {
        let case = self.cat.items[self.cat.slots[plan.to].item].case_pack;
        let least = least.max(2);
        if plan.qty < least {
            plan.qty = ceil_div(least, case) * case;
        }
        plan.stored_at = stored_at;
        plan.fault = Some(kind);
        self.books[plan.to].locked = true;
        self.books[stored_at].locked = true;
    }

    /// What the counter reports at a first count: the shelf, or, for a miscount (only at a
    /// location without a fault), a wrong quantity.
    pub(crate) fn counted_qty(&mut self, time: i64, slot: usize) -> i64 {
        let book = &self.books[slot];
        let shelf = book.phys;
        if book.locked || !self.rng.random_bool(self.cfg.faults.miscount) {
            return shelf;
        }
        *self.injected.entry(FaultKind::Miscount).or_default() += 1;
        let book = &mut self.books[slot];
        book.locked = true;
        book.fault = Some(PendingFault { kind: FaultKind::Miscount, injected_at: time });
        self.miscounted(shelf)
    }

    /// A wrong count of `truth`: off by 10-40 % and at least 2 units, over or under.
    fn miscounted(&mut self, truth: i64) -> i64 {
        let share = self.rng.random_range(0.1..0.4);
        let off = ((truth as f64 * share).ceil() as i64).max(2);
        if self.rng.random_bool(0.5) && truth >= off { truth - off } else { truth + off }
    }

    /// Records a ground-truth entry when a first count differs from the detector's book
    /// beyond tolerance, and puts the location on hold.
    pub(crate) fn record_truth(&mut self, time: i64, slot: usize, counted: i64) {
        let book = &self.books[slot];
        let Some(fault) = book.fault.filter(|_| !self.within_tolerance(slot, counted)) else {
            return;
        };
        let place = &self.cat.slots[slot];
        let (site, sku) = (&self.cat.sites[place.site].id, &self.cat.items[place.item].sku);
        let rejects = approver_rejects(self.cfg, site, sku, Some(&place.location), None);
        let resolution = match fault.kind {
            FaultKind::Miscount => "COUNT_ERROR",
            _ if rejects => "ADJUSTMENT_REJECTED",
            _ => "ADJUSTED",
        };
        // A matching recount relabels a miscount PROCESS; without the loop the opening
        // evidence stands.
        let root = match fault.kind {
            FaultKind::Miscount if self.cfg.close_loop => RootCauseCategory::Process,
            _ => book.expected_root_cause(time, counted, self.cfg.movement_window_ms),
        };
        let mut entry =
            self.stock_entry(fault.kind, ExceptionType::CycleCountDiscrepancy, slot, "");
        entry.root = root;
        entry.injected_at = fault.injected_at;
        entry.resolution = self.cfg.close_loop.then(|| resolution.to_owned());
        self.push_truth(entry);
        self.books[slot].on_hold = true;
    }
}

impl World<'_> {
    /// The cycle-count rule's tolerance (default policy, mirrored): within when the variance
    /// is zero, or its percentage of a non-zero book and its value are both within the class
    /// limits.
    fn within_tolerance(&self, slot: usize, counted: i64) -> bool {
        let book = self.books[slot].ledger;
        let item = &self.cat.items[self.cat.slots[slot].item];
        let variance = counted - book;
        let pct = (book != 0).then(|| (variance as f64 / book as f64 * 100.0).abs());
        let value = (variance as f64 * item.unit_cost).abs();
        variance == 0
            || (pct.is_some_and(|p| p <= TOLERANCE_PCT[item.class]) && value <= TOLERANCE_VALUE)
    }
}

/// Count tolerance by class A, B, C in percent, and in value (the default policy's).
const TOLERANCE_PCT: [f64; 3] = [1.0, 3.0, 5.0];
const TOLERANCE_VALUE: f64 = 100.0;

/// `ceil(a / b)` for `a >= 0`, `b > 0`.
fn ceil_div(a: i64, b: i64) -> i64 {
    (a.max(0) + b - 1) / b
}
