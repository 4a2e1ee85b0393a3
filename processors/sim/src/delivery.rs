//! Transport: the order in which generated events are delivered, with the disturbances an
//! at-least-once pipeline adds and that must not produce exceptions.
//!
//! - Duplicates: an event delivered again right after itself with the same event id (the
//!   detectors' dedupe drops it).
//! - Retries: a pick confirmation re-sent under a new event id with identical content (the
//!   duplicate-pick rule recognises the repeat and the engine drops it).
//! - Late: a pick confirmation delivered 61-120 s after its event time, out of order, only
//!   at a location without a fault where no other event touches the location, no count of it
//!   is due and no ERP snapshot is taken until the late event has arrived and the count
//!   evaluation grace has passed: within every detector's tolerance.
//!
//! The order is computed once, from a generator seeded apart from the run's, so turning
//! transport disturbances on or off does not change the generated events.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::Transport;
use crate::record::{Body, Record};

/// Late picks arrive 61 to 120 seconds after their event time.
const LATE_MS: std::ops::RangeInclusive<i64> = 61_000..=120_000;
/// Slack after a late arrival in which nothing may touch its location (count grace 2 s).
const SLACK_MS: i64 = 5_000;
/// Mixed into the seed so that the transport generator is independent of the run's.
const TRANSPORT_SEED: u64 = 0x7472_616e_7370_6f72;

/// How one delivered copy of a record is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sending {
    /// The record as generated.
    Original,
    /// Re-sent under a new event id with the same content.
    Retry,
}

/// One delivered event: which record, as which copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delivery {
    pub(crate) record: u32,
    pub(crate) copy: Sending,
}

/// The delivery order of `records` (sorted by event time).
pub(crate) fn plan(
    seed: u64,
    t: &Transport,
    records: &[Record],
    snapshots: &[i64],
    faulted: &[bool],
) -> Vec<Delivery> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ TRANSPORT_SEED);
    let touches = touches(records);
    let mut keyed: Vec<((i64, u32, u8), Delivery)> = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        let i = i as u32;
        let mut at = r.time;
        let is_pick = matches!(r.body, Body::Pick { .. });
        if is_pick && rng.random_bool(t.late) {
            let delay = rng.random_range(LATE_MS);
            if quiet(r, i, delay, &touches, snapshots, faulted) {
                at = r.time + delay;
            }
        }
        keyed.push(((at, i, 0), Delivery { record: i, copy: Sending::Original }));
        if rng.random_bool(t.duplicate) {
            keyed.push(((at, i, 1), Delivery { record: i, copy: Sending::Original }));
        }
        if is_pick && rng.random_bool(t.retry) {
            keyed.push(((at, i, 2), Delivery { record: i, copy: Sending::Retry }));
        }
    }
    keyed.sort_by_key(|(k, _)| *k);
    keyed.into_iter().map(|(_, d)| d).collect()
}

/// Times of the records touching each stock slot, with their indices, in time order.
fn touches(records: &[Record]) -> BTreeMap<u32, Vec<(i64, u32)>> {
    let mut out: BTreeMap<u32, Vec<(i64, u32)>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        for slot in r.body.stock_slots().into_iter().flatten() {
            out.entry(slot).or_default().push((r.time, i as u32));
        }
    }
    out
}

/// Whether delaying record `i` by `delay` is within every detector's tolerance.
fn quiet(
    r: &Record,
    i: u32,
    delay: i64,
    touches: &BTreeMap<u32, Vec<(i64, u32)>>,
    snapshots: &[i64],
    faulted: &[bool],
) -> bool {
    let Body::Pick { slot, .. } = r.body else { return false };
    if faulted.get(slot as usize).copied().unwrap_or(true) {
        return false;
    }
    let until = r.time + delay + SLACK_MS;
    let others = touches.get(&slot).is_some_and(|list| {
        let from = list.partition_point(|(t, _)| *t < r.time);
        list[from..].iter().take_while(|(t, _)| *t <= until).any(|(_, j)| *j != i)
    });
    let snapshot = snapshots.iter().any(|&s| r.time <= s && s <= until);
    !others && !snapshot
}
