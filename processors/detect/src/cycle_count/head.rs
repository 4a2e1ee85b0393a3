//! The running book of a subject: what the ledger's movements add up to after the latest.
//!
//! Every event of the allocation, negative on-hand and sync rules asks for the book of a
//! location now. Folding every movement since the baseline on each of those reads made the
//! cost of an event grow with the time since the last ERP snapshot (a profile of the
//! end-to-end benchmark put it at a sixth of all CPU). The [`Head`] in the ledger header holds
//! the fold's result instead, so a read at or after the latest movement is one point lookup.
//!
//! Invariant: `head.qty == book_at(baseline, movements, t)` for every `t >= head.latest`, and
//! `head.last_outbound` is the latest kept outbound movement. Each change keeps it:
//! - a movement adds its delta when it lies after the baseline (a movement replacing one
//!   with the same key takes the old delta back out first);
//! - a snapshot changes the baseline, so the head is folded anew from the kept movements;
//! - a fold moves movements into a synthetic baseline at the cutoff, which leaves the book
//!   after the cutoff unchanged, and is folded anew from what it keeps.
//!
//! A read before `head.latest` (a late event, a count before the latest snapshot) still folds
//! the movements, as does a read of a ledger written before the head existed.

use super::state::{Baseline, Head, Movement};

impl Head {
    /// The head of `baseline` followed by `movements` (in any order).
    pub(super) fn fold<'a>(
        baseline: &Baseline,
        movements: impl IntoIterator<Item = &'a Movement>,
    ) -> Self {
        let mut head = Self { qty: baseline.qty(), latest: None, last_outbound: None };
        for m in movements {
            head.add(baseline.as_of, m);
        }
        head
    }

    /// Adds movement `m` to the head of a baseline as of `as_of`.
    pub(super) fn add(&mut self, as_of: Option<i64>, m: &Movement) {
        self.qty += counted(as_of, m);
        self.latest = Some(self.latest.map_or(m.time, |l| l.max(m.time)));
        let later = |(t, id): &(i64, String)| (m.time, m.event_id.as_str()) >= (*t, id.as_str());
        if m.kind.is_outbound() && self.last_outbound.as_ref().is_none_or(later) {
            self.last_outbound = Some((m.time, m.event_id.clone()));
        }
    }

    /// Takes back the delta of `m`, a movement about to be replaced by one with its key
    /// (same time, event and leg, so `latest` and `last_outbound` stay right).
    pub(super) fn remove(&mut self, as_of: Option<i64>, m: &Movement) {
        self.qty -= counted(as_of, m);
    }

    /// The book at `at`, when the head alone gives it (`at` at or after the latest movement).
    pub(super) fn book_at(&self, at: i64) -> Option<i64> {
        self.latest.is_none_or(|latest| latest <= at).then_some(self.qty)
    }
}

/// What `m` adds to the book after every movement: its delta when it lies after the baseline.
fn counted(as_of: Option<i64>, m: &Movement) -> i64 {
    if as_of.is_none_or(|a| a < m.time) { m.delta } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cycle_count::ledger::book_at;
    use crate::cycle_count::state::MovementKind;

    fn m(kind: MovementKind, time: i64, delta: i64, id: &str) -> Movement {
        Movement { kind, delta, time, event_id: id.to_owned() }
    }

    fn baseline(as_of: Option<i64>, qty: i64) -> Baseline {
        Baseline {
            as_of,
            rows: [("UNRESTRICTED".to_owned(), qty)].into_iter().collect(),
            ..Baseline::default()
        }
    }

    /// A deterministic sequence of movements around a baseline at 50.
    fn movements() -> Vec<Movement> {
        let kinds = [MovementKind::Pick, MovementKind::TaskIn, MovementKind::TaskOut];
        (0..40)
            .map(|i| {
                let time = (i * 37) % 101;
                m(kinds[i as usize % 3], time, (i % 7) - 3, &format!("e{:02}", (i * 13) % 40))
            })
            .collect()
    }

    #[test]
    fn the_head_equals_the_fold_at_and_after_the_latest_movement() {
        for base in [baseline(None, 0), baseline(Some(50), 20), baseline(Some(200), 7)] {
            let moves = movements();
            let head = Head::fold(&base, &moves);
            let latest = moves.iter().map(|m| m.time).max().unwrap();
            assert_eq!(head.latest, Some(latest));
            for at in [latest, latest + 1, 150, 10_000] {
                assert_eq!(head.book_at(at), Some(book_at(&base, &moves, at)), "at {at}");
            }
            assert_eq!(head.book_at(latest - 1), None, "earlier reads fold");
        }
    }

    #[test]
    fn adding_one_by_one_equals_folding_at_once_in_any_order() {
        let base = baseline(Some(50), 20);
        let moves = movements();
        let mut head = Head::fold(&base, []);
        for m in moves.iter().rev() {
            head.add(base.as_of, m);
        }
        assert_eq!(head, Head::fold(&base, &moves));
    }

    #[test]
    fn the_last_outbound_is_the_latest_pick_or_source_leg_ties_by_event_id() {
        let moves = [
            m(MovementKind::Pick, 10, -1, "b"),
            m(MovementKind::TaskOut, 10, -1, "a"),
            m(MovementKind::TaskIn, 30, 5, "z"),
            m(MovementKind::Receipt, 40, 5, "y"),
        ];
        let head = Head::fold(&Baseline::default(), &moves);
        assert_eq!(head.last_outbound, Some((10, "b".to_owned())));
        assert_eq!(Head::fold(&Baseline::default(), moves.iter().rev()), head);
    }

    #[test]
    fn replacing_a_movement_takes_its_old_delta_back_out() {
        let base = baseline(Some(5), 10);
        let old = m(MovementKind::Pick, 8, -4, "p");
        let new = m(MovementKind::Pick, 8, -6, "p");
        let mut head = Head::fold(&base, [&old]);
        head.remove(base.as_of, &old);
        head.add(base.as_of, &new);
        assert_eq!(head, Head::fold(&base, [&new]));
        let before = m(MovementKind::Pick, 3, -4, "q");
        let mut head = Head::fold(&base, [&before]);
        head.remove(base.as_of, &before);
        assert_eq!(head.qty, 10, "a movement before the baseline never counted");
    }
}
