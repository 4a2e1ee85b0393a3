//! [`TaskStore`]: one task's RocksDB database behind a transactional overlay.

use std::path::{Path, PathBuf};

use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, DB, WriteBatch, WriteOptions};

use crate::config::{StoreConfig, validate_store_names};
use crate::error::StateError;
use crate::meta;
use crate::overlay::{Overlay, StoreId};
use crate::record::ChangelogRecord;
use crate::resources::SharedResources;
use crate::scan::{ScanVisitor, merged_prefix_scan};

/// The state of one task (one application id and input partition): a RocksDB database whose
/// column families are the declared stores, with the writes of the open transaction held in
/// memory until [`TaskStore::commit`]. Dropping it closes the database and discards any
/// uncommitted writes.
pub struct TaskStore {
    pub(crate) db: DB,
    pub(crate) path: PathBuf,
    /// Every column family of the database: the declared stores, the metadata family,
    /// `default`, and families of stores no longer declared (kept, never dropped).
    pub(crate) families: Vec<String>,
    pub(crate) overlay: Overlay,
    pub(crate) write_options: WriteOptions,
}

impl std::fmt::Debug for TaskStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskStore")
            .field("path", &self.path)
            .field("families", &self.families)
            .field("pending", &self.has_pending())
            .finish_non_exhaustive()
    }
}

impl TaskStore {
    /// Opens (creating if missing) the database of `partition` under
    /// `<state_dir>/<application_id>/<partition>`, with one column family per name in
    /// `stores`. An existing directory is always reused, whatever state a previous process
    /// left it in; column families of stores that are no longer declared are opened and kept
    /// but are not accessible. Fails with [`StateError::Locked`] while another handle has the
    /// same directory open.
    pub fn open(
        cfg: &StoreConfig,
        shared: &SharedResources,
        partition: i32,
        stores: &[&str],
    ) -> Result<Self, StateError> {
        validate_store_names(stores)?;
        let path = cfg.task_dir(partition)?;
        std::fs::create_dir_all(&path).map_err(|e| StateError::from_io(&path, &e))?;
        let opts = shared.db_options();
        let families = family_names(&opts, &path, stores)?;
        let descriptors =
            families.iter().map(|name| ColumnFamilyDescriptor::new(name, shared.cf_options()));
        let db = DB::open_cf_descriptors(&opts, &path, descriptors)
            .map_err(|e| StateError::from_rocksdb(&path, e))?;
        let mut write_options = WriteOptions::default();
        write_options.set_sync(false);
        write_options.disable_wal(false);
        let store = Self { db, path, families, overlay: Overlay::new(stores), write_options };
        store.check_format()?;
        Ok(store)
    }

    /// The value of `key` as the open transaction sees it: its own pending write if any,
    /// otherwise the committed value.
    pub fn get(&self, store: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let id = self.store_id(store)?;
        if let Some(pending) = self.overlay.get(id, key) {
            return Ok(pending.map(<[u8]>::to_vec));
        }
        let cf = self.family(store)?;
        let value = self.db.get_pinned_cf(cf, key).map_err(|e| self.rocks(e))?;
        Ok(value.map(|v| v.to_vec()))
    }

    /// Writes `value` under `key` in the open transaction.
    pub fn put(&mut self, store: &str, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        let id = self.store_id(store)?;
        self.overlay.write(id, key, Some(value));
        Ok(())
    }

    /// Deletes `key` in the open transaction (a tombstone hides the committed value).
    pub fn delete(&mut self, store: &str, key: &[u8]) -> Result<(), StateError> {
        let id = self.store_id(store)?;
        self.overlay.write(id, key, None);
        Ok(())
    }

    /// Calls `visit` with every visible entry of `store` whose key starts with `prefix`, in
    /// ascending key order, pending writes merged over committed data, until `visit` breaks.
    pub fn scan_prefix(
        &self,
        store: &str,
        prefix: &[u8],
        visit: &mut ScanVisitor<'_>,
    ) -> Result<(), StateError> {
        self.scan_prefix_from(store, prefix, prefix, visit)
    }

    /// Like [`TaskStore::scan_prefix`], starting at the first key `>= from`.
    pub fn scan_prefix_from(
        &self,
        store: &str,
        prefix: &[u8],
        from: &[u8],
        visit: &mut ScanVisitor<'_>,
    ) -> Result<(), StateError> {
        let id = self.store_id(store)?;
        let cf = self.family(store)?;
        let pending = self.overlay.prefix(id, prefix, from);
        merged_prefix_scan(&self.db, cf, prefix, from, pending, visit).map_err(|e| self.rocks(e))
    }

    /// Drains the changelog records of the open transaction written since the last call: one
    /// record per written key, in the order of each key's first write, carrying its last
    /// value (`None` for a delete). The writes themselves stay pending until commit or abort.
    /// A key the transaction created and deleted again before any of its records was taken,
    /// and that the committed state does not hold, leaves no record and no write at all (see
    /// the overlay module); a failed read of the committed state keeps its tombstone, which is
    /// always correct.
    pub fn take_changelog(&mut self) -> Vec<ChangelogRecord> {
        let db = &self.db;
        self.overlay.take_changelog(|store, key| {
            db.cf_handle(store).is_none_or(|cf| !matches!(db.get_pinned_cf(cf, key), Ok(None)))
        })
    }

    /// Applies every pending write plus the given changelog checkpoints (store name, offset)
    /// to RocksDB as ONE atomic write batch (WAL on, no fsync: after a power loss data and
    /// checkpoints roll back together), then starts a new, empty transaction. Nothing is
    /// applied when it fails: an unknown store name, changelog records not yet taken
    /// ([`StateError::ChangelogNotTaken`]), or a RocksDB error leave the transaction as it was.
    pub fn commit(&mut self, changelog_offsets: &[(&str, i64)]) -> Result<(), StateError> {
        let records = self.overlay.queued();
        if records > 0 {
            return Err(StateError::ChangelogNotTaken { path: self.path.clone(), records });
        }
        let mut batch = WriteBatch::default();
        for (id, key, value) in self.overlay.writes() {
            let cf = self.family(self.overlay.name(id))?;
            match value {
                Some(value) => batch.put_cf(cf, key, value),
                None => batch.delete_cf(cf, key),
            }
        }
        for (store, offset) in changelog_offsets {
            self.put_checkpoint(&mut batch, store, *offset)?;
        }
        self.db.write_opt(batch, &self.write_options).map_err(|e| self.rocks(e))?;
        self.overlay.clear();
        Ok(())
    }

    /// Discards every pending write and changelog record of the open transaction.
    pub fn abort(&mut self) {
        self.overlay.clear();
    }

    /// True when the open transaction has written something.
    pub fn has_pending(&self) -> bool {
        !self.overlay.is_empty()
    }

    /// The task's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Names of the declared stores, in declaration order.
    pub fn stores(&self) -> impl Iterator<Item = &str> {
        self.overlay.names()
    }

    pub(crate) fn store_id(&self, store: &str) -> Result<StoreId, StateError> {
        self.overlay.store_id(store).ok_or_else(|| self.unknown(store))
    }

    pub(crate) fn family(&self, name: &str) -> Result<&ColumnFamily, StateError> {
        self.db.cf_handle(name).ok_or_else(|| self.unknown(name))
    }

    /// Adds the checkpoint of a declared `store` to `batch`.
    pub(crate) fn put_checkpoint(
        &self,
        batch: &mut WriteBatch,
        store: &str,
        offset: i64,
    ) -> Result<(), StateError> {
        self.store_id(store)?;
        let meta = self.family(meta::META_CF)?;
        batch.put_cf(meta, meta::checkpoint_key(store), meta::encode_offset(offset));
        Ok(())
    }

    pub(crate) fn rocks(&self, err: rocksdb::Error) -> StateError {
        StateError::from_rocksdb(&self.path, err)
    }

    fn unknown(&self, store: &str) -> StateError {
        StateError::UnknownStore { path: self.path.clone(), store: store.to_owned() }
    }

    /// Writes the format version into a new database, or checks the one found.
    fn check_format(&self) -> Result<(), StateError> {
        let meta = self.family(meta::META_CF)?;
        let found =
            self.db.get_pinned_cf(meta, meta::FORMAT_VERSION_KEY).map_err(|e| self.rocks(e))?;
        let Some(raw) = found else {
            return self
                .db
                .put_cf_opt(
                    meta,
                    meta::FORMAT_VERSION_KEY,
                    meta::encode_format(meta::FORMAT_VERSION),
                    &self.write_options,
                )
                .map_err(|e| self.rocks(e));
        };
        match meta::format_mismatch(&raw) {
            None => Ok(()),
            Some(message) => Err(StateError::Corruption { path: self.path.clone(), message }),
        }
    }
}

/// Column families to open: those already in the database (RocksDB refuses to open a
/// database without all of them), then `default`, the metadata family and the declared
/// stores, each once.
fn family_names(
    opts: &rocksdb::Options,
    path: &Path,
    stores: &[&str],
) -> Result<Vec<String>, StateError> {
    let mut names = if path.join("CURRENT").exists() {
        DB::list_cf(opts, path).map_err(|e| StateError::from_rocksdb(path, e))?
    } else {
        Vec::new()
    };
    let required = [rocksdb::DEFAULT_COLUMN_FAMILY_NAME, meta::META_CF];
    for name in required.iter().chain(stores) {
        if !names.iter().any(|n| n == name) {
            names.push((*name).to_owned());
        }
    }
    Ok(names)
}
