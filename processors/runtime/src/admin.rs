//! Topic administration: the topics each processor needs, creating the missing ones, and the
//! startup check that co-partitioned topics agree on their partition count.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::executor::block_on;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;

use invex_detect::RepartitionTopic;

use crate::error::RuntimeError;
use crate::logic::NORMALIZE_STORES;
use crate::logic::kpi::KPI_STORES;
use crate::normalize::Normalizer;
use crate::topics::{Output, Topics};

const TIMEOUT: Duration = Duration::from_secs(30);

/// How a topic is cleaned up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cleanup {
    /// Time- or size-based deletion.
    Delete,
    /// Log compaction (latest value per key).
    Compact,
}

/// One topic a deployment needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Name.
    pub name: String,
    /// Partition count.
    pub partitions: i32,
    /// Cleanup policy.
    pub cleanup: Cleanup,
    /// True when the topic must have the partition count of the processor's tasks (its inputs
    /// and changelogs).
    pub co_partitioned: bool,
}

/// Every topic of the detect processor: canonical inputs, repartition topics and changelogs
/// with `partitions` partitions, outputs with `output_partitions`.
pub fn detect_topics(
    topics: &Topics,
    stores: &[&str],
    partitions: i32,
    output_partitions: i32,
) -> Vec<TopicSpec> {
    let mut specs = canonical_topics(topics, partitions);
    specs.extend(RepartitionTopic::ALL.iter().map(|t| TopicSpec {
        name: topics.repartition(*t),
        partitions,
        cleanup: Cleanup::Delete,
        co_partitioned: true,
    }));
    specs.extend(stores.iter().map(|s| TopicSpec {
        name: topics.changelog(s),
        partitions,
        cleanup: Cleanup::Compact,
        co_partitioned: true,
    }));
    specs.extend(Output::DETECT.iter().map(|o| TopicSpec {
        name: topics.output(*o),
        partitions: output_partitions,
        cleanup: if *o == Output::Exceptions { Cleanup::Compact } else { Cleanup::Delete },
        co_partitioned: false,
    }));
    specs
}

/// The canonical topics, `partitions` partitions each (co-partitioned: a detect task owns
/// partition p of every one).
pub fn canonical_topics(topics: &Topics, partitions: i32) -> Vec<TopicSpec> {
    topics
        .inputs()
        .iter()
        .map(|(t, name)| TopicSpec {
            name: name.clone(),
            partitions,
            cleanup: if *t == invex_model::CanonicalTopic::Item {
                Cleanup::Compact
            } else {
                Cleanup::Delete
            },
            co_partitioned: true,
        })
        .collect()
}

/// Every topic of the normalize processor: the raw topic of each source of `normalizer` and
/// the changelogs (co-partitioned, `partitions` partitions: a task owns partition p of every
/// raw topic), the canonical topics it publishes to (`partitions` partitions, the detect
/// tasks' count, which is detect's check to make) and the DLQ (`output_partitions`). `topics`
/// carries the normalize processor's application id (changelog names).
pub fn normalize_topics(
    topics: &Topics,
    normalizer: &Normalizer,
    partitions: i32,
    output_partitions: i32,
) -> Vec<TopicSpec> {
    let raw = normalizer.sources().iter().map(|s| TopicSpec {
        name: topics.raw(s.topic()),
        partitions,
        cleanup: Cleanup::Delete,
        co_partitioned: true,
    });
    let changelogs = NORMALIZE_STORES.iter().map(|s| TopicSpec {
        name: topics.changelog(s),
        partitions,
        cleanup: Cleanup::Compact,
        co_partitioned: true,
    });
    let canonical = canonical_topics(topics, partitions)
        .into_iter()
        .map(|spec| TopicSpec { co_partitioned: false, ..spec });
    let dlq = TopicSpec {
        name: topics.output(Output::Dlq),
        partitions: output_partitions,
        cleanup: Cleanup::Delete,
        co_partitioned: false,
    };
    raw.chain(changelogs).chain(canonical).chain(std::iter::once(dlq)).collect()
}

/// Every topic of the kpi processor, all with `output_partitions` partitions (the detect
/// processor's output count): its inputs `exceptions` and `audit` (co-partitioned: a kpi task
/// owns partition p of both), the changelogs of [`KPI_STORES`] (co-partitioned), its output
/// `kpi` (compacted) and the DLQ. `topics` carries the kpi processor's application id.
///
/// Detect keys both inputs by exception id, so with equal partition counts the versions and
/// the audit records of one exception land in the same task. The aggregator joins nothing
/// across the two topics, so its counts would be right without that; the runtime needs the
/// equal counts to form tasks, and the startup check enforces them.
pub fn kpi_topics(topics: &Topics, output_partitions: i32) -> Vec<TopicSpec> {
    let inputs = [Output::Exceptions, Output::Audit].map(|o| TopicSpec {
        name: topics.output(o),
        partitions: output_partitions,
        cleanup: if o == Output::Exceptions { Cleanup::Compact } else { Cleanup::Delete },
        co_partitioned: true,
    });
    let changelogs = KPI_STORES.iter().map(|s| TopicSpec {
        name: topics.changelog(s),
        partitions: output_partitions,
        cleanup: Cleanup::Compact,
        co_partitioned: true,
    });
    let outputs =
        [(Output::Kpi, Cleanup::Compact), (Output::Dlq, Cleanup::Delete)].map(|(o, cleanup)| {
            TopicSpec {
                name: topics.output(o),
                partitions: output_partitions,
                cleanup,
                co_partitioned: false,
            }
        });
    inputs.into_iter().chain(changelogs).chain(outputs).collect()
}

/// Creates every topic of `specs` that does not exist yet; returns the names created.
pub fn create_missing(
    base: &ClientConfig,
    specs: &[TopicSpec],
) -> Result<Vec<String>, RuntimeError> {
    let admin: AdminClient<DefaultClientContext> =
        base.create().map_err(|e| RuntimeError::kafka("creating the admin client", e))?;
    let existing = partition_counts(base)?;
    let missing: Vec<&TopicSpec> =
        specs.iter().filter(|s| !existing.contains_key(&s.name)).collect();
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let new_topics: Vec<NewTopic<'_>> = missing
        .iter()
        .map(|s| {
            let policy = match s.cleanup {
                Cleanup::Compact => "compact",
                Cleanup::Delete => "delete",
            };
            NewTopic::new(&s.name, s.partitions, TopicReplication::Fixed(-1))
                .set("cleanup.policy", policy)
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let results = block_on(admin.create_topics(&new_topics, &options))
        .map_err(|e| RuntimeError::kafka("creating topics", e))?;
    let mut created = Vec::new();
    for result in results {
        match result {
            Ok(name) => created.push(name),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(RuntimeError::Setup(format!("creating topic {name}: {code}")));
            }
        }
    }
    Ok(created)
}

/// Partition count of every topic in the cluster.
pub fn partition_counts(base: &ClientConfig) -> Result<BTreeMap<String, i32>, RuntimeError> {
    let consumer: BaseConsumer =
        base.create().map_err(|e| RuntimeError::kafka("creating a metadata client", e))?;
    let metadata = consumer
        .fetch_metadata(None, TIMEOUT)
        .map_err(|e| RuntimeError::kafka("fetching cluster metadata", e))?;
    Ok(metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| (t.name().to_owned(), t.partitions().len() as i32))
        .collect())
}

/// Checks that every topic of `specs` exists and that the co-partitioned ones share one
/// partition count; returns that count. Every problem is reported at once.
pub fn verify(base: &ClientConfig, specs: &[TopicSpec]) -> Result<i32, RuntimeError> {
    let counts = partition_counts(base)?;
    let mut problems = Vec::new();
    let mut task_counts: BTreeMap<i32, Vec<&str>> = BTreeMap::new();
    for spec in specs {
        match counts.get(&spec.name) {
            None => problems
                .push(format!("topic {} does not exist (run `invex topology apply`)", spec.name)),
            Some(n) if spec.co_partitioned => task_counts.entry(*n).or_default().push(&spec.name),
            Some(_) => {}
        }
    }
    if task_counts.len() > 1 {
        let detail: Vec<String> = task_counts
            .iter()
            .map(|(n, names)| format!("{n} partitions: {}", names.join(", ")))
            .collect();
        problems.push(format!(
            "co-partitioned topics must have the same partition count, found {}",
            detail.join("; ")
        ));
    }
    if !problems.is_empty() {
        return Err(RuntimeError::Setup(problems.join("\n")));
    }
    task_counts.keys().next().copied().ok_or_else(|| RuntimeError::Setup("no input topics".into()))
}

/// Creates `specs` on librdkafka's in-process mock cluster (which does not implement the
/// CreateTopics API), for the demo and the runtime tests.
pub fn create_on_mock<C: rdkafka::ClientContext>(
    mock: &rdkafka::mocking::MockCluster<'_, C>,
    specs: &[TopicSpec],
) -> Result<(), RuntimeError> {
    for spec in specs {
        mock.create_topic(&spec.name, spec.partitions, 1).map_err(|e| {
            RuntimeError::kafka(format!("creating {} on the mock cluster", spec.name), e)
        })?;
    }
    Ok(())
}
