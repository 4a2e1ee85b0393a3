//! Persistent timers.
//!
//! Timers live in the `engine.timers` store so they survive restarts and fire on quiet keys.
//! Key layout (see the key module for the component encoding):
//!
//! ```text
//! [kind: 1 byte, 0 = stream time, 1 = wall clock] [due: 8 bytes, order-preserving i64]
//! [owner: string component, the detector's name] [detector key: raw bytes]
//! ```
//!
//! The value is empty for a live timer and [`CANCELLED`] for a cancelled one. Because the kind
//! and due time lead the key, a prefix scan on the kind yields timers in (due, owner, key)
//! order, which is the firing order: deterministic, and the first entry is always the earliest.
//! Scheduling the same timer twice writes the same key, so it stays one timer; scheduling a
//! cancelled timer again revives it.
//!
//! Why a cancel marks instead of deleting: a delete leaves a tombstone ahead of the scan's
//! starting point, and every later scan from before it steps over it again until compaction.
//! Timers are cancelled far more often than they fire (every acknowledged posting cancels its
//! acknowledgement timeout, every status change its SLA deadline), so those scans stepped over
//! thousands of tombstones each and took most of the detectors' time. A marked timer is an
//! ordinary entry that [`Timers::pop_due`] deletes silently when it comes due: each one is
//! visited once, and the only tombstones are behind the starting point of every later scan.
//!
//! An in-memory lower bound of the earliest timer key per kind avoids a scan per record when
//! nothing is due, and is where a scan starts when something is: fired timers are deleted, and
//! a scan from the head of the range would step over every one of their tombstones (in RocksDB,
//! until compaction removes them), which made each firing cost as much as all earlier ones.
//! The bound is a whole key, not a due time: timers scheduled in one millisecond share their
//! due time (every acknowledgement timeout set by one batch under one wall clock), and a bound
//! on the time alone made the k-th of them step over the k - 1 fired before it. After a pop
//! the bound is the successor of the popped key, so each scan starts at a live entry. It is
//! only ever a lower bound (scheduling or cancelling below it lowers it) and starts unknown,
//! so a fresh engine on a restored store is exact.

use std::ops::ControlFlow;

use crate::detector::{FiredTimer, TimerKind};
use crate::error::DetectError;
use crate::key::{Key, KeyReader, hex};
use crate::store::{Store, StoreError, StoreName};

/// The timer store.
pub(crate) const TIMERS: StoreName = StoreName("engine.timers");

/// Value of a cancelled timer (a live one has an empty value).
const CANCELLED: &[u8] = b"x";

/// A due timer taken out of the store, with the detector that owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DueTimer {
    /// Name of the owning detector (or the engine).
    pub(crate) owner: String,
    /// What the owner sees.
    pub(crate) timer: FiredTimer,
}

/// Lower bound of the earliest timer key per kind: `None` unknown, `Some(None)` no timers.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    earliest: [Option<Option<Vec<u8>>>; 2],
}

fn store_key(kind: TimerKind, due: i64, owner: &str, key: &[u8]) -> Vec<u8> {
    Key::new().byte(kind.tag()).time(due).str(owner).raw(key).into_bytes()
}

impl Timers {
    /// Persists a timer.
    pub(crate) fn schedule(
        &mut self,
        store: &mut dyn Store,
        kind: TimerKind,
        due: i64,
        owner: &str,
        key: &[u8],
    ) -> Result<(), StoreError> {
        let key = store_key(kind, due, owner, key);
        store.put(TIMERS, &key, &[])?;
        self.lower_bound(kind, key);
        Ok(())
    }

    /// Cancels a timer: marks it, so it is dropped without firing when it comes due (see the
    /// module docs). The cached bound stays exact: the marked entry is still the earliest.
    pub(crate) fn cancel(
        &mut self,
        store: &mut dyn Store,
        kind: TimerKind,
        due: i64,
        owner: &str,
        key: &[u8],
    ) -> Result<(), StoreError> {
        let key = store_key(kind, due, owner, key);
        store.put(TIMERS, &key, CANCELLED)?;
        self.lower_bound(kind, key);
        Ok(())
    }

    /// Keeps the cached bound a lower bound after `key` was written.
    fn lower_bound(&mut self, kind: TimerKind, key: Vec<u8>) {
        if let Some(known) = &mut self.earliest[kind.index()]
            && known.as_ref().is_none_or(|bound| key < *bound)
        {
            *known = Some(key);
        }
    }

    /// Takes the earliest live timer of `kind` due at `now` out of the store, if any; cancelled
    /// timers met on the way are deleted.
    pub(crate) fn pop_due(
        &mut self,
        store: &mut dyn Store,
        kind: TimerKind,
        now: i64,
    ) -> Result<Option<DueTimer>, DetectError> {
        loop {
            let Some((raw, cancelled)) = self.first_due(store, kind, now)? else {
                return Ok(None);
            };
            store.delete(TIMERS, &raw)?;
            // Every remaining timer of the kind sorts after the popped key.
            let mut successor = raw.clone();
            successor.push(0);
            self.earliest[kind.index()] = Some(Some(successor));
            if !cancelled {
                let (due, owner, key) = parse(&raw)?;
                return Ok(Some(DueTimer { owner, timer: FiredTimer { kind, due, key } }));
            }
        }
    }

    /// The key of the earliest timer of `kind` (live or cancelled) if it is due at `now`, and
    /// whether it is cancelled. When none is due the cached bound becomes the earliest key (or
    /// "no timers"); a due one is left to [`Timers::pop_due`], which moves the bound past it.
    fn first_due(
        &mut self,
        store: &dyn Store,
        kind: TimerKind,
        now: i64,
    ) -> Result<Option<(Vec<u8>, bool)>, DetectError> {
        // Fired timers leave deleted keys at the head of the kind's range; starting at the
        // known lower bound steps over them instead of through them.
        let from = match &self.earliest[kind.index()] {
            Some(None) => return Ok(None),
            Some(Some(bound)) if due_of(bound).is_some_and(|t| t > now) => return Ok(None),
            Some(Some(bound)) => bound.clone(),
            None => vec![kind.tag()],
        };
        let mut first = None;
        store.scan_prefix_from(TIMERS, &[kind.tag()], &from, &mut |k, v| {
            first = Some((k.to_vec(), v == CANCELLED));
            ControlFlow::Break(())
        })?;
        let Some((raw, cancelled)) = first else {
            self.earliest[kind.index()] = Some(None);
            return Ok(None);
        };
        let (due, _, _) = parse(&raw)?;
        if due > now {
            self.earliest[kind.index()] = Some(Some(raw));
            return Ok(None);
        }
        // `pop_due` takes it out and moves the bound past it.
        Ok(Some((raw, cancelled)))
    }
}

/// The due time of a timer key, or of a bound made from one.
fn due_of(raw: &[u8]) -> Option<i64> {
    let mut reader = KeyReader::new(raw);
    reader.byte()?;
    reader.time()
}

fn parse(raw: &[u8]) -> Result<(i64, String, Vec<u8>), DetectError> {
    let mut reader = KeyReader::new(raw);
    let parsed = reader.byte().and_then(|_| {
        let due = reader.time()?;
        let owner = reader.str()?;
        Some((due, owner, reader.rest().to_vec()))
    });
    parsed.ok_or_else(|| DetectError::State {
        store: TIMERS.as_str(),
        key: hex(raw),
        action: "decoded",
        reason: "malformed timer key".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;

    fn drain(timers: &mut Timers, store: &mut MemStore, kind: TimerKind, now: i64) -> Vec<i64> {
        let mut out = Vec::new();
        while let Some(t) = timers.pop_due(store, kind, now).unwrap() {
            out.push(t.timer.due);
        }
        out
    }

    #[test]
    fn fire_in_due_order_and_only_when_due() {
        let mut store = MemStore::new();
        let mut timers = Timers::default();
        for due in [30, -5, 10] {
            timers.schedule(&mut store, TimerKind::StreamTime, due, "cc", b"k").unwrap();
        }
        timers.schedule(&mut store, TimerKind::WallClock, 0, "cc", b"w").unwrap();
        assert_eq!(drain(&mut timers, &mut store, TimerKind::StreamTime, 10), vec![-5, 10]);
        assert_eq!(drain(&mut timers, &mut store, TimerKind::StreamTime, 29), Vec::<i64>::new());
        assert_eq!(drain(&mut timers, &mut store, TimerKind::StreamTime, 30), vec![30]);
        assert_eq!(drain(&mut timers, &mut store, TimerKind::WallClock, 0), vec![0]);
    }

    #[test]
    fn cancelled_timers_do_not_fire_and_fresh_caches_rescan() {
        let mut store = MemStore::new();
        let mut timers = Timers::default();
        timers.schedule(&mut store, TimerKind::StreamTime, 5, "cc", b"a").unwrap();
        timers.schedule(&mut store, TimerKind::StreamTime, 6, "cc", b"b").unwrap();
        timers.cancel(&mut store, TimerKind::StreamTime, 5, "cc", b"a").unwrap();
        let mut fresh = Timers::default();
        let fired = fresh.pop_due(&mut store, TimerKind::StreamTime, 10).unwrap().unwrap();
        assert_eq!((fired.owner.as_str(), fired.timer.key.as_slice()), ("cc", &b"b"[..]));
        assert_eq!(drain(&mut timers, &mut store, TimerKind::StreamTime, 10), Vec::<i64>::new());
    }

    #[test]
    fn a_timer_scheduled_below_the_last_popped_key_still_fires() {
        let mut store = MemStore::new();
        let mut timers = Timers::default();
        for key in [&b"b"[..], b"c"] {
            timers.schedule(&mut store, TimerKind::WallClock, 7, "sync", key).unwrap();
        }
        let popped = timers.pop_due(&mut store, TimerKind::WallClock, 7).unwrap().unwrap();
        assert_eq!(popped.timer.key, b"b");
        // Same due time, a key before the popped one, and an earlier due time.
        timers.schedule(&mut store, TimerKind::WallClock, 7, "sync", b"a").unwrap();
        timers.schedule(&mut store, TimerKind::WallClock, 6, "sync", b"z").unwrap();
        let mut keys = Vec::new();
        while let Some(t) = timers.pop_due(&mut store, TimerKind::WallClock, 7).unwrap() {
            keys.push((t.timer.due, t.timer.key));
        }
        assert_eq!(keys, vec![(6, b"z".to_vec()), (7, b"a".to_vec()), (7, b"c".to_vec())]);
    }

    #[test]
    fn cancelled_timers_leave_the_store_when_due_and_rescheduling_revives_them() {
        let mut store = MemStore::new();
        let mut timers = Timers::default();
        for (due, key) in [(5, &b"a"[..]), (6, b"b"), (7, b"c")] {
            timers.schedule(&mut store, TimerKind::WallClock, due, "sla", key).unwrap();
            timers.cancel(&mut store, TimerKind::WallClock, due, "sla", key).unwrap();
        }
        timers.schedule(&mut store, TimerKind::WallClock, 6, "sla", b"b").unwrap();
        assert_eq!(drain(&mut timers, &mut store, TimerKind::WallClock, 5), Vec::<i64>::new());
        assert_eq!(store.entries(TIMERS).len(), 2, "the marker of a is gone once due");
        assert_eq!(drain(&mut timers, &mut store, TimerKind::WallClock, 10), vec![6]);
        assert_eq!(store.entries(TIMERS).len(), 0);
    }
}
