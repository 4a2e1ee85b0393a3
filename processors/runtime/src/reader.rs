//! The client context of consumers that read topics to their end: changelog restore, and the
//! readers of the demo, `invex evaluate`, the benchmarks and the tests.
//!
//! Such a consumer sets `enable.partition.eof` to know when it has read everything, and
//! librdkafka hands every end-of-partition event to the context's error callback as well. The
//! default context logs each one at ERROR ("Global error: PartitionEOF"), which buries real
//! errors under routine ones; this context drops them and logs every other error.

use rdkafka::client::ClientContext;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;

use crate::rebalance::is_end_of_partition;

/// A consumer context for which reaching the end of a partition is not an error.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReaderContext;

impl ClientContext for ReaderContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if !is_end_of_partition(&error) {
            tracing::error!(%error, reason, "librdkafka error (reader)");
        }
    }
}

impl ConsumerContext for ReaderContext {}
