//! Restore from changelog records straight into RocksDB.

use invex_state::{RestoreRecord, StateError};

use crate::common::{Fixture, commit, kv, scan};

fn put<'a>(key: &'a [u8], value: &'a [u8]) -> RestoreRecord<'a> {
    RestoreRecord { key, value: Some(value) }
}

#[test]
fn restore_batch_writes_data_and_checkpoint_durably() {
    let fx = Fixture::new();
    let mut task = fx.open(0);
    task.restore_batch("open", &[put(b"a", b"1"), put(b"b", b"1")], 10).unwrap();
    task.restore_batch("open", &[put(b"a", b"2")], 11).unwrap();
    assert!(!task.has_pending());
    assert!(task.take_changelog().is_empty(), "restore produces no changelog");
    drop(task);
    let task = fx.open(0);
    assert_eq!(scan(&task, "open", b""), vec![kv(b"a", b"2"), kv(b"b", b"1")]);
    assert_eq!(task.checkpoint("open").unwrap(), Some(11));
    assert_eq!(task.checkpoint("timers").unwrap(), None);
}

#[test]
fn restore_tombstone_deletes_the_key() {
    let fx = Fixture::new();
    let mut task = fx.open(0);
    task.put("timers", b"t", b"v").unwrap();
    commit(&mut task);
    let tombstone = RestoreRecord { key: b"t", value: None };
    task.restore_batch("timers", &[tombstone], 3).unwrap();
    assert_eq!(task.get("timers", b"t").unwrap(), None);
    assert_eq!(task.checkpoint("timers").unwrap(), Some(3));
}

#[test]
fn restore_while_a_transaction_is_open_is_rejected() {
    let fx = Fixture::new();
    let mut task = fx.open(0);
    task.put("open", b"k", b"pending").unwrap();
    let err = task.restore_batch("open", &[put(b"k", b"restored")], 1).unwrap_err();
    assert!(matches!(err, StateError::TransactionOpen { .. }), "{err}");
    assert_eq!(task.checkpoint("open").unwrap(), None);
    task.abort();
    assert_eq!(task.get("open", b"k").unwrap(), None);
}
