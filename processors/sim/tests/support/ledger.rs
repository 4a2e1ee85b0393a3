//! An independent reference of the cycle-count detector's book, built from events only.
//!
//! It applies the contract the detector implements: baseline = latest ERP snapshot of
//! (site, SKU, location, lot), plus receipts, confirmed tasks and picks after its as-of time;
//! root cause SYSTEM_SYNC when the count equals the WMS book at freeze adjusted for later
//! movements while the book differs, PROCESS when a pick or task touched the location in the
//! window before the count, else UNKNOWN.

use std::collections::BTreeMap;

use invex_model::{CanonicalEvent, CountEvent, RootCauseCategory, TaskStatus};

type Key = (String, String, String);

#[derive(Default)]
pub(crate) struct Ledger {
    /// Snapshots by key, in as-of order: (as of, quantity).
    baselines: BTreeMap<Key, Vec<(i64, i64)>>,
    movements: BTreeMap<Key, Vec<(i64, i64)>>,
    touches: BTreeMap<Key, Vec<i64>>,
}

/// What the reference finds for one first count.
pub(crate) struct Finding {
    pub(crate) book: i64,
    pub(crate) variance: i64,
    pub(crate) root_cause: RootCauseCategory,
}

impl Ledger {
    pub(crate) fn apply(&mut self, event: &CanonicalEvent) {
        let site = event.header().site_id.clone();
        let key = |loc: &str, sku: &str| (site.clone(), sku.to_owned(), loc.to_owned());
        let time = event.header().event_time;
        match event {
            CanonicalEvent::Book(b) => {
                let snapshots = self.baselines.entry(key(&b.location_id, &b.sku)).or_default();
                if snapshots.last().is_none_or(|&(as_of, _)| as_of < time) {
                    snapshots.push((time, b.quantity));
                }
            }
            CanonicalEvent::Receipt(r) => {
                self.movement(key(&r.location_id, &r.sku), time, r.qty_accepted)
            }
            CanonicalEvent::Task(t) if t.status == TaskStatus::Confirmed => {
                let to = t.actual_location_id.as_deref().or(t.suggested_location_id.as_deref());
                self.movement(key(&t.from_location_id, &t.sku), time, -t.quantity);
                self.touch(key(&t.from_location_id, &t.sku), time);
                if let Some(to) = to {
                    self.movement(key(to, &t.sku), time, t.quantity);
                    self.touch(key(to, &t.sku), time);
                }
            }
            CanonicalEvent::Pick(p) => {
                self.movement(key(&p.location_id, &p.sku), time, -p.qty_picked);
                self.touch(key(&p.location_id, &p.sku), time);
            }
            _ => {}
        }
    }

    fn movement(&mut self, key: Key, time: i64, qty: i64) {
        self.movements.entry(key).or_default().push((time, qty));
    }

    fn touch(&mut self, key: Key, time: i64) {
        self.touches.entry(key).or_default().push(time);
    }

    /// The book at `time` of `key`, from the latest snapshot at or before `time`.
    pub(crate) fn book_at(&self, key: &Key, time: i64) -> i64 {
        let snapshots = self.baselines.get(key).map(Vec::as_slice).unwrap_or_default();
        let latest = snapshots.iter().rev().find(|(as_of, _)| *as_of <= time);
        let (as_of, base) = latest.copied().unwrap_or((i64::MIN, 0));
        base + self.moved(key, as_of, time)
    }

    fn moved(&self, key: &Key, after: i64, until: i64) -> i64 {
        let moves = self.movements.get(key).map(Vec::as_slice).unwrap_or_default();
        moves.iter().filter(|(t, _)| *t > after && *t <= until).map(|(_, q)| q).sum()
    }

    pub(crate) fn evaluate(&self, site: &str, count: &CountEvent, window: i64) -> Finding {
        let key = (site.to_owned(), count.sku.clone(), count.location_id.clone());
        let c = count.header.event_time;
        let book = self.book_at(&key, c);
        let variance = count.counted_qty - book;
        let wms = count.wms_book_qty_at_freeze.map(|w| w + self.moved(&key, count.freeze_time, c));
        let touched =
            self.touches.get(&key).is_some_and(|ts| ts.iter().any(|&t| t >= c - window && t <= c));
        let root_cause = if wms == Some(count.counted_qty) && book != count.counted_qty {
            RootCauseCategory::SystemSync
        } else if touched {
            RootCauseCategory::Process
        } else {
            RootCauseCategory::Unknown
        };
        Finding { book, variance, root_cause }
    }
}
