//! Windows: close with grace, once; backlog carried into quiet hours and taken at the window
//! end; late transitions; histograms and percentiles.

use invex_model::{ExceptionStatus, ExceptionType, MoneyAmount};

use super::{Exc, GRACE, HOUR, MIN, T0, Task, find};
use crate::kpi::{DURATION_BOUNDS_MS, KpiDisposition};

const CC: ExceptionType = ExceptionType::CycleCountDiscrepancy;
const NOH: ExceptionType = ExceptionType::NegativeOnHand;

#[test]
fn a_window_closes_after_its_grace_period_and_only_once() {
    let mut task = Task::new(4);
    let a = Exc::new("a", T0 + 10 * MIN);
    task.exc(&a.opened());
    assert!(task.advance(T0 + HOUR).is_empty());
    // Within the grace period a transition of the hour still counts in it.
    let b = Exc::new("b", T0 + 50 * MIN);
    assert_eq!(task.exc(&b.opened()).disposition, KpiDisposition::Counted);
    assert!(task.advance(T0 + HOUR + GRACE - 1).is_empty());
    let records = task.advance(T0 + HOUR + GRACE);
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!((r.window_start, r.window_end, r.task), (T0, T0 + HOUR, 4));
    assert_eq!((r.opened, r.open_backlog), (2, 2));
    assert_eq!(r.key(), format!("t1|DC1|CYCLE_COUNT_DISCREPANCY|{T0}|4"));
    assert!(task.advance(T0 + HOUR + GRACE).is_empty(), "emitted once");
    assert!(task.advance(T0).is_empty(), "stream time going back changes nothing");
}

#[test]
fn the_backlog_is_carried_into_quiet_hours_and_taken_at_the_window_end() {
    let mut task = Task::new(0);
    let a = Exc::new("a", T0 + 10 * MIN);
    let b = Exc::new("b", T0 + 15 * MIN).kind(NOH);
    let c = Exc::new("c", T0 + 20 * MIN);
    task.exc(&a.opened());
    task.exc(&b.opened());
    task.exc(&b.v(2, ExceptionStatus::Resolved, T0 + 25 * MIN));
    task.exc(&c.opened());
    // c resolves after the first hour ended, before it closes: still in that hour's backlog.
    task.exc(&c.v(2, ExceptionStatus::Resolved, T0 + HOUR + 5 * MIN));
    let records = task.advance(T0 + 4 * HOUR + GRACE);
    let first = find(&records, "DC1", CC, T0);
    assert_eq!((first.opened, first.resolved, first.open_backlog), (2, 0, 2));
    let noh = find(&records, "DC1", NOH, T0);
    assert_eq!((noh.opened, noh.resolved, noh.open_backlog), (1, 1, 0));
    let second = find(&records, "DC1", CC, T0 + HOUR);
    assert_eq!((second.opened, second.resolved, second.open_backlog), (0, 1, 1));
    for hour in 2..4 {
        let quiet = find(&records, "DC1", CC, T0 + hour * HOUR);
        assert_eq!((quiet.opened, quiet.resolved, quiet.open_backlog), (0, 0, 1));
        let age = T0 + (hour + 1) * HOUR - a.opened_at;
        assert_eq!(quiet.oldest_open_age_ms, Some(age));
        assert_eq!(quiet.value_at_risk, vec![MoneyAmount { currency: "EUR".into(), amount: 10.0 }]);
    }
    // Exactly the reported windows, in window then group order; never-seen groups: nothing.
    let order: Vec<_> = records.iter().map(|r| (r.window_start, r.exception_type)).collect();
    let expected =
        vec![(T0, CC), (T0, NOH), (T0 + HOUR, CC), (T0 + 2 * HOUR, CC), (T0 + 3 * HOUR, CC)];
    assert_eq!(order, expected);
}

#[test]
fn late_transitions_change_the_backlog_but_no_emitted_window() {
    let mut task = Task::new(0);
    let a = Exc::new("a", T0 + 10 * MIN);
    task.exc(&a.opened());
    assert_eq!(task.advance(T0 + HOUR + GRACE).len(), 1);
    // Resolved during the emitted hour, but known only now.
    let late = task.exc(&a.v(2, ExceptionStatus::Resolved, T0 + 30 * MIN));
    assert_eq!(late.disposition, KpiDisposition::Late);
    assert!(late.transition.is_some(), "the runtime may still count it");
    // Opened during the emitted hour, known only now: in the backlog from now on.
    let b = Exc::new("b", T0 + 40 * MIN);
    assert_eq!(task.exc(&b.opened()).disposition, KpiDisposition::Late);
    assert_eq!(task.agg.late_records(&task.store).unwrap(), 2);
    let records = task.advance(T0 + 2 * HOUR + GRACE);
    let next = find(&records, "DC1", CC, T0 + HOUR);
    assert_eq!((next.opened, next.resolved, next.open_backlog), (0, 0, 1));
    assert_eq!(next.oldest_open_age_ms, Some(2 * HOUR - 40 * MIN));
}

#[test]
fn histograms_bucket_ages_and_times_to_resolve_with_percentile_estimates() {
    let mut task = Task::new(0);
    let end = T0 + HOUR;
    // Time to resolve: 2 min, 10 min, 3 h and 40 days.
    let durations = [2 * MIN, 10 * MIN, 3 * HOUR, 40 * 24 * HOUR];
    for (i, d) in durations.iter().enumerate() {
        let e = Exc::new(&format!("r{i}"), T0 + 50 * MIN - d);
        task.exc(&e.v(1, ExceptionStatus::Open, e.opened_at.max(T0)));
        task.exc(&e.v(2, ExceptionStatus::Resolved, T0 + 50 * MIN));
    }
    // Open at the window end, aged 30 s, 20 min, 2 h (exactly a bound) and 10 days.
    let ages = [MIN / 2, 20 * MIN, 2 * HOUR, 10 * 24 * HOUR];
    for (i, age) in ages.iter().enumerate() {
        let e = Exc::new(&format!("o{i}"), end - age);
        task.exc(&e.v(1, ExceptionStatus::Open, e.opened_at.max(T0)));
    }
    // Counted in this hour (first seen open now), aged from their opened_at.
    let records = task.advance(end + GRACE);
    let r = find(&records, "DC1", ExceptionType::CycleCountDiscrepancy, T0);
    let ttr = &r.time_to_resolve;
    assert_eq!(ttr.bounds_ms, DURATION_BOUNDS_MS.to_vec());
    assert_eq!(ttr.counts.len(), DURATION_BOUNDS_MS.len() + 1);
    let nonzero: Vec<(usize, i64)> =
        ttr.counts.iter().copied().enumerate().filter(|(_, c)| *c > 0).collect();
    assert_eq!(nonzero, vec![(1, 1), (2, 1), (6, 1), (14, 1)]);
    assert_eq!(ttr.sum_ms, durations.iter().sum::<i64>());
    // Rank 2 of 4 ends the 5-15 min bucket; rank 3.6 falls into +Inf: the highest bound.
    assert_eq!((ttr.p50_ms, ttr.p90_ms), (Some(15 * MIN), Some(30 * 24 * HOUR)));
    let age = &r.open_age;
    let nonzero: Vec<(usize, i64)> =
        age.counts.iter().copied().enumerate().filter(|(_, c)| *c > 0).collect();
    assert_eq!(nonzero, vec![(0, 1), (3, 1), (5, 1), (12, 1)]);
    assert_eq!(age.sum_ms, ages.iter().sum::<i64>());
    assert_eq!(r.oldest_open_age_ms, Some(10 * 24 * HOUR));
    // Rank 2 of 4 ends the 15-30 min bucket.
    assert_eq!(age.p50_ms, Some(30 * MIN));
    assert_eq!((r.open_backlog, r.opened, r.resolved), (4, 8, 4));
}
