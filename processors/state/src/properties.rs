//! RocksDB properties of one task database, as plain numbers for the runtime's metrics.

use rocksdb::properties::{
    BLOCK_CACHE_USAGE, CUR_SIZE_ALL_MEM_TABLES, ESTIMATE_NUM_KEYS,
    ESTIMATE_PENDING_COMPACTION_BYTES, LIVE_SST_FILES_SIZE, PropName,
};
use rocksdb::{ColumnFamily, DB};

/// Size and health numbers of one task database. Per-column-family properties are summed
/// over every column family, the internal metadata one included (it holds a handful of keys).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateProperties {
    /// `rocksdb.estimate-num-keys`: an estimate; deletes and overwrites not yet compacted
    /// make it drift from the exact count.
    pub estimated_keys: u64,
    /// `rocksdb.cur-size-all-mem-tables`: active and unflushed immutable memtables, bytes.
    pub memtable_bytes: u64,
    /// `rocksdb.block-cache-usage`: bytes in the block cache. The cache is shared by every
    /// task of the process, so this is a process-wide number: export it once, never sum it
    /// over tasks.
    pub block_cache_usage_bytes: u64,
    /// `rocksdb.estimate-pending-compaction-bytes`: bytes compaction still has to rewrite.
    pub pending_compaction_bytes: u64,
    /// `rocksdb.live-sst-files-size`: bytes of SST files of the current version.
    pub live_sst_bytes: u64,
}

/// Reads the properties of `db`, summing per-family ones over `cfs`.
pub(crate) fn collect(db: &DB, cfs: &[&ColumnFamily]) -> Result<StateProperties, rocksdb::Error> {
    let sum = |name: &PropName| -> Result<u64, rocksdb::Error> {
        cfs.iter().try_fold(0u64, |total, cf| {
            let value = db.property_int_value_cf(*cf, name)?.unwrap_or(0);
            Ok(total.saturating_add(value))
        })
    };
    Ok(StateProperties {
        estimated_keys: sum(ESTIMATE_NUM_KEYS)?,
        memtable_bytes: sum(CUR_SIZE_ALL_MEM_TABLES)?,
        block_cache_usage_bytes: db.property_int_value(BLOCK_CACHE_USAGE)?.unwrap_or(0),
        pending_compaction_bytes: sum(ESTIMATE_PENDING_COMPACTION_BYTES)?,
        live_sst_bytes: sum(LIVE_SST_FILES_SIZE)?,
    })
}
