//! Deferred evaluation of counts.
//!
//! A count taken at event time `C` is not evaluated on arrival: movements that happened before
//! `C` may still be on their way (another topic, another producer). It is kept in
//! `cc.pending` with two timers on the same key: stream time `C + grace` (the normal path) and
//! wall clock `arrival + grace` (a quiet partition whose stream time does not move). The first
//! to fire evaluates the count and deletes the pending entry and the other timer, so a count
//! is evaluated exactly once. Records take their times from the count (`C`), never from the
//! timer, so both paths produce the same record for the same state.

use invex_model::CountEvent;

use super::evaluate::{assess, root_cause};
use super::ledger;
use super::lifecycle;
use super::records::Evaluation;
use super::state::{EVALUATE, ITEM, PENDING, PendingCount, Subject};
use crate::detector::{Ctx, TimerKind};
use crate::error::DetectError;
use crate::key::Key;
use crate::policy::{CycleCountThresholds, Scope};

const HOUR_MS: i64 = 3_600_000;

/// Keeps a count pending and schedules its evaluation.
pub(super) fn on_count(ctx: &mut Ctx<'_>, c: &CountEvent) -> Result<(), DetectError> {
    let subject = Subject::new(&c.header, &c.sku, &c.location_id, c.lot.as_deref());
    let grace = thresholds(ctx, &subject)?.evaluation_grace_ms;
    let count_time = c.header.event_time;
    let pending = PendingCount {
        event_id: c.header.event_id.clone(),
        count_time,
        count_doc_id: c.count_doc_id.clone(),
        count_type: c.count_type,
        count_seq: c.count_seq,
        counted: c.counted_qty,
        uom: c.uom.clone(),
        wms_book_at_freeze: c.wms_book_qty_at_freeze,
        freeze_time: c.freeze_time,
        stream_due: count_time.saturating_add(grace),
        wall_due: ctx.times().wall_clock.saturating_add(grace),
        subject,
    };
    let key = pending.key();
    ctx.put(PENDING, &key, &pending)?;
    let timer = timer_key(&key);
    ctx.schedule(TimerKind::StreamTime, pending.stream_due, &timer)?;
    ctx.schedule(TimerKind::WallClock, pending.wall_due, &timer)
}

/// Evaluation timer: evaluates the pending count once, whichever timer comes first.
pub(super) fn on_timer(ctx: &mut Ctx<'_>, key: &[u8], via: TimerKind) -> Result<(), DetectError> {
    let Some(pending) = ctx.get(PENDING, key)? else { return Ok(()) };
    ctx.delete(PENDING, key)?;
    let timer = timer_key(key);
    match via {
        TimerKind::StreamTime => ctx.cancel(TimerKind::WallClock, pending.wall_due, &timer)?,
        TimerKind::WallClock => ctx.cancel(TimerKind::StreamTime, pending.stream_due, &timer)?,
    }
    let eval = evaluate(ctx, pending, via)?;
    lifecycle::on_evaluation(ctx, eval)
}

fn timer_key(pending_key: &[u8]) -> Vec<u8> {
    Key::new().byte(EVALUATE).raw(pending_key).into_bytes()
}

fn thresholds(ctx: &Ctx<'_>, subject: &Subject) -> Result<CycleCountThresholds, DetectError> {
    let item = ctx.get(ITEM, &subject.item_key())?.unwrap_or_default();
    let scope = Scope {
        tenant: &subject.tenant,
        site: &subject.site,
        class: item.class(),
        sku: &subject.sku,
    };
    Ok(ctx.policy().cycle_count_thresholds(&scope))
}

fn evaluate(ctx: &Ctx<'_>, count: PendingCount, via: TimerKind) -> Result<Evaluation, DetectError> {
    let subject = &count.subject;
    let thresholds = thresholds(ctx, subject)?;
    let (unit_cost, currency) = ctx.get(ITEM, &subject.item_key())?.unwrap_or_default().pricing();
    let window = thresholds.root_cause_window_ms;
    let view = ledger::view(ctx, subject, count.count_time, count.freeze_time, window)?;
    let finding = assess(count.counted, &view, &thresholds, unit_cost);
    let cause = root_cause(&count, &view, &finding, window / HOUR_MS);
    let mut inputs = view.inputs;
    inputs.push(count.event_id.clone());
    Ok(Evaluation { count, finding, cause, thresholds, unit_cost, currency, inputs, via })
}
