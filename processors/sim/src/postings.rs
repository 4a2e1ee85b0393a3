//! Goods-receipt postings to the ERP, their acknowledgements, and the sync rule's mirror.
//!
//! Every receipt that accepts stock is posted (`integration.ack` SENT at the receipt) and
//! acknowledged 30 s to 8 minutes later, well inside the 15-minute acknowledgement timeout.
//! Faults, only where the timeout falls inside the run: ACK_LAG (acknowledged 20-90 minutes
//! later), LOST_POSTING (never), OUTAGE_BURST (sent during a site's integration outage,
//! acknowledged 20-30 minutes after it ends). Each is one SYNC_FAILURE `sku|message`.
//!
//! The ERP book itself follows every posting at once (the model keeps postings and books
//! apart); only SYNC_LAG loses a book movement. At each snapshot the sync rule's book
//! comparison is mirrored exactly (WMS-implied book, settle window, postings in flight, the
//! gap of an open divergence), so every divergence the detector opens is in the truth.

use std::collections::BTreeMap;

use invex_model::{AckStatus, ExceptionType, RootCauseCategory};
use rand::Rng;

use crate::generate::World;
use crate::inject::Entry;
use crate::record::Body;
use crate::render::ids;
use crate::schedule::{Activity, poisson_times};
use crate::truth::FaultKind;

const MINUTE_MS: i64 = 60_000;
/// The sync rule's acknowledgement timeout and settle window (default policy), mirrored.
const ACK_TIMEOUT_MS: i64 = 15 * MINUTE_MS;
const SETTLE_MS: i64 = 45 * MINUTE_MS;

/// One posting: when it was sent, when (if ever in the run) acknowledged, its quantity.
#[derive(Debug, Clone, Copy)]
struct Posting {
    sent: i64,
    acked: Option<i64>,
    qty: i64,
}

/// Postings per (site, item), and each site's outages.
#[derive(Debug, Default)]
pub(crate) struct Postings {
    by_item: BTreeMap<(usize, usize), Vec<Posting>>,
    /// Outage windows per site, `[start, end)`.
    outages: Vec<Vec<(i64, i64)>>,
}

impl Postings {
    /// Quantity of the item's postings sent and not acknowledged at `time`.
    fn in_flight(&self, site: usize, item: usize, time: i64) -> i64 {
        self.by_item.get(&(site, item)).map_or(0, |list| {
            list.iter()
                .filter(|p| p.sent <= time && p.acked.is_none_or(|a| a > time))
                .map(|p| p.qty)
                .sum()
        })
    }
}

impl World<'_> {
    /// Plans each site's integration outages (5 to 60 minutes each).
    pub(crate) fn plan_outages(&mut self) {
        let (start, end) = (self.cfg.start_time, self.cfg.end_time());
        let per_hour = self.cfg.faults.outages_per_site_day / 24.0;
        for _ in 0..self.cat.sites.len() {
            let windows = poisson_times(self.rng, start, end, per_hour)
                .into_iter()
                .map(|at| (at, at + self.rng.random_range(5..=60) * MINUTE_MS))
                .collect();
            self.postings.outages.push(windows);
        }
    }

    /// Posts a goods receipt of `qty` at the dock slot; plans its acknowledgement.
    pub(crate) fn post(&mut self, time: i64, dock: usize, qty: i64) {
        self.numbers.message += 1;
        let message = self.numbers.message;
        let slot = dock as u32;
        self.emit(time, Body::Ack { message, slot, qty, status: AckStatus::Sent });
        let site = self.cat.slots[dock].site;
        let detectable = time + ACK_TIMEOUT_MS + MINUTE_MS < self.cfg.end_time();
        let outage = self.postings.outages[site].iter().find(|(s, e)| (*s..*e).contains(&time));
        let f = &self.cfg.faults;
        let (kind, ack) = match outage {
            Some(&(_, end)) if detectable => (
                Some(FaultKind::OutageBurst),
                Some(end + self.rng.random_range(20..=30) * MINUTE_MS),
            ),
            _ if detectable && self.rng.random_bool(f.lost_posting) => {
                (Some(FaultKind::LostPosting), None)
            }
            _ if detectable && self.rng.random_bool(f.ack_lag) => {
                (Some(FaultKind::AckLag), Some(time + self.rng.random_range(20..=90) * MINUTE_MS))
            }
            _ => (None, Some(time + self.rng.random_range(30..=480) * 1000)),
        };
        let ack = ack.filter(|&a| a < self.cfg.end_time());
        if let Some(at) = ack {
            self.queue.push(at, Activity::Ack { message, slot: dock, qty });
        }
        let item = self.cat.slots[dock].item;
        let posting = Posting { sent: time, acked: ack, qty };
        self.postings.by_item.entry((site, item)).or_default().push(posting);
        if let Some(kind) = kind {
            *self.injected.entry(kind).or_default() += 1;
            let sku = &self.cat.items[item].sku;
            let subject = format!("{sku}|{}", ids::message(&self.cat.sites[site].id, message));
            self.push_truth(Entry {
                kind,
                exception_type: ExceptionType::SyncFailure,
                slot: dock,
                subject,
                location: None,
                lot: None,
                root: RootCauseCategory::SystemSync,
                injected_at: time,
                resolution: None,
            });
        }
    }

    /// The ERP acknowledges message `message`.
    pub(crate) fn acknowledge(&mut self, time: i64, message: u32, slot: usize, qty: i64) {
        let body = Body::Ack { message, slot: slot as u32, qty, status: AckStatus::Ack };
        self.emit(time, body);
    }

    /// The sync rule's book comparison for the snapshot row of `slot` at `time`, before the
    /// row rebases the ledger: opens, updates or clears the mirrored divergence.
    pub(crate) fn mirror_sync(&mut self, time: i64, slot: usize) {
        let place = &self.cat.slots[slot];
        let book = &self.books[slot];
        let gap = book.sync_gap.unwrap_or(0);
        let implied = book.ledger + gap;
        let settled = book.ledger_at(time - SETTLE_MS) + gap;
        let in_flight = self.postings.in_flight(place.site, place.item, time);
        let erp = book.erp;
        if [implied, settled, implied - in_flight].contains(&erp) {
            self.books[slot].sync_gap = None;
            return;
        }
        if book.sync_gap.is_none() {
            let kind = book.fault.map_or(FaultKind::SyncLag, |f| f.kind);
            let mut entry = self.stock_entry(kind, ExceptionType::SyncFailure, slot, "");
            entry.root = RootCauseCategory::SystemSync;
            entry.injected_at = book.fault.map_or(time, |f| f.injected_at);
            self.push_truth(entry);
        }
        self.books[slot].sync_gap = Some(implied - erp);
    }
}
