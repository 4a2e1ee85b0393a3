//! The kpi processor on librdkafka's in-process mock cluster.
//!
//! Exception versions and audit records are produced as detect writes them (Avro, keyed by
//! exception id) to `exceptions` and `audit`, each on the partition its key hashes to (FNV-1a
//! here, known to the test); the real processor (consumer group, RocksDB, exactly-once)
//! publishes to `kpi`, read back with read_committed. What it must publish is what the pure
//! aggregator publishes, task by task, over the same records in the order a task takes them
//! (per partition, the earliest head of the two topics first): every window once, nothing
//! else. The gauges are checked in the `/metrics` text, summed over the two tasks.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use invex_detect::{KpiAggregator, MemStore};
use invex_model::{
    AuditRecord, Decision, ExceptionId, ExceptionRecord, ExceptionStatus, ExceptionType, KpiRecord,
    OwnerTeam, Quantities, RootCause, RootCauseCategory, Valuation,
};
use invex_runtime::admin::{create_on_mock, kpi_topics};
use invex_runtime::{Clock, Output, Processor, RuntimeConfig, Topics};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use crate::support::{Cluster, Running, assert_same, local_config};

const KPI_APP: &str = "invex-test-kpi";
/// Tasks of the kpi processor: the mock cluster's output partition count.
const TASKS: i32 = 2;
/// 2026-01-01T00:00:00Z, a whole hour.
const T0: i64 = 1_767_225_600_000;
const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const GRACE: i64 = 10 * MIN;
const CC: ExceptionType = ExceptionType::CycleCountDiscrepancy;

/// One record of the kpi processor's inputs.
#[derive(Clone)]
enum Input {
    Exception(Box<ExceptionRecord>),
    Audit(Box<AuditRecord>),
}

impl Input {
    fn id(&self) -> &str {
        match self {
            Self::Exception(r) => &r.exception_id.0,
            Self::Audit(r) => &r.exception_id.0,
        }
    }

    fn time(&self) -> i64 {
        match self {
            Self::Exception(r) => r.updated_at,
            Self::Audit(r) => r.at,
        }
    }

    /// Index of its topic among the processor's inputs.
    fn input(&self) -> usize {
        match self {
            Self::Exception(_) => 0,
            Self::Audit(_) => 1,
        }
    }

    fn partition(&self) -> i32 {
        partition_of(self.id())
    }
}

fn partition_of(key: &str) -> i32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in key.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    (h % TASKS as u32) as i32
}

/// Version `v` of a cycle-count exception of `site` opened at `opened_at`, worth 10 EUR.
fn record(
    id: &str,
    site: &str,
    v: i64,
    status: ExceptionStatus,
    opened_at: i64,
    at: i64,
) -> ExceptionRecord {
    let terminal = !status.is_open();
    ExceptionRecord {
        exception_id: ExceptionId(id.to_owned()),
        version: v,
        exception_type: CC,
        subtype: None,
        severity: 3,
        status,
        status_reason: None,
        tenant_id: "t1".to_owned(),
        site_id: site.to_owned(),
        subject: "SKU-1|A-01".to_owned(),
        location_id: None,
        sku: "SKU-1".to_owned(),
        lot: None,
        quantities: Quantities {
            expected: Some(100),
            observed: Some(90),
            book: Some(100),
            variance: -10,
            variance_pct: Some(-10.0),
            uom: "EA".to_owned(),
        },
        valuation: Valuation { variance_value: -10.0, unit_cost: 1.0, currency: "EUR".to_owned() },
        rule_id: "CC-001".to_owned(),
        policy_version: "p1".to_owned(),
        opened_at,
        updated_at: at,
        resolved_at: terminal.then_some(at),
        resolution: None,
        source_event_ids: Vec::new(),
        root_cause: Some(RootCause {
            category: RootCauseCategory::Process,
            code: "MISCOUNT".to_owned(),
            confidence: 0.5,
            signals: Vec::new(),
        }),
        owner_team: OwnerTeam::InventoryControl,
        approval: None,
        recount_attempts: 0,
        escalation_level: 0,
        correlation: BTreeMap::new(),
    }
}

fn opened(id: &str, site: &str, at: i64) -> Input {
    Input::Exception(Box::new(record(id, site, 1, ExceptionStatus::Open, at, at)))
}

fn resolved(id: &str, site: &str, opened_at: i64, at: i64) -> Input {
    Input::Exception(Box::new(record(id, site, 2, ExceptionStatus::Resolved, opened_at, at)))
}

/// The audit record of a first count of `site` evaluated at `at`.
fn evaluation(id: &str, site: &str, hit: bool, at: i64) -> Input {
    let details = [("within_tolerance", hit.to_string()), ("count_seq", "1".to_owned())];
    Input::Audit(Box::new(AuditRecord {
        audit_id: format!("audit-{id}"),
        exception_id: ExceptionId(id.to_owned()),
        exception_version: 1,
        tenant_id: "t1".to_owned(),
        site_id: site.to_owned(),
        at,
        decision: if hit { Decision::AcceptedWithinTolerance } else { Decision::Opened },
        from_status: None,
        to_status: if hit { ExceptionStatus::Resolved } else { ExceptionStatus::Open },
        rule_id: "CC-001".to_owned(),
        policy_version: "p1".to_owned(),
        input_event_ids: Vec::new(),
        actor: None,
        action_ids: Vec::new(),
        note: String::new(),
        details: details.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    }))
}

/// An exception id that hashes to `task`.
fn id_on(task: i32, prefix: &str) -> String {
    (0..).map(|i| format!("{prefix}-{i}")).find(|id| partition_of(id) == task).unwrap_or_default()
}

/// Ids of `n` exceptions, alternating between the two tasks.
fn ids(prefix: &str, n: usize) -> Vec<String> {
    let mut per_task: [Vec<String>; 2] = Default::default();
    for i in 0.. {
        let id = format!("{prefix}-{i}");
        let task = &mut per_task[partition_of(&id) as usize];
        if task.len() < n.div_ceil(2) {
            task.push(id);
        }
        if per_task.iter().map(Vec::len).sum::<usize>() == 2 * n.div_ceil(2) {
            break;
        }
    }
    let [a, b] = per_task;
    a.into_iter().zip(b).flat_map(|(a, b)| [a, b]).take(n).collect()
}

/// Hour 0 at DC1 and DC2: openings, resolutions, count evaluations and a replayed version;
/// then a record per task in hour 3 so every task's stream time closes hours 0 to 1.
fn traffic() -> Vec<Input> {
    let dc1 = ids("dc1", 4);
    let dc2 = ids("dc2", 2);
    let mut inputs = Vec::new();
    for (i, id) in dc1.iter().enumerate() {
        inputs.push(opened(id, "DC1", T0 + i as i64 * MIN));
        inputs.push(evaluation(id, "DC1", false, T0 + i as i64 * MIN));
    }
    for (i, id) in dc2.iter().enumerate() {
        inputs.push(opened(id, "DC2", T0 + 10 * MIN + i as i64 * MIN));
    }
    inputs.push(evaluation("hit-1", "DC1", true, T0 + 20 * MIN));
    inputs.push(resolved(&dc1[0], "DC1", T0, T0 + 30 * MIN));
    inputs.push(resolved(&dc1[1], "DC1", T0 + MIN, T0 + 70 * MIN));
    // A replay of a version already applied: counted once.
    inputs.push(opened(&dc1[2], "DC1", T0 + 2 * MIN));
    for id in ids("late", 2) {
        inputs.push(opened(&id, "DC2", T0 + 3 * HOUR));
    }
    inputs
}

/// A mock cluster with detect's topics and the kpi processor's changelogs and `kpi` topic.
fn cluster() -> (Cluster, Topics) {
    let env = Cluster::mock(2);
    let names = Topics::new("", KPI_APP);
    let existing = [Output::Exceptions, Output::Audit, Output::Dlq].map(|o| env.topics.output(o));
    let new: Vec<_> =
        kpi_topics(&names, TASKS).into_iter().filter(|s| !existing.contains(&s.name)).collect();
    create_on_mock(env.mock_cluster(), &new).unwrap();
    (env, names)
}

/// Produces `inputs` in order, each to its topic and partition, counting the end offsets.
fn produce(env: &Cluster, inputs: &[Input], ends: &mut BTreeMap<(String, i32), i64>) {
    let producer: BaseProducer = env.client().create().expect("producer");
    let mut buf = Vec::new();
    for input in inputs {
        let output = [Output::Exceptions, Output::Audit][input.input()];
        match input {
            Input::Exception(r) => env.codec.encode_output(output, &**r, &mut buf).unwrap(),
            Input::Audit(r) => env.codec.encode_output(output, &**r, &mut buf).unwrap(),
        }
        let topic = env.topics.output(output);
        let record = BaseRecord::to(&topic)
            .key(input.id().as_bytes())
            .payload(&buf)
            .partition(input.partition());
        producer.send(record).map_err(|(e, _)| e).expect("send");
        *ends.entry((topic, input.partition())).or_default() += 1;
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
}

fn config(env: &Cluster, dir: &std::path::Path) -> RuntimeConfig {
    let mut cfg = local_config(&env.bootstrap, KPI_APP, dir);
    cfg.kpi.grace = Duration::from_millis(GRACE as u64);
    cfg
}

fn start(cfg: RuntimeConfig, clock: Clock) -> Running {
    let processor = Processor::kpi(cfg).unwrap().with_clock(clock);
    let handle = processor.handle();
    let thread = std::thread::spawn(move || processor.run());
    Running { handle, thread }
}

fn pinned(at: i64) -> Clock {
    Arc::new(move || at)
}

/// What the pure aggregator emits over `inputs`, one per task, in task order, after which
/// each task's stream time is moved to `close_at` (if any).
fn expected(inputs: &[Input], close_at: Option<i64>) -> Vec<KpiRecord> {
    let mut out = Vec::new();
    for task in 0..TASKS {
        let mut queues: [VecDeque<&Input>; 2] = Default::default();
        for input in inputs.iter().filter(|i| i.partition() == task) {
            queues[input.input()].push_back(input);
        }
        let mut store = MemStore::with_stores(KpiAggregator::store_names());
        let mut aggregator = KpiAggregator::new(task, GRACE);
        let mut stream_time = i64::MIN;
        // The earliest head first, ties to the exceptions topic (the partition group's rule).
        while let Some(i) =
            (0..2).filter_map(|i| queues[i].front().map(|r| (r.time(), i))).min().map(|(_, i)| i)
        {
            let Some(input) = queues[i].pop_front() else { break };
            match input {
                Input::Exception(r) => aggregator.on_exception(&mut store, r).unwrap(),
                Input::Audit(r) => aggregator.on_audit(&mut store, r).unwrap(),
            };
            stream_time = stream_time.max(input.time());
            out.extend(aggregator.advance(&mut store, stream_time).unwrap());
        }
        if let Some(at) = close_at {
            out.extend(aggregator.advance(&mut store, at).unwrap());
        }
    }
    out
}

/// Every record on `kpi`, checking that each key appears once and names its record.
fn published(env: &Cluster, names: &Topics) -> Vec<KpiRecord> {
    let mut keys = BTreeMap::new();
    let records: Vec<KpiRecord> = env
        .read_topic(&names.output(Output::Kpi))
        .iter()
        .map(|r| {
            let record: KpiRecord = env.codec.decode_output(Output::Kpi, &r.value).unwrap();
            assert_eq!(r.key.as_deref(), Some(record.key().as_bytes()));
            *keys.entry(record.key()).or_insert(0) += 1;
            record
        })
        .collect();
    let twice: Vec<_> = keys.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "windows published more than once: {twice:?}");
    records
}

/// The sum over tasks of one field of the records of `site` for the window at `start`.
fn total(records: &[KpiRecord], site: &str, start: i64, field: fn(&KpiRecord) -> i64) -> i64 {
    records.iter().filter(|r| r.site_id == site && r.window_start == start).map(field).sum()
}

/// The value of the sample of `name` whose labels include every `labels` pair.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .find(|l| labels.iter().all(|(k, v)| l.contains(&format!("{k}=\"{v}\""))))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// The metrics text once `ready` accepts it (gauges refresh on the wall-clock tick).
fn metrics_when(running: &Running, ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = running.handle.metrics.render();
        if ready(&text) || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn windows_match_the_aggregator_and_metrics_show_the_instance_totals() {
    let (env, names) = cluster();
    let inputs = traffic();
    let mut ends = BTreeMap::new();
    produce(&env, &inputs, &mut ends);
    let dir = tempfile::tempdir().unwrap();
    let running = start(config(&env, dir.path()), pinned(T0 + 3 * HOUR + 30 * MIN));
    running.wait_committed(&ends);
    let open = [("site", "DC1"), ("type", CC.as_str())];
    let text = metrics_when(&running, |t| {
        sample(t, "invex_kpi_open_exceptions", &open) == Some(2.0)
            && sample(t, "invex_kpi_open_exceptions", &[("site", "DC2")]) == Some(4.0)
    });
    let handle = running.stop();

    let got = published(&env, &names);
    assert_same("kpi records", &got, &expected(&inputs, None));
    assert_eq!(total(&got, "DC1", T0, |r| r.opened), 4, "the replayed version counts once");
    assert_eq!(total(&got, "DC1", T0, |r| r.resolved), 1);
    assert_eq!(total(&got, "DC1", T0, |r| r.open_backlog), 3);
    assert_eq!(total(&got, "DC1", T0 + HOUR, |r| r.resolved), 1);
    assert_eq!(total(&got, "DC1", T0 + HOUR, |r| r.open_backlog), 2);
    assert_eq!(total(&got, "DC2", T0, |r| r.opened), 2);
    assert_eq!(total(&got, "DC1", T0, |r| r.count_evaluations), 5);
    assert_eq!(total(&got, "DC1", T0, |r| r.count_hits), 1);
    assert!(got.iter().all(|r| r.window_start < T0 + 2 * HOUR), "hour 2 is within grace");
    assert!(got.iter().any(|r| r.task == 0) && got.iter().any(|r| r.task == 1));
    assert_eq!(handle.metrics.duplicates.get(), 1);

    // Counters count every transition; gauges are the sum over the two tasks.
    let series = [
        ("invex_kpi_exceptions_opened_total", &open[..], 4.0),
        ("invex_kpi_exceptions_resolved_total", &open[..], 2.0),
        ("invex_kpi_open_exceptions", &open[..], 2.0),
        ("invex_kpi_root_cause_total", &[("site", "DC1"), ("category", "PROCESS")][..], 4.0),
        ("invex_kpi_count_evaluations_total", &[("site", "DC1")][..], 5.0),
        ("invex_kpi_count_hits_total", &[("site", "DC1")][..], 1.0),
        ("invex_kpi_value_at_risk", &[("site", "DC1"), ("currency", "EUR")][..], 20.0),
        ("invex_kpi_time_to_resolve_seconds_count", &open[..], 2.0),
        ("invex_kpi_time_to_resolve_seconds_sum", &open[..], 30.0 * 60.0 + 69.0 * 60.0),
        // The oldest DC1 exception opened at T0 + 2 min; the clock reads T0 + 3.5 h.
        ("invex_kpi_oldest_open_age_seconds", &open[..], (3.5 * 3_600.0) - 120.0),
        ("invex_output_records_total", &[("output", "kpi")][..], got.len() as f64),
    ];
    for (name, labels, want) in series {
        assert_eq!(sample(&text, name, labels), Some(want), "{name} {labels:?} in\n{text}");
    }
    let bucket = [("site", "DC1"), ("le", "1800")];
    assert_eq!(sample(&text, "invex_kpi_time_to_resolve_seconds_bucket", &bucket), Some(1.0));
}

#[test]
fn a_restart_continues_exactly_once_on_the_same_or_a_restored_state() {
    let (env, names) = cluster();
    let inputs = traffic();
    // Thirds by event time: the second instance closes hour 0 on one task (the resolution at
    // T0 + 70 min), the third closes the rest.
    let thirds = [T0 + 15 * MIN, T0 + 75 * MIN, i64::MAX];
    let (first, restored) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dirs = [first.path(), restored.path(), restored.path()];
    let mut ends = BTreeMap::new();
    let (mut from, mut produced) = (i64::MIN, Vec::new());
    for (until, dir) in thirds.into_iter().zip(dirs) {
        let part: Vec<Input> =
            inputs.iter().filter(|i| (from..until).contains(&i.time())).cloned().collect();
        from = until;
        produce(&env, &part, &mut ends);
        produced.extend(part);
        let running = start(config(&env, dir), pinned(T0));
        running.wait_committed(&ends);
        running.stop();
    }
    // The second instance restored every store from the changelogs into an empty directory,
    // the third reopened the second's directory.
    assert_same("kpi records", &published(&env, &names), &expected(&produced, None));
}

#[test]
fn garbage_goes_to_the_dlq_and_the_next_record_still_counts() {
    let (env, names) = cluster();
    let task = 0;
    let exceptions = env.topics.output(Output::Exceptions);
    env.produce_raw(&exceptions, task, b"x-0", b"not avro");
    // A well-formed version keyed by another id would sit in another task than its exception.
    let mut miskeyed = Vec::new();
    let stray = record(&id_on(task, "stray"), "DC1", 1, ExceptionStatus::Open, T0, T0);
    env.codec.encode_output(Output::Exceptions, &stray, &mut miskeyed).unwrap();
    env.produce_raw(&exceptions, task, b"someone-else", &miskeyed);
    let mut ends = BTreeMap::from([((exceptions.clone(), task), 2)]);
    let inputs = [
        opened(&id_on(task, "x"), "DC1", T0),
        opened(&id_on(task, "closer"), "DC1", T0 + 2 * HOUR),
    ];
    produce(&env, &inputs, &mut ends);
    let dir = tempfile::tempdir().unwrap();
    let running = start(config(&env, dir.path()), pinned(T0));
    running.wait_committed(&ends);
    let handle = running.stop();

    let dead: BTreeMap<String, _> = env
        .read_output(Output::Dlq)
        .into_iter()
        .map(|d| (d.header("invex.dlq.error.class"), d))
        .collect();
    assert_eq!(dead.keys().collect::<Vec<_>>(), ["DESERIALIZATION", "VALIDATION"]);
    assert_eq!(dead["DESERIALIZATION"].key.as_deref(), Some(&b"x-0"[..]));
    assert_eq!(dead["VALIDATION"].header("invex.dlq.topic"), exceptions);
    assert_eq!(handle.metrics.dlq.with_label_values(&["DESERIALIZATION"]).get(), 1);
    let got = published(&env, &names);
    assert_same("kpi records", &got, &expected(&inputs, None));
    assert_eq!(total(&got, "DC1", T0, |r| r.opened), 1, "the record after the garbage counts");
}

#[test]
fn a_quiet_partition_closes_its_windows_as_the_wall_clock_runs_on() {
    let (env, names) = cluster();
    let inputs: Vec<Input> =
        ids("q", 4).iter().map(|id| opened(id, "DC1", T0 + 20 * MIN)).collect();
    let mut ends = BTreeMap::new();
    produce(&env, &inputs, &mut ends);
    let now = Arc::new(AtomicI64::new(T0 + 25 * MIN));
    let clock: Clock = {
        let now = Arc::clone(&now);
        Arc::new(move || now.load(Ordering::SeqCst))
    };
    let dir = tempfile::tempdir().unwrap();
    let running = start(config(&env, dir.path()), clock);
    running.wait_committed(&ends);
    std::thread::sleep(Duration::from_millis(1_500));
    let kpi_written = || running.handle.metrics.outputs.with_label_values(&["kpi"]).get();
    assert_eq!(kpi_written(), 0, "stream time alone closes nothing");
    // Two quiet hours later (wall clock), stream time has run on by as much.
    let later = T0 + 25 * MIN + 2 * HOUR;
    now.store(later, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(20);
    while kpi_written() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    running.stop();

    let got = published(&env, &names);
    assert_same("kpi records", &got, &expected(&inputs, Some(later)));
    assert_eq!(total(&got, "DC1", T0, |r| r.opened), 4);
    assert_eq!(total(&got, "DC1", T0 + HOUR, |r| r.open_backlog), 4, "a quiet hour is reported");
}
