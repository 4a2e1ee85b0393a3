//! Content-hash dedupe of the normalize processor, in the `norm.seen` store.
//!
//! Vendors retry: the same fact arrives again, often under a new message id and send time.
//! Its [`ContentHash`] does not change, so a task remembers the hashes it has published and
//! drops a hash it has seen within the TTL. Key layout (times are 8 bytes, big-endian with
//! the sign bit flipped, so they sort in time order):
//!
//! ```text
//! b'h' ++ hash (32 bytes)                -> seen_at    (lookup: when was this hash published?)
//! b'x' ++ bucket ++ hash (32 bytes)      -> empty      (expiry index, one entry per hash)
//! b"mstream_time"                        -> stream time (highest event time of the task)
//! b"mpurged_below"                       -> every bucket below this one is purged
//! ```
//!
//! Invariants and why they hold:
//! - Event time only: `seen_at` is the task's stream time when the hash was published, and a
//!   hash is a duplicate while the stream time is less than the TTL past it. Replays and
//!   restores therefore decide exactly as the first run did; the wall clock plays no part.
//! - One index entry per hash, in the hour bucket of its `seen_at`: a hash published again
//!   after its TTL moves to its new bucket (the old entry is deleted first), so purging a
//!   bucket may delete the hashes it lists unconditionally.
//! - No scan per record: a record costs one lookup and two writes. When the stream time
//!   enters a new hour, the buckets that have entirely expired are purged with one prefix
//!   scan that starts at the first bucket not yet purged (past the tombstones of earlier
//!   purges) and stops at the first live bucket, as detect's event-id dedupe does.
//! - Everything is in the store (the struct only caches it), so a task restored from the
//!   changelog continues exactly where the old one stopped.

use std::ops::ControlFlow;

use invex_state::{StateError, TaskStore};

use crate::normalize::ContentHash;

/// The store's name (a column family with a compacted changelog).
pub(crate) const SEEN: &str = "norm.seen";

const HASH_TAG: u8 = b'h';
const INDEX_TAG: u8 = b'x';
const STREAM_TIME_KEY: &[u8] = b"mstream_time";
const PURGED_KEY: &[u8] = b"mpurged_below";
/// Width of an expiry bucket.
const BUCKET_MS: i64 = 3_600_000;

/// A task's view of `norm.seen`: cached stream time and purge position.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    loaded: bool,
    stream_time: Option<i64>,
    /// Buckets below this have been purged (`None` before the first purge).
    purged_below: Option<i64>,
}

impl Seen {
    /// Highest event time the task has seen, once loaded.
    pub(crate) fn stream_time(&self) -> Option<i64> {
        self.stream_time
    }

    /// Notes an event of `event_time` with `hash`: true when it is new (and is now
    /// remembered), false when the same hash was published less than `ttl` ms of stream
    /// time ago.
    pub(crate) fn admit(
        &mut self,
        store: &mut TaskStore,
        hash: &ContentHash,
        event_time: i64,
        ttl: i64,
    ) -> Result<bool, StateError> {
        let now = self.advance(store, event_time, ttl)?;
        let key = hash_key(hash);
        if let Some(seen_at) = store.get(SEEN, &key)?.as_deref().and_then(decode_time) {
            if now.saturating_sub(seen_at) < ttl {
                return Ok(false);
            }
            store.delete(SEEN, &index_key(bucket_of(seen_at), hash))?;
        }
        store.put(SEEN, &key, &encode_time(now))?;
        store.put(SEEN, &index_key(bucket_of(now), hash), &[])?;
        Ok(true)
    }

    /// Moves the stream time to `event_time` if it is later, and purges the buckets that
    /// expired; returns the stream time.
    fn advance(
        &mut self,
        store: &mut TaskStore,
        event_time: i64,
        ttl: i64,
    ) -> Result<i64, StateError> {
        self.load(store)?;
        let now = self.stream_time.map_or(event_time, |st| st.max(event_time));
        if self.stream_time != Some(now) {
            store.put(SEEN, STREAM_TIME_KEY, &encode_time(now))?;
            self.stream_time = Some(now);
        }
        // A bucket is expired once every hash in it is older than the TTL: its end is at
        // least `ttl` behind the stream time.
        let below = bucket_of(now.saturating_sub(ttl));
        if self.purged_below.is_none_or(|done| below > done) {
            purge(store, self.purged_below.unwrap_or(i64::MIN), below)?;
            store.put(SEEN, PURGED_KEY, &encode_time(below))?;
            self.purged_below = Some(below);
        }
        Ok(now)
    }

    fn load(&mut self, store: &TaskStore) -> Result<(), StateError> {
        if !self.loaded {
            self.stream_time = store.get(SEEN, STREAM_TIME_KEY)?.as_deref().and_then(decode_time);
            self.purged_below = store.get(SEEN, PURGED_KEY)?.as_deref().and_then(decode_time);
            self.loaded = true;
        }
        Ok(())
    }
}

/// Deletes every hash filed in a bucket in `[from, below)`; returns how many.
fn purge(store: &mut TaskStore, from: i64, below: i64) -> Result<usize, StateError> {
    let start = bucket_prefix(from);
    let mut expired = Vec::new();
    store.scan_prefix_from(SEEN, &[INDEX_TAG], &start, &mut |key, _| match key
        .get(1..9)
        .and_then(decode_time)
    {
        Some(bucket) if bucket < below => {
            expired.push(key.to_vec());
            ControlFlow::Continue(())
        }
        _ => ControlFlow::Break(()),
    })?;
    for index in &expired {
        let mut key = [HASH_TAG; 33];
        if let Some(hash) = index.get(9..41) {
            key[1..].copy_from_slice(hash);
            store.delete(SEEN, &key)?;
        }
        store.delete(SEEN, index)?;
    }
    Ok(expired.len())
}

fn hash_key(hash: &ContentHash) -> [u8; 33] {
    let mut key = [HASH_TAG; 33];
    key[1..].copy_from_slice(&hash.0);
    key
}

fn bucket_prefix(bucket: i64) -> [u8; 9] {
    let mut key = [INDEX_TAG; 9];
    key[1..].copy_from_slice(&encode_time(bucket));
    key
}

fn index_key(bucket: i64, hash: &ContentHash) -> [u8; 41] {
    let mut key = [INDEX_TAG; 41];
    key[..9].copy_from_slice(&bucket_prefix(bucket));
    key[9..].copy_from_slice(&hash.0);
    key
}

/// Start of the bucket `time` falls in.
fn bucket_of(time: i64) -> i64 {
    time.div_euclid(BUCKET_MS).saturating_mul(BUCKET_MS)
}

/// Big-endian with the sign bit flipped: byte order is time order.
fn encode_time(time: i64) -> [u8; 8] {
    ((time as u64) ^ (1 << 63)).to_be_bytes()
}

fn decode_time(bytes: &[u8]) -> Option<i64> {
    let raw = <[u8; 8]>::try_from(bytes).ok()?;
    Some((u64::from_be_bytes(raw) ^ (1 << 63)) as i64)
}

#[cfg(test)]
mod tests {
    use invex_state::{SharedResources, StoreConfig};

    use super::*;

    const TTL: i64 = 24 * BUCKET_MS;

    fn open(dir: &std::path::Path) -> TaskStore {
        let shared = SharedResources::new(16 << 20).unwrap();
        TaskStore::open(&StoreConfig::new(dir, "test"), &shared, 0, &[SEEN]).unwrap()
    }

    fn hash(n: u8) -> ContentHash {
        ContentHash([n; 32])
    }

    fn entries(store: &TaskStore, tag: u8) -> usize {
        let mut n = 0;
        store
            .scan_prefix(SEEN, &[tag], &mut |_, _| {
                n += 1;
                ControlFlow::Continue(())
            })
            .unwrap();
        n
    }

    #[test]
    fn a_hash_is_a_duplicate_within_the_ttl_and_new_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        let mut seen = Seen::default();
        assert!(seen.admit(&mut store, &hash(1), 0, TTL).unwrap());
        assert!(!seen.admit(&mut store, &hash(1), 0, TTL).unwrap(), "a retry right after");
        assert!(seen.admit(&mut store, &hash(2), TTL - 1, TTL).unwrap());
        assert!(!seen.admit(&mut store, &hash(1), 0, TTL).unwrap(), "still within the TTL");
        assert!(seen.admit(&mut store, &hash(3), TTL, TTL).unwrap());
        assert!(seen.admit(&mut store, &hash(1), 0, TTL).unwrap(), "a TTL of stream time later");
        assert_eq!(seen.stream_time(), Some(TTL));
        assert_eq!(entries(&store, INDEX_TAG), 3, "one index entry per hash");
    }

    #[test]
    fn expired_buckets_are_purged_once_the_stream_time_passes_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        let mut seen = Seen::default();
        for n in 0..5 {
            assert!(seen.admit(&mut store, &hash(n), i64::from(n) * 60_000, TTL).unwrap());
        }
        assert!(seen.admit(&mut store, &hash(9), 2 * BUCKET_MS, TTL).unwrap());
        assert_eq!(entries(&store, HASH_TAG), 6);
        // The first hour expires once its end is a TTL behind the stream time.
        assert!(seen.admit(&mut store, &hash(10), BUCKET_MS + TTL - 1, TTL).unwrap());
        assert_eq!(entries(&store, HASH_TAG), 7, "not yet");
        assert!(seen.admit(&mut store, &hash(11), BUCKET_MS + TTL, TTL).unwrap());
        assert_eq!(entries(&store, HASH_TAG), 3, "the first hour's five hashes are gone");
        assert_eq!(entries(&store, INDEX_TAG), 3);
    }

    #[test]
    fn a_restored_store_continues_with_the_same_stream_time_and_hashes() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut store = open(dir.path());
            let mut seen = Seen::default();
            assert!(seen.admit(&mut store, &hash(1), 5 * BUCKET_MS, TTL).unwrap());
            store.take_changelog();
            store.commit(&[]).unwrap();
        }
        let mut store = open(dir.path());
        let mut seen = Seen::default();
        // An older event does not move the stream time back: the hash is still within TTL.
        assert!(!seen.admit(&mut store, &hash(1), 0, TTL).unwrap());
        assert_eq!(seen.stream_time(), Some(5 * BUCKET_MS));
    }

    #[test]
    fn times_sort_as_bytes() {
        let times = [i64::MIN, -BUCKET_MS, -1, 0, 1, BUCKET_MS, i64::MAX];
        for pair in times.windows(2) {
            assert!(encode_time(pair[0]) < encode_time(pair[1]));
            assert_eq!(decode_time(&encode_time(pair[0])), Some(pair[0]));
        }
        assert_eq!(bucket_of(-1), -BUCKET_MS);
        assert_eq!(bucket_of(i64::MIN), bucket_of(i64::MIN + 1));
    }
}
