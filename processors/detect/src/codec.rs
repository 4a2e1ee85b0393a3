//! Encoding of state values.
//!
//! Every value a detector stores is `[format byte] ++ serde_json bytes`. The leading byte is
//! the format version of the value's schema, starting at [`STATE_FORMAT`] = 1. It exists because
//! state outlives code: a RocksDB store and its changelog topic written by one release are read
//! by the next, and frameworks that store bare serialized structs (Kafka Streams serdes, Flink
//! savepoints without schema) leave operators with "wipe the state" as the only way forward.
//!
//! Rules for evolving a state type:
//! - adding an `Option` field, or a field with `#[serde(default)]`, is compatible: old values
//!   decode with the default, and the format byte stays;
//! - any other change (rename, type change, removed meaning) bumps the format byte and adds a
//!   migration arm to [`decode`] that reads the old format and converts it;
//! - an unknown format byte (state written by a newer release) is an error that stops the
//!   task, never a silent reset.
//!
//! A store with a TTL puts a 9-byte stamp (tag byte 0xFE and the write's stream time) before
//! these bytes; the expiry module documents that layout. Format versions count up from 1 and
//! never reach the tag byte.
//!
//! JSON keeps values readable in the changelog topics and in `TestDriver::store`; the stored
//! types are small, so its cost is not the bottleneck.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::DetectError;
use crate::key::hex;
use crate::store::StoreName;

/// Current format version of every state value.
pub(crate) const STATE_FORMAT: u8 = 1;

/// Encodes a state value.
pub(crate) fn encode<T: Serialize>(
    store: StoreName,
    key: &[u8],
    value: &T,
) -> Result<Vec<u8>, DetectError> {
    encode_after(&[], store, key, value)
}

/// Encodes a state value after `prefix` (the expiry stamp), in one allocation.
pub(crate) fn encode_after<T: Serialize>(
    prefix: &[u8],
    store: StoreName,
    key: &[u8],
    value: &T,
) -> Result<Vec<u8>, DetectError> {
    let mut bytes = Vec::with_capacity(prefix.len() + 64);
    bytes.extend_from_slice(prefix);
    bytes.push(STATE_FORMAT);
    serde_json::to_writer(&mut bytes, value).map_err(|e| DetectError::State {
        store: store.as_str(),
        key: hex(key),
        action: "encoded",
        reason: e.to_string(),
    })?;
    Ok(bytes)
}

/// Decodes a state value written by [`encode`].
pub(crate) fn decode<T: DeserializeOwned>(
    store: StoreName,
    key: &[u8],
    bytes: &[u8],
) -> Result<T, DetectError> {
    let failure = |reason: String| DetectError::State {
        store: store.as_str(),
        key: hex(key),
        action: "decoded",
        reason,
    };
    match bytes.split_first() {
        Some((&STATE_FORMAT, json)) => {
            serde_json::from_slice(json).map_err(|e| failure(e.to_string()))
        }
        Some((other, _)) => Err(failure(format!("unknown state format version {other}"))),
        None => Err(failure("empty value".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: StoreName = StoreName("s");

    #[test]
    fn round_trip_and_version_byte() {
        let bytes = encode(S, b"k", &vec![1_i64, 2]).unwrap();
        assert_eq!(bytes[0], STATE_FORMAT);
        assert_eq!(decode::<Vec<i64>>(S, b"k", &bytes).unwrap(), vec![1, 2]);
    }

    #[test]
    fn unknown_version_and_garbage_stop_the_task() {
        let err = decode::<Vec<i64>>(S, b"k", b"\x02[1]").unwrap_err();
        assert!(!err.is_poison());
        assert!(err.to_string().contains("unknown state format version 2"), "{err}");
        assert!(decode::<Vec<i64>>(S, b"k", b"").is_err());
        assert!(decode::<Vec<i64>>(S, b"k", b"\x01{").is_err());
    }
}
