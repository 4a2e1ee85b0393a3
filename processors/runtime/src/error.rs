//! Runtime errors, classified by what the caller must do.
//!
//! Record-level problems (undecodable bytes, impossible content) never surface here: they go
//! to the DLQ and processing continues. What remains stops the instance: the binary prints the
//! message and exits non-zero, and the orchestrator restarts it on the same state directory,
//! which is safe because local state only ever holds committed transactions.

use rdkafka::error::KafkaError;

/// Why a processor stopped.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The configuration or the cluster layout is wrong (missing topic, partition counts differ).
    #[error("{0}")]
    Setup(String),
    /// A Kafka client failed in a way retrying will not fix.
    #[error("kafka: {context}: {source}")]
    Kafka {
        /// What invex was doing.
        context: String,
        /// librdkafka's error.
        source: KafkaError,
    },
    /// Another instance with the same transactional id took over (zombie fencing).
    #[error("producer fenced while {0}: another instance owns this transactional id")]
    Fenced(String),
    /// Local state failed (disk full, corruption, directory locked by another process).
    #[error("state: {0}")]
    State(#[from] invex_state::StateError),
    /// A detector reported a bug-class failure (undecodable state).
    #[error("detector: {0}")]
    Detect(String),
    /// An output could not be encoded: the schemas in this build do not fit the model.
    #[error("codec: {0}")]
    Codec(#[from] crate::codec::CodecError),
}

impl RuntimeError {
    /// Wraps a Kafka error with context.
    pub fn kafka(context: impl Into<String>, source: KafkaError) -> Self {
        Self::Kafka { context: context.into(), source }
    }
}
