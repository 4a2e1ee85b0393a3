//! Layout of the internal metadata column family.
//!
//! | key                       | value                                   |
//! |---------------------------|-----------------------------------------|
//! | `format-version`          | `u32` big-endian, currently `1`         |
//! | `checkpoint/<store name>` | `i64` big-endian changelog offset       |
//!
//! The store name is the whole rest of a checkpoint key, so keys of different stores never
//! collide. Values have fixed widths; any other width is reported as corruption rather than
//! guessed at.

/// Name of the metadata column family; store names may not use it.
pub(crate) const META_CF: &str = "__invex_meta";

/// Key of the on-disk format version.
pub(crate) const FORMAT_VERSION_KEY: &[u8] = b"format-version";

/// The format this crate reads and writes.
pub(crate) const FORMAT_VERSION: u32 = 1;

const CHECKPOINT_PREFIX: &[u8] = b"checkpoint/";

/// Metadata key holding the checkpoint of `store`.
pub(crate) fn checkpoint_key(store: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(CHECKPOINT_PREFIX.len() + store.len());
    key.extend_from_slice(CHECKPOINT_PREFIX);
    key.extend_from_slice(store.as_bytes());
    key
}

/// Encodes a changelog offset.
pub(crate) fn encode_offset(offset: i64) -> [u8; 8] {
    offset.to_be_bytes()
}

/// Decodes a changelog offset; `None` when the value does not have the expected width.
pub(crate) fn decode_offset(bytes: &[u8]) -> Option<i64> {
    bytes.try_into().ok().map(i64::from_be_bytes)
}

/// Encodes the format version.
pub(crate) fn encode_format(version: u32) -> [u8; 4] {
    version.to_be_bytes()
}

/// Decodes the format version; `None` when the value does not have the expected width.
fn decode_format(bytes: &[u8]) -> Option<u32> {
    bytes.try_into().ok().map(u32::from_be_bytes)
}

/// Why a stored format version cannot be read by this build; `None` when it can.
pub(crate) fn format_mismatch(raw: &[u8]) -> Option<String> {
    match decode_format(raw) {
        Some(FORMAT_VERSION) => None,
        Some(found) => {
            Some(format!("state format version {found}, this build reads version {FORMAT_VERSION}"))
        }
        None => Some(format!("format version has {} bytes, not 4", raw.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_including_extremes() {
        for offset in [i64::MIN, -1, 0, 1, 42, i64::MAX] {
            assert_eq!(decode_offset(&encode_offset(offset)), Some(offset));
        }
    }

    #[test]
    fn wrong_widths_are_rejected() {
        assert_eq!(decode_offset(&[0; 7]), None);
        assert_eq!(decode_offset(&[0; 9]), None);
        assert_eq!(decode_format(&[0; 3]), None);
        assert_eq!(decode_format(&encode_format(FORMAT_VERSION)), Some(1));
        assert_eq!(format_mismatch(&encode_format(FORMAT_VERSION)), None);
        assert!(format_mismatch(&encode_format(2)).is_some());
        assert!(format_mismatch(&[1]).is_some());
    }

    #[test]
    fn checkpoint_key_is_prefix_plus_name() {
        assert_eq!(checkpoint_key("open"), b"checkpoint/open".to_vec());
        assert_ne!(checkpoint_key("a"), checkpoint_key("a/"));
    }
}
