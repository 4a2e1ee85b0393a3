//! What operators and connector owners see of a running processor on the mock cluster: the
//! JSON mirror of the actions, late records routed by configuration, and the metrics that
//! report lag, lateness and expired state, and the startup check of co-partitioning.

use std::time::{Duration, Instant};

use invex_detect::Policy;
use invex_model::{ActionCommand, CanonicalEvent, CanonicalTopic, DlqEnvelope, ErrorClass};
use invex_runtime::admin::{create_on_mock, detect_topics};
use invex_runtime::{LateRecords, Output, Processor, RuntimeError, Topics};

use crate::support::{
    APP, Cluster, Running, assert_same, expected, local_config, sim_events, sim_events_after,
    task_order,
};

#[test]
fn actions_are_mirrored_as_json_with_the_same_cloudevents_headers() {
    let env = Cluster::mock(2);
    let events = sim_events(11, 200, 4);
    env.produce(&events);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = env.config(dir.path());
    cfg.actions_json = true;
    let running = Running::start(cfg);
    running.wait_committed(&env.ends(&events));
    running.stop();

    let avro = env.read_output(Output::Actions);
    let json = env.read_output(Output::ActionsJson);
    assert!(!avro.is_empty(), "the input must produce actions");
    let mirrored: Vec<ActionCommand> =
        json.iter().map(|r| serde_json::from_slice(&r.value).expect("JSON action")).collect();
    assert_same("mirrored actions", &mirrored, &env.actions());
    for record in &json {
        assert_eq!(record.header("content-type"), "application/json");
        assert_eq!(record.header("ce_datacontenttype"), "application/json");
        let twin = avro
            .iter()
            .find(|a| a.header("ce_id") == record.header("ce_id"))
            .expect("every mirrored action has its Avro twin");
        for name in ["ce_type", "ce_subject", "ce_source", "ce_time", "idempotency-key"] {
            assert_eq!(record.header(name), twin.header(name), "{name}");
        }
        assert_eq!(record.key, twin.key);
    }
}

#[test]
fn late_records_go_to_the_dlq_when_configured_and_lag_is_reported() {
    let env = Cluster::mock(2);
    let events = sim_events(13, 200, 6);
    // Counts spread over the whole run, so the copy reaches the head of its partition only
    // once stream time has moved hours past it.
    let earliest: CanonicalEvent = events
        .iter()
        .filter(|e| e.topic() == CanonicalTopic::Count)
        .min_by_key(|e| e.header().event_time)
        .cloned()
        .unwrap();
    env.produce(&events);
    // The earliest count again, last in its partition: hours behind its task's stream time.
    env.produce(std::slice::from_ref(&earliest));
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = env.config(dir.path());
    cfg.grace = Duration::from_secs(3_600);
    cfg.late_records = LateRecords::DeadLetter;
    cfg.statistics_interval = Duration::from_millis(200);
    let running = Running::start(cfg);
    let mut ends = env.ends(&events);
    *ends
        .entry((env.topics.input(earliest.topic()).to_owned(), env.partition_of(&earliest)))
        .or_default() += 1;
    running.wait_committed(&ends);
    assert!(running.handle.is_ready(), "assigned and restored: ready");
    let rendered = wait_for_metric(&running, "invex_consumer_lag{");
    let handle = running.stop();

    let dead = env.read_output(Output::Dlq);
    assert_eq!(dead.len(), 1, "exactly the late copy is dead-lettered");
    assert_eq!(dead[0].header("invex.dlq.error.class"), "LATE");
    assert_eq!(dead[0].key.as_deref(), Some(earliest.partition_key().to_string().as_bytes()));
    let envelope: DlqEnvelope = env.codec.decode_output(Output::Dlq, &dead[0].value).unwrap();
    assert_eq!(envelope.error_class, ErrorClass::Late);
    assert!(envelope.schema_id.is_some(), "the re-encoded value names its schema id");
    let decoded = env.codec.decode(earliest.topic(), envelope.value.as_deref()).unwrap();
    assert_eq!(decoded, earliest, "the DLQ carries the original event");
    let (want_exceptions, want_actions) = expected(&env, &task_order(&env, &events));
    assert_same("exceptions", &env.exceptions(), &want_exceptions);
    assert_same("actions", &env.actions(), &want_actions);

    assert!(rendered.contains("invex_consumer_lag{partition=\"0\""), "{rendered}");
    let lateness = handle.metrics.record_lateness.get_sample_count();
    assert_eq!(lateness, events.len() as u64 + 1, "every event's lateness is recorded");
    assert_eq!(handle.metrics.dlq.with_label_values(&["LATE"]).get(), 1);
}

#[test]
fn state_past_its_ttl_is_purged_on_the_wall_clock_tick_and_counted() {
    let env = Cluster::mock(2);
    // A shift of picks, receipts and allocations, then another site-day 401 days later (a
    // different seed, so no event id repeats): stream time passes every store's TTL.
    let shift = sim_events(19, 60, 4);
    let later = sim_events_after(23, 60, 1, 401 * 24);
    env.produce(&shift);
    env.produce(&later);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = env.config(dir.path());
    cfg.wall_clock_tick = Duration::from_millis(100);
    let running = Running::start(cfg);
    let all: Vec<CanonicalEvent> = shift.iter().chain(&later).cloned().collect();
    running.wait_committed(&env.ends(&all));
    let deadline = Instant::now() + Duration::from_secs(20);
    while running.handle.metrics.expired.get() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let expired = running.handle.metrics.expired.get();
    let text = running.handle.metrics.render();
    running.stop();
    assert!(expired > 0, "entries of the first shift expire once stream time moved 401 days");
    assert!(text.contains(&format!("invex_state_expired_total {expired}")), "{text}");
}

/// The metrics text once it contains `needle` (statistics arrive on their own interval).
fn wait_for_metric(running: &Running, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = running.handle.metrics.render();
        if text.contains(needle) || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn startup_fails_naming_the_topics_whose_partition_counts_differ() {
    let mock = rdkafka::mocking::MockCluster::new(1).unwrap();
    let topics = Topics::new("", APP);
    let mut specs = detect_topics(&topics, &Cluster::stores(), 3, 2);
    let odd = topics.input(CanonicalTopic::Pick).to_owned();
    specs.iter_mut().filter(|s| s.name == odd).for_each(|s| s.partitions = 4);
    create_on_mock(&mock, &specs).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = local_config(&mock.bootstrap_servers(), APP, dir.path());
    let error = Processor::new(cfg, Policy::default_policy()).unwrap().run().unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, RuntimeError::Setup(_)), "{message}");
    assert!(message.contains("same partition count"), "{message}");
    assert!(message.contains(&format!("4 partitions: {odd}")), "{message}");
}
