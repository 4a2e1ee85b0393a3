//! The raw `rocksdb` baseline of the state bench: one column family, opened with the options
//! invex-state's `SharedResources` builds at the default budget (kept in step by hand: those
//! builders are crate-private), and the same write options as `TaskStore`.

use std::path::Path;

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DB, DBCompressionType, Options, PrefixRange,
    ReadOptions, WriteBatch, WriteBufferManager, WriteOptions,
};

/// `DEFAULT_MEMORY_BUDGET_BYTES` of invex-state: 256 MiB.
const BUDGET: usize = 256 << 20;
/// Memtables get a quarter of the budget; one column family's write buffer a quarter of that,
/// within 4..=64 MiB (16 MiB here).
const MEMTABLES: usize = BUDGET / 4;
const WRITE_BUFFER: usize = MEMTABLES / 4;
const BLOOM_BITS_PER_KEY: f64 = 10.0;
/// Where the checkpoint of a write batch goes, as `TaskStore` keeps it in its metadata family.
const CHECKPOINT_KEY: &[u8] = b"checkpoint/bench";

/// A RocksDB database with one data column family `cf`.
pub(crate) struct RawStore {
    db: DB,
    cf: String,
    write: WriteOptions,
}

fn cf_options(cache: &Cache) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_cache_index_and_filter_blocks(true);
    table.set_cache_index_and_filter_blocks_with_high_priority(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    table.set_bloom_filter(BLOOM_BITS_PER_KEY, false);
    let mut opts = Options::default();
    opts.set_block_based_table_factory(&table);
    opts.set_write_buffer_size(WRITE_BUFFER);
    opts.set_compression_type(DBCompressionType::Lz4);
    opts.set_bottommost_compression_type(DBCompressionType::Zstd);
    opts
}

impl RawStore {
    /// Opens (creating if missing) the database at `dir` with the column family `cf`.
    pub(crate) fn open(dir: &Path, cf: &str) -> Self {
        let cache = Cache::new_lru_cache(BUDGET);
        let buffers = WriteBufferManager::new_write_buffer_manager_with_cache(
            MEMTABLES,
            false,
            cache.clone(),
        );
        let mut opts = cf_options(&cache);
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_write_buffer_manager(&buffers);
        opts.set_keep_log_file_num(3);
        opts.set_max_log_file_size(8 << 20);
        let families = [rocksdb::DEFAULT_COLUMN_FAMILY_NAME, cf]
            .map(|name| ColumnFamilyDescriptor::new(name, cf_options(&cache)));
        let db = DB::open_cf_descriptors(&opts, dir, families).expect("open raw RocksDB");
        let mut write = WriteOptions::default();
        write.set_sync(false);
        write.disable_wal(false);
        Self { db, cf: cf.to_owned(), write }
    }

    fn family(&self) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(&self.cf).expect("the data column family exists")
    }

    /// The value at `key`, copied out as `TaskStore::get` returns it.
    pub(crate) fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.db.get_cf(self.family(), key).expect("raw get")
    }

    /// Writes one key straight to RocksDB.
    pub(crate) fn put(&self, key: &[u8], value: &[u8]) {
        self.db.put_cf_opt(self.family(), key, value, &self.write).expect("raw put");
    }

    /// Writes `writes` and the checkpoint `offset` as one atomic batch.
    pub(crate) fn write_batch<'a>(
        &self,
        writes: impl Iterator<Item = (&'a [u8], Vec<u8>)>,
        offset: i64,
    ) {
        let mut batch = WriteBatch::default();
        let cf = self.family();
        for (key, value) in writes {
            batch.put_cf(cf, key, value);
        }
        batch.put(CHECKPOINT_KEY, offset.to_be_bytes());
        self.db.write_opt(batch, &self.write).expect("raw write batch");
    }

    /// Visits every entry under `prefix` in key order, as `TaskStore`'s scan reads disk.
    pub(crate) fn scan_prefix(&self, prefix: &[u8], mut visit: impl FnMut(&[u8], &[u8])) {
        let mut read = ReadOptions::default();
        read.set_iterate_range(PrefixRange(prefix));
        let mut it = self.db.raw_iterator_cf_opt(self.family(), read);
        it.seek(prefix);
        while let Some((key, value)) = it.item() {
            visit(key, value);
            it.next();
        }
        it.status().expect("raw scan");
    }
}
