//! The input offsets an instance has committed, for tests, tools and lag.
//!
//! Updated only after a commit succeeded (the transaction or the offset commit), so a reader
//! never sees the position of records whose outputs could still be aborted.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rdkafka::{Offset, TopicPartitionList};

/// Next offset to read of every input partition this instance has committed, shared.
#[derive(Clone, Default)]
pub struct CommittedOffsets(Arc<Mutex<BTreeMap<(String, i32), i64>>>);

impl CommittedOffsets {
    /// Records the offsets of a successful commit.
    pub(crate) fn record(&self, offsets: &TopicPartitionList) {
        let Ok(mut map) = self.0.lock() else { return };
        for elem in offsets.elements() {
            if let Offset::Offset(next) = elem.offset() {
                map.insert((elem.topic().to_owned(), elem.partition()), next);
            }
        }
    }

    /// (topic, partition) -> next offset to read, as last committed by this instance.
    pub fn snapshot(&self) -> BTreeMap<(String, i32), i64> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_commit_of_a_partition_wins() {
        let committed = CommittedOffsets::default();
        let mut first = TopicPartitionList::new();
        first.add_partition_offset("wh.count", 0, Offset::Offset(10)).unwrap();
        first.add_partition_offset("wh.pick", 1, Offset::Offset(4)).unwrap();
        committed.record(&first);
        let mut second = TopicPartitionList::new();
        second.add_partition_offset("wh.count", 0, Offset::Offset(25)).unwrap();
        committed.record(&second);
        let snapshot = committed.snapshot();
        assert_eq!(snapshot[&("wh.count".to_owned(), 0)], 25);
        assert_eq!(snapshot[&("wh.pick".to_owned(), 1)], 4);
    }
}
