//! The detect processor on librdkafka's in-process mock cluster.
//!
//! Each test seeds a small simulator run, produces it to the canonical topics (keys put on
//! known partitions), runs the real processor (consumer group, RocksDB, exactly-once) and
//! reads the outputs back with `read_committed`. The expected outputs come from the pure test
//! driver, one per partition, fed the same records in the order a task processes them.
//! The wall clock is pinned so that only stream time drives evaluations: outputs are then a
//! function of the input alone and can be compared byte for byte.

use std::collections::BTreeMap;

use invex_model::CanonicalTopic;
use invex_runtime::Output;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

use crate::support::{MockEnv, Running, canonical, expected, sim_events, sim_events_after};

/// Events in the order a task processes them: per partition, by event time, ties by topic.
fn task_order(
    env: &MockEnv,
    events: &[invex_model::CanonicalEvent],
) -> Vec<invex_model::CanonicalEvent> {
    let rank = |t: CanonicalTopic| CanonicalTopic::ALL.iter().position(|x| *x == t).unwrap_or(0);
    let mut ordered = events.to_vec();
    ordered.sort_by_key(|e| (env.partition_of(e), e.header().event_time, rank(e.topic())));
    ordered
}

#[test]
fn outputs_equal_the_test_driver() {
    let env = MockEnv::new(3);
    let events = sim_events(7, 300, 4);
    // A poison record first: it must go to the DLQ without stopping its partition.
    let count_topic = env.topics.input(CanonicalTopic::Count).to_owned();
    env.produce_raw(&count_topic, 0, b"acme|DC1|SKU-1", b"not avro");
    env.produce(&events);
    let dir = tempfile::tempdir().unwrap();
    let running = Running::start(env.config(dir.path()));
    running.wait_for(events.len() as u64 + 1);
    running.stop();

    let dead = env.read_output(Output::Dlq);
    assert_eq!(dead.len(), 1, "exactly the poison record is dead-lettered");
    assert_eq!(
        dead[0].0.as_deref(),
        Some(&b"acme|DC1|SKU-1"[..]),
        "the DLQ keeps the original key"
    );

    let (want_exceptions, want_actions) = expected(&env, &task_order(&env, &events));
    assert!(
        !want_exceptions.is_empty() && !want_actions.is_empty(),
        "the input must produce outputs"
    );
    assert_eq!(canonical(&env.exceptions()), canonical(&want_exceptions));
    assert_eq!(canonical(&env.actions()), canonical(&want_actions));
}

#[test]
fn an_aborted_transaction_leaves_nothing_visible_and_no_state_change() {
    let env = MockEnv::new(2);
    let events = sim_events(11, 200, 3);
    env.produce(&events);
    // The group coordinator refuses the first transactional offset commit as if a rebalance
    // had happened (an abortable error): that transaction is aborted, the consumer rewinds to
    // the committed offsets, and the same records are processed again.
    env.mock.request_errors(
        RDKafkaApiKey::TxnOffsetCommit,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION],
    );
    let dir = tempfile::tempdir().unwrap();
    let running = Running::start(env.config(dir.path()));
    running.wait_for(events.len() as u64);
    let aborts = running.handle.metrics.render();
    running.stop();
    assert!(
        aborts.contains("invex_transactions_total{result=\"abort\"}"),
        "no transaction was aborted:\n{aborts}"
    );

    // Nothing of the aborted attempt is visible: every output appears exactly as often as the
    // driver produced it (a visible aborted record would be a duplicate).
    let (want_exceptions, want_actions) = expected(&env, &task_order(&env, &events));
    assert_eq!(canonical(&env.exceptions()), canonical(&want_exceptions));
    assert_eq!(canonical(&env.actions()), canonical(&want_actions));

    // No state change survived the abort either: had the aborted batch's writes reached the
    // task's store, the records processed again after the rewind would have been taken for
    // duplicates and their outputs would be missing above.
}

/// A fresh instance restored from the changelogs of a complete run continues with later
/// events to exactly the driver's outputs.
#[test]
fn a_fresh_instance_continues_a_complete_run_exactly() {
    let env = MockEnv::new(2);
    let events = sim_events(11, 200, 3);
    env.produce(&events);
    let dir = tempfile::tempdir().unwrap();
    let running = Running::start(env.config(dir.path()));
    running.wait_for(events.len() as u64);
    running.stop();
    // (The mock cluster does not store
    // transactional offsets, so the fresh instance re-reads the first run too: its records are
    // duplicates by event id and change nothing. The second run is later in event time so the
    // task order is the first run, then the second.)
    let more = sim_events_after(12, 200, 3, 4);
    env.produce(&more);
    let fresh = tempfile::tempdir().unwrap();
    let running = Running::start(env.config(fresh.path()));
    running.wait_for((events.len() + more.len()) as u64);
    running.stop();
    let (want_exceptions, want_actions) =
        expected(&env, &task_order_by_offset(&env, &events, &more));
    assert_eq!(canonical(&env.exceptions()), canonical(&want_exceptions));
    assert_eq!(canonical(&env.actions()), canonical(&want_actions));
}

/// Two runs appended to the same topics: the second run's records come after the first's in
/// every partition, whatever their event times.
fn task_order_by_offset(
    env: &MockEnv,
    first: &[invex_model::CanonicalEvent],
    second: &[invex_model::CanonicalEvent],
) -> Vec<invex_model::CanonicalEvent> {
    let mut ordered = task_order(env, first);
    ordered.extend(task_order(env, second));
    ordered
}

#[test]
fn a_stopped_instance_and_a_fresh_one_produce_exactly_the_uninterrupted_outputs() {
    let env = MockEnv::new(3);
    let events = sim_events(21, 300, 4);
    env.produce(&events);
    let first = tempfile::tempdir().unwrap();
    let running = Running::start(env.config(first.path()));
    running.wait_for(events.len() as u64 / 2);
    let done = running.stop().metrics.records_in.get();
    assert!(done < events.len() as u64, "the first instance must stop mid-stream");

    // A new instance on an empty state directory: it restores every task from the changelogs
    // and continues from the committed offsets.
    let second = tempfile::tempdir().unwrap();
    let running = Running::start(env.config(second.path()));
    running.wait_for(events.len() as u64);
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
    assert_eq!(canonical(&got_exceptions), canonical(&want_exceptions));
    assert_eq!(canonical(&got_actions), canonical(&want_actions));
    assert!(!env.read_output(Output::Audit).is_empty());
}
