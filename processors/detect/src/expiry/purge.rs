//! The purge: deletes expired entries of the stores with a TTL, a bounded batch at a time.
//!
//! A sweep walks one store in key order, at most [`SWEEP_BATCH`] entries per call, and:
//! - deletes an entry whose stamp has expired (a tombstone on the changelog);
//! - stamps an unstamped entry with the current stream time (the upgrade path, see the
//!   parent module);
//! - leaves a live one alone.
//!
//! Where it stopped is kept per store in `engine.meta` under `ttl_sweep/<store>`:
//!
//! ```text
//! { "resume": [key bytes] | null, "started": <stream time> | null }
//! ```
//!
//! `resume` is the key the next call starts at (the successor of the last visited key, so a
//! scan never steps over the tombstones it just wrote), `null` when no sweep is running;
//! `started` is the stream time at which the last sweep started. A new sweep starts once
//! stream time is [`SWEEP_EVERY_MS`] past that: entries only expire when stream time moves, so
//! sweeping again sooner would find nothing, and a quiet partition costs nothing. Because the
//! cursor is in the store, a sweep spans calls and survives restarts; because reads hide
//! expired entries, nothing observable depends on how far a sweep has got.

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

use super::{STAMPED, StoreTtl, Ttl, split, stamp};
use crate::codec::{decode, encode};
use crate::engine::META;
use crate::error::DetectError;
use crate::store::{Store, StoreName};

/// Most entries one call visits per store.
pub(crate) const SWEEP_BATCH: usize = 256;
/// Stream time between the starts of two sweeps of one store.
pub(crate) const SWEEP_EVERY_MS: i64 = 3_600_000;

/// Persisted progress of the sweeps of one store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Sweep {
    resume: Option<Vec<u8>>,
    started: Option<i64>,
}

/// What a sweep does with one visited entry.
enum Visit {
    Keep,
    Delete,
    Stamp(Vec<u8>),
}

fn cursor_key(store: StoreName) -> Vec<u8> {
    format!("ttl_sweep/{store}").into_bytes()
}

/// Runs one batch of the sweep of every store of `stores` that has a TTL, at `stream_time`;
/// returns how many entries it deleted. `batch` bounds the entries visited per store.
pub(crate) fn purge(
    store: &mut dyn Store,
    stores: &[StoreTtl],
    stream_time: i64,
    batch: usize,
) -> Result<usize, DetectError> {
    let mut expired = 0;
    for spec in stores {
        if let Some(ttl) = spec.ttl {
            expired += sweep(store, spec.store, ttl, stream_time, batch.max(1))?;
        }
    }
    Ok(expired)
}

fn sweep(
    store: &mut dyn Store,
    name: StoreName,
    ttl: Ttl,
    now: i64,
    batch: usize,
) -> Result<usize, DetectError> {
    let key = cursor_key(name);
    let mut state: Sweep = match store.get(META, &key)? {
        Some(bytes) => decode(META, &key, &bytes)?,
        None => Sweep::default(),
    };
    let from = match state.resume.take() {
        Some(from) => from,
        None if state.started.is_none_or(|s| now >= s.saturating_add(SWEEP_EVERY_MS)) => {
            state.started = Some(now);
            Vec::new()
        }
        None => return Ok(0),
    };
    let visited = visit(store, name, ttl, now, &from, batch)?;
    let mut expired = 0;
    for (k, visit) in &visited {
        match visit {
            Visit::Keep => {}
            Visit::Delete => {
                store.delete(name, k)?;
                expired += 1;
            }
            Visit::Stamp(value) => store.put(name, k, value)?,
        }
    }
    if visited.len() == batch {
        state.resume = visited.last().map(|(k, _)| successor(k));
    }
    store.put(META, &key, &encode(META, &key, &state)?)?;
    Ok(expired)
}

/// Up to `batch` entries of `name` from key `from` on, each with what to do with it.
fn visit(
    store: &dyn Store,
    name: StoreName,
    ttl: Ttl,
    now: i64,
    from: &[u8],
    batch: usize,
) -> Result<Vec<(Vec<u8>, Visit)>, DetectError> {
    let mut visited = Vec::with_capacity(batch.min(SWEEP_BATCH));
    store.scan_prefix_from(name, &[], from, &mut |k, v| {
        let visit = match split(v) {
            (Some(written), _) if ttl.expired(written, now) => Visit::Delete,
            // A malformed stamp is left for the reader's codec error.
            (Some(_), _) => Visit::Keep,
            (None, _) if v.first() == Some(&STAMPED) => Visit::Keep,
            (None, _) => Visit::Stamp([&stamp(now)[..], v].concat()),
        };
        visited.push((k.to_vec(), visit));
        if visited.len() >= batch { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    })?;
    Ok(visited)
}

/// The smallest key after `key`.
fn successor(key: &[u8]) -> Vec<u8> {
    let mut next = Vec::with_capacity(key.len() + 1);
    next.extend_from_slice(key);
    next.push(0);
    next
}
