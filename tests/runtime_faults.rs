//! Broker faults on librdkafka's mock cluster. Each test injects one kind of fault while the
//! detect processor runs exactly-once and ends with the outputs of the test driver's
//! uninterrupted run: nothing missing, nothing foreign (the mock cannot show "nothing twice":
//! it does not hide aborted transactions).

use std::time::{Duration, Instant};

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

use crate::support::{Cluster, Running, assert_same, expected, sim_events, task_order};

impl Cluster {
    /// The mock cluster, for fault injection.
    pub(crate) fn mock_cluster(&self) -> &MockCluster<'static, DefaultProducerContext> {
        self._mock.as_ref().expect("a mock cluster")
    }
}

impl Running {
    /// Waits until at least `records` input records were processed, committed or not.
    pub(crate) fn wait_processed(&self, records: u64) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.handle.metrics.records_in.get() < records {
            assert!(
                Instant::now() < deadline,
                "processed {} of {records}",
                self.handle.metrics.records_in.get()
            );
            assert!(!self.thread.is_finished(), "the processor stopped early");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Runs `events` through one instance, calling `fault` once a third of them are processed.
fn run_with_fault(
    env: &Cluster,
    events: &[invex_model::CanonicalEvent],
    fault: impl FnOnce(&Cluster),
) -> invex_runtime::ProcessorHandle {
    env.produce(events);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = env.config(dir.path());
    // Small batches, and the fault as soon as a third is processed: transactions still follow
    // it. (With the default batch of 5,000 and half a second to settle first, the instance
    // could read and commit its whole input before the fault, which then hit nothing.)
    cfg.max_batch_records = 50;
    let running = Running::start(cfg);
    running.wait_processed(events.len() as u64 / 3);
    fault(env);
    running.wait_committed(&env.ends(events));
    running.stop()
}

/// Nothing is missing and nothing foreign appears: the distinct outputs equal the driver's,
/// and every record the processor produced is visible. (Whether a broker hides the copies an
/// aborted transaction produced is the broker's part: librdkafka's mock cluster does not, see
/// `runtime_mock::an_aborted_transaction_changes_no_state`.)
fn assert_nothing_lost(
    env: &Cluster,
    events: &[invex_model::CanonicalEvent],
    handle: &invex_runtime::ProcessorHandle,
) {
    let (want_exceptions, want_actions) = expected(env, &task_order(env, events));
    assert!(!want_exceptions.is_empty(), "the input must produce exceptions");
    let produced = |output: &str| handle.metrics.outputs.with_label_values(&[output]).get();
    let (got_exceptions, got_actions) = (env.exceptions(), env.actions());
    assert_same("distinct exceptions", &distinct(&got_exceptions), &distinct(&want_exceptions));
    assert_same("distinct actions", &distinct(&got_actions), &distinct(&want_actions));
    assert_eq!(got_exceptions.len() as u64, produced("exceptions"));
    assert_eq!(got_actions.len() as u64, produced("actions"));
}

/// The distinct records, as JSON lines, sorted.
fn distinct<T: serde::Serialize>(records: &[T]) -> Vec<String> {
    let set: std::collections::BTreeSet<String> =
        records.iter().map(|r| serde_json::to_string(r).unwrap()).collect();
    set.into_iter().collect()
}

#[test]
fn the_broker_going_down_and_coming_back_loses_and_duplicates_nothing() {
    let env = Cluster::mock(2);
    let events = sim_events(51, 300, 4);
    let handle = run_with_fault(&env, &events, |env| {
        env.mock_cluster().broker_down(1).expect("broker down");
        std::thread::sleep(Duration::from_secs(3));
        env.mock_cluster().broker_up(1).expect("broker up");
    });
    assert_nothing_lost(&env, &events, &handle);
}

#[test]
fn errors_on_produce_fetch_and_commit_requests_lose_and_duplicate_nothing() {
    use RDKafkaRespErr::*;
    let env = Cluster::mock(2);
    let events = sim_events(52, 300, 4);
    let handle = run_with_fault(&env, &events, |env| {
        let mock = env.mock_cluster();
        let retriable =
            [RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT];
        mock.request_errors(RDKafkaApiKey::Produce, &retriable);
        mock.request_errors(RDKafkaApiKey::Fetch, &[RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION]);
        mock.request_errors(
            RDKafkaApiKey::EndTxn,
            &[RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS],
        );
        mock.request_errors(RDKafkaApiKey::AddOffsetsToTxn, &[RD_KAFKA_RESP_ERR_NOT_COORDINATOR]);
    });
    assert_nothing_lost(&env, &events, &handle);
}

#[test]
fn a_fenced_producer_is_rebuilt_and_its_transaction_redone() {
    let env = Cluster::mock(2);
    let events = sim_events(53, 300, 4);
    let handle = run_with_fault(&env, &events, |env| {
        env.mock_cluster().request_errors(
            RDKafkaApiKey::EndTxn,
            &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_PRODUCER_FENCED],
        );
    });
    assert_eq!(handle.metrics.producer_rebuilds.get(), 1, "the fenced producer was not rebuilt");
    assert_nothing_lost(&env, &events, &handle);
}

#[test]
fn a_failed_abort_and_unreadable_committed_offsets_cost_a_rebuild_and_a_retry_not_the_instance() {
    use RDKafkaRespErr::*;
    let env = Cluster::mock(2);
    let events = sim_events(54, 300, 4);
    let handle = run_with_fault(&env, &events, |env| {
        let mock = env.mock_cluster();
        // The next offset commit is refused (the transaction must abort), the abort fails
        // with an error librdkafka calls fatal, and the rewind's first offset fetch fails.
        mock.request_errors(
            RDKafkaApiKey::TxnOffsetCommit,
            &[RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION],
        );
        mock.request_errors(RDKafkaApiKey::EndTxn, &[RD_KAFKA_RESP_ERR_INVALID_TXN_STATE]);
        mock.request_errors(
            RDKafkaApiKey::OffsetFetch,
            &[RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED],
        );
    });
    let aborts = handle.metrics.transactions.with_label_values(&["abort"]).get();
    assert!(aborts >= 1, "no transaction was aborted");
    assert_eq!(handle.metrics.producer_rebuilds.get(), 1, "the producer was not rebuilt");
    assert_nothing_lost(&env, &events, &handle);
}
