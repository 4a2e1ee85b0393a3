//! The dead-letter envelope (`dlq` topic).
//!
//! A record that cannot be decoded or is semantically impossible is not dropped and does not
//! stop its partition: it is wrapped with where it came from and why it failed. The original
//! key stays the record key; the envelope also repeats the metadata as record headers
//! (`invex.dlq.*`, in the spirit of KIP-1034) for tools that never decode values.

use serde::{Deserialize, Serialize};

/// What a failure asks of the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorClass {
    /// Bytes could not be decoded (bad framing, unknown schema id, wrong shape).
    Deserialization,
    /// Decoded, but the content is impossible (missing field, bad key, negative quantity).
    Validation,
    /// The detector refused it.
    Processing,
    /// Arrived after the grace period and the policy routes late records here.
    Late,
}

/// One dead-lettered record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DlqEnvelope {
    /// Topic it was read from.
    pub source_topic: String,
    /// Partition it was read from.
    pub source_partition: i32,
    /// Offset it was read at.
    pub source_offset: i64,
    /// Record timestamp (UTC ms), when it had one.
    pub source_timestamp: Option<i64>,
    /// Original key bytes.
    #[serde(with = "serde_bytes")]
    pub key: Option<Vec<u8>>,
    /// Original value bytes.
    #[serde(with = "serde_bytes")]
    pub value: Option<Vec<u8>>,
    /// Schema id from the Confluent framing, when there was one.
    pub schema_id: Option<i32>,
    /// Error class.
    pub error_class: ErrorClass,
    /// What was wrong, naming the field at fault where there is one.
    pub error_message: String,
    /// Processor that gave up on it.
    pub processor: String,
    /// Wall-clock time it was dead-lettered (UTC ms).
    pub failed_at: i64,
}
