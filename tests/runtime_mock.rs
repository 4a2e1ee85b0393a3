//! The detect processor on librdkafka's in-process mock cluster.
//!
//! Each test seeds a small simulator run, produces it to the canonical topics (keys put on
//! known partitions), runs the real processor (consumer group, RocksDB, exactly-once) and
//! reads the outputs back with `read_committed`. The expected outputs come from the pure test
//! driver, one per partition, fed the same records in the order a task processes them.
//! The wall clock is pinned so that only stream time drives evaluations: outputs are then a
//! function of the input alone and can be compared byte for byte.
//!
//! The mock does not hide aborted transactions from read_committed readers, so a test whose
//! run aborts counts the copies (see `an_aborted_transaction_changes_no_state`).

use std::collections::BTreeMap;

use invex_model::CanonicalTopic;
use invex_runtime::Output;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

use crate::support::{
    Cluster, Running, assert_same, expected, sim_events, sim_events_after, task_order,
};

#[test]
fn outputs_equal_the_test_driver() {
    let env = Cluster::mock(3);
    let events = sim_events(7, 300, 4);
    // A poison record first: it must go to the DLQ without stopping its partition.
    let count_topic = env.topics.input(CanonicalTopic::Count).to_owned();
    env.produce_raw(&count_topic, 0, b"acme|DC1|SKU-1", b"not avro");
    env.produce(&events);
    let dir = tempfile::tempdir().unwrap();
    let running = Running::start(env.config(dir.path()));
    let mut ends = env.ends(&events);
    *ends.entry((count_topic.clone(), 0)).or_default() += 1;
    running.wait_committed(&ends);
    running.stop();

    let dead = env.read_output(Output::Dlq);
    assert_eq!(dead.len(), 1, "exactly the poison record is dead-lettered");
    assert_eq!(
        dead[0].key.as_deref(),
        Some(&b"acme|DC1|SKU-1"[..]),
        "the DLQ keeps the original key"
    );
    assert_eq!(dead[0].header("invex.dlq.topic"), count_topic);
    assert_eq!(dead[0].header("invex.dlq.partition"), "0");
    assert_eq!(dead[0].header("invex.dlq.offset"), "0");
    assert_eq!(dead[0].header("invex.dlq.error.class"), "DESERIALIZATION");

    let (want_exceptions, want_actions) = expected(&env, &task_order(&env, &events));
    assert!(
        !want_exceptions.is_empty() && !want_actions.is_empty(),
        "the input must produce outputs"
    );
    assert_same("exceptions", &env.exceptions(), &want_exceptions);
    assert_same("actions", &env.actions(), &want_actions);
}

/// An aborted transaction leaves no state change: the records it held are processed again and
/// their outputs produced again.
///
/// librdkafka's mock cluster does not hide aborted transactions from read_committed readers
/// (its fetch reply puts the last stable offset at the high watermark and lists no aborted
/// transactions), so the aborted attempt's outputs stay visible here and the test counts them:
/// every record the processor produced is visible, and the visible records are exactly the
/// driver's plus one more copy of each output of the aborted transaction. Had the aborted
/// batch's state survived, its records would have been taken for duplicates when read again
/// and produced no second copy. That the broker hides the aborted copies is the broker's part;
/// the real-broker suite probes whether its broker does.
#[test]
fn an_aborted_transaction_changes_no_state() {
    let env = Cluster::mock(2);
    let events = sim_events(11, 200, 3);
    env.produce(&events);
    let dir = tempfile::tempdir().unwrap();
    let running = Running::start(env.config(dir.path()));
    let produced = |output: &str| running.handle.metrics.outputs.with_label_values(&[output]).get();
    // Once exceptions have been committed, the group coordinator refuses the next
    // transactional offset commit as if a rebalance had happened (an abortable error): that
    // transaction is aborted, the consumer rewinds and the same records are processed again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while produced("exceptions") == 0 {
        assert!(std::time::Instant::now() < deadline, "no exception was produced");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    env.mock_cluster().request_errors(
        RDKafkaApiKey::TxnOffsetCommit,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION],
    );
    running.wait_committed(&env.ends(&events));
    let metrics = running.handle.metrics.render();
    let (exceptions_produced, actions_produced) = (produced("exceptions"), produced("actions"));
    running.stop();
    assert!(
        metrics.contains("invex_transactions_total{result=\"abort\"}"),
        "no transaction was aborted:\n{metrics}"
    );

    let (want_exceptions, want_actions) = expected(&env, &task_order(&env, &events));
    let (got_exceptions, got_actions) = (env.exceptions(), env.actions());
    assert_same("distinct exceptions", &distinct(&got_exceptions), &distinct(&want_exceptions));
    assert_same("distinct actions", &distinct(&got_actions), &distinct(&want_actions));
    assert_eq!(
        got_exceptions.len() as u64,
        exceptions_produced,
        "every produced record is visible"
    );
    assert_eq!(got_actions.len() as u64, actions_produced, "every produced record is visible");
    let again =
        (got_exceptions.len() - want_exceptions.len()) + (got_actions.len() - want_actions.len());
    assert!(again > 0, "the aborted transaction's records were not processed again");
}

/// The distinct records, as JSON lines, sorted.
fn distinct<T: serde::Serialize>(records: &[T]) -> Vec<String> {
    let set: std::collections::BTreeSet<String> =
        records.iter().map(|r| serde_json::to_string(r).unwrap()).collect();
    set.into_iter().collect()
}

/// A fresh instance restored from the changelogs of a complete run continues with later
/// events to exactly the driver's outputs.
#[test]
fn a_fresh_instance_continues_a_complete_run_exactly() {
    let env = Cluster::mock(2);
    let events = sim_events(11, 200, 3);
    env.produce(&events);
    let dir = tempfile::tempdir().unwrap();
    let running = Running::start(env.config(dir.path()));
    running.wait_committed(&env.ends(&events));
    running.stop();
    // (The mock cluster does not store
    // transactional offsets, so the fresh instance re-reads the first run too: its records are
    // duplicates by event id and change nothing. The second run is later in event time so the
    // task order is the first run, then the second.)
    let more = sim_events_after(12, 200, 3, 4);
    env.produce(&more);
    let fresh = tempfile::tempdir().unwrap();
    let running = Running::start(env.config(fresh.path()));
    let all: Vec<_> = events.iter().chain(&more).cloned().collect();
    running.wait_committed(&env.ends(&all));
    running.stop();
    let (want_exceptions, want_actions) =
        expected(&env, &task_order_by_offset(&env, &events, &more));
    assert_same("exceptions", &env.exceptions(), &want_exceptions);
    assert_same("actions", &env.actions(), &want_actions);
}

/// Two runs appended to the same topics: the second run's records come after the first's in
/// every partition, whatever their event times.
fn task_order_by_offset(
    env: &Cluster,
    first: &[invex_model::CanonicalEvent],
    second: &[invex_model::CanonicalEvent],
) -> Vec<invex_model::CanonicalEvent> {
    let mut ordered = task_order(env, first);
    ordered.extend(task_order(env, second));
    ordered
}

#[test]
fn a_stopped_instance_and_a_fresh_one_produce_exactly_the_uninterrupted_outputs() {
    let env = Cluster::mock(3);
    let events = sim_events(21, 300, 4);
    env.produce(&events);
    let first = tempfile::tempdir().unwrap();
    let mut cfg = env.config(first.path());
    // Small batches, stopped as soon as half the input is processed: the stop is seen between
    // two batches while input remains. (With the default batch of 5,000 and half a second to
    // commit first, the instance read the whole input before it saw the stop.)
    cfg.max_batch_records = 50;
    let running = Running::start(cfg);
    running.wait_processed(events.len() as u64 / 2);
    let done = running.stop().metrics.records_in.get();
    assert!(done < events.len() as u64, "the first instance must stop mid-stream");

    // A new instance on an empty state directory: it restores every task from the changelogs
    // and continues from the committed offsets.
    let second = tempfile::tempdir().unwrap();
    let running = Running::start(env.config(second.path()));
    running.wait_committed(&env.ends(&events));
    let handle = running.stop();
    assert!(handle.metrics.restored.get() > 0, "the fresh instance restored nothing");
    // librdkafka's mock cluster acknowledges transactional offset commits without storing
    // them, so the fresh instance re-reads every partition from the start: exactly-once output
    // then rests on the restored state (every event id processed is in the dedupe store's
    // changelog), which is what the assertions below check.

    let (want_exceptions, want_actions) = expected(&env, &task_order(&env, &events));
    let got_exceptions = env.exceptions();
    let got_actions = env.actions();
    let mut per_id: BTreeMap<(String, i64), usize> = BTreeMap::new();
    for e in &got_exceptions {
        *per_id.entry((e.exception_id.0.clone(), e.version)).or_default() += 1;
    }
    assert!(per_id.values().all(|n| *n == 1), "an exception version was produced twice");
    assert_same("exceptions", &got_exceptions, &want_exceptions);
    assert_same("actions", &got_actions, &want_actions);
    assert!(!env.read_output(Output::Audit).is_empty());
}
