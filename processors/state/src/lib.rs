//! invex-state: per-task, transactional, byte-level key-value state on RocksDB.
//!
//! It knows nothing of Kafka or detectors; the runtime wraps it. One [`TaskStore`] per task
//! (application id, input partition) owns the RocksDB database at
//! `<state_dir>/<application_id>/<partition>`; each declared store is a column family, and
//! one internal column family holds metadata.
//!
//! # Invariants
//!
//! - **State never runs ahead of Kafka.** Writes (`put`, `delete`) go to an in-memory overlay
//!   that `get` and `scan_prefix` read through. RocksDB changes only in
//!   [`TaskStore::commit`], which the runtime calls after the Kafka transaction committed, and
//!   which applies the overlay and the new changelog checkpoints as ONE atomic `WriteBatch`.
//!   [`TaskStore::abort`] (or dropping the store, or a crash) discards the overlay, so a crash
//!   never leaves half a transaction on disk.
//! - **Every write reaches the changelog first.** Each write is also queued as a
//!   [`ChangelogRecord`]; [`TaskStore::take_changelog`] drains them for the runtime to produce.
//!   Records collapse per key within a take (first-write order, last value), as log
//!   compaction would. `commit` refuses to run while records are untaken.
//! - **Checkpoints move with the data.** A store's checkpoint (the changelog offset local
//!   state is known to include) is written in the same batch as the data it covers, by
//!   `commit` and by [`TaskStore::restore_batch`]. Data and checkpoint are therefore always
//!   consistent, even after a power loss (the WAL is on but not synced per commit: both roll
//!   back together, and restore replays from the older checkpoint).
//! - **State is never wiped implicitly.** Opening reuses whatever a previous process left,
//!   keeping column families of stores no longer declared; only [`TaskStore::wipe`] deletes.
//! - **One owner per task.** RocksDB's `LOCK` file makes a second open of a directory, in this
//!   process or another, fail at once with [`StateError::Locked`].
//! - **One memory budget.** Every database is opened with the block cache and write-buffer
//!   manager of one [`SharedResources`] (split documented there).
//!
//! # Metadata column family `__invex_meta`
//!
//! | key                       | value                                   |
//! |---------------------------|-----------------------------------------|
//! | `format-version`          | `u32` big-endian, currently `1`         |
//! | `checkpoint/<store name>` | `i64` big-endian changelog offset       |
//!
//! A database with another format version is reported as [`StateError::Corruption`] rather
//! than read. Store keys and values are stored exactly as given, with no prefix: the database
//! belongs to one task, so there is nothing to disambiguate.

mod admin;
mod config;
mod error;
mod meta;
mod overlay;
mod properties;
mod record;
mod resources;
mod scan;
mod store;

pub use config::StoreConfig;
pub use error::StateError;
pub use properties::StateProperties;
pub use record::{ChangelogRecord, RestoreRecord};
pub use resources::{DEFAULT_MEMORY_BUDGET_BYTES, MIN_MEMORY_BUDGET_BYTES, SharedResources};
pub use scan::ScanVisitor;
pub use store::TaskStore;
