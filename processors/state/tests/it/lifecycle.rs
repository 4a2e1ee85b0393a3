//! Opening, locking, format checks, undeclared stores and wipe.

use invex_state::{StateError, TaskStore};

use crate::common::{Fixture, STORES, commit, kv, scan};

#[test]
fn opening_the_same_directory_twice_fails_with_locked() {
    let fx = Fixture::new();
    let task = fx.open(3);
    let err = TaskStore::open(&fx.cfg, &fx.shared, 3, &STORES).unwrap_err();
    assert!(matches!(err, StateError::Locked { ref path, .. } if path == task.path()), "{err}");
    assert!(err.is_retriable());
    drop(task);
    TaskStore::open(&fx.cfg, &fx.shared, 3, &STORES).unwrap();
}

#[test]
fn task_directory_is_state_dir_application_partition() {
    let fx = Fixture::new();
    let task = fx.open(12);
    assert_eq!(task.path(), fx.dir.path().join("invex-test").join("12"));
    assert_eq!(task.stores().collect::<Vec<_>>(), STORES);
}

#[test]
fn stores_no_longer_declared_are_kept_not_wiped() {
    let fx = Fixture::new();
    let mut task = fx.open(0);
    task.put("timers", b"t", b"v").unwrap();
    commit(&mut task);
    drop(task);
    let only_open = TaskStore::open(&fx.cfg, &fx.shared, 0, &["open"]).unwrap();
    assert!(only_open.get("timers", b"t").is_err());
    drop(only_open);
    let task = fx.open(0);
    assert_eq!(scan(&task, "timers", b""), vec![kv(b"t", b"v")]);
}

#[test]
fn invalid_store_declarations_are_rejected() {
    let fx = Fixture::new();
    for stores in [&["a", "a"][..], &[""], &["default"], &["__invex_meta"]] {
        let err = TaskStore::open(&fx.cfg, &fx.shared, 0, stores).unwrap_err();
        assert!(matches!(err, StateError::InvalidConfig { .. }), "{stores:?}: {err}");
    }
}

#[test]
fn unsupported_format_version_is_reported_as_corruption() {
    let fx = Fixture::new();
    let path = fx.open(0).path().to_path_buf();
    {
        let families = rocksdb::DB::list_cf(&rocksdb::Options::default(), &path).unwrap();
        let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), &path, &families).unwrap();
        let meta = db.cf_handle("__invex_meta").unwrap();
        db.put_cf(meta, b"format-version", 2u32.to_be_bytes()).unwrap();
    }
    let err = TaskStore::open(&fx.cfg, &fx.shared, 0, &STORES).unwrap_err();
    assert!(matches!(err, StateError::Corruption { .. }), "{err}");
    assert!(!err.is_retriable());
}

#[test]
fn wipe_deletes_the_task_directory_and_nothing_else() {
    let fx = Fixture::new();
    let mut other = fx.open(1);
    other.put("open", b"k", b"v").unwrap();
    commit(&mut other);
    let mut task = fx.open(0);
    task.put("open", b"k", b"v").unwrap();
    commit(&mut task);
    let path = task.path().to_path_buf();
    task.wipe().unwrap();
    assert!(!path.exists());
    assert_eq!(fx.open(0).get("open", b"k").unwrap(), None);
    assert_eq!(other.get("open", b"k").unwrap(), Some(b"v".to_vec()));
}
