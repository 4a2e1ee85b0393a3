//! Checkpoints, restore and maintenance of a [`TaskStore`]: the calls the runtime makes
//! around processing rather than inside it.
//!
//! Restore writes straight to RocksDB, bypassing the overlay, one atomic batch per call with
//! the batch's last offset as the store's checkpoint: a crash in the middle of a restore
//! leaves data and checkpoint consistent, and the next restore resumes from there. Restore
//! keeps the WAL on: RocksDB recovery loses WAL-less writes that were not flushed while
//! replaying later logged ones, which would leave a checkpoint claiming data that is gone.

use rocksdb::{FlushOptions, Options, WriteBatch};

use crate::error::StateError;
use crate::meta;
use crate::properties::{StateProperties, collect};
use crate::record::RestoreRecord;
use crate::store::TaskStore;

impl TaskStore {
    /// The committed changelog offset of `store`: local state includes the store's changelog
    /// up to this offset. `None` when nothing was ever committed or restored for it.
    pub fn checkpoint(&self, store: &str) -> Result<Option<i64>, StateError> {
        self.store_id(store)?;
        let meta_cf = self.family(meta::META_CF)?;
        let raw = self
            .db
            .get_pinned_cf(meta_cf, meta::checkpoint_key(store))
            .map_err(|e| self.rocks(e))?;
        let Some(raw) = raw else {
            return Ok(None);
        };
        meta::decode_offset(&raw).map(Some).ok_or_else(|| StateError::Corruption {
            path: self.path.clone(),
            message: format!("checkpoint of store {store:?} has {} bytes, not 8", raw.len()),
        })
    }

    /// Applies changelog `records` of `store` and sets its checkpoint to `last_offset`, in one
    /// atomic batch. Fails with [`StateError::TransactionOpen`] while the open transaction
    /// has pending writes.
    pub fn restore_batch(
        &mut self,
        store: &str,
        records: &[RestoreRecord<'_>],
        last_offset: i64,
    ) -> Result<(), StateError> {
        if self.has_pending() {
            return Err(StateError::TransactionOpen { path: self.path.clone() });
        }
        self.store_id(store)?;
        let cf = self.family(store)?;
        let mut batch = WriteBatch::default();
        for record in records {
            match record.value {
                Some(value) => batch.put_cf(cf, record.key, value),
                None => batch.delete_cf(cf, record.key),
            }
        }
        self.put_checkpoint(&mut batch, store, last_offset)?;
        self.db.write_opt(batch, &self.write_options).map_err(|e| self.rocks(e))
    }

    /// RocksDB size and health numbers of this task's database.
    pub fn properties(&self) -> Result<StateProperties, StateError> {
        let families = self.all_families()?;
        collect(&self.db, &families).map_err(|e| self.rocks(e))
    }

    /// Writes every memtable to SST files and waits for it; call on revocation and shutdown
    /// so the next open does not replay the WAL. Pending writes are not affected.
    pub fn flush(&self) -> Result<(), StateError> {
        let families = self.all_families()?;
        let mut opts = FlushOptions::default();
        opts.set_wait(true);
        self.db.flush_cfs_opt(&families, &opts).map_err(|e| self.rocks(e))
    }

    /// Closes the database and deletes the task directory with everything in it. The only
    /// way this crate ever removes state; the runtime calls it explicitly (for example after
    /// [`StateError::Corruption`]) and then restores from the changelog.
    pub fn wipe(self) -> Result<(), StateError> {
        let path = self.path.clone();
        drop(self);
        rocksdb::DB::destroy(&Options::default(), &path)
            .map_err(|e| StateError::from_rocksdb(&path, e))?;
        match std::fs::remove_dir_all(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(StateError::from_io(&path, &e))
            }
            _ => Ok(()),
        }
    }

    fn all_families(&self) -> Result<Vec<&rocksdb::ColumnFamily>, StateError> {
        self.families.iter().map(|name| self.family(name)).collect()
    }
}
