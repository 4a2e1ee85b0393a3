//! The producer's delivery bookkeeping.
//!
//! Every record is sent with a small opaque tag: 0 for outputs, `k + 1` for the changelog of
//! store `k`. Delivery reports arrive while the producer is polled (during `flush`), and record
//! the highest offset per (store, partition) — the changelog checkpoint the task store commits
//! together with its data — and the first delivery failure, which fails the commit.

use std::collections::HashMap;
use std::sync::Mutex;

use rdkafka::ClientContext;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryResult, ProducerContext};

/// Offsets and failures seen since the last [`DeliveryTracker::take`].
#[derive(Debug, Default)]
pub(crate) struct Delivered {
    /// Highest delivered offset per (store index, partition).
    pub(crate) changelog: HashMap<(usize, i32), i64>,
    /// First failure, if any.
    pub(crate) failure: Option<KafkaError>,
    /// Records delivered.
    pub(crate) records: u64,
}

/// Producer context collecting delivery reports.
#[derive(Debug, Default)]
pub(crate) struct DeliveryTracker {
    state: Mutex<Delivered>,
}

impl DeliveryTracker {
    /// Takes what was recorded since the last call.
    pub(crate) fn take(&self) -> Delivered {
        self.state.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default()
    }
}

impl ClientContext for DeliveryTracker {}

impl ProducerContext for DeliveryTracker {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, tag: usize) {
        let Ok(mut state) = self.state.lock() else { return };
        match result {
            Ok(message) => {
                state.records += 1;
                if tag > 0 {
                    let slot = state.changelog.entry((tag - 1, message.partition())).or_insert(-1);
                    *slot = (*slot).max(message.offset());
                }
            }
            Err((error, _)) => {
                if state.failure.is_none() {
                    state.failure = Some(error.clone());
                }
            }
        }
    }
}
