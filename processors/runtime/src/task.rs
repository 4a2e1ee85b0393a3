//! One task: the state and logic state of one input partition number.
//!
//! A task owns partition `p` of every input topic of its processor (they are co-partitioned),
//! one RocksDB database and the logic's per-task state (for detect, a detector [`Engine`];
//! for normalize, its dedupe cache). Positions are the next offsets to read per input; they
//! ride in the transaction as the consumer group's offsets.
//!
//! [`Engine`]: invex_detect::Engine

use std::collections::BTreeMap;

use invex_state::TaskStore;
use rdkafka::consumer::base_consumer::PartitionQueue;

use crate::logic::TaskLogic;
use crate::ordering::PartitionGroup;
use crate::rebalance::GroupContext;

/// The consumer queue of one input partition of a task.
pub(crate) struct InputQueue {
    /// Index of the input in the logic's input list.
    pub(crate) input: usize,
    pub(crate) queue: PartitionQueue<GroupContext>,
    pub(crate) paused: bool,
}

/// State of one task.
pub(crate) struct Task<L: TaskLogic> {
    pub(crate) partition: i32,
    pub(crate) store: TaskStore,
    pub(crate) state: L::Task,
    /// Next offset to read, per input, for records processed in the open batch.
    pub(crate) positions: BTreeMap<usize, i64>,
    /// Last input record processed, `topic@offset`, stamped on changelog records.
    pub(crate) last_source: String,
    /// Records read but not yet processed, per input.
    pub(crate) group: PartitionGroup<L::Input>,
    /// Where the records come from.
    pub(crate) queues: Vec<InputQueue>,
}

impl<L: TaskLogic> Task<L> {
    pub(crate) fn new(
        partition: i32,
        store: TaskStore,
        logic: &L,
        queues: Vec<InputQueue>,
    ) -> Self {
        Self {
            partition,
            store,
            state: logic.new_task(),
            positions: BTreeMap::new(),
            last_source: String::new(),
            group: PartitionGroup::new(logic.inputs().len()),
            queues,
        }
    }

    /// Forgets everything of the open batch: the overlay, the logic's caches (they may have
    /// seen uncommitted state) and the positions.
    pub(crate) fn discard_batch(&mut self, logic: &L) {
        self.store.abort();
        self.state = logic.new_task();
        self.positions.clear();
        self.group.clear();
    }
}
