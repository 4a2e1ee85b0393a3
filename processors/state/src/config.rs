//! Where task databases live and which store names are allowed.
//!
//! The directory of a task is `<state_dir>/<application_id>/<partition>`. The application id
//! becomes a path component, so it is restricted to Kafka's legal topic characters
//! (`[A-Za-z0-9._-]`, not `.` or `..`): no value can escape `state_dir`.

use std::path::PathBuf;

use crate::error::StateError;
use crate::meta::META_CF;
use crate::resources::DEFAULT_MEMORY_BUDGET_BYTES;

/// Process-wide settings of the state layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Root directory of all task databases of this process.
    pub state_dir: PathBuf,
    /// Kafka Streams-style application id; one sub-directory per application.
    pub application_id: String,
    /// Bytes of memory RocksDB may use across all task databases (block cache and memtables);
    /// pass it to [`crate::SharedResources::new`].
    pub memory_budget_bytes: usize,
}

impl StoreConfig {
    /// A configuration with the default memory budget
    /// ([`DEFAULT_MEMORY_BUDGET_BYTES`]).
    pub fn new(state_dir: impl Into<PathBuf>, application_id: impl Into<String>) -> Self {
        Self {
            state_dir: state_dir.into(),
            application_id: application_id.into(),
            memory_budget_bytes: DEFAULT_MEMORY_BUDGET_BYTES,
        }
    }

    /// The directory of the task for `partition`, after validating the application id and
    /// the partition number.
    pub fn task_dir(&self, partition: i32) -> Result<PathBuf, StateError> {
        validate_application_id(&self.application_id)?;
        if partition < 0 {
            return Err(StateError::InvalidConfig {
                reason: format!("partition {partition} is negative"),
            });
        }
        Ok(self.state_dir.join(&self.application_id).join(partition.to_string()))
    }
}

fn validate_application_id(id: &str) -> Result<(), StateError> {
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if id.is_empty() || id == "." || id == ".." || !id.chars().all(legal) {
        return Err(StateError::InvalidConfig {
            reason: format!("application id {id:?} must be non-empty [A-Za-z0-9._-], not . or .."),
        });
    }
    Ok(())
}

/// Checks the declared store names: non-empty, unique, and neither RocksDB's `default`
/// column family nor the internal metadata column family.
pub(crate) fn validate_store_names(stores: &[&str]) -> Result<(), StateError> {
    for (i, name) in stores.iter().enumerate() {
        let reason = if name.is_empty() {
            Some("store names must not be empty".to_owned())
        } else if *name == META_CF || *name == rocksdb::DEFAULT_COLUMN_FAMILY_NAME {
            Some(format!("store name {name:?} is reserved"))
        } else if stores[..i].contains(name) {
            Some(format!("store {name:?} is declared twice"))
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(StateError::InvalidConfig { reason });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_dir_nests_application_and_partition() {
        let cfg = StoreConfig::new("/var/lib/invex", "invex-detect");
        assert_eq!(cfg.task_dir(7).unwrap(), PathBuf::from("/var/lib/invex/invex-detect/7"));
    }

    #[test]
    fn application_ids_that_could_escape_state_dir_are_rejected() {
        for id in ["", ".", "..", "a/b", "../x", "a\\b", "a b"] {
            let cfg = StoreConfig::new("/s", id);
            assert!(matches!(cfg.task_dir(0), Err(StateError::InvalidConfig { .. })), "{id:?}");
        }
    }

    #[test]
    fn negative_partition_is_rejected() {
        let cfg = StoreConfig::new("/s", "app");
        assert!(matches!(cfg.task_dir(-1), Err(StateError::InvalidConfig { .. })));
    }

    #[test]
    fn store_names_must_be_unique_non_empty_and_not_reserved() {
        assert!(validate_store_names(&["a", "b"]).is_ok());
        for bad in [&["a", "a"][..], &[""], &["default"], &[META_CF]] {
            assert!(validate_store_names(bad).is_err(), "{bad:?}");
        }
    }
}
