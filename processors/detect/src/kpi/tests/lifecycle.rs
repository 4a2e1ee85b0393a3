//! Transitions of exceptions: counted once, reopened, born terminal, bounded state, live
//! gauges, restore.

use invex_model::{ExceptionStatus, ExceptionType, MoneyAmount};

use super::{Exc, GRACE, HOUR, MIN, T0, Task, find};
use crate::kpi::{KPI_BACKLOG, KPI_EXCEPTION, KPI_WINDOW, KpiChange, KpiDisposition};
use crate::store::MemStore;

const CC: ExceptionType = ExceptionType::CycleCountDiscrepancy;

#[test]
fn transitions_are_counted_once_across_replays_and_redelivered_versions() {
    let mut task = Task::new(0);
    let a = Exc::new("a", T0 + 5 * MIN);
    let v1 = a.opened();
    let v2 = a.v(2, ExceptionStatus::Triaged, T0 + 6 * MIN);
    let v3 = a.v(3, ExceptionStatus::Resolved, T0 + 20 * MIN);
    let opened = task.exc(&v1);
    assert_eq!(opened.disposition, KpiDisposition::Counted);
    let change = opened.transition.map(|t| t.change);
    let root_cause = Some(invex_model::RootCauseCategory::Process);
    assert_eq!(change, Some(KpiChange::Opened { root_cause }));
    assert_eq!(task.exc(&v1).disposition, KpiDisposition::Duplicate);
    assert_eq!(task.exc(&v2).disposition, KpiDisposition::Applied);
    assert_eq!(task.exc(&v1).disposition, KpiDisposition::Duplicate);
    let resolved = task.exc(&v3);
    let change = resolved.transition.map(|t| t.change);
    assert_eq!(change, Some(KpiChange::Resolved { time_to_resolve_ms: 15 * MIN }));
    for replay in [&v3, &v2, &v1] {
        assert_eq!(task.exc(replay).disposition, KpiDisposition::Duplicate);
    }
    let records = task.advance(T0 + HOUR + GRACE);
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!((r.opened, r.resolved, r.open_backlog), (1, 1, 0));
    assert_eq!(r.time_to_resolve.sum_ms, 15 * MIN);
    assert_eq!(r.root_causes.len(), 1);
    assert_eq!(r.root_causes[0].count, 1);
    // After the window closed the replays are still duplicates (the tombstone remembers).
    for replay in [&v1, &v2, &v3] {
        assert_eq!(task.exc(replay).disposition, KpiDisposition::Duplicate);
    }
    assert_eq!(task.agg.late_records(&task.store).unwrap(), 0);
}

#[test]
fn a_reopened_exception_opens_again_and_ages_from_the_reopening() {
    let mut task = Task::new(0);
    let a = Exc::new("a", T0);
    task.exc(&a.opened());
    task.exc(&a.v(2, ExceptionStatus::Resolved, T0 + 10 * MIN));
    let reopened = task.exc(&a.v(3, ExceptionStatus::Open, T0 + 30 * MIN));
    assert_eq!(reopened.disposition, KpiDisposition::Counted);
    let records = task.advance(T0 + HOUR + GRACE);
    let r = find(&records, "DC1", CC, T0);
    assert_eq!((r.opened, r.resolved, r.open_backlog), (2, 1, 1));
    assert_eq!(r.oldest_open_age_ms, Some(30 * MIN), "from the reopening, not from opened_at");
}

#[test]
fn a_record_born_terminal_is_no_transition_and_leaves_no_state() {
    let mut task = Task::new(0);
    let accepted = Exc::new("a", T0).v(1, ExceptionStatus::Resolved, T0);
    assert_eq!(task.exc(&accepted).disposition, KpiDisposition::Ignored);
    assert!(task.store.entries(KPI_EXCEPTION).is_empty());
    assert!(task.advance(T0 + 5 * HOUR).is_empty());
}

#[test]
fn state_stays_bounded_after_terminal_statuses() {
    let mut task = Task::new(0);
    let all: Vec<Exc> = (0..50).map(|i| Exc::new(&format!("e{i}"), T0 + i * MIN / 2)).collect();
    for e in &all {
        task.exc(&e.opened());
        task.exc(&e.v(2, ExceptionStatus::Cancelled, e.opened_at + MIN));
        task.exc(&e.v(3, ExceptionStatus::Closed, e.opened_at + 2 * MIN));
    }
    let records = task.advance(T0 + HOUR + GRACE);
    assert_eq!((records[0].opened, records[0].resolved), (50, 50));
    // Closed episodes went with their window; one live entry per group stays.
    assert_eq!(task.store.entries(KPI_BACKLOG).len(), 1);
    assert_eq!(task.store.entries(KPI_WINDOW).len(), 1, "only the cursor");
    // Tombstones and their purge entries remain for the retention, then go.
    assert_eq!(task.store.entries(KPI_EXCEPTION).len(), 100);
    assert_eq!(task.exc(&all[7].opened()).disposition, KpiDisposition::Duplicate);
    let last_end = T0 + 49 * MIN / 2 + MIN;
    task.advance(last_end + GRACE + crate::kpi::track::TOMBSTONE_RETENTION_MS - 1);
    assert_eq!(task.store.entries(KPI_EXCEPTION).len(), 2, "the last one is not due yet");
    let quiet = task.advance(last_end + GRACE + crate::kpi::track::TOMBSTONE_RETENTION_MS);
    assert!(quiet.is_empty(), "nothing open, nothing counted: no record");
    assert!(task.store.entries(KPI_EXCEPTION).is_empty());
}

#[test]
fn live_gauges_follow_the_backlog_per_currency() {
    let mut task = Task::new(0);
    let a = Exc::new("a", T0).value(-10.5, "EUR");
    let b = Exc::new("b", T0 + 20 * MIN).value(4.0, "EUR");
    let c = Exc::new("c", T0 + 30 * MIN).value(-2.25, "USD");
    let zero = Exc::new("z", T0 + 40 * MIN).value(0.0, "XXX");
    for e in [&a, &b, &c, &zero] {
        task.exc(&e.opened());
    }
    task.exc(&a.v(2, ExceptionStatus::Resolved, T0 + 45 * MIN));
    task.exc(&c.v(2, ExceptionStatus::AwaitingRecount, T0 + 46 * MIN));
    let revalued = Exc { value: -3.0, ..c.clone() }.v(3, ExceptionStatus::Open, T0 + 47 * MIN);
    task.exc(&revalued);
    let live = task.agg.live(&task.store, T0 + HOUR).unwrap();
    assert_eq!(live.len(), 1);
    let g = &live[0];
    assert_eq!((g.open, g.oldest_open_age_ms), (3, Some(40 * MIN)));
    let eur = MoneyAmount { currency: "EUR".into(), amount: 4.0 };
    let usd = MoneyAmount { currency: "USD".into(), amount: 3.0 };
    assert_eq!(g.value_at_risk, vec![eur, usd], "no XXX entry for a zero value");
    for e in [&b, &c, &zero] {
        task.exc(&e.v(9, ExceptionStatus::Cancelled, T0 + 50 * MIN));
    }
    let live = task.agg.live(&task.store, T0 + HOUR).unwrap();
    assert_eq!((live[0].open, live[0].oldest_open_age_ms), (0, None));
    assert!(live[0].value_at_risk.iter().all(|m| m.amount == 0.0), "{live:?}");
}

#[test]
fn a_restored_task_continues_exactly_like_one_that_never_stopped() {
    let exceptions: Vec<Exc> =
        (0..12).map(|i| Exc::new(&format!("e{i}"), T0 + i * 17 * MIN)).collect();
    let mut inputs = Vec::new();
    for (i, e) in exceptions.iter().enumerate() {
        inputs.push(e.opened());
        if i % 3 != 0 {
            inputs.push(e.v(2, ExceptionStatus::Resolved, e.opened_at + (i as i64) * 23 * MIN));
        }
    }
    inputs.sort_by_key(|r| r.updated_at);
    let run = |restart_at: Option<usize>| {
        let mut task = Task::new(0);
        let mut out = Vec::new();
        for (n, record) in inputs.iter().enumerate() {
            if Some(n) == restart_at {
                let store = MemStore::from_changelog(
                    crate::kpi::KpiAggregator::store_names(),
                    task.store.changelog(),
                );
                task = Task { agg: crate::kpi::KpiAggregator::new(0, GRACE), store };
            }
            task.exc(record);
            out.extend(task.advance(record.updated_at));
        }
        out.extend(task.advance(T0 + 20 * HOUR));
        out
    };
    let straight = run(None);
    assert!(straight.len() >= 4, "{straight:#?}");
    for restart in [1, inputs.len() / 2, inputs.len() - 1] {
        assert_eq!(run(Some(restart)), straight, "restart before input {restart}");
    }
}
