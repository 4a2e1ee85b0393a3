//! Inbound: ASN announcements, receipts against them, their faults and their postings.
//!
//! A delivery is announced by an ASN line and received 10 to 60 minutes later; its fault is
//! decided at the announcement, because a lot fault changes what the ASN says. Faults are
//! sized so that the receiving rules must fire, and never touch the books:
//! - SHORT_RECEIPT / OVER_RECEIPT: received 10-50 % under (tolerance 5 %) or 5-30 % over
//!   (tolerance 0 %) the announced quantity; what arrived is what is booked and put away.
//! - DAMAGED_RECEIPT: received in full, condition DAMAGED, refused (nothing accepted), so the
//!   carrier is claimed and no stock moves.
//! - EXPIRED_LOT: a lot whose expiry (as announced and as labelled) is 1-30 days before the
//!   receipt day, refused; LOT_EXPIRY_CONFLICT: the label's expiry differs by 30-90 days from
//!   the announced one, refused. Refused lots never reach a book, so no other rule sees them.
//!
//! Every receipt that accepts stock is posted to the ERP (goods receipt, see `postings`) and
//! put away 5 to 45 minutes later (see `inject` for putaway faults).

use invex_model::{ConditionCode, ExceptionType, RootCauseCategory};
use rand::Rng;

use crate::generate::World;
use crate::inject::Entry;
use crate::record::{Body, LotTag, ReceiptRecord};
use crate::render::ids;
use crate::schedule::{Activity, PutawayPlan, ReceiptPlan};
use crate::truth::FaultKind;

/// Putaways follow their receipt after 5 to 45 minutes.
const PUTAWAY_DELAY_S: std::ops::RangeInclusive<i64> = 300..=2_700;
/// Receipts follow their ASN after 10 to 60 minutes.
const ARRIVAL_LEAD_S: std::ops::RangeInclusive<i64> = 600..=3_600;
/// A receipt brings 1 to 6 cases.
const CASES_PER_RECEIPT: std::ops::RangeInclusive<i64> = 1..=6;
const DAY_MS: i64 = 86_400_000;

impl World<'_> {
    /// An ASN line: plans the receipt and its putaway (when both fit in the run). Putaway
    /// faults are decided here, before the ASN, because a count fault may enlarge the
    /// delivery (see `inject`) and the ASN announces what is delivered.
    pub(crate) fn arrival(&mut self, time: i64, site: usize) {
        let Some(item) = self.cat.sample_item(self.rng) else { return };
        let receipt_at = time + self.rng.random_range(ARRIVAL_LEAD_S) * 1000;
        let putaway_at = receipt_at + self.rng.random_range(PUTAWAY_DELAY_S) * 1000;
        if putaway_at >= self.cfg.end_time() {
            return;
        }
        let fault = self.receipt_fault();
        let refused = matches!(
            fault,
            Some(FaultKind::DamagedReceipt | FaultKind::ExpiredLot | FaultKind::LotExpiryConflict)
        );
        let dock = self.cat.placements[site][item].dock;
        let target = self.inbound_target(site, item);
        if target.is_none() && !refused {
            return;
        }
        self.numbers.receipt += 1;
        let number = self.numbers.receipt;
        let cases = self.rng.random_range(CASES_PER_RECEIPT);
        let mut expected = self.cat.items[item].case_pack * cases;
        let putaway = target.filter(|_| !refused).map(|to| {
            let plan = self.plan_putaway(number, (dock, to), expected, putaway_at, fault);
            expected = plan.qty;
            (putaway_at, plan)
        });
        let (announced, label) = self.lot_tags(fault, number, receipt_at);
        self.emit(time, Body::Asn { number, slot: dock as u32, qty: expected, lot: announced });
        let plan = ReceiptPlan { number, item, site, expected, fault, lot: label, putaway };
        self.queue.push(receipt_at, Activity::Receipt(plan));
    }

    /// The unlocked storage location with the least stock, where receipts go.
    fn inbound_target(&self, site: usize, item: usize) -> Option<usize> {
        let storage = &self.cat.placements[site][item].storage;
        storage
            .iter()
            .copied()
            .filter(|&s| !self.books[s].locked)
            .min_by_key(|&s| (self.books[s].wms, s))
    }

    /// The putaway of an accepted delivery; a clean delivery may get a putaway fault.
    fn plan_putaway(
        &mut self,
        number: u32,
        (dock, to): (usize, usize),
        qty: i64,
        at: i64,
        fault: Option<FaultKind>,
    ) -> PutawayPlan {
        let mut plan = PutawayPlan {
            receipt: number,
            from: dock,
            to,
            stored_at: to,
            suggested: to,
            qty,
            fault: None,
        };
        if fault.is_none() {
            self.decide_putaway_fault(&mut plan, at);
        }
        self.books[plan.suggested].pending_inbound += 1;
        plan
    }

    /// The lot the ASN announces and the one on the delivery's label (lot faults only).
    fn lot_tags(
        &mut self,
        fault: Option<FaultKind>,
        number: u32,
        receipt_at: i64,
    ) -> (Option<LotTag>, Option<LotTag>) {
        let day = receipt_at.div_euclid(DAY_MS) as i32;
        match fault {
            Some(FaultKind::ExpiredLot) => {
                let lot = LotTag { number, expiry: day - self.rng.random_range(1..=30) };
                (Some(lot), Some(lot))
            }
            Some(FaultKind::LotExpiryConflict) => {
                let expiry = day + self.rng.random_range(200..=400);
                let sign = if self.rng.random_bool(0.5) { 1 } else { -1 };
                let label = expiry + sign * self.rng.random_range(30..=90);
                (Some(LotTag { number, expiry }), Some(LotTag { number, expiry: label }))
            }
            _ => (None, None),
        }
    }

    fn receipt_fault(&mut self) -> Option<FaultKind> {
        let f = &self.cfg.faults;
        let draw: f64 = self.rng.random();
        let variance = if self.rng.random_bool(f.short_share) {
            FaultKind::ShortReceipt
        } else {
            FaultKind::OverReceipt
        };
        let ladder = [
            (f.receipt_variance, variance),
            (f.damaged_receipt, FaultKind::DamagedReceipt),
            (f.expired_lot, FaultKind::ExpiredLot),
            (f.lot_expiry_conflict, FaultKind::LotExpiryConflict),
        ];
        let mut edge = 0.0;
        ladder.into_iter().find_map(|(share, kind)| {
            edge += share;
            (draw < edge).then_some(kind)
        })
    }

    /// The delivery arrives: received as planned or with its fault.
    pub(crate) fn receipt(&mut self, time: i64, plan: ReceiptPlan) {
        let dock = self.cat.placements[plan.site][plan.item].dock;
        let received = self.received_qty(plan);
        let accepted = if plan.putaway.is_some() { received } else { 0 };
        let condition = match plan.fault {
            Some(FaultKind::DamagedReceipt) => ConditionCode::Damaged,
            _ if accepted == 0 => ConditionCode::Rejected,
            _ => ConditionCode::Good,
        };
        let record = ReceiptRecord {
            number: plan.number,
            slot: dock as u32,
            received,
            accepted,
            condition,
            lot: plan.lot,
        };
        self.emit(time, Body::Receipt(record));
        if let Some(kind) = plan.fault {
            *self.injected.entry(kind).or_default() += 1;
            self.receipt_truth(time, kind, &plan, dock);
        }
        let Some((at, mut putaway)) = plan.putaway else { return };
        self.books[dock].apply(time, crate::books::Delta::all(accepted));
        self.post(time, dock, accepted);
        putaway.qty = accepted;
        self.queue.push(at, Activity::Putaway(putaway));
    }

    fn received_qty(&mut self, plan: ReceiptPlan) -> i64 {
        let e = plan.expected;
        let part = |w: &mut Self, lo: f64, hi: f64| {
            ((e as f64 * w.rng.random_range(lo..hi)).ceil() as i64).max(1)
        };
        match plan.fault {
            Some(FaultKind::ShortReceipt) => (e - part(self, 0.1, 0.5)).max(1),
            Some(FaultKind::OverReceipt) => e + part(self, 0.05, 0.3),
            _ => e,
        }
    }

    /// The exceptions a receipt fault opens: `(type, subject after the SKU, about the lot,
    /// root cause)`. A lot whose label contradicts the ASN is both a lot inconsistency and a
    /// receiving variance of that lot.
    fn receipt_truth(&mut self, time: i64, kind: FaultKind, plan: &ReceiptPlan, dock: usize) {
        use ExceptionType as T;
        use RootCauseCategory as C;
        let site = &self.cat.sites[plan.site].id;
        let sku = self.cat.items[plan.item].sku.clone();
        let asn = ids::asn(site, plan.number);
        let lot = plan.lot.map(|l| ids::lot(site, l.number)).unwrap_or_default();
        let receipt = ids::receipt(site, plan.number);
        let entries = match kind {
            FaultKind::ShortReceipt | FaultKind::OverReceipt => {
                vec![(T::ReceivingVariance, asn, false, C::Supplier)]
            }
            FaultKind::DamagedReceipt => vec![(T::DamagedGoods, asn, false, C::Carrier)],
            FaultKind::ExpiredLot => {
                vec![(T::ExpiredInventory, format!("{receipt}|{lot}"), true, C::Supplier)]
            }
            _ => vec![
                (T::LotSerialInconsistency, lot.clone(), true, C::MasterData),
                (T::ReceivingVariance, format!("{asn}|{lot}"), true, C::Supplier),
            ],
        };
        for (exception_type, rest, about_lot, root) in entries {
            self.push_truth(Entry {
                kind,
                exception_type,
                slot: dock,
                subject: format!("{sku}|{rest}"),
                location: Some(self.cat.slots[dock].location.clone()),
                lot: about_lot.then(|| lot.clone()),
                root,
                injected_at: time,
                resolution: None,
            });
        }
    }
}
