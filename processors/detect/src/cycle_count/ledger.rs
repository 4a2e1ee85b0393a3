//! The per-subject ledger: a baseline plus movements, and the book at any point in time.
//!
//! Baseline = the latest ERP snapshot of the subject (its as-of time is the snapshot's event
//! time). A snapshot older than the current baseline is ignored; one with the same as-of time
//! adds or replaces its stock-type row (a snapshot run has one row per stock type).
//!
//! The book at time `T` assumes the snapshot includes every movement up to its as-of time:
//!
//! ```text
//! book(T) = baseline + sum(delta | as_of < time <= T) - sum(delta | T < time <= as_of)
//! ```
//!
//! The second sum lets a count taken before the latest snapshot (a late count) be compared
//! with the book of its own time. Without any snapshot the book is the sum of movements.
//!
//! Movements are kept for `history_hours` of event time, not pruned when a snapshot arrives,
//! because they are also root-cause evidence (picks at the location in the 24 h before a
//! count) and the book at a freeze time before the snapshot. A fold timer per subject then
//! deletes older movements; when they are newer than the baseline, it first folds them into a
//! synthetic baseline (`FOLDED`) at the cutoff, so the book of any later time is unchanged. A
//! movement arriving more than `history_hours` late is therefore not counted.

use invex_model::{BookSnapshot, StockType};

use super::state::{
    Baseline, FOLD, Head, LEDGER, LEDGER_UOM, MOVEMENT, Movement, MovementKind, Subject,
};
use crate::detector::{Ctx, TimerKind};
use crate::error::DetectError;
use crate::key::Key;

/// Row name of a folded baseline.
const FOLDED: &str = "FOLDED";

/// What the ledger says about a subject at a count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LedgerView {
    /// Book at the count's time (the expected quantity).
    pub(super) book_at_count: i64,
    /// Book at the freeze time.
    pub(super) book_at_freeze: i64,
    /// Net movements between freeze and count.
    pub(super) movements_after_freeze: i64,
    /// Picks at the location (any lot) within the root-cause window before the count.
    pub(super) picks_in_window: u32,
    /// Task legs at the location (any lot) within the window.
    pub(super) tasks_in_window: u32,
    /// Events the book at the count was computed from: snapshot rows, then movements.
    pub(super) inputs: Vec<String>,
}

/// Adds a movement of `subject` (replacing one with its key), keeps the head of the ledger
/// current and makes sure its fold timer is scheduled.
pub(super) fn add_movement(
    ctx: &mut Ctx<'_>,
    subject: &Subject,
    uom: &str,
    leg: u8,
    movement: &Movement,
) -> Result<(), DetectError> {
    let key = subject.key();
    let history_ms = ctx.policy().cycle_count().history_hours * 3_600_000;
    let movement_key =
        Key::new().raw(&key).time(movement.time).str(&movement.event_id).byte(leg).into_bytes();
    let mut ledger = ctx.get(LEDGER, &key)?.unwrap_or_default();
    let as_of = ledger.baseline.as_of;
    let mut head = match ledger.head.take() {
        Some(head) => head,
        None => Head::fold(&ledger.baseline, kept(ctx, &key)?.iter()),
    };
    if let Some(previous) = ctx.get(MOVEMENT, &movement_key)? {
        head.remove(as_of, &previous);
    }
    head.add(as_of, movement);
    ledger.head = Some(head);
    ctx.put(MOVEMENT, &movement_key, movement)?;
    ledger.uom.get_or_insert_with(|| uom.to_owned());
    if ledger.fold_due.is_none() {
        let due = movement.time.saturating_add(history_ms);
        ctx.schedule(TimerKind::StreamTime, due, &fold_timer_key(&key))?;
        ledger.fold_due = Some(due);
    }
    ctx.put(LEDGER, &key, &ledger)
}

/// The movements kept for the subject of `key`, in time order.
pub(super) fn kept(ctx: &Ctx<'_>, key: &[u8]) -> Result<Vec<Movement>, DetectError> {
    Ok(ctx.scan(MOVEMENT, key)?.into_iter().map(|(_, m)| m).collect())
}

/// Applies an ERP book snapshot to the subject's baseline.
pub(super) fn apply_snapshot(
    ctx: &mut Ctx<'_>,
    subject: &Subject,
    snapshot: &BookSnapshot,
) -> Result<(), DetectError> {
    let key = subject.key();
    let mut ledger = ctx.get(LEDGER, &key)?.unwrap_or_default();
    let row = stock_type_name(snapshot.stock_type);
    let h = &snapshot.header;
    if merge_snapshot(&mut ledger.baseline, h.event_time, row, snapshot.quantity, &h.event_id) {
        ledger.uom.get_or_insert_with(|| snapshot.uom.clone());
        ledger.anchored = true;
        ledger.head = Some(Head::fold(&ledger.baseline, kept(ctx, &key)?.iter()));
        ctx.put(LEDGER, &key, &ledger)?;
    }
    Ok(())
}

/// The unit of measure of a subject's ledger, if it has one yet.
pub(super) fn uom_of(ctx: &Ctx<'_>, subject: &Subject) -> Result<Option<String>, DetectError> {
    Ok(ctx.get(LEDGER_UOM, &subject.key())?.and_then(|l| l.uom))
}

/// Reads the ledger of `subject` as of a count.
pub(super) fn view(
    ctx: &Ctx<'_>,
    subject: &Subject,
    count_time: i64,
    freeze_time: i64,
    window_ms: i64,
) -> Result<LedgerView, DetectError> {
    let key = subject.key();
    let baseline = ctx.get(LEDGER, &key)?.unwrap_or_default().baseline;
    let mut own = Vec::new();
    let (mut picks, mut tasks) = (0, 0);
    for (k, m) in ctx.scan(MOVEMENT, &subject.location_prefix())? {
        let in_window = count_time.saturating_sub(window_ms) < m.time && m.time <= count_time;
        match m.kind {
            MovementKind::Pick if in_window => picks += 1,
            MovementKind::TaskIn | MovementKind::TaskOut if in_window => tasks += 1,
            _ => {}
        }
        if k.starts_with(&key) {
            own.push(m);
        }
    }
    let book_at_count = book_at(&baseline, &own, count_time);
    let book_at_freeze = book_at(&baseline, &own, freeze_time);
    let mut inputs = baseline.event_ids.clone();
    inputs.extend(
        own.iter()
            .filter(|m| direction(baseline.as_of, m, count_time) != 0)
            .map(|m| m.event_id.clone()),
    );
    Ok(LedgerView {
        book_at_count,
        book_at_freeze,
        movements_after_freeze: book_at_count - book_at_freeze,
        picks_in_window: picks,
        tasks_in_window: tasks,
        inputs,
    })
}

/// Fold timer: deletes movements older than the history window, folding those newer than the
/// baseline into it first, and reschedules for the oldest movement left.
pub(super) fn fold(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<(), DetectError> {
    let Some(mut ledger) = ctx.get(LEDGER, key)? else { return Ok(()) };
    let history_ms = ctx.policy().cycle_count().history_hours * 3_600_000;
    let cutoff = ctx.times().stream_time.saturating_sub(history_ms);
    let entries = ctx.scan(MOVEMENT, key)?;
    let movements: Vec<Movement> = entries.iter().map(|(_, m)| m.clone()).collect();
    if ledger.baseline.as_of.is_none_or(|a| a < cutoff)
        && movements.iter().any(|m| m.time <= cutoff)
    {
        let qty = book_at(&ledger.baseline, &movements, cutoff);
        ledger.baseline = Baseline {
            as_of: Some(cutoff),
            rows: [(FOLDED.to_owned(), qty)].into_iter().collect(),
            synthetic: true,
            event_ids: Vec::new(),
        };
    }
    for (k, _) in entries.iter().filter(|(_, m)| m.time <= cutoff) {
        ctx.delete(MOVEMENT, k)?;
    }
    let left = movements.iter().filter(|m| m.time > cutoff);
    ledger.head = Some(Head::fold(&ledger.baseline, left.clone()));
    ledger.fold_due = left.map(|m| m.time).min().map(|t| t.saturating_add(history_ms));
    if let Some(due) = ledger.fold_due {
        ctx.schedule(TimerKind::StreamTime, due, &fold_timer_key(key))?;
    }
    ctx.put(LEDGER, key, &ledger)
}

fn fold_timer_key(subject_key: &[u8]) -> Vec<u8> {
    Key::new().byte(FOLD).raw(subject_key).into_bytes()
}

/// Merges one snapshot row into a baseline; false when the snapshot is older and ignored.
fn merge_snapshot(b: &mut Baseline, as_of: i64, row: &str, qty: i64, event_id: &str) -> bool {
    match b.as_of {
        Some(current) if as_of < current => return false,
        Some(current) if as_of == current && !b.synthetic => {}
        _ => *b = Baseline { as_of: Some(as_of), ..Baseline::default() },
    }
    b.rows.insert(row.to_owned(), qty);
    if !b.event_ids.iter().any(|id| id == event_id) {
        b.event_ids.push(event_id.to_owned());
    }
    true
}

/// The book at `t` (see the module docs).
pub(super) fn book_at(baseline: &Baseline, movements: &[Movement], t: i64) -> i64 {
    movements.iter().fold(baseline.qty(), |q, m| q + direction(baseline.as_of, m, t) * m.delta)
}

/// +1 when a movement adds to the baseline to reach `t`, -1 when it must be taken out of it,
/// 0 when it does not matter.
fn direction(as_of: Option<i64>, m: &Movement, t: i64) -> i64 {
    match as_of {
        None if m.time <= t => 1,
        Some(a) if a < m.time && m.time <= t => 1,
        Some(a) if t < m.time && m.time <= a => -1,
        _ => 0,
    }
}

fn stock_type_name(stock_type: StockType) -> &'static str {
    match stock_type {
        StockType::Unrestricted => "UNRESTRICTED",
        StockType::QualityInspection => "QUALITY_INSPECTION",
        StockType::Blocked => "BLOCKED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(time: i64, delta: i64) -> Movement {
        Movement { kind: MovementKind::Pick, delta, time, event_id: format!("m{time}") }
    }

    fn baseline(as_of: Option<i64>, qty: i64) -> Baseline {
        Baseline {
            as_of,
            rows: [("UNRESTRICTED".to_owned(), qty)].into_iter().collect(),
            ..Baseline::default()
        }
    }

    #[test]
    fn book_counts_movements_after_the_baseline_up_to_t() {
        let b = baseline(Some(10), 100);
        let moves = [m(5, -1), m(10, -2), m(11, -3), m(20, 7), m(30, -4)];
        assert_eq!(book_at(&b, &moves, 10), 100);
        assert_eq!(book_at(&b, &moves, 20), 104);
        assert_eq!(book_at(&b, &moves, 100), 100);
    }

    #[test]
    fn book_before_the_baseline_takes_movements_back_out() {
        let b = baseline(Some(20), 104);
        let moves = [m(11, -3), m(20, 7)];
        assert_eq!(book_at(&b, &moves, 10), 100);
        assert_eq!(book_at(&b, &moves, 15), 97);
    }

    #[test]
    fn without_baseline_the_book_is_the_sum_of_movements() {
        let moves = [m(1, 5), m(2, -2)];
        assert_eq!(book_at(&Baseline::default(), &moves, 1), 5);
        assert_eq!(book_at(&Baseline::default(), &moves, 2), 3);
    }

    #[test]
    fn snapshots_merge_rows_and_ignore_older_runs() {
        let mut b = Baseline::default();
        assert!(merge_snapshot(&mut b, 10, "UNRESTRICTED", 5, "s1"));
        assert!(merge_snapshot(&mut b, 10, "BLOCKED", 2, "s2"));
        assert_eq!((b.qty(), b.event_ids.len()), (7, 2));
        assert!(!merge_snapshot(&mut b, 9, "UNRESTRICTED", 50, "s0"));
        assert!(merge_snapshot(&mut b, 11, "UNRESTRICTED", 6, "s3"));
        assert_eq!((b.qty(), b.as_of), (6, Some(11)));
    }

    #[test]
    fn a_real_snapshot_replaces_a_fold_at_the_same_time() {
        let mut b = Baseline {
            as_of: Some(10),
            rows: [(FOLDED.to_owned(), 3)].into_iter().collect(),
            synthetic: true,
            event_ids: Vec::new(),
        };
        assert!(merge_snapshot(&mut b, 10, "UNRESTRICTED", 4, "s1"));
        assert_eq!((b.qty(), b.synthetic), (4, false));
    }
}
