//! Errors of the state layer, classified by what the caller must do.
//!
//! RocksDB reports failures as a status string; [`StateError::from_rocksdb`] turns it into a
//! variant the runtime can act on without parsing text: lock conflicts become
//! [`StateError::Locked`] (another owner of the task is still open: retry later), corruption
//! and I/O failures stop the instance, and misuse of the API (unknown store, commit with
//! changelog records still pending) is a bug in the caller.

use std::path::{Path, PathBuf};

/// A failure of the task state store. Every variant names the task directory it concerns.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The disk or file system failed (RocksDB `IO error`, directory creation or removal).
    /// Stop the instance: the state may be fine but this process cannot use it.
    #[error("state I/O error in {path}: {message}")]
    Io {
        /// Task directory.
        path: PathBuf,
        /// What failed, as reported by RocksDB or the operating system.
        message: String,
    },
    /// The database content is damaged or was written in an unsupported format. Stop the
    /// instance; an operator (or the runtime, by policy) wipes the task directory and the task
    /// restores from its changelog.
    #[error("state corruption in {path}: {message}")]
    Corruption {
        /// Task directory.
        path: PathBuf,
        /// What RocksDB or the format check found.
        message: String,
    },
    /// Any other RocksDB failure (invalid options, busy, shutdown in progress). Stop the
    /// instance.
    #[error("state store failure in {path}: {message}")]
    Storage {
        /// Task directory.
        path: PathBuf,
        /// RocksDB status message.
        message: String,
    },
    /// Another handle, in this process or another one, holds the task's RocksDB lock. Retry
    /// later (a previous owner of the task may still be closing) or stop.
    #[error("state directory {path} is locked by another open store: {message}")]
    Locked {
        /// Task directory.
        path: PathBuf,
        /// RocksDB's lock message.
        message: String,
    },
    /// The store name was not declared when the task store was opened. A bug in the caller.
    #[error("unknown state store {store:?} in {path}")]
    UnknownStore {
        /// Task directory.
        path: PathBuf,
        /// The undeclared store name.
        store: String,
    },
    /// `commit` was called while changelog records of the transaction had not been taken, so
    /// local state would run ahead of the changelog topic. A bug in the caller; the transaction
    /// is left open and untouched.
    #[error("commit in {path} with {records} changelog records not taken")]
    ChangelogNotTaken {
        /// Task directory.
        path: PathBuf,
        /// Number of pending records.
        records: usize,
    },
    /// `restore_batch` was called while a transaction had pending writes. A bug in the caller:
    /// restore runs before processing starts.
    #[error("restore in {path} while a transaction has pending writes")]
    TransactionOpen {
        /// Task directory.
        path: PathBuf,
    },
    /// The configuration or the store declaration is invalid. Fix the configuration.
    #[error("invalid state configuration: {reason}")]
    InvalidConfig {
        /// What is wrong, naming the offending value.
        reason: String,
    },
}

/// Status prefixes RocksDB's POSIX file system uses when `LockFile` fails: the first when this
/// process already holds the lock, the second when `fcntl` reports another process holds it.
const LOCK_MESSAGES: [&str; 2] = ["lock hold by current process", "While lock file"];

impl StateError {
    /// Classifies a RocksDB status for the task directory `path`.
    pub(crate) fn from_rocksdb(path: &Path, err: rocksdb::Error) -> Self {
        let kind = err.kind();
        let message = err.into_string();
        let path = path.to_path_buf();
        if kind == rocksdb::ErrorKind::IOError && LOCK_MESSAGES.iter().any(|m| message.contains(m))
        {
            return Self::Locked { path, message };
        }
        match kind {
            rocksdb::ErrorKind::IOError => Self::Io { path, message },
            rocksdb::ErrorKind::Corruption => Self::Corruption { path, message },
            _ => Self::Storage { path, message },
        }
    }

    /// Wraps a file-system error on the task directory `path`.
    pub(crate) fn from_io(path: &Path, err: &std::io::Error) -> Self {
        Self::Io { path: path.to_path_buf(), message: err.to_string() }
    }

    /// True when retrying the same call later can succeed (only [`StateError::Locked`]);
    /// every other variant stops the instance or reveals a bug.
    pub fn is_retriable(&self) -> bool {
        matches!(self, Self::Locked { .. })
    }
}
