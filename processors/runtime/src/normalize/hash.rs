//! Content hashes for dedupe of vendor retries.
//!
//! A vendor that retries a delivery resends the same fact, but often with a fresh message
//! id, a new sequence number and a later send time. The content hash therefore covers the
//! whole canonical event except the three header fields a retry may change: `event_id`,
//! `record_time` and `source_seq` (the GS1 EPCIS event hash leaves out the event id and
//! the record time for the same reason). Everything else, including the topic, is hashed,
//! so two distinct facts never collide short of a BLAKE3 collision.
//!
//! The hashed form is the event's JSON serialization: field order is the model's declaration
//! order and floats print in their shortest round-trip form, so it is canonical for one
//! build. A model change changes hashes, which only matters within one dedupe window.

use std::fmt;

use invex_model::CanonicalEvent;

/// BLAKE3 of an event's content (see the module docs for what is left out): the 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    /// The content hash of `event`.
    pub fn of(event: &CanonicalEvent) -> Self {
        Self::of_owned(&mut event.clone())
    }

    /// The content hash of an event the caller owns: the excluded fields are blanked while
    /// hashing and restored after, so no copy is made.
    pub(crate) fn of_owned(event: &mut CanonicalEvent) -> Self {
        let header = event.header_mut();
        let event_id = std::mem::take(&mut header.event_id);
        let record_time = std::mem::take(&mut header.record_time);
        let source_seq = std::mem::take(&mut header.source_seq);
        // Serialized into one buffer and hashed in one call: serde writes in many tiny
        // pieces, and feeding those to the hasher one by one costs more than the copy.
        // Derived serializers of plain data into a Vec never fail; the marker keeps the
        // function total without a panic path.
        let mut buffer = Vec::with_capacity(1024);
        if serde_json::to_writer(&mut buffer, &*event).is_err() {
            buffer.extend_from_slice(b"\0unserializable");
        }
        let header = event.header_mut();
        header.event_id = event_id;
        header.record_time = record_time;
        header.source_seq = source_seq;
        Self(*blake3::hash(&buffer).as_bytes())
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({self})")
    }
}
