//! The producer's delivery bookkeeping.
//!
//! Every record is sent with a small opaque tag: 0 for outputs, `k + 1` for the changelog of
//! store `k`. Delivery reports arrive while the producer is polled (during [`flush_producer`],
//! which every commit calls instead of rdkafka's `flush`: see its documentation for why), and
//! record the highest offset per (store, partition) — the changelog checkpoint the task store
//! commits together with its data — and the first delivery failure, which fails the commit.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, DeliveryResult, Producer, ProducerContext};

/// How long one wait for delivery reports lasts inside [`flush_producer`]: the longest a flush
/// overshoots the last report. Not shorter, because rdkafka's `poll` spins for the last partial
/// millisecond of its timeout (it rounds the time left down to whole milliseconds and polls
/// with 0 once under one), which with 1 ms slices made most of a flush's wait a spin:
/// `clock_gettime` took 10 % of an exactly-once instance's samples under `perf record`.
pub(crate) const FLUSH_SLICE: Duration = Duration::from_millis(5);

/// Sends everything queued now and serves delivery reports until every record sent so far is
/// delivered or failed; a timeout after `timeout`.
///
/// rdkafka's `BaseProducer::flush` waits in slices of 100 ms, and its `poll` returns only when
/// its timeout has passed, not when a report arrives: every flush with a record in flight took
/// 100 ms or a multiple of it. Once per commit, that was most of an exactly-once commit and of
/// the latency it adds (the bench measured flushes of exactly 100, 200 or 300 ms, whether 4 or
/// 7,000 records were in flight). Here the slices are `FLUSH_SLICE` (5 ms): each round calls
/// librdkafka's flush without waiting, which wakes the broker threads to send what is queued,
/// then serves reports for one slice.
pub fn flush_producer<C: ProducerContext>(
    producer: &BaseProducer<C>,
    timeout: Duration,
) -> KafkaResult<()> {
    let deadline = Instant::now() + timeout;
    loop {
        match producer.flush(Duration::ZERO) {
            Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut))
                if Instant::now() < deadline =>
            {
                producer.poll(FLUSH_SLICE);
            }
            done => return done,
        }
    }
}

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

#[cfg(test)]
mod tests {
    use rdkafka::ClientConfig;
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::BaseRecord;

    use super::*;

    #[test]
    fn flush_returns_once_every_record_has_its_delivery_report() {
        let mock = MockCluster::new(1).expect("mock cluster");
        mock.create_topic("changelog", 3, 1).expect("topic");
        let producer: BaseProducer<DeliveryTracker> = ClientConfig::new()
            .set("bootstrap.servers", mock.bootstrap_servers())
            .set("linger.ms", "5")
            .create_with_context(DeliveryTracker::default())
            .expect("producer");
        for i in 0..300 {
            let record = BaseRecord::with_opaque_to("changelog", 1).partition(i % 3).payload("v");
            producer.send::<(), _>(record).map_err(|(e, _)| e).expect("send");
        }

        flush_producer(&producer, Duration::from_secs(30)).expect("flush");

        assert_eq!(producer.in_flight_count(), 0);
        let delivered = producer.context().take();
        assert_eq!(delivered.records, 300);
        assert!(delivered.failure.is_none());
        let highest: Vec<i64> = (0..3).map(|p| delivered.changelog[&(0, p)]).collect();
        assert_eq!(highest, vec![99, 99, 99], "the highest offset of each changelog partition");
    }
}
