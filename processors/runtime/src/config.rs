//! Runtime configuration: a TOML file, then `INVEX_*` environment overrides, then validation
//! into [`RuntimeConfig`], reporting every problem at once with its key path.
//!
//! Precedence (lowest first): built-in defaults < file < environment. An environment variable
//! `INVEX_SECTION__KEY=value` sets `section.key` (double underscore separates levels, names are
//! lower-cased; `INVEX_*` variables without one, such as the log filter `INVEX_LOG`, are not
//! configuration and are left alone); `INVEX_KAFKA__PROPERTIES__SASL_PASSWORD` is not special-cased: librdkafka
//! properties are set with dots in the file, or with `INVEX_KAFKA_PROPERTY_<NAME>` where `_`
//! stands for `.` (`INVEX_KAFKA_PROPERTY_SASL_PASSWORD` sets `sasl.password`).
//! Secrets never reach logs: [`RuntimeConfig::redacted`] masks every property whose name says
//! it holds one.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use invex_detect::Selection;
use serde::Deserialize;

use crate::kind::{
    DEFAULT_DEDUPE_TTL_MS, DEFAULT_KPI_GRACE_MS, KpiConfig, NormalizeConfig, ProcessorKind,
};

/// Delivery guarantee of the processing loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Guarantee {
    /// Outputs, changelog records and input offsets commit in one Kafka transaction.
    ExactlyOnce,
    /// Outputs are flushed, then offsets committed: a crash may repeat outputs.
    AtLeastOnce,
}

/// What happens to a record whose event time is more than the grace period behind its task's
/// stream time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LateRecords {
    /// The detectors see it, flagged late (they decide what a late event may still change).
    Process,
    /// It goes to the DLQ with error class `LATE` and the detectors never see it.
    DeadLetter,
}

/// File shape; every field optional so that defaults and the environment can fill it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    kafka: RawKafka,
    #[serde(default)]
    application: RawApplication,
    #[serde(default)]
    state: RawState,
    #[serde(default)]
    schema: RawSchema,
    #[serde(default)]
    admin: RawAdmin,
    #[serde(default)]
    policy: RawPolicy,
    #[serde(default)]
    outputs: RawOutputs,
    #[serde(default)]
    normalize: RawNormalize,
    #[serde(default)]
    kpi: RawKpi,
    #[serde(default)]
    detect: RawDetect,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDetect {
    detectors: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKpi {
    grace_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNormalize {
    sources_dir: Option<PathBuf>,
    dedupe_ttl_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutputs {
    actions_json: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKafka {
    bootstrap_servers: Option<String>,
    #[serde(default)]
    properties: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApplication {
    id: Option<String>,
    topic_prefix: Option<String>,
    guarantee: Option<Guarantee>,
    commit_interval_ms: Option<u64>,
    max_batch_records: Option<usize>,
    wall_clock_tick_ms: Option<u64>,
    max_task_idle_ms: Option<u64>,
    instance_id: Option<String>,
    grace_ms: Option<u64>,
    late_records: Option<LateRecords>,
    shutdown_timeout_ms: Option<u64>,
    statistics_interval_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    dir: Option<PathBuf>,
    memory_budget_mb: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchema {
    registry_url: Option<String>,
    registry_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    file: Option<PathBuf>,
}

/// Where Avro schemas come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaSource {
    /// The schemas compiled into the binary, with fixed ids (demo, tests, replay).
    Embedded,
    /// A Confluent-compatible Schema Registry.
    Registry {
        /// Base URL.
        url: String,
        /// Timeout of one registry call.
        timeout: Duration,
    },
}

/// Validated configuration of one processor instance.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Bootstrap servers.
    pub bootstrap_servers: String,
    /// librdkafka properties passed through to every client (TLS, SASL, tuning).
    pub kafka_properties: BTreeMap<String, String>,
    /// Application id: consumer group id, transactional id prefix, state sub-directory,
    /// changelog topic prefix.
    pub application_id: String,
    /// Prefix of every topic name.
    pub topic_prefix: String,
    /// Delivery guarantee.
    pub guarantee: Guarantee,
    /// How often the open transaction (or offset commit) is completed.
    pub commit_interval: Duration,
    /// Upper bound of records per transaction.
    pub max_batch_records: usize,
    /// How often wall-clock timers are checked.
    pub wall_clock_tick: Duration,
    /// How long a task waits for a partition that has no buffered record and is not known to
    /// be caught up, before it processes the others (Kafka Streams' `max.task.idle.ms`).
    pub max_task_idle: Duration,
    /// State directory.
    pub state_dir: PathBuf,
    /// Memory budget shared by every task database, in bytes.
    pub memory_budget_bytes: usize,
    /// Schema source.
    pub schema: SchemaSource,
    /// Admin HTTP listen address (metrics and health), if any.
    pub admin_listen: Option<SocketAddr>,
    /// Policy file; `None` means the embedded default policy.
    pub policy_file: Option<PathBuf>,
    /// Stable identity of this instance: static group membership (`group.instance.id`) and
    /// the transactional id suffix. `None`: no static membership, and the transactional id is
    /// derived from the state directory.
    pub instance_id: Option<String>,
    /// How far behind its task's stream time a record may be before it counts as late
    /// (Kafka Streams' grace period).
    pub grace: Duration,
    /// Where late records go (detect only: normalize passes late events on to detect).
    pub late_records: LateRecords,
    /// How long a requested shutdown may take (finish the open transaction, flush, close)
    /// before the process exits anyway.
    pub shutdown_timeout: Duration,
    /// librdkafka statistics interval, the source of the consumer-lag metrics; zero disables.
    pub statistics_interval: Duration,
    /// Whether actions are mirrored as JSON to the `actions.json` topic.
    pub actions_json: bool,
    /// Settings of the normalize processor (`[normalize]`).
    pub normalize: NormalizeConfig,
    /// Settings of the kpi processor (`[kpi]`).
    pub kpi: KpiConfig,
    /// The detectors the detect processor runs (`detect.detectors`, default all), closed under
    /// what they read (see `invex_detect::Selection`).
    pub detectors: Selection,
}

/// Every problem found in a configuration, each with its key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<String>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration ({} problem(s)):", self.0.len())?;
        for problem in &self.0 {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

const SECRET_MARKERS: [&str; 5] = ["password", "secret", "jaas", "ssl.key", "token"];

impl RuntimeConfig {
    /// Parses `text` (TOML), applies `env` overrides (pairs of variable name and value; pass
    /// `std::env::vars()`), and validates, with the detect processor's defaults.
    pub fn load(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigErrors> {
        Self::load_for(ProcessorKind::Detect, text, env)
    }

    /// Like [`RuntimeConfig::load`], with the defaults of `processor` (its application id).
    pub fn load_for(
        processor: ProcessorKind,
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigErrors> {
        let mut doc: toml::Table =
            text.parse().map_err(|e: toml::de::Error| ConfigErrors(vec![format!("toml: {e}")]))?;
        apply_env(&mut doc, env);
        let raw: RawConfig = toml::Value::Table(doc)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigErrors(vec![format!("toml: {e}")]))?;
        validate(processor, raw)
    }

    /// A configuration for tests and the demo: given bootstrap servers and state directory,
    /// defaults everywhere else, embedded schemas, no admin port.
    pub fn for_local(bootstrap_servers: &str, application_id: &str, state_dir: PathBuf) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.to_owned(),
            kafka_properties: BTreeMap::new(),
            application_id: application_id.to_owned(),
            topic_prefix: String::new(),
            guarantee: Guarantee::ExactlyOnce,
            commit_interval: Duration::from_millis(DEFAULT_COMMIT_MS),
            max_batch_records: DEFAULT_MAX_BATCH,
            wall_clock_tick: Duration::from_millis(DEFAULT_TICK_MS),
            max_task_idle: Duration::from_millis(DEFAULT_IDLE_MS),
            state_dir,
            memory_budget_bytes: DEFAULT_BUDGET_MB << 20,
            schema: SchemaSource::Embedded,
            admin_listen: None,
            policy_file: None,
            instance_id: None,
            grace: Duration::from_millis(DEFAULT_GRACE_MS),
            late_records: LateRecords::Process,
            shutdown_timeout: Duration::from_millis(DEFAULT_SHUTDOWN_MS),
            statistics_interval: Duration::from_millis(DEFAULT_STATISTICS_MS),
            actions_json: false,
            normalize: NormalizeConfig::default(),
            kpi: KpiConfig::default(),
            detectors: Selection::all(),
        }
    }

    /// The configuration as TOML-like text with secrets masked, for logs and `config check`.
    pub fn redacted(&self) -> String {
        let mut out = String::new();
        let line = |out: &mut String, k: &str, v: &dyn fmt::Display| {
            out.push_str(&format!("{k} = {v}\n"));
        };
        line(&mut out, "kafka.bootstrap_servers", &self.bootstrap_servers);
        for (k, v) in &self.kafka_properties {
            let shown = if is_secret(k) { "***" } else { v.as_str() };
            line(&mut out, &format!("kafka.properties.\"{k}\""), &shown);
        }
        line(&mut out, "application.id", &self.application_id);
        line(&mut out, "application.topic_prefix", &format!("{:?}", self.topic_prefix));
        line(&mut out, "application.guarantee", &format!("{:?}", self.guarantee));
        line(&mut out, "application.commit_interval_ms", &self.commit_interval.as_millis());
        line(&mut out, "application.max_batch_records", &self.max_batch_records);
        line(&mut out, "application.max_task_idle_ms", &self.max_task_idle.as_millis());
        line(&mut out, "state.dir", &self.state_dir.display());
        line(&mut out, "state.memory_budget_mb", &(self.memory_budget_bytes >> 20));
        line(&mut out, "schema", &format!("{:?}", self.schema));
        line(&mut out, "admin.listen", &format!("{:?}", self.admin_listen));
        line(&mut out, "policy.file", &format!("{:?}", self.policy_file));
        line(&mut out, "application.instance_id", &format!("{:?}", self.instance_id));
        line(&mut out, "application.grace_ms", &self.grace.as_millis());
        line(&mut out, "application.late_records", &format!("{:?}", self.late_records));
        line(&mut out, "application.shutdown_timeout_ms", &self.shutdown_timeout.as_millis());
        line(&mut out, "application.statistics_interval_ms", &self.statistics_interval.as_millis());
        line(&mut out, "outputs.actions_json", &self.actions_json);
        line(&mut out, "normalize.sources_dir", &format!("{:?}", self.normalize.sources_dir));
        line(&mut out, "normalize.dedupe_ttl_ms", &self.normalize.dedupe_ttl.as_millis());
        line(&mut out, "kpi.grace_ms", &self.kpi.grace.as_millis());
        line(&mut out, "detect.detectors", &format!("[{}]", self.detectors));
        out
    }
}

fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_MARKERS.iter().any(|m| key.contains(m))
}

const DEFAULT_COMMIT_MS: u64 = 100;
const DEFAULT_ALOS_COMMIT_MS: u64 = 30_000;
const DEFAULT_MAX_BATCH: usize = 5_000;
const DEFAULT_TICK_MS: u64 = 1_000;
const DEFAULT_IDLE_MS: u64 = 100;
const DEFAULT_BUDGET_MB: usize = 256;
const DEFAULT_REGISTRY_TIMEOUT_MS: u64 = 5_000;
/// Offline scanners upload a shift's events when they reconnect: a day of grace by default.
const DEFAULT_GRACE_MS: u64 = 24 * 3_600_000;
const DEFAULT_SHUTDOWN_MS: u64 = 30_000;
const DEFAULT_STATISTICS_MS: u64 = 5_000;

fn apply_env(doc: &mut toml::Table, env: impl IntoIterator<Item = (String, String)>) {
    for (name, value) in env {
        if let Some(prop) = name.strip_prefix("INVEX_KAFKA_PROPERTY_") {
            let key = prop.to_ascii_lowercase().replace('_', ".");
            set_path(doc, &["kafka", "properties", &key], value);
        } else if let Some(path) = name.strip_prefix("INVEX_").filter(|p| p.contains("__")) {
            let path: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
            let parts: Vec<&str> = path.iter().map(String::as_str).collect();
            set_path(doc, &parts, value);
        }
    }
}

/// Sets a dotted path to a value parsed as TOML when it parses (numbers, booleans), else as a
/// string.
fn set_path(doc: &mut toml::Table, path: &[&str], raw: String) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut table = doc;
    for part in parents {
        let entry = table
            .entry((*part).to_owned())
            .or_insert_with(|| toml::Value::Table(Default::default()));
        if !entry.is_table() {
            *entry = toml::Value::Table(Default::default());
        }
        let toml::Value::Table(inner) = entry else { return };
        table = inner;
    }
    let value = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or(toml::Value::String(raw));
    table.insert((*last).to_owned(), value);
}

fn validate(processor: ProcessorKind, raw: RawConfig) -> Result<RuntimeConfig, ConfigErrors> {
    let mut errors = Vec::new();
    let bootstrap_servers = raw.kafka.bootstrap_servers.unwrap_or_default();
    if bootstrap_servers.trim().is_empty() {
        errors.push("kafka.bootstrap_servers: required (host:port[,host:port])".to_owned());
    }
    let mut kafka_properties = BTreeMap::new();
    for (key, value) in raw.kafka.properties {
        match value {
            toml::Value::String(s) => kafka_properties.insert(key, s),
            toml::Value::Integer(_) | toml::Value::Boolean(_) | toml::Value::Float(_) => {
                kafka_properties.insert(key, value.to_string())
            }
            _ => {
                errors.push(format!("kafka.properties.\"{key}\": must be a string or number"));
                None
            }
        };
    }
    for reserved in ["transactional.id", "group.id", "enable.auto.commit", "isolation.level"] {
        if kafka_properties.contains_key(reserved) {
            errors.push(format!(
                "kafka.properties.\"{reserved}\": set by invex from application.id and guarantee"
            ));
        }
    }
    let application_id =
        raw.application.id.unwrap_or_else(|| processor.default_application_id().to_owned());
    if application_id.is_empty()
        || !application_id.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        errors.push(format!(
            "application.id: {application_id:?} must be non-empty and use only [A-Za-z0-9._-]"
        ));
    }
    let guarantee = raw.application.guarantee.unwrap_or(Guarantee::ExactlyOnce);
    let default_commit = match guarantee {
        Guarantee::ExactlyOnce => DEFAULT_COMMIT_MS,
        Guarantee::AtLeastOnce => DEFAULT_ALOS_COMMIT_MS,
    };
    let commit_ms = raw.application.commit_interval_ms.unwrap_or(default_commit);
    if commit_ms == 0 {
        errors.push("application.commit_interval_ms: must be at least 1".to_owned());
    }
    let max_batch_records = raw.application.max_batch_records.unwrap_or(DEFAULT_MAX_BATCH);
    if max_batch_records == 0 {
        errors.push("application.max_batch_records: must be at least 1".to_owned());
    }
    let shutdown_ms = raw.application.shutdown_timeout_ms.unwrap_or(DEFAULT_SHUTDOWN_MS);
    if shutdown_ms < 1_000 {
        errors.push(format!(
            "application.shutdown_timeout_ms: {shutdown_ms} leaves no time to commit (minimum 1000)"
        ));
    }
    if raw.application.statistics_interval_ms.is_some()
        && kafka_properties.contains_key("statistics.interval.ms")
    {
        errors.push(
            "kafka.properties.\"statistics.interval.ms\": set application.statistics_interval_ms instead"
                .to_owned(),
        );
    }
    let tick_ms = raw.application.wall_clock_tick_ms.unwrap_or(DEFAULT_TICK_MS).max(1);
    let budget_mb = raw.state.memory_budget_mb.unwrap_or(DEFAULT_BUDGET_MB);
    if budget_mb < 16 {
        errors.push(format!("state.memory_budget_mb: {budget_mb} is below the minimum of 16"));
    }
    let schema = match raw.schema.registry_url {
        None => SchemaSource::Embedded,
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            SchemaSource::Registry {
                url,
                timeout: Duration::from_millis(
                    raw.schema.registry_timeout_ms.unwrap_or(DEFAULT_REGISTRY_TIMEOUT_MS),
                ),
            }
        }
        Some(url) => {
            errors
                .push(format!("schema.registry_url: {url:?} must start with http:// or https://"));
            SchemaSource::Embedded
        }
    };
    let admin_listen = match raw.admin.listen {
        None => None,
        Some(addr) => match addr.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(e) => {
                errors.push(format!("admin.listen: {addr:?} is not host:port ({e})"));
                None
            }
        },
    };
    let dedupe_ttl_ms = raw.normalize.dedupe_ttl_ms.unwrap_or(DEFAULT_DEDUPE_TTL_MS);
    if dedupe_ttl_ms == 0 || i64::try_from(dedupe_ttl_ms).is_err() {
        errors.push(format!(
            "normalize.dedupe_ttl_ms: {dedupe_ttl_ms} must be at least 1 and fit a signed 64-bit number"
        ));
    }
    let detectors = detectors(raw.detect.detectors, &mut errors);
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    Ok(RuntimeConfig {
        bootstrap_servers,
        kafka_properties,
        application_id,
        topic_prefix: raw.application.topic_prefix.unwrap_or_default(),
        guarantee,
        commit_interval: Duration::from_millis(commit_ms),
        max_batch_records,
        wall_clock_tick: Duration::from_millis(tick_ms),
        max_task_idle: Duration::from_millis(
            raw.application.max_task_idle_ms.unwrap_or(DEFAULT_IDLE_MS),
        ),
        state_dir: raw.state.dir.unwrap_or_else(|| PathBuf::from("./invex-state")),
        memory_budget_bytes: budget_mb << 20,
        schema,
        admin_listen,
        policy_file: raw.policy.file,
        instance_id: raw.application.instance_id,
        grace: Duration::from_millis(raw.application.grace_ms.unwrap_or(DEFAULT_GRACE_MS)),
        late_records: raw.application.late_records.unwrap_or(LateRecords::Process),
        shutdown_timeout: Duration::from_millis(shutdown_ms),
        statistics_interval: Duration::from_millis(
            raw.application.statistics_interval_ms.unwrap_or(DEFAULT_STATISTICS_MS),
        ),
        actions_json: raw.outputs.actions_json.unwrap_or(false),
        normalize: NormalizeConfig {
            sources_dir: raw.normalize.sources_dir,
            dedupe_ttl: Duration::from_millis(dedupe_ttl_ms),
        },
        kpi: KpiConfig {
            grace: Duration::from_millis(raw.kpi.grace_ms.unwrap_or(DEFAULT_KPI_GRACE_MS)),
        },
        detectors,
    })
}

/// The selection `detect.detectors` names (every detector when unset).
fn detectors(names: Option<Vec<String>>, errors: &mut Vec<String>) -> Selection {
    let Some(names) = names else { return Selection::all() };
    if names.is_empty() {
        errors
            .push("detect.detectors: name at least one detector, or leave it unset for all".into());
        return Selection::all();
    }
    Selection::of(&names).unwrap_or_else(|e| {
        errors.push(format!("detect.detectors: {e}"));
        Selection::all()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn file_then_environment_with_defaults() {
        let text = r#"
            [kafka]
            bootstrap_servers = "b1:9092"
            properties = { "security.protocol" = "SASL_SSL", "sasl.password" = "hunter2" }
            [application]
            id = "invex-eu"
        "#;
        let cfg = RuntimeConfig::load(
            text,
            env(&[
                ("INVEX_APPLICATION__COMMIT_INTERVAL_MS", "250"),
                ("INVEX_KAFKA_PROPERTY_SASL_USERNAME", "svc"),
                ("INVEX_LOG", "debug"),
                ("INVEX_TEST_BOOTSTRAP", "127.0.0.1:19092"),
            ]),
        )
        .unwrap();
        assert_eq!(cfg.bootstrap_servers, "b1:9092");
        assert_eq!(cfg.application_id, "invex-eu");
        assert_eq!(cfg.commit_interval, Duration::from_millis(250));
        assert_eq!(cfg.guarantee, Guarantee::ExactlyOnce);
        assert_eq!(cfg.kafka_properties["sasl.username"], "svc");
        assert_eq!(cfg.schema, SchemaSource::Embedded);
        assert_eq!(cfg.late_records, LateRecords::Process);
        assert_eq!(cfg.grace, Duration::from_secs(86_400));
        let shown = cfg.redacted();
        assert!(
            shown.contains("\"sasl.password\"] = ***") || shown.contains("\"sasl.password\" = ***")
        );
        assert!(!shown.contains("hunter2"));
    }

    #[test]
    fn every_error_is_reported_with_its_path() {
        let text = r#"
            [kafka]
            properties = { "group.id" = "x" }
            [application]
            id = "bad id"
            commit_interval_ms = 0
            shutdown_timeout_ms = 10
            [state]
            memory_budget_mb = 1
            [schema]
            registry_url = "ftp://x"
            [admin]
            listen = "nowhere"
            [detect]
            detectors = ["cycle_count", "cyclecount"]
        "#;
        let errors = RuntimeConfig::load(text, Vec::new()).unwrap_err().0;
        let joined = errors.join("\n");
        for path in [
            "kafka.bootstrap_servers",
            "kafka.properties.\"group.id\"",
            "application.id",
            "application.commit_interval_ms",
            "state.memory_budget_mb",
            "schema.registry_url",
            "admin.listen",
            "application.shutdown_timeout_ms",
            "detect.detectors: unknown detector \"cyclecount\"",
        ] {
            assert!(joined.contains(path), "missing {path} in {joined}");
        }
        assert_eq!(errors.len(), 9);
    }

    #[test]
    fn a_selection_of_detectors_brings_in_what_they_read() {
        let text = "[kafka]\nbootstrap_servers = \"b:9092\"\n";
        let all = RuntimeConfig::load(text, Vec::new()).unwrap();
        assert!(all.detectors.is_all());
        let chosen = env(&[("INVEX_DETECT__DETECTORS", r#"["damaged_goods"]"#)]);
        let cfg = RuntimeConfig::load(text, chosen).unwrap();
        let names: Vec<&str> = cfg.detectors.names().collect();
        assert_eq!(names[0], "cycle_count", "every rule reads the cycle-count item facts");
        assert!(names.contains(&"damaged_goods") && !names.contains(&"barcode_mismatch"));
        assert!(cfg.redacted().contains("detect.detectors = [cycle_count, "));
        let empty = RuntimeConfig::load(&format!("{text}[detect]\ndetectors = []\n"), Vec::new());
        assert!(empty.unwrap_err().0[0].starts_with("detect.detectors: name at least one"));
    }

    #[test]
    fn late_records_can_be_dead_lettered_after_a_grace_period() {
        let text = "[kafka]\nbootstrap_servers = \"b:9092\"\n[application]\ngrace_ms = 60000\n";
        let cfg =
            RuntimeConfig::load(text, env(&[("INVEX_APPLICATION__LATE_RECORDS", "dead-letter")]))
                .unwrap();
        assert_eq!(cfg.grace, Duration::from_secs(60));
        assert_eq!(cfg.late_records, LateRecords::DeadLetter);
        let bad = RuntimeConfig::load(&format!("{text}late_records = \"drop\"\n"), Vec::new());
        assert!(bad.unwrap_err().to_string().contains("late_records"));
    }

    #[test]
    fn the_example_configuration_is_valid() {
        let text = include_str!("../../../docker/invex.example.toml");
        let cfg = RuntimeConfig::load(text, Vec::new()).unwrap();
        assert_eq!(cfg.application_id, "invex-detect");
        assert!(!cfg.actions_json);
    }

    #[test]
    fn the_normalize_processor_has_its_own_defaults_and_section() {
        let text = "[kafka]\nbootstrap_servers = \"b:9092\"\n";
        let cfg = RuntimeConfig::load_for(ProcessorKind::Normalize, text, Vec::new()).unwrap();
        assert_eq!(cfg.application_id, "invex-normalize");
        assert_eq!(cfg.normalize, NormalizeConfig::default());
        assert_eq!(cfg.normalize.dedupe_ttl, Duration::from_secs(86_400));
        let cfg = RuntimeConfig::load_for(
            ProcessorKind::Normalize,
            &format!("{text}[normalize]\nsources_dir = \"/etc/invex/sources\"\n"),
            env(&[("INVEX_NORMALIZE__DEDUPE_TTL_MS", "60000")]),
        )
        .unwrap();
        assert_eq!(cfg.normalize.sources_dir, Some(PathBuf::from("/etc/invex/sources")));
        assert_eq!(cfg.normalize.dedupe_ttl, Duration::from_secs(60));
        let zero = format!("{text}[normalize]\ndedupe_ttl_ms = 0\n");
        let error = RuntimeConfig::load_for(ProcessorKind::Normalize, &zero, Vec::new());
        assert!(error.unwrap_err().to_string().contains("normalize.dedupe_ttl_ms"));
    }

    #[test]
    fn the_kpi_processor_has_its_own_defaults_and_section() {
        let text = "[kafka]\nbootstrap_servers = \"b:9092\"\n";
        let cfg = RuntimeConfig::load_for(ProcessorKind::Kpi, text, Vec::new()).unwrap();
        assert_eq!(cfg.application_id, "invex-kpi");
        assert_eq!(cfg.kpi.grace, Duration::from_secs(300));
        assert_eq!(cfg.grace, Duration::from_secs(86_400), "not the detect grace");
        let cfg = RuntimeConfig::load_for(
            ProcessorKind::Kpi,
            &format!("{text}[kpi]\ngrace_ms = 60000\n"),
            env(&[("INVEX_KPI__GRACE_MS", "900000")]),
        )
        .unwrap();
        assert_eq!(cfg.kpi.grace, Duration::from_secs(900), "the environment wins");
        assert!(cfg.redacted().contains("kpi.grace_ms = 900000"));
        let negative = format!("{text}[kpi]\ngrace_ms = -1\n");
        let error = RuntimeConfig::load_for(ProcessorKind::Kpi, &negative, Vec::new());
        assert!(error.unwrap_err().to_string().contains("grace_ms"));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = RuntimeConfig::load("[kafka]\nbootstrap = \"x\"\n", Vec::new()).unwrap_err();
        assert!(err.to_string().contains("bootstrap"), "{err}");
    }
}
