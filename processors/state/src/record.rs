//! Records that cross the boundary between local state and the changelog topics.

/// One write of a transaction, to be produced to the changelog topic of `store`
/// (`value: None` is a delete, produced as a tombstone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangelogRecord {
    /// Store the write belongs to.
    pub store: String,
    /// Key as written.
    pub key: Vec<u8>,
    /// New value, or `None` for a delete.
    pub value: Option<Vec<u8>>,
}

/// One changelog record read back during restore. Borrowed, so the runtime can pass slices
/// of the consumed Kafka messages without copying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreRecord<'a> {
    /// Key of the changelog record.
    pub key: &'a [u8],
    /// Value, or `None` for a tombstone (the key is deleted).
    pub value: Option<&'a [u8]>,
}
