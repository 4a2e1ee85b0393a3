//! Per-store time to live, in stream time.
//!
//! Some stores grow with the key space (a pick task line, a serial, a no-read, an integration
//! message nobody acknowledged) and nothing their owner does ever deletes the quiet keys. Such
//! a store declares a [`Ttl`] on its [`crate::Table`] (`Table::expiring`), next to its
//! declaration and the reason for the value; the engine lists every store's TTL
//! ([`crate::Engine::store_ttls`]) and the topology file repeats it.
//!
//! Semantics (stream time = the highest event time the task has seen; never the wall clock,
//! so a replay of last month's topics behaves exactly like live processing did):
//! - an entry expires `ttl` after the stream time of its last write: it is live while
//!   `stream_time < written + ttl`;
//! - reads ([`crate::Ctx::get`], [`crate::Ctx::scan`]) never return an expired entry, whether
//!   or not the purge has deleted it yet, so outputs never depend on when the purge ran;
//! - the purge (the purge module, run from [`crate::Engine::on_wall_clock`]) deletes expired
//!   entries through the [`crate::Store`] port, so the changelog carries tombstones and a
//!   restore does not resurrect them (the failure of RocksDB's compaction-filter TTL). Its
//!   work per call is bounded and it resumes from a cursor kept in `engine.meta`.
//!
//! Choosing a TTL: it must exceed the longest horizon the owning detector looks back over
//! (policy windows at their validated maximum, SLA and deadline timers, lateness), so no
//! detection changes while stream time advances steadily. One limit is inherent to stream
//! time: a stream-time timer fires after the event that moved stream time past its due time,
//! so if a partition is quiet for longer than a TTL and its next event jumps stream time past
//! it, a timer due in between finds its entry expired. The TTLs are weeks to a year above the
//! horizons, and in live operation the wall-clock twin of such a timer fires first.
//!
//! # Value layout
//!
//! ```text
//! unstamped:  [format byte] [JSON]                                   (the codec's layout)
//! stamped:    [STAMPED = 0xFE] [written: 8 bytes] [format byte] [JSON]
//! ```
//!
//! `written` is the stream time of the write, encoded like a time in a key (big-endian, sign
//! bit flipped). Every write to a store with a TTL is stamped; reads accept both forms in every
//! store. The tag byte is far above any format version the codec will reach (they count up
//! from 1), so a reader tells the two apart by the first byte alone; an unknown first byte is
//! still the codec's "unknown format" error that stops the task.
//!
//! Why the write time and not the expiry time: a TTL changed in a later release then applies
//! to entries already on disk, in both directions. Why a value prefix and not a side index
//! keyed by time (as the dedupe store has): an index costs a second write per put and a
//! second delete per overwrite; the prefix costs 9 bytes and nothing else on the hot path.
//! The price is that the purge visits every entry of the store once per sweep instead of only
//! the expired ones, which is why it runs in bounded batches off the event path.
//!
//! Upgrades: an unstamped value in a store that now has a TTL (written before the TTL
//! existed) is live; the first sweep that meets it rewrites it stamped with the current stream
//! time, so it expires one TTL after that sweep. A stamped value in a store whose TTL was
//! removed is read as if unstamped and kept.

mod purge;

pub(crate) use self::purge::{SWEEP_BATCH, purge};

use crate::key::{decode_time, encode_time};
use crate::store::StoreName;

/// Leading byte of a stamped value.
pub(crate) const STAMPED: u8 = 0xFE;
// A format version reaching the tag would make codec values look stamped.
const _: () = assert!(crate::codec::STATE_FORMAT < STAMPED);

/// Length of the stamp (tag and write time) before the codec bytes.
pub(crate) const STAMP_LEN: usize = 9;

const HOUR_MS: i64 = 3_600_000;

/// How long (stream time) an entry lives after its last write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ttl(i64);

impl Ttl {
    /// A TTL of `days` days.
    pub const fn days(days: i64) -> Self {
        Self(days.saturating_mul(24 * HOUR_MS))
    }

    /// A TTL of `hours` hours.
    pub const fn hours(hours: i64) -> Self {
        Self(hours.saturating_mul(HOUR_MS))
    }

    /// The TTL in milliseconds.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Whether an entry written at stream time `written` has expired at `stream_time`.
    pub(crate) const fn expired(self, written: i64, stream_time: i64) -> bool {
        stream_time >= written.saturating_add(self.0)
    }
}

/// A store and its TTL (`None`: it lives until its owner deletes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreTtl {
    /// The store.
    pub store: StoreName,
    /// Its TTL, if it has one.
    pub ttl: Option<Ttl>,
}

impl StoreTtl {
    /// A store without TTL.
    pub const fn none(store: StoreName) -> Self {
        Self { store, ttl: None }
    }
}

/// The stamp of a write at stream time `written`.
pub(crate) fn stamp(written: i64) -> [u8; STAMP_LEN] {
    let mut out = [STAMPED; STAMP_LEN];
    out[1..].copy_from_slice(&encode_time(written));
    out
}

/// The write time of a stamped value, and the codec bytes after the stamp. A value without a
/// (complete) stamp is returned whole, for the codec to decode or refuse.
pub(crate) fn split(bytes: &[u8]) -> (Option<i64>, &[u8]) {
    match bytes.split_first_chunk::<STAMP_LEN>() {
        Some((head, rest)) if head[0] == STAMPED => {
            let mut time = [0; 8];
            time.copy_from_slice(&head[1..]);
            (Some(decode_time(time)), rest)
        }
        _ => (None, bytes),
    }
}

/// The codec bytes of a value read from a store with `ttl` at `stream_time`, or `None` when
/// the value has expired and so is hidden. Reads the stamp once, for both answers.
pub(crate) fn live(ttl: Option<Ttl>, bytes: &[u8], stream_time: i64) -> Option<&[u8]> {
    match (ttl, split(bytes)) {
        (Some(ttl), (Some(written), _)) if ttl.expired(written, stream_time) => None,
        (_, (_, codec)) => Some(codec),
    }
}

/// Concatenates store lists at compile time; `N` must be their total length (a wrong `N`
/// fails the build, or leaves empty names that the store-name test rejects).
pub(crate) const fn concat<const N: usize>(parts: &[&[StoreTtl]]) -> [StoreTtl; N] {
    crate::store::concat(parts, StoreTtl::none(StoreName("")))
}

/// The names of `stores`, in order.
pub(crate) const fn names<const N: usize>(stores: &[StoreTtl; N]) -> [StoreName; N] {
    let mut out = [StoreName(""); N];
    let mut i = 0;
    while i < N {
        out[i] = stores[i].store;
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests;
