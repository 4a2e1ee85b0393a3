//! One memory budget for every task database of the process.
//!
//! A [`SharedResources`] holds ONE LRU block cache and ONE write-buffer manager. The cache
//! capacity is the whole budget; the write-buffer manager limits memtables to a quarter of it
//! and charges their memory to the same cache. So memtables, data blocks, and the index and
//! filter blocks (which are also kept in the cache, at high priority) share a single limit:
//! at the default 256 MiB, up to 64 MiB of memtables and the rest for blocks. The limit is
//! soft: the manager triggers flushes near its limit instead of stalling writers, because a
//! stall in one task would block the processing thread that serves all others.
//!
//! Every task database is opened with options built here, so adding tasks never adds memory
//! beyond the budget (apart from RocksDB's small per-database bookkeeping).

use rocksdb::{BlockBasedOptions, Cache, DBCompressionType, Options, WriteBufferManager};

use crate::error::StateError;

/// Default memory budget: 256 MiB.
pub const DEFAULT_MEMORY_BUDGET_BYTES: usize = 256 << 20;

/// Smallest accepted budget: 16 MiB. Below that the memtables flush constantly.
pub const MIN_MEMORY_BUDGET_BYTES: usize = 16 << 20;

/// Share of the budget reserved for memtables, as a divisor of the budget.
const MEMTABLE_SHARE_DIVISOR: usize = 4;

/// Bounds of one column family's memtable: large enough to batch flushes, small enough that
/// several stores of several tasks fit in the memtable share.
const WRITE_BUFFER_MIN: usize = 4 << 20;
const WRITE_BUFFER_MAX: usize = 64 << 20;

/// Bloom filter density for point lookups (`get`), about 1% false positives.
const BLOOM_BITS_PER_KEY: f64 = 10.0;
/// Arena block of a memtable: the step in which an active memtable takes memory.
///
/// Every store of every task database is a column family with an active memtable of its
/// own: 25 per detect task (23 stores, metadata, default), so 300 on an instance that owns 12
/// partitions. RocksDB's default block (write buffer / 8, at most 1 MiB) is taken by a
/// memtable as soon as it holds one entry, so a few hundred near-empty memtables held
/// hundreds of MiB; with 64 KiB blocks a quiet store costs 64 KiB. A whole-key memtable bloom
/// filter was tried to speed up reads of absent keys and removed: RocksDB allocates it whole
/// (its share of the write buffer) when the memtable is created, for every column family, and
/// it did not measurably speed reads. Measured with `invex bench --partitions 12`: peak RSS
/// 420-452 MiB with both, 179-196 MiB without (benches/README.md).
const ARENA_BLOCK_BYTES: usize = 64 << 10;

/// The block cache and write-buffer manager shared by every task database of a process.
/// Cloning is cheap and shares the same cache and manager.
#[derive(Clone)]
pub struct SharedResources {
    cache: Cache,
    write_buffers: WriteBufferManager,
    budget_bytes: usize,
}

impl std::fmt::Debug for SharedResources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedResources")
            .field("budget_bytes", &self.budget_bytes)
            .field("memtable_budget_bytes", &self.memtable_budget_bytes())
            .finish_non_exhaustive()
    }
}

impl SharedResources {
    /// Creates the cache and write-buffer manager for a budget of `budget_bytes`; fails with
    /// [`StateError::InvalidConfig`] below [`MIN_MEMORY_BUDGET_BYTES`].
    pub fn new(budget_bytes: usize) -> Result<Self, StateError> {
        if budget_bytes < MIN_MEMORY_BUDGET_BYTES {
            return Err(StateError::InvalidConfig {
                reason: format!(
                    "memory budget {budget_bytes} bytes is below the minimum of \
                     {MIN_MEMORY_BUDGET_BYTES}"
                ),
            });
        }
        let cache = Cache::new_lru_cache(budget_bytes);
        let write_buffers = WriteBufferManager::new_write_buffer_manager_with_cache(
            budget_bytes / MEMTABLE_SHARE_DIVISOR,
            false,
            cache.clone(),
        );
        Ok(Self { cache, write_buffers, budget_bytes })
    }

    /// The whole budget, in bytes.
    pub fn budget_bytes(&self) -> usize {
        self.budget_bytes
    }

    /// The part of the budget memtables may use, in bytes.
    pub fn memtable_budget_bytes(&self) -> usize {
        self.budget_bytes / MEMTABLE_SHARE_DIVISOR
    }

    /// Bytes currently held in the shared cache, memtable reservations included.
    pub fn cache_usage_bytes(&self) -> usize {
        self.cache.get_usage()
    }

    /// Bytes currently used by memtables of all task databases.
    pub fn memtable_usage_bytes(&self) -> usize {
        self.write_buffers.get_usage()
    }

    /// Options for opening a task database: DB-wide settings plus the column family
    /// settings, which RocksDB uses for the default column family.
    pub(crate) fn db_options(&self) -> Options {
        let mut opts = self.cf_options();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_write_buffer_manager(&self.write_buffers);
        opts.set_keep_log_file_num(3);
        opts.set_max_log_file_size(8 << 20);
        opts
    }

    /// Options of one column family (store or metadata).
    pub(crate) fn cf_options(&self) -> Options {
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&self.cache);
        table.set_cache_index_and_filter_blocks(true);
        table.set_cache_index_and_filter_blocks_with_high_priority(true);
        table.set_pin_l0_filter_and_index_blocks_in_cache(true);
        table.set_bloom_filter(BLOOM_BITS_PER_KEY, false);
        let mut opts = Options::default();
        opts.set_block_based_table_factory(&table);
        opts.set_arena_block_size(ARENA_BLOCK_BYTES);
        opts.set_write_buffer_size(
            (self.memtable_budget_bytes() / 4).clamp(WRITE_BUFFER_MIN, WRITE_BUFFER_MAX),
        );
        opts.set_compression_type(DBCompressionType::Lz4);
        opts.set_bottommost_compression_type(DBCompressionType::Zstd);
        opts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_below_minimum_is_rejected() {
        assert!(matches!(
            SharedResources::new(MIN_MEMORY_BUDGET_BYTES - 1),
            Err(StateError::InvalidConfig { .. })
        ));
    }

    #[test]
    fn memtables_get_a_quarter_of_the_budget() {
        let shared = SharedResources::new(DEFAULT_MEMORY_BUDGET_BYTES).unwrap();
        assert_eq!(shared.budget_bytes(), 256 << 20);
        assert_eq!(shared.memtable_budget_bytes(), 64 << 20);
        assert_eq!(shared.memtable_usage_bytes(), 0);
    }
}
