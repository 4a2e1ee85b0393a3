//! Stock of one slot as four numbers, and their history.
//!
//! - `phys`: what is on the shelf (the truth a counter sees);
//! - `wms`: the WMS book (what the WMS events say: receipts, confirmed tasks, picks);
//! - `erp`: the ERP book (the WMS postings the ERP actually received);
//! - `ledger`: what invex's cycle-count detector computes: the latest ERP snapshot plus the
//!   WMS movements after it.
//!
//! Without a fault the four are equal. A misplaced putaway moves `phys` elsewhere than `wms`;
//! a lost ERP posting leaves `erp` (and after the next snapshot `ledger`) behind `wms`.
//! Invariant: every number stays >= 0 (picks take at most the smallest of them), so the
//! simulated stock is physically possible and no book goes negative.

use invex_model::RootCauseCategory;

use crate::truth::FaultKind;

/// The stock of a slot after a change at `time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Level {
    pub(crate) time: i64,
    pub(crate) phys: i64,
    pub(crate) wms: i64,
}

/// A change of a slot's numbers; the ledger always follows the WMS (it reads WMS events).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Delta {
    pub(crate) phys: i64,
    pub(crate) wms: i64,
    pub(crate) erp: i64,
}

impl Delta {
    /// The same change on every book.
    pub(crate) fn all(q: i64) -> Self {
        Self { phys: q, wms: q, erp: q }
    }
}

/// A fault waiting at a slot for the count that will reveal it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PendingFault {
    pub(crate) kind: FaultKind,
    pub(crate) injected_at: i64,
}

/// Stock, history and bookkeeping of one slot.
#[derive(Debug, Clone, Default)]
pub(crate) struct SlotBook {
    pub(crate) phys: i64,
    pub(crate) wms: i64,
    pub(crate) erp: i64,
    pub(crate) ledger: i64,
    /// Levels after every change, in time order; the first is the initial stock.
    history: Vec<Level>,
    /// Event times of picks and confirmed tasks recorded at this location, in time order.
    touches: Vec<i64>,
    /// Putaways decided (at receipt) but not yet confirmed into this slot.
    pub(crate) pending_inbound: u32,
    /// A fault is planned or done here: no other fault and no further inbound stock, so the
    /// variance the fault causes stays what it was sized to be.
    pub(crate) locked: bool,
    pub(crate) fault: Option<PendingFault>,
    /// A count found a discrepancy: the location is blocked for picking until the recount,
    /// as WMSs block a bin under investigation, so the shelf and the root-cause evidence stay
    /// what the count saw.
    pub(crate) on_hold: bool,
    /// Planned time of the scheduled first count, if the slot is counted during the run.
    pub(crate) count_at: Option<i64>,
    /// Highest count_seq issued so far (0 before the first count).
    pub(crate) last_count_seq: i32,
    /// A below-zero book was recorded here (it stays below zero: the location is locked).
    pub(crate) negative_recorded: bool,
    /// A ghost-stock short pick was recorded here (the detector keeps that exception open).
    pub(crate) ghost_recorded: bool,
    /// Time of the latest no-read scan at this location.
    pub(crate) last_no_read: Option<i64>,
    /// A repeated-no-read exception was recorded here (it stays open).
    pub(crate) no_read_recorded: bool,
    /// Gap (WMS-implied minus ERP) of the open sync-failure divergence the detector holds for
    /// this location, mirrored from its rule.
    pub(crate) sync_gap: Option<i64>,
    /// `(time, ledger)` at the latest snapshot and after each change since, for the
    /// settle-window mirror of the sync rule.
    pub(crate) ledger_history: Vec<(i64, i64)>,
}

impl SlotBook {
    /// A slot holding `qty` on every book at `time`.
    pub(crate) fn with_stock(time: i64, qty: i64) -> Self {
        Self {
            phys: qty,
            wms: qty,
            erp: qty,
            ledger: qty,
            history: vec![Level { time, phys: qty, wms: qty }],
            ..Self::default()
        }
    }

    /// Applies a movement at `time`.
    pub(crate) fn apply(&mut self, time: i64, delta: Delta) {
        self.phys += delta.phys;
        self.wms += delta.wms;
        self.erp += delta.erp;
        self.ledger += delta.wms;
        self.history.push(Level { time, phys: self.phys, wms: self.wms });
        if delta.wms != 0 {
            self.ledger_history.push((time, self.ledger));
        }
    }

    /// The detector's book at `time`, which must not be before the latest rebase (snapshots
    /// are further apart than the sync rule's settle window, see the configuration).
    pub(crate) fn ledger_at(&self, time: i64) -> i64 {
        let after = self.ledger_history.partition_point(|(t, _)| *t <= time);
        after.checked_sub(1).map_or(self.ledger, |i| self.ledger_history[i].1)
    }

    /// Records that a pick or task event named this location at `time`.
    pub(crate) fn touch(&mut self, time: i64) {
        self.touches.push(time);
    }

    /// An ERP snapshot becomes the detector's baseline.
    pub(crate) fn rebase(&mut self, time: i64) {
        self.ledger = self.erp;
        self.ledger_history.clear();
        self.ledger_history.push((time, self.ledger));
    }

    /// What the slot could give to a pick without any number going negative.
    pub(crate) fn available(&self) -> i64 {
        self.phys.min(self.booked())
    }

    /// What every book shows (the WMS sends pickers to locations whose book has stock).
    pub(crate) fn booked(&self) -> i64 {
        self.wms.min(self.erp).min(self.ledger).max(0)
    }

    /// Stock at `time` (after every change at or before it).
    pub(crate) fn level_at(&self, time: i64) -> Option<Level> {
        let after = self.history.partition_point(|l| l.time <= time);
        after.checked_sub(1).map(|i| self.history[i])
    }

    /// Every level, oldest first.
    #[cfg(test)]
    pub(crate) fn history(&self) -> &[Level] {
        &self.history
    }

    /// Whether a pick or task touched the location in `[from, to]`.
    pub(crate) fn touched_between(&self, from: i64, to: i64) -> bool {
        let first = self.touches.partition_point(|&t| t < from);
        self.touches.get(first).is_some_and(|&t| t <= to)
    }

    /// The root cause the detector should find for a count of `counted` at `time`, mirroring
    /// its rule: the count agrees with the WMS book while the ledger differs -> SYSTEM_SYNC;
    /// else a pick or task touched the location within `window` before -> PROCESS; else
    /// UNKNOWN. Must be called with the books as of `time`.
    pub(crate) fn expected_root_cause(
        &self,
        time: i64,
        counted: i64,
        window: i64,
    ) -> RootCauseCategory {
        if counted == self.wms && self.ledger != counted {
            RootCauseCategory::SystemSync
        } else if self.touched_between(time.saturating_sub(window), time) {
            RootCauseCategory::Process
        } else {
            RootCauseCategory::Unknown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_at_sees_changes_at_or_before_the_time() {
        let mut book = SlotBook::with_stock(0, 10);
        book.apply(1_000, Delta::all(-3));
        book.apply(2_000, Delta { phys: 5, ..Delta::default() });
        assert_eq!(book.level_at(-1), None);
        assert_eq!(book.level_at(999).map(|l| l.phys), Some(10));
        assert_eq!(book.level_at(1_000).map(|l| (l.phys, l.wms)), Some((7, 7)));
        assert_eq!(book.level_at(5_000).map(|l| (l.phys, l.wms)), Some((12, 7)));
        assert_eq!(book.available(), 7);
    }

    #[test]
    fn root_cause_mirrors_the_detector_rule() {
        let mut book = SlotBook::with_stock(0, 10);
        book.apply(1_000, Delta { phys: 4, wms: 4, erp: 0 });
        book.rebase(1_200);
        assert_eq!(book.expected_root_cause(2_000, 14, 5_000), RootCauseCategory::SystemSync);
        assert_eq!(book.expected_root_cause(2_000, 12, 5_000), RootCauseCategory::Unknown);
        book.touch(1_500);
        assert_eq!(book.expected_root_cause(2_000, 12, 5_000), RootCauseCategory::Process);
        assert_eq!(book.expected_root_cause(9_000, 12, 5_000), RootCauseCategory::Unknown);
    }
}
