//! Errors of the detect engine, classified by what the caller must do.
//!
//! - [`DetectError::InvalidEvent`] is *poison*: the input record is well-formed but
//!   semantically impossible (negative counted quantity, `count_seq` < 1, empty location, a
//!   quantity in another unit of measure than the ledger's, an internal record without a
//!   serial). The runtime sends the record to the DLQ and continues. The engine returns it
//!   before any write, so skipping the record leaves state as if it had never arrived.
//! - Every other variant means the task cannot go on (the store failed, or state written
//!   earlier cannot be read back): the runtime aborts the transaction and stops the instance.

use crate::store::StoreError;

/// Why the engine could not process an input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DetectError {
    /// The event is semantically impossible: send it to the DLQ and continue.
    #[error("invalid {topic} event {event_id:?}: {reason}")]
    InvalidEvent {
        /// Topic of the record: a canonical topic, or an internal topic's name stem.
        topic: &'static str,
        /// Its event id.
        event_id: String,
        /// What is wrong, in words.
        reason: String,
    },
    /// The backing store failed: stop.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A state value cannot be encoded or decoded (unknown format version, corrupt bytes): stop.
    #[error("state in store {store} at key {key} cannot be {action}: {reason}")]
    State {
        /// Store concerned.
        store: &'static str,
        /// Key, in hex.
        key: String,
        /// `decoded` or `encoded`.
        action: &'static str,
        /// Underlying reason.
        reason: String,
    },
}

impl DetectError {
    /// True when the input record should go to the DLQ and processing continue; false when
    /// the task must stop.
    pub fn is_poison(&self) -> bool {
        matches!(self, Self::InvalidEvent { .. })
    }

    /// A poison error for `event`.
    pub(crate) fn invalid(event: &invex_model::CanonicalEvent, reason: impl Into<String>) -> Self {
        Self::InvalidEvent {
            topic: event.topic().name(),
            event_id: event.header().event_id.clone(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_invalid_events_are_poison() {
        let poison = DetectError::InvalidEvent {
            topic: "wh.count",
            event_id: "e1".into(),
            reason: "negative".into(),
        };
        assert!(poison.is_poison());
        assert!(!DetectError::Store(StoreError::new("disk")).is_poison());
        let state = DetectError::State {
            store: "cc.ledger",
            key: "00".into(),
            action: "decoded",
            reason: "format 9".into(),
        };
        assert!(!state.is_poison());
    }
}
