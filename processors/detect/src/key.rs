//! Byte encoding of state keys.
//!
//! Stores are ordered byte maps (RocksDB column families), so a key layout decides what a
//! prefix scan returns and in which order. Keys are built from components with two invariants:
//!
//! - **prefix-free**: no encoded component is a prefix of another one, so the prefix of
//!   location `L1` never matches the entries of location `L10`. Strings are written with every
//!   `0x00` byte escaped as `0x00 0xFF` and terminated by `0x00 0x01`.
//! - **order-preserving**: byte order equals component order. Strings keep their byte order
//!   (the escape and terminator sort below every other continuation); times (`i64`) are
//!   written big-endian with the sign bit flipped, so negative times sort before positive ones;
//!   an optional string is `0x00` when absent and `0x01` + the string when present.

/// Terminator written after every string component.
const STR_END: [u8; 2] = [0x00, 0x01];
/// Escape of a `0x00` byte inside a string component.
const NUL_ESCAPE: [u8; 2] = [0x00, 0xFF];

/// Builder of an encoded key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Key(Vec<u8>);

impl Key {
    /// An empty key.
    pub(crate) fn new() -> Self {
        Self(Vec::with_capacity(64))
    }

    /// Appends a string component.
    pub(crate) fn str(mut self, s: &str) -> Self {
        for &b in s.as_bytes() {
            if b == 0 {
                self.0.extend_from_slice(&NUL_ESCAPE);
            } else {
                self.0.push(b);
            }
        }
        self.0.extend_from_slice(&STR_END);
        self
    }

    /// Appends an optional string component.
    pub(crate) fn opt_str(mut self, s: Option<&str>) -> Self {
        match s {
            None => {
                self.0.push(0);
                self
            }
            Some(s) => {
                self.0.push(1);
                self.str(s)
            }
        }
    }

    /// Appends a time (or any `i64`) so that byte order is numeric order.
    pub(crate) fn time(mut self, t: i64) -> Self {
        self.0.extend_from_slice(&encode_time(t));
        self
    }

    /// Appends one tag byte.
    pub(crate) fn byte(mut self, b: u8) -> Self {
        self.0.push(b);
        self
    }

    /// Appends bytes that are already an encoded key (or the last, raw component).
    pub(crate) fn raw(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }

    /// The encoded bytes.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

/// Order-preserving encoding of an `i64`.
pub(crate) fn encode_time(t: i64) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

/// Inverse of [`encode_time`].
pub(crate) fn decode_time(bytes: [u8; 8]) -> i64 {
    (u64::from_be_bytes(bytes) ^ (1 << 63)) as i64
}

/// Reads components back from an encoded key.
#[derive(Debug)]
pub(crate) struct KeyReader<'a> {
    rest: &'a [u8],
}

impl<'a> KeyReader<'a> {
    /// Starts reading at the beginning of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// Reads one tag byte.
    pub(crate) fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(b)
    }

    /// Reads a time component.
    pub(crate) fn time(&mut self) -> Option<i64> {
        let (head, rest) = self.rest.split_first_chunk::<8>()?;
        self.rest = rest;
        Some(decode_time(*head))
    }

    /// Reads a string component.
    pub(crate) fn str(&mut self) -> Option<String> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.rest.len() {
            match (self.rest[i], self.rest.get(i + 1)) {
                (0x00, Some(0x01)) => {
                    self.rest = &self.rest[i + 2..];
                    return String::from_utf8(out).ok();
                }
                (0x00, Some(0xFF)) => {
                    out.push(0);
                    i += 2;
                }
                (0x00, _) => return None,
                (b, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        None
    }

    /// Whatever has not been read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.rest
    }
}

/// Lower-case hex of a key, for error messages.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn strings_are_prefix_free() {
        let l1 = Key::new().str("L1").into_bytes();
        let l10 = Key::new().str("L10").into_bytes();
        assert!(!l10.starts_with(&l1));
        assert!(l1 < l10);
    }

    #[test]
    fn optional_strings_sort_absent_first() {
        let none = Key::new().opt_str(None).into_bytes();
        let empty = Key::new().opt_str(Some("")).into_bytes();
        assert!(none < empty);
    }

    proptest! {
        #[test]
        fn times_keep_numeric_order(a in any::<i64>(), b in any::<i64>()) {
            prop_assert_eq!(a.cmp(&b), encode_time(a).cmp(&encode_time(b)));
            prop_assert_eq!(decode_time(encode_time(a)), a);
        }

        #[test]
        fn strings_keep_order_and_round_trip(a in ".*", b in "\\PC*") {
            let ka = Key::new().str(&a).time(7).into_bytes();
            let kb = Key::new().str(&b).time(7).into_bytes();
            prop_assert_eq!(a.as_bytes().cmp(b.as_bytes()), ka.cmp(&kb));
            let mut reader = KeyReader::new(&ka);
            prop_assert_eq!(reader.str(), Some(a));
            prop_assert_eq!(reader.time(), Some(7));
            prop_assert!(reader.rest().is_empty());
        }
    }
}
