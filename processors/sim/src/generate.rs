//! The simulation run: plans activities, plays them in time order, records events and truth.
//!
//! All randomness comes from one ChaCha generator seeded by the configuration and is drawn in
//! a fixed order (catalogue, initial stock, count plan, arrival times, then the activities in
//! queue order), and all collections are vectors indexed by catalogue position, so one seed
//! always yields the same events. The run costs O(events log events): every activity is a
//! constant amount of work plus a heap operation and, for a snapshot, one row per slot.

use std::collections::BTreeMap;

use invex_model::CountType;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::books::{Delta, PendingFault, SlotBook};
use crate::catalog::{Catalog, SlotKind};
use crate::config::SimConfig;
use crate::postings::Postings;
use crate::record::{Body, CountRecord, Record, SourceSeqs};
use crate::schedule::{
    Activity, COUNT_OFFSET_MS, PutawayPlan, Queue, SNAPSHOT_OFFSET_MS, poisson_times,
};
use crate::truth::{Fault, FaultKind};

/// The WMS freezes the book 2 to 10 minutes before a count.
const FREEZE_LEAD_S: std::ops::RangeInclusive<i64> = 120..=600;

/// Everything a run produces.
#[derive(Debug)]
pub(crate) struct Generated {
    pub(crate) records: Vec<Record>,
    pub(crate) books: Vec<SlotBook>,
    pub(crate) faults: Vec<Fault>,
    pub(crate) injected: BTreeMap<FaultKind, u64>,
    pub(crate) seqs: SourceSeqs,
    pub(crate) next_count_number: u32,
    /// ERP snapshot times after the opening one.
    pub(crate) snapshot_times: Vec<i64>,
}

/// Runs the simulation to its end.
pub(crate) fn generate(cfg: &SimConfig, cat: &Catalog, rng: &mut ChaCha8Rng) -> Generated {
    let mut world = World::new(cfg, cat, rng);
    world.open();
    while let Some((time, activity)) = world.queue.pop() {
        world.run(time, activity);
    }
    let (records, seqs) = in_time_order(world.out);
    Generated {
        records,
        books: world.books,
        faults: world.faults,
        injected: world.injected,
        seqs,
        next_count_number: world.numbers.count,
        snapshot_times: world.snapshot_times,
    }
}

/// `records` in event-time order, and numbered per source in that order.
///
/// An activity may emit events shortly before its own time (a picker's failed reads precede
/// the pick), so emission order is nearly, not exactly, time order. The sort is stable: events
/// of one instant keep the order they were emitted in. Source sequence numbers are given after
/// the sort, so that each source's numbers rise with its event times as a real source's do.
fn in_time_order(mut records: Vec<Record>) -> (Vec<Record>, SourceSeqs) {
    records.sort_by_key(|r| r.time);
    let mut seqs = SourceSeqs::default();
    for record in &mut records {
        record.seq = seqs.next(record.body.source());
    }
    (records, seqs)
}

/// Document numbers, one sequence per document kind.
#[derive(Debug, Default)]
pub(crate) struct Numbers {
    pub(crate) receipt: u32,
    pub(crate) pick: u32,
    pub(crate) count: u32,
    pub(crate) message: u32,
}

/// The mutable state of a run.
pub(crate) struct World<'a> {
    pub(crate) cfg: &'a SimConfig,
    pub(crate) cat: &'a Catalog,
    pub(crate) rng: &'a mut ChaCha8Rng,
    pub(crate) books: Vec<SlotBook>,
    pub(crate) queue: Queue,
    /// Planned snapshot times after the first, ascending.
    pub(crate) snapshot_times: Vec<i64>,
    pub(crate) faults: Vec<Fault>,
    pub(crate) injected: BTreeMap<FaultKind, u64>,
    pub(crate) numbers: Numbers,
    pub(crate) postings: Postings,
    out: Vec<Record>,
}

impl<'a> World<'a> {
    fn new(cfg: &'a SimConfig, cat: &'a Catalog, rng: &'a mut ChaCha8Rng) -> Self {
        let profiles = cfg.classes.all();
        let books = cat
            .slots
            .iter()
            .map(|slot| {
                let stock = match slot.kind {
                    SlotKind::Dock => 0,
                    SlotKind::Storage => {
                        let p = profiles[cat.items[slot.item].class];
                        rng.random_range(p.initial_stock_min..=p.initial_stock_max)
                    }
                };
                SlotBook::with_stock(cfg.start_time, stock)
            })
            .collect();
        Self {
            cfg,
            cat,
            rng,
            books,
            queue: Queue::default(),
            snapshot_times: Vec::new(),
            faults: Vec::new(),
            injected: BTreeMap::new(),
            numbers: Numbers::default(),
            postings: Postings::default(),
            out: Vec::new(),
        }
    }

    /// Emits master data and the opening snapshot, and plans every activity known upfront.
    fn open(&mut self) {
        let start = self.cfg.start_time;
        for site in 0..self.cat.sites.len() {
            for item in 0..self.cat.items.len() {
                self.emit(start, Body::Item { site: site as u32, item: item as u32 });
            }
        }
        self.snapshot(start, 0);
        self.plan_counts();
        self.plan_snapshots();
        let end = self.cfg.end_time();
        for site in 0..self.cat.sites.len() {
            for at in poisson_times(self.rng, start, end, self.cfg.picks_per_hour) {
                self.queue.push(at, Activity::Pick { site });
            }
            for at in poisson_times(self.rng, start, end, self.cfg.receipts_per_hour) {
                self.queue.push(at, Activity::Arrival { site });
            }
            let thefts = self.cfg.faults.thefts_per_site_day / 24.0;
            for at in poisson_times(self.rng, start, end, thefts) {
                self.queue.push(at, Activity::Theft { site });
            }
        }
        self.plan_outages();
    }

    /// Each storage location is counted at most once, between 10 % and 95 % of the run, so
    /// that faults have time to happen before the counts that reveal them.
    fn plan_counts(&mut self) {
        let (start, duration_s) = (self.cfg.start_time, self.cfg.duration_ms / 1000);
        let (first, last) = (duration_s / 10, duration_s * 95 / 100 - 1);
        let profiles = self.cfg.classes.all();
        for slot in self.cat.storage_slots() {
            let class = self.cat.items[self.cat.slots[slot].item].class;
            if self.rng.random_bool(profiles[class].count_share) {
                let at =
                    start + self.rng.random_range(first..=last.max(first)) * 1000 + COUNT_OFFSET_MS;
                self.books[slot].count_at = Some(at);
                self.queue.push(at, Activity::Count { slot });
            }
        }
    }

    fn plan_snapshots(&mut self) {
        let interval = self.cfg.snapshot_interval_ms;
        let mut number = 1;
        let mut at = self.cfg.start_time + interval + SNAPSHOT_OFFSET_MS;
        while at < self.cfg.end_time() {
            self.snapshot_times.push(at);
            self.queue.push(at, Activity::Snapshot { number });
            number += 1;
            at += interval;
        }
    }

    fn run(&mut self, time: i64, activity: Activity) {
        match activity {
            Activity::Arrival { site } => self.arrival(time, site),
            Activity::Receipt(plan) => self.receipt(time, plan),
            Activity::Pick { site } => self.pick(time, site),
            Activity::Reconfirm { number, slot, requested, picked } => {
                self.reconfirm(time, number, slot, (requested, picked));
            }
            Activity::Putaway(plan) => self.putaway(time, plan),
            Activity::Ack { message, slot, qty } => self.acknowledge(time, message, slot, qty),
            Activity::Theft { site } => self.theft(time, site),
            Activity::Snapshot { number } => self.snapshot(time, number),
            Activity::Count { slot } => self.count(time, slot),
        }
    }

    /// Emits an event at `time`; its source sequence number is given by [`in_time_order`].
    pub(crate) fn emit(&mut self, time: i64, body: Body) {
        self.out.push(Record { time, seq: 0, body });
    }

    /// One ERP row per storage location (dock stock is goods-receipt stock the ERP does not
    /// report by bin); each row is checked against the sync rule's mirror, then becomes the
    /// detector's new baseline.
    fn snapshot(&mut self, time: i64, number: u32) {
        for slot in self.cat.storage_slots().collect::<Vec<_>>() {
            if number > 0 {
                self.mirror_sync(time, slot);
            }
            let qty = self.books[slot].erp;
            self.emit(time, Body::Book { slot: slot as u32, snapshot: number, qty });
            self.books[slot].rebase(time);
        }
    }

    fn putaway(&mut self, time: i64, plan: PutawayPlan) {
        let q = plan.qty;
        let erp = if plan.fault == Some(FaultKind::SyncLag) { 0 } else { q };
        self.books[plan.from].apply(time, Delta { phys: -q, wms: -q, erp: -erp });
        if plan.stored_at == plan.to {
            self.books[plan.to].apply(time, Delta { phys: q, wms: q, erp });
        } else {
            self.books[plan.to].apply(time, Delta { phys: 0, wms: q, erp });
            self.books[plan.stored_at].apply(time, Delta { phys: q, wms: 0, erp: 0 });
        }
        self.books[plan.from].touch(time);
        let to = &mut self.books[plan.to];
        to.touch(time);
        let suggested = &mut self.books[plan.suggested];
        suggested.pending_inbound = suggested.pending_inbound.saturating_sub(1);
        match plan.fault {
            Some(FaultKind::WrongBinPutaway) => self.wrong_bin_truth(time, &plan),
            Some(kind) => {
                *self.injected.entry(kind).or_default() += 1;
                let pending = Some(PendingFault { kind, injected_at: time });
                self.books[plan.to].fault = pending;
                self.books[plan.stored_at].fault = pending;
            }
            None => {}
        }
        let body = Body::Putaway {
            number: plan.receipt,
            from: plan.from as u32,
            to: plan.to as u32,
            suggested: plan.suggested as u32,
            qty: q,
        };
        self.emit(time, body);
    }

    fn count(&mut self, time: i64, slot: usize) {
        let freeze_time = (time - self.rng.random_range(FREEZE_LEAD_S) * 1000)
            .max(self.cfg.start_time + COUNT_OFFSET_MS);
        let book = &self.books[slot];
        let wms_at_freeze = book.level_at(freeze_time).map_or(book.wms, |l| l.wms);
        let counted = self.counted_qty(time, slot);
        self.record_truth(time, slot, counted);
        self.books[slot].last_count_seq = 1;
        self.numbers.count += 1;
        let count = CountRecord {
            number: self.numbers.count,
            slot: slot as u32,
            count_type: CountType::Abc,
            count_seq: 1,
            counted,
            wms_at_freeze,
            freeze_time,
        };
        self.emit(time, Body::Count(count));
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::config::FaultRates;

    /// Small, with only the faults that move stock between books consistently.
    fn small() -> SimConfig {
        let faults = FaultRates {
            double_confirmation: 0.0,
            uom_error: 0.0,
            thefts_per_site_day: 0.0,
            ..FaultRates::default()
        };
        SimConfig { skus_per_site: 300, duration_ms: 4 * 3_600_000, faults, ..SimConfig::default() }
    }

    fn run(cfg: &SimConfig) -> (Catalog, Generated) {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let cat = Catalog::build(cfg, &mut rng);
        let run = generate(cfg, &cat, &mut rng);
        (cat, run)
    }

    #[test]
    fn shelves_and_books_never_go_negative_without_pick_faults() {
        let (_, run) = run(&small());
        for book in &run.books {
            assert!(book.history().iter().all(|l| l.phys >= 0 && l.wms >= 0), "{book:?}");
            assert!(book.erp >= 0 && book.ledger >= 0, "{book:?}");
        }
    }

    #[test]
    fn stock_is_conserved_apart_from_picks_and_receipts() {
        let cfg = small();
        let (_, run) = run(&cfg);
        let (mut received, mut picked) = (0, 0);
        for r in &run.records {
            match r.body {
                Body::Receipt(receipt) => received += receipt.accepted,
                Body::Pick { picked: p, .. } => picked += p,
                _ => {}
            }
        }
        let initial: i64 = run.books.iter().map(|b| b.history()[0].phys).sum();
        let phys: i64 = run.books.iter().map(|b| b.phys).sum();
        let wms: i64 = run.books.iter().map(|b| b.wms).sum();
        assert_eq!(phys, initial + received - picked);
        assert_eq!(wms, phys, "misplacing moves stock, it does not create or destroy it");
    }

    #[test]
    fn picks_never_exceed_what_the_shelf_held() {
        let (_, run) = run(&small());
        for r in &run.records {
            if let Body::Pick { slot, requested, picked, .. } = r.body {
                let after = run.books[slot as usize].level_at(r.time).map(|l| l.phys);
                assert!(after.is_some_and(|a| a >= 0) && (0..=requested).contains(&picked));
            }
        }
    }

    #[test]
    fn every_kind_of_fault_is_injected_and_revealed_at_benchmark_rates() {
        let faults = FaultRates::benchmark();
        let (_, run) = run(&SimConfig { skus_per_site: 800, faults, ..SimConfig::default() });
        for kind in FaultKind::ALL {
            assert!(run.injected.get(&kind).is_some_and(|&n| n > 0), "{kind} never injected");
            assert!(run.faults.iter().any(|f| f.kind == kind), "{kind} never revealed");
        }
    }
}
