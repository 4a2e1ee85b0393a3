//! One task: the state and detector engine of one input partition number.
//!
//! A task owns partition `p` of every canonical topic (they are co-partitioned), one RocksDB
//! database and one detector [`Engine`]. Positions are the next offsets to read per topic;
//! they ride in the transaction as the consumer group's offsets.

use std::collections::BTreeMap;
use std::sync::Arc;

use invex_detect::{Engine, Policy};
use invex_model::CanonicalTopic;
use invex_state::TaskStore;
use rdkafka::consumer::base_consumer::PartitionQueue;

use crate::ordering::PartitionGroup;
use crate::rebalance::GroupContext;

/// The consumer queue of one input partition of a task.
pub(crate) struct InputQueue {
    pub(crate) topic: CanonicalTopic,
    pub(crate) queue: PartitionQueue<GroupContext>,
    pub(crate) paused: bool,
}

/// State of one task.
pub(crate) struct Task {
    pub(crate) partition: i32,
    pub(crate) store: TaskStore,
    pub(crate) engine: Engine,
    /// Next offset to read, per topic, for records processed in the open batch.
    pub(crate) positions: BTreeMap<CanonicalTopic, i64>,
    /// Last input record processed, `topic@offset`, stamped on changelog records.
    pub(crate) last_source: String,
    /// Records read but not yet processed, per topic.
    pub(crate) group: PartitionGroup,
    /// Where the records come from.
    pub(crate) queues: Vec<InputQueue>,
}

impl Task {
    pub(crate) fn new(
        partition: i32,
        store: TaskStore,
        policy: Arc<Policy>,
        queues: Vec<InputQueue>,
    ) -> Self {
        Self {
            partition,
            store,
            engine: Engine::new(policy),
            positions: BTreeMap::new(),
            last_source: String::new(),
            group: PartitionGroup::default(),
            queues,
        }
    }

    /// Forgets everything of the open batch: the overlay, the engine's caches (they may have
    /// seen uncommitted state) and the positions.
    pub(crate) fn discard_batch(&mut self, policy: Arc<Policy>) {
        self.store.abort();
        self.engine = Engine::new(policy);
        self.positions.clear();
        self.group.clear();
    }
}

/// True when `key` is exactly `tenant|site|sku`, compared without building the string.
pub(crate) fn key_matches(key: &[u8], tenant: &str, site: &str, sku: &str) -> bool {
    let expected_len = tenant.len() + site.len() + sku.len() + 2;
    if key.len() != expected_len {
        return false;
    }
    let (t, rest) = key.split_at(tenant.len());
    let (s, rest) = rest[1..].split_at(site.len());
    t == tenant.as_bytes()
        && key[tenant.len()] == b'|'
        && s == site.as_bytes()
        && rest[0] == b'|'
        && &rest[1..] == sku.as_bytes()
}

#[cfg(test)]
mod tests {
    use super::key_matches;

    #[test]
    fn key_must_be_exactly_tenant_site_sku() {
        assert!(key_matches(b"t|DC1|SKU-1", "t", "DC1", "SKU-1"));
        assert!(!key_matches(b"t|DC1|SKU-2", "t", "DC1", "SKU-1"));
        assert!(!key_matches(b"t|DC2|SKU-1", "t", "DC1", "SKU-1"));
        assert!(!key_matches(b"tDDC1|SKU-1", "t", "DC1", "SKU-1"));
        assert!(!key_matches(b"t|DC1", "t", "DC1", "SKU-1"));
        assert!(!key_matches(b"", "", "", ""));
    }
}
