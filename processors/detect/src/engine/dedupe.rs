//! Event-id dedupe and the persisted stream time.
//!
//! `engine.seen` holds two key spaces:
//!
//! ```text
//! b'i' ++ tenant ++ event_id                      -> empty   (lookup: was this id seen?)
//! b'b' ++ bucket (8 bytes) ++ tenant ++ event_id  -> empty   (expiry index)
//! ```
//!
//! Event ids are unique per tenant only (each tenant's systems mint their own), so the tenant
//! is part of the key: one tenant's id never hides another tenant's event.
//!
//! An id is filed under the one-hour bucket of the stream time at which it arrived (not its
//! own event time, so a very late event still lands in a bucket whose purge is in the future).
//! One stream-time timer per bucket, due [`DEDUPE_TTL_MS`] after the bucket ends, deletes the
//! bucket with one prefix scan. So the store holds at most about seven days of ids, and a
//! duplicate arriving within seven days of stream time after the original is always caught.
//!
//! `engine.meta` holds the stream time under `stream_time`, encoded like every state value
//! (format byte + JSON, see the codec module), and the TTL purge's cursors (see the expiry
//! module's purge). The `engine.seen` entries are presence-only:
//! their values are empty and their meaning is in the key layout, whose tag bytes would change
//! if it ever did.

use std::ops::ControlFlow;

use crate::codec::{decode, encode};
use crate::error::DetectError;
use crate::key::{Key, encode_time};
use crate::store::{Store, StoreName};

/// Seen event ids and their expiry index.
pub(crate) const SEEN: StoreName = StoreName("engine.seen");
/// Engine metadata (stream time).
pub(crate) const META: StoreName = StoreName("engine.meta");

const HOUR_MS: i64 = 3_600_000;
/// Width of an expiry bucket.
pub(crate) const BUCKET_MS: i64 = HOUR_MS;
/// How long (stream time) an event id is remembered after its bucket ends.
pub(crate) const DEDUPE_TTL_MS: i64 = 7 * 24 * HOUR_MS;

const ID_TAG: u8 = b'i';
const BUCKET_TAG: u8 = b'b';
const STREAM_TIME_KEY: &[u8] = b"stream_time";

fn id_key(tenant: &str, event_id: &str) -> Vec<u8> {
    Key::new().byte(ID_TAG).str(tenant).str(event_id).into_bytes()
}

fn bucket_prefix(bucket: i64) -> Vec<u8> {
    Key::new().byte(BUCKET_TAG).time(bucket).into_bytes()
}

/// Start of the bucket that `stream_time` falls in.
pub(crate) fn bucket_of(stream_time: i64) -> i64 {
    stream_time.div_euclid(BUCKET_MS) * BUCKET_MS
}

/// Stream time at which a bucket is purged.
pub(crate) fn purge_due(bucket: i64) -> i64 {
    bucket.saturating_add(BUCKET_MS).saturating_add(DEDUPE_TTL_MS)
}

/// Timer key of a bucket's purge.
pub(crate) fn purge_timer_key(bucket: i64) -> [u8; 8] {
    encode_time(bucket)
}

/// Whether `event_id` of `tenant` was seen.
pub(crate) fn is_seen(
    store: &dyn Store,
    tenant: &str,
    event_id: &str,
) -> Result<bool, DetectError> {
    Ok(store.get(SEEN, &id_key(tenant, event_id))?.is_some())
}

/// Records `event_id` of `tenant` under `bucket`.
pub(crate) fn mark(
    store: &mut dyn Store,
    tenant: &str,
    event_id: &str,
    bucket: i64,
) -> Result<(), DetectError> {
    store.put(SEEN, &id_key(tenant, event_id), &[])?;
    let index = Key::new().raw(&bucket_prefix(bucket)).str(tenant).str(event_id).into_bytes();
    store.put(SEEN, &index, &[])?;
    Ok(())
}

/// Forgets every id of `bucket`; returns how many.
pub(crate) fn purge(store: &mut dyn Store, bucket: i64) -> Result<usize, DetectError> {
    let prefix = bucket_prefix(bucket);
    let mut keys = Vec::new();
    store.scan_prefix(SEEN, &prefix, &mut |k, _| {
        keys.push(k.to_vec());
        ControlFlow::Continue(())
    })?;
    for index_key in &keys {
        let id = &index_key[prefix.len()..];
        store.delete(SEEN, &Key::new().byte(ID_TAG).raw(id).into_bytes())?;
        store.delete(SEEN, index_key)?;
    }
    Ok(keys.len())
}

/// Reads the persisted stream time.
pub(crate) fn load_stream_time(store: &dyn Store) -> Result<Option<i64>, DetectError> {
    match store.get(META, STREAM_TIME_KEY)? {
        None => Ok(None),
        Some(bytes) => decode(META, STREAM_TIME_KEY, &bytes).map(Some),
    }
}

/// Persists the stream time.
pub(crate) fn save_stream_time(store: &mut dyn Store, stream_time: i64) -> Result<(), DetectError> {
    let bytes = encode(META, STREAM_TIME_KEY, &stream_time)?;
    Ok(store.put(META, STREAM_TIME_KEY, &bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;

    #[test]
    fn purge_forgets_one_bucket_only() {
        let mut store = MemStore::new();
        mark(&mut store, "t1", "a", 0).unwrap();
        mark(&mut store, "t1", "b", BUCKET_MS).unwrap();
        mark(&mut store, "t2", "a", BUCKET_MS).unwrap();
        assert_eq!(purge(&mut store, 0).unwrap(), 1);
        assert!(!is_seen(&store, "t1", "a").unwrap());
        assert!(is_seen(&store, "t1", "b").unwrap());
        assert!(is_seen(&store, "t2", "a").unwrap(), "ids are per tenant");
        assert_eq!(store.entries(SEEN).len(), 4);
    }

    #[test]
    fn buckets_floor_negative_times() {
        assert_eq!(bucket_of(-1), -BUCKET_MS);
        assert_eq!(bucket_of(BUCKET_MS + 5), BUCKET_MS);
        assert_eq!(purge_due(0), BUCKET_MS + DEDUPE_TTL_MS);
    }

    #[test]
    fn stream_time_round_trips() {
        let mut store = MemStore::new();
        assert_eq!(load_stream_time(&store).unwrap(), None);
        save_stream_time(&mut store, -42).unwrap();
        assert_eq!(load_stream_time(&store).unwrap(), Some(-42));
    }
}
