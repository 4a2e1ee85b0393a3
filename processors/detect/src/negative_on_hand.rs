//! NEGATIVE_ON_HAND: the ledger book of a location and lot went below zero.
//!
//! There is one book per `(sku, location, lot)`: the cycle-count ledger (ERP snapshot plus
//! movements). This detector only reads it. Every event that changes a book (receipt, pick,
//! confirmed task, ERP snapshot, a decision that may post an adjustment) schedules a check of
//! that book, due at the event's time plus `negative_on_hand.evaluation_grace_ms` on the
//! stream-time clock and at its arrival plus the grace on the wall clock (a quiet partition),
//! so an earlier receipt arriving a little late clears a transient negative silently. A check
//! is idempotent: both timers, and checks of an unchanged book, emit nothing new.
//!
//! Only books an ERP snapshot anchored are checked: before any snapshot the ledger is just the
//! sum of the movements seen, and its sign says nothing about the shelf.
//!
//! Rules:
//! - `NOH-001` book < 0: opens an exception (subject `sku|location|lot`, expected 0, observed
//!   and book = the book, variance = the book), severity and owner from the policy, a blind
//!   DEMAND RECOUNT_TASK of the location; a deeper or shallower negative updates it
//!   (REDETECTED).
//! - `NOH-002` book >= 0 again (late receipt, snapshot, approved adjustment): RESOLVED /
//!   BOOK_RESTORED.
//!
//! Root cause (evidence only): PROCESS / `OUTBOUND_WITHOUT_STOCK` when a pick or task took
//! stock out of the location (a missed receipt or putaway confirmation, or a pick from the
//! wrong location), else SYSTEM_SYNC / `BOOK_BELOW_ZERO` (the ERP snapshot itself, or a
//! posting that never reached it).
//!
//! Policy keys (`[negative_on_hand]`, overridable): `evaluation_grace_ms`, `severity`,
//! `owner`, `recount_target_group`, `recount_due_minutes`.

use std::collections::BTreeMap;

use invex_model::{
    ActionType, CanonicalEvent, EventHeader, ExceptionType, RootCause, RootCauseCategory,
    TaskStatus,
};

use crate::cycle_count::{self, Subject};
use crate::detector::{Ctx, Detector, FiredTimer, TimerKind};
use crate::error::DetectError;
use crate::exceptions::{self, ActionPlan, Cleared, Finding, SubjectRef};
use crate::key::{Key, KeyReader};
use crate::policy::Scope;
use crate::store::{StoreName, join};

/// Rule: the book is below zero.
const RULE_NEGATIVE: &str = "NOH-001";
/// Rule: the book is back at or above zero.
const RULE_RESTORED: &str = "NOH-002";
const TYPE: ExceptionType = ExceptionType::NegativeOnHand;
/// Timer tag: check a book.
const CHECK: u8 = b'C';

const STORES: [StoreName; 7] = join(&[
    &[cycle_count::STORES[0], cycle_count::STORES[1], cycle_count::STORES[2]],
    &crate::governance::GOVERNED,
]);

/// The negative-on-hand detector; its parameters come from the policy.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NegativeOnHand;

impl Detector for NegativeOnHand {
    fn name(&self) -> &'static str {
        "noh"
    }

    fn stores(&self) -> &'static [StoreName] {
        &STORES
    }

    fn process(&mut self, event: &CanonicalEvent, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        let h = event.header();
        let at = |location: &str, lot: Option<&str>| Subject::new(h, event.sku(), location, lot);
        let subjects = match event {
            CanonicalEvent::Receipt(r) => vec![at(&r.location_id, r.lot.as_deref())],
            CanonicalEvent::Pick(p) => vec![at(&p.location_id, p.lot.as_deref())],
            CanonicalEvent::Book(b) => vec![at(&b.location_id, b.lot.as_deref())],
            CanonicalEvent::Task(t) if t.status == TaskStatus::Confirmed => {
                let to = t.actual_location_id.as_deref().or(t.suggested_location_id.as_deref());
                let lot = t.lot.as_deref();
                std::iter::once(at(&t.from_location_id, lot))
                    .chain(to.map(|to| at(to, lot)))
                    .collect()
            }
            CanonicalEvent::Approval(_) => open_subjects(ctx, h, event.sku())?,
            _ => Vec::new(),
        };
        for subject in subjects {
            schedule_check(ctx, &subject, &h.event_id)?;
        }
        Ok(())
    }

    fn on_timer(&mut self, timer: &FiredTimer, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        match timer.key.split_first() {
            Some((&CHECK, rest)) => match parse_check(rest) {
                Some((subject, event_id)) => check(ctx, &subject, &event_id, timer.kind),
                None => Ok(()),
            },
            Some((&exceptions::PURGE, key)) => exceptions::purge(ctx, key),
            _ => Ok(()),
        }
    }
}

/// Subjects of this item with an open negative-on-hand exception.
fn open_subjects(ctx: &Ctx<'_>, h: &EventHeader, sku: &str) -> Result<Vec<Subject>, DetectError> {
    let item = cycle_count::item_key(&h.tenant_id, &h.site_id, sku);
    let prefix = Key::new().raw(&item).str(TYPE.as_str()).into_bytes();
    let mut out = Vec::new();
    for (_, id) in ctx.scan(exceptions::OPEN, &prefix)? {
        let case_key = Key::new().raw(&item).str(&id).into_bytes();
        if let Some(case) = ctx.get(exceptions::CASE, &case_key)?
            && let Some(location) = &case.record.location_id
        {
            out.push(Subject::new(h, sku, location, case.record.lot.as_deref()));
        }
    }
    Ok(out)
}

fn schedule_check(ctx: &mut Ctx<'_>, subject: &Subject, event_id: &str) -> Result<(), DetectError> {
    let item = cycle_count::item(ctx, &subject.tenant, &subject.site, &subject.sku)?;
    let grace = ctx.policy().negative_on_hand(&scope(subject, &item)).settings.evaluation_grace_ms;
    let key = Key::new().byte(CHECK).raw(&subject.key()).str(event_id).into_bytes();
    let times = ctx.times();
    ctx.schedule(TimerKind::StreamTime, times.event_time.saturating_add(grace), &key)?;
    ctx.schedule(TimerKind::WallClock, times.wall_clock.saturating_add(grace), &key)
}

/// Reads `subject key ++ event id` back.
fn parse_check(raw: &[u8]) -> Option<(Subject, String)> {
    let mut r = KeyReader::new(raw);
    let (tenant, site, sku, location) = (r.str()?, r.str()?, r.str()?, r.str()?);
    let lot = match r.byte()? {
        0 => None,
        _ => Some(r.str()?),
    };
    let event_id = r.str()?;
    Some((Subject { tenant, site, sku, location, lot }, event_id))
}

fn scope<'a>(subject: &'a Subject, item: &'a cycle_count::ItemView) -> Scope<'a> {
    Scope {
        tenant: &subject.tenant,
        site: &subject.site,
        class: item.class.as_deref(),
        sku: &subject.sku,
    }
}

fn subject_ref(subject: &Subject) -> SubjectRef {
    SubjectRef {
        tenant: subject.tenant.clone(),
        site: subject.site.clone(),
        sku: subject.sku.clone(),
        kind: TYPE,
        text: subject.text(),
    }
}

/// Opens, updates or resolves the exception of one book (see the module docs for the times).
fn check(
    ctx: &mut Ctx<'_>,
    subject: &Subject,
    event_id: &str,
    via: TimerKind,
) -> Result<(), DetectError> {
    let now = ctx.times().stream_time;
    let item = cycle_count::item(ctx, &subject.tenant, &subject.site, &subject.sku)?;
    let grace = ctx.policy().negative_on_hand(&scope(subject, &item)).settings.evaluation_grace_ms;
    let at = match via {
        TimerKind::StreamTime => now.saturating_sub(grace),
        TimerKind::WallClock => now,
    };
    let Some((book, latest)) = cycle_count::book_twice(ctx, subject, at, now)? else {
        return Ok(());
    };
    if !book.anchored {
        return Ok(());
    }
    let inputs = vec![event_id.to_owned()];
    if book.qty >= 0 {
        if latest.qty < 0 {
            return Ok(()); // a newer movement may still be joined by late ones: wait for it
        }
        let cleared = Cleared {
            rule: RULE_RESTORED,
            at,
            resolution: "BOOK_RESTORED",
            note: format!("book of {} is {} again", subject.location, book.qty),
            inputs: &inputs,
            details: [("book".to_owned(), book.qty.to_string())].into_iter().collect(),
        };
        return exceptions::resolve_open(ctx, &subject_ref(subject), cleared).map(drop);
    }
    let resolved = ctx.policy().negative_on_hand(&scope(subject, &item));
    let p = resolved.settings;
    let recount = ActionPlan {
        due_at: Some(at.saturating_add(p.recount_due_minutes * 60_000)),
        ..ActionPlan::new(ActionType::RecountTask, &p.recount_target_group)
    }
    .detail("count_type", "DEMAND")
    .detail("blind", "true")
    .detail("count_seq", "1");
    let mut details = BTreeMap::new();
    details.insert("book".to_owned(), book.qty.to_string());
    if !resolved.overrides.is_empty() {
        details.insert("policy_overrides".to_owned(), resolved.overrides.join(","));
    }
    let finding = Finding {
        subject: subject_ref(subject),
        rule: RULE_NEGATIVE,
        subtype: None,
        location: Some(subject.location.clone()),
        lot: subject.lot.clone(),
        at,
        opening_event: event_id.to_owned(),
        quantities: exceptions::quantities(0, book.qty, Some(book.qty), &book.uom),
        valuation: exceptions::valuation(book.qty, item.unit_cost, &item.currency),
        severity: p.severity,
        owner: p.owner,
        root_cause: Some(root_cause(subject, &book)),
        inputs,
        correlation: BTreeMap::new(),
        details,
        note: format!("book of {} is {}", subject.location, book.qty),
        actions: vec![recount],
        update_actions: Vec::new(),
        approval: None,
    };
    exceptions::open_or_update(ctx, finding)
}

fn root_cause(subject: &Subject, book: &cycle_count::BookView) -> RootCause {
    match &book.last_outbound {
        Some(event) => RootCause {
            category: RootCauseCategory::Process,
            code: "OUTBOUND_WITHOUT_STOCK".to_owned(),
            confidence: 0.5,
            signals: vec![format!(
                "event {event} took stock out of {} while its book held less",
                subject.location
            )],
        },
        None => RootCause {
            category: RootCauseCategory::SystemSync,
            code: "BOOK_BELOW_ZERO".to_owned(),
            confidence: 0.5,
            signals: vec![format!(
                "no pick or task took stock out of {}: the ERP book itself is below zero",
                subject.location
            )],
        },
    }
}
