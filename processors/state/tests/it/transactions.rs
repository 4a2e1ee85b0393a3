//! Overlay reads, commit, abort and changelog records.

use std::ops::ControlFlow;

use invex_state::{ChangelogRecord, StateError};

use crate::common::{Fixture, commit, kv, scan};

fn record(store: &str, key: &[u8], value: Option<&[u8]>) -> ChangelogRecord {
    ChangelogRecord { store: store.to_owned(), key: key.to_vec(), value: value.map(<[u8]>::to_vec) }
}

#[test]
fn pending_writes_are_visible_but_not_persisted_without_commit() {
    let fx = Fixture::new();
    let mut task = fx.open(0);
    task.put("open", b"k", b"v").unwrap();
    assert_eq!(task.get("open", b"k").unwrap(), Some(b"v".to_vec()));
    assert!(task.has_pending());
    drop(task);
    let task = fx.open(0);
    assert_eq!(task.get("open", b"k").unwrap(), None);
    assert!(!task.has_pending());
}

#[test]
fn commit_persists_data_and_checkpoints_across_reopen() {
    let fx = Fixture::new();
    let mut task = fx.open(0);
    task.put("open", b"a", b"1").unwrap();
    task.put("timers", b"t", b"2").unwrap();
    task.take_changelog();
    task.commit(&[("open", 41), ("timers", 7)]).unwrap();
    assert!(!task.has_pending());
    drop(task);
    let task = fx.open(0);
    assert_eq!(task.get("open", b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(task.get("timers", b"t").unwrap(), Some(b"2".to_vec()));
    assert_eq!(task.checkpoint("open").unwrap(), Some(41));
    assert_eq!(task.checkpoint("timers").unwrap(), Some(7));
}

#[test]
fn checkpoint_is_none_until_first_commit_and_only_for_given_stores() {
    let fx = Fixture::new();
    let mut task = fx.open(0);
    assert_eq!(task.checkpoint("open").unwrap(), None);
    task.commit(&[("open", 3)]).unwrap();
    assert_eq!(task.checkpoint("open").unwrap(), Some(3));
    assert_eq!(task.checkpoint("timers").unwrap(), None);
}

#[test]
fn abort_discards_writes_and_changelog_records() {
    let fx = Fixture::new();
    let mut task = fx.open(0);
    task.put("open", b"keep", b"1").unwrap();
    commit(&mut task);
    task.put("open", b"drop", b"2").unwrap();
    task.delete("open", b"keep").unwrap();
    task.abort();
    assert!(!task.has_pending());
    assert!(task.take_changelog().is_empty());
    assert_eq!(scan(&task, "open", b""), vec![kv(b"keep", b"1")]);
}

#[test]
fn pending_delete_hides_committed_value() {
    let fx = Fixture::new();
    let mut task = fx.open(0);
    task.put("open", b"k", b"v").unwrap();
    commit(&mut task);
    task.delete("open", b"k").unwrap();
    assert_eq!(task.get("open", b"k").unwrap(), None);
    assert!(scan(&task, "open", b"").is_empty());
    commit(&mut task);
    drop(task);
    assert_eq!(fx.open(0).get("open", b"k").unwrap(), None);
}

#[test]
fn scan_merges_pending_over_committed_in_key_order() {
    let fx = Fixture::new();
    let mut task = fx.open(0);
    for key in [&b"p1"[..], b"p3", b"p5", b"q1", b"o9"] {
        task.put("open", key, b"old").unwrap();
    }
    commit(&mut task);
    task.put("open", b"p3", b"new").unwrap();
    task.put("open", b"p4", b"new").unwrap();
    task.delete("open", b"p5").unwrap();
    task.put("open", b"p0", b"new").unwrap();
    task.put("timers", b"p2", b"other store").unwrap();
    assert_eq!(
        scan(&task, "open", b"p"),
        vec![kv(b"p0", b"new"), kv(b"p1", b"old"), kv(b"p3", b"new"), kv(b"p4", b"new"),]
    );
}

#[test]
fn scan_stops_when_the_visitor_breaks() {
    let fx = Fixture::new();
    let mut task = fx.open(0);
    for key in [&b"a"[..], b"c"] {
        task.put("open", key, b"committed").unwrap();
    }
    commit(&mut task);
    task.put("open", b"b", b"pending").unwrap();
    let mut seen = Vec::new();
    task.scan_prefix("open", b"", &mut |k, _| {
        seen.push(k.to_vec());
        if seen.len() == 2 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    })
    .unwrap();
    assert_eq!(seen, vec![b"a".to_vec(), b"b".to_vec()]);
}

#[test]
fn scan_from_starts_at_the_first_key_at_or_after_from_on_both_sides() {
    let fx = Fixture::new();
    let mut task = fx.open(0);
    for key in [&b"t1"[..], b"t2", b"t3", b"t5", b"u1"] {
        task.put("timers", key, b"committed").unwrap();
    }
    commit(&mut task);
    for key in [&b"t1"[..], b"t2"] {
        task.delete("timers", key).unwrap();
    }
    commit(&mut task);
    task.put("timers", b"t4", b"pending").unwrap();
    task.put("timers", b"t0", b"pending").unwrap();
    let mut seen = Vec::new();
    task.scan_prefix_from("timers", b"t", b"t3", &mut |k, v| {
        seen.push(kv(k, v));
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(seen, vec![kv(b"t3", b"committed"), kv(b"t4", b"pending"), kv(b"t5", b"committed")]);
}

#[test]
fn scan_prefix_of_ff_bytes_has_no_upper_bound_problem() {
    let fx = Fixture::new();
    let mut task = fx.open(0);
    for key in [&[0xfe, 0xff][..], &[0xff], &[0xff, 0xff, 0x00], &[0xff, 0xff]] {
        task.put("open", key, b"v").unwrap();
    }
    commit(&mut task);
    let keys: Vec<_> = scan(&task, "open", &[0xff, 0xff]).into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, vec![vec![0xff, 0xff], vec![0xff, 0xff, 0x00]]);
}

#[test]
fn changelog_collapses_to_last_value_in_first_write_order() {
    let fx = Fixture::new();
    let mut task = fx.open(0);
    task.put("open", b"x", b"1").unwrap();
    task.put("timers", b"t", b"1").unwrap();
    task.put("open", b"y", b"1").unwrap();
    task.put("open", b"x", b"2").unwrap();
    task.delete("open", b"y").unwrap();
    task.delete("open", b"z").unwrap();
    // y was created and deleted unseen: nothing of it remains.
    assert_eq!(
        task.take_changelog(),
        vec![
            record("open", b"x", Some(b"2")),
            record("timers", b"t", Some(b"1")),
            record("open", b"z", None),
        ]
    );
    assert!(task.take_changelog().is_empty(), "take drains");
    task.put("open", b"x", b"3").unwrap();
    assert_eq!(task.take_changelog(), vec![record("open", b"x", Some(b"3"))]);
}

#[test]
fn commit_refuses_untaken_changelog_and_keeps_the_transaction() {
    let fx = Fixture::new();
    let mut task = fx.open(0);
    task.put("open", b"k", b"v").unwrap();
    let err = task.commit(&[("open", 1)]).unwrap_err();
    assert!(matches!(err, StateError::ChangelogNotTaken { records: 1, .. }), "{err}");
    assert!(task.has_pending());
    assert_eq!(task.checkpoint("open").unwrap(), None);
    assert_eq!(task.take_changelog().len(), 1);
    task.commit(&[("open", 1)]).unwrap();
    assert_eq!(task.checkpoint("open").unwrap(), Some(1));
}

#[test]
fn unknown_store_is_rejected_by_every_call() {
    let fx = Fixture::new();
    let mut task = fx.open(0);
    let unknown = |r: Result<(), StateError>| matches!(r, Err(StateError::UnknownStore { ref store, .. }) if store == "nope");
    assert!(unknown(task.put("nope", b"k", b"v")));
    assert!(unknown(task.delete("nope", b"k")));
    assert!(unknown(task.get("nope", b"k").map(drop)));
    assert!(unknown(task.checkpoint("nope").map(drop)));
    assert!(unknown(task.scan_prefix("nope", b"", &mut |_, _| ControlFlow::Continue(()))));
    assert!(unknown(task.restore_batch("nope", &[], 0)));
    // Internal column families are not stores either.
    assert!(task.get("__invex_meta", b"format-version").is_err());
    assert!(task.get("default", b"k").is_err());
}

#[test]
fn commit_with_an_unknown_checkpoint_store_applies_nothing() {
    let fx = Fixture::new();
    let mut task = fx.open(0);
    task.put("open", b"k", b"v").unwrap();
    task.take_changelog();
    let err = task.commit(&[("open", 5), ("nope", 6)]).unwrap_err();
    assert!(matches!(err, StateError::UnknownStore { .. }), "{err}");
    assert!(task.has_pending());
    task.abort();
    assert_eq!(task.get("open", b"k").unwrap(), None);
    assert_eq!(task.checkpoint("open").unwrap(), None);
}

#[test]
fn a_key_created_and_deleted_unseen_leaves_no_trace_but_a_committed_one_a_tombstone() {
    let fx = Fixture::new();
    let mut task = fx.open(0);
    task.put("timers", b"flushed", b"1").unwrap();
    task.take_changelog();
    task.commit(&[("timers", 1)]).unwrap();
    task.flush().unwrap();
    task.put("timers", b"memtable", b"1").unwrap();
    task.take_changelog();
    task.commit(&[("timers", 2)]).unwrap();
    for key in [&b"flushed"[..], b"memtable", b"fresh"] {
        task.put("timers", key, b"2").unwrap();
        task.delete("timers", key).unwrap();
    }
    assert_eq!(
        task.take_changelog(),
        vec![record("timers", b"flushed", None), record("timers", b"memtable", None)],
        "the committed keys, in an SST file and in the memtable, need their tombstones"
    );
    task.commit(&[("timers", 4)]).unwrap();
    drop(task);
    let task = fx.open(0);
    assert_eq!(scan(&task, "timers", b""), Vec::<(Vec<u8>, Vec<u8>)>::new());
}
