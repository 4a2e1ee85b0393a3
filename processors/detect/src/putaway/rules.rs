//! State and rules of the putaway-failure detector (see the parent module docs).

use std::collections::BTreeMap;

use invex_model::{
    ActionType, ExceptionType, ReceiptLine, RootCause, RootCauseCategory, TaskEvent, TaskStatus,
};
use serde::{Deserialize, Serialize};

use crate::cycle_count::{self, ItemView, Subject};
use crate::detector::{Ctx, Table, TimerKind};
use crate::error::DetectError;
use crate::exceptions::{self, ActionPlan, Cleared, Finding, SubjectRef};
use crate::expiry::Ttl;
use crate::key::Key;
use crate::policy::{PutawayFailurePolicy, Resolved, Scope};
use crate::store::StoreName;

/// Receiving locations and what waits there. TTL 30 days: a dock is deleted once nothing
/// waits there, but a putaway out of a location that received nothing leaves a credit nobody
/// deletes, and every (sku, location, lot) a putaway ever left from would stay. The longest
/// horizon is the dock-to-stock SLA (at most 7 days by policy validation), so every SLA check
/// still sees its dock; a location quiet for 30 days of stream time is forgotten (stock left
/// there keeps its open PF-001 exception, which a person resolves).
pub(super) const DOCK: Table<DockState> = Table::expiring(StoreName("pf.dock"), Ttl::days(30));
/// Timer tag: SLA check, key `b'S' ++ dock key ++ receipt time`.
pub(super) const SLA: u8 = b'S';

const RULE_SLA: &str = "PF-001";
const RULE_WRONG: &str = "PF-002";
const RULE_BLOCKED: &str = "PF-003";
const RULE_DONE: &str = "PF-004";
const TYPE: ExceptionType = ExceptionType::PutawayFailure;

/// A receipt waiting to be put away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Waiting {
    time: i64,
    event_id: String,
    qty: i64,
}

/// One receiving location and lot of one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct DockState {
    subject: Subject,
    uom: String,
    /// Receipts not yet fully put away, by (time, event id).
    waiting: Vec<Waiting>,
    /// Quantity put away from here and not yet matched to a pruned receipt.
    put_away: i64,
    /// Putaway confirmations since the oldest waiting receipt.
    putaway_events: Vec<String>,
    /// Receipts at or before this time are due.
    cutoff: Option<i64>,
}

impl DockState {
    /// Drops the oldest receipts the putaways cover completely.
    fn prune(&mut self) {
        while let Some(first) = self.waiting.first() {
            if first.qty > self.put_away {
                break;
            }
            self.put_away -= first.qty;
            self.waiting.remove(0);
        }
        if self.waiting.is_empty() {
            self.putaway_events.clear();
        }
    }

    /// Quantity due and how much of it is still waiting.
    fn due(&self) -> (i64, i64) {
        let cutoff = self.cutoff.unwrap_or(i64::MIN);
        let due: i64 = self.waiting.iter().filter(|w| w.time <= cutoff).map(|w| w.qty).sum();
        (due, (due - self.put_away).max(0))
    }
}

fn settings(
    ctx: &Ctx<'_>,
    s: &Subject,
) -> Result<(ItemView, Resolved<PutawayFailurePolicy>), DetectError> {
    let item = cycle_count::item(ctx, &s.tenant, &s.site, &s.sku)?;
    let scope =
        Scope { tenant: &s.tenant, site: &s.site, class: item.class.as_deref(), sku: &s.sku };
    let settings = ctx.policy().putaway_failure(&scope);
    Ok((item, settings))
}

fn dock_or_new(ctx: &Ctx<'_>, subject: Subject, uom: &str) -> Result<DockState, DetectError> {
    Ok(ctx.get(DOCK, &subject.key())?.unwrap_or_else(|| DockState {
        subject,
        uom: uom.to_owned(),
        waiting: Vec::new(),
        put_away: 0,
        putaway_events: Vec::new(),
        cutoff: None,
    }))
}

/// A receipt starts waiting and schedules its SLA check.
pub(super) fn on_receipt(ctx: &mut Ctx<'_>, r: &ReceiptLine) -> Result<(), DetectError> {
    let h = &r.header;
    let subject = Subject::new(h, &r.sku, &r.location_id, r.lot.as_deref());
    let key = subject.key();
    let (_, settings) = settings(ctx, &subject)?;
    let mut dock = dock_or_new(ctx, subject, &r.uom)?;
    let waiting = Waiting { time: h.event_time, event_id: h.event_id.clone(), qty: r.qty_accepted };
    let order = |w: &Waiting| (w.time, w.event_id.clone());
    let at = dock.waiting.partition_point(|w| order(w) < order(&waiting));
    dock.waiting.insert(at, waiting);
    store(ctx, &key, dock)?;
    let sla = settings.settings.dock_to_stock_minutes * 60_000;
    let timer = Key::new().byte(SLA).raw(&key).time(h.event_time).into_bytes();
    ctx.schedule(TimerKind::StreamTime, h.event_time.saturating_add(sla), &timer)?;
    ctx.schedule(TimerKind::WallClock, ctx.times().wall_clock.saturating_add(sla), &timer)
}

/// A confirmed putaway takes stock away from its source location (credited even before the
/// receipt it serves arrives, so a late receipt line is matched).
pub(super) fn on_putaway(ctx: &mut Ctx<'_>, t: &TaskEvent) -> Result<(), DetectError> {
    let subject = Subject::new(&t.header, &t.sku, &t.from_location_id, t.lot.as_deref());
    let key = subject.key();
    let mut dock = dock_or_new(ctx, subject, &t.uom)?;
    dock.put_away = dock.put_away.saturating_add(t.quantity);
    dock.putaway_events.push(t.header.event_id.clone());
    evaluate(ctx, &key, dock, t.header.event_time)
}

/// Persists a dock after pruning; forgets it once nothing waits and nothing is credited.
fn store(ctx: &mut Ctx<'_>, key: &[u8], mut dock: DockState) -> Result<(), DetectError> {
    dock.prune();
    if dock.waiting.is_empty() && dock.put_away == 0 {
        ctx.delete(DOCK, key)
    } else {
        ctx.put(DOCK, key, &dock)
    }
}

/// SLA check of one receipt.
pub(super) fn on_sla(ctx: &mut Ctx<'_>, rest: &[u8], via: TimerKind) -> Result<(), DetectError> {
    let Some((key, time)) = rest.split_last_chunk::<8>() else { return Ok(()) };
    let Some(mut dock) = ctx.get(DOCK, key)? else { return Ok(()) };
    let receipt_time = crate::key::decode_time(*time);
    let (_, settings) = settings(ctx, &dock.subject)?;
    let cutoff = match via {
        TimerKind::WallClock => receipt_time,
        TimerKind::StreamTime => ctx
            .times()
            .stream_time
            .saturating_sub(settings.settings.dock_to_stock_minutes * 60_000)
            .max(receipt_time),
    };
    dock.cutoff = Some(dock.cutoff.map_or(cutoff, |c| c.max(cutoff)));
    let at = receipt_time.saturating_add(settings.settings.dock_to_stock_minutes * 60_000);
    evaluate(ctx, key, dock, at)
}

fn evaluate(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    mut dock: DockState,
    at: i64,
) -> Result<(), DetectError> {
    dock.prune();
    let (due, outstanding) = dock.due();
    let subject = subject_ref(&dock.subject, dock.subject.text());
    let mut inputs: Vec<String> = dock
        .waiting
        .iter()
        .filter(|w| Some(w.time) <= dock.cutoff)
        .map(|w| w.event_id.clone())
        .collect();
    inputs.extend(dock.putaway_events.iter().cloned());
    if outstanding == 0 {
        let cleared = Cleared {
            rule: RULE_DONE,
            at,
            resolution: "PUT_AWAY",
            note: format!("everything received at {} is put away", dock.subject.location),
            inputs: &inputs,
            details: BTreeMap::new(),
        };
        exceptions::resolve_open(ctx, &subject, cleared)?;
    } else {
        let (item, settings) = settings(ctx, &dock.subject)?;
        let p = &settings.settings;
        let escalate = ActionPlan {
            quantity: Some(-outstanding),
            ..ActionPlan::new(ActionType::Escalation, &p.ops_group)
        }
        .detail("level", "1")
        .detail("reason", "DOCK_TO_STOCK_SLA");
        let mut details = BTreeMap::new();
        details.insert("dock_to_stock_minutes".to_owned(), p.dock_to_stock_minutes.to_string());
        details.insert("outstanding".to_owned(), outstanding.to_string());
        let mut f = finding(&dock.subject, subject, RULE_SLA, None, &item, &settings, at);
        f.severity = p.sla_severity;
        f.quantities = exceptions::quantities(due, due - outstanding, None, &dock.uom);
        f.valuation = exceptions::valuation(-outstanding, item.unit_cost, &item.currency);
        f.opening_event = dock.waiting.first().map(|w| w.event_id.clone()).unwrap_or_default();
        f.inputs = inputs;
        f.details = details;
        f.note =
            format!("{outstanding} received at {} not put away in time", dock.subject.location);
        f.root_cause = Some(RootCause {
            category: RootCauseCategory::Process,
            code: "DOCK_TO_STOCK_SLA".to_owned(),
            confidence: 0.7,
            signals: vec![format!(
                "{outstanding} of {due} due not confirmed put away within {} minutes",
                p.dock_to_stock_minutes
            )],
        });
        f.actions = vec![escalate];
        exceptions::open_or_update(ctx, f)?;
    }
    store(ctx, key, dock)
}

/// Checks a putaway task's locations and reason (PF-002, PF-003).
pub(super) fn check_reasons(ctx: &mut Ctx<'_>, t: &TaskEvent) -> Result<(), DetectError> {
    let reason = t.override_reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
    let h = &t.header;
    let suggested = t.suggested_location_id.as_deref();
    let probe = Subject::new(h, &t.sku, suggested.unwrap_or(&t.from_location_id), t.lot.as_deref());
    let (item, settings) = settings(ctx, &probe)?;
    let p = &settings.settings;
    let blocked =
        reason.is_some_and(|r| p.blocked_location_reasons.contains(&r.to_ascii_uppercase()));
    let text = format!("{}|{}", t.sku, t.task_id);
    let task_facts = |f: &mut Finding| {
        f.quantities = exceptions::quantities(t.quantity, t.quantity, None, &t.uom);
        f.valuation = exceptions::valuation(t.quantity, item.unit_cost, &item.currency);
        f.opening_event = h.event_id.clone();
        f.inputs = vec![h.event_id.clone()];
        f.correlation.insert("task_id".to_owned(), t.task_id.clone());
    };
    if blocked && let Some(location) = suggested {
        let subject = subject_ref(&probe, text);
        let mut f = finding(
            &probe,
            subject,
            RULE_BLOCKED,
            Some("BLOCKED_LOCATION"),
            &item,
            &settings,
            h.event_time,
        );
        task_facts(&mut f);
        f.severity = p.blocked_location_severity;
        f.note =
            format!("suggested location {location} is blocked ({})", reason.unwrap_or_default());
        f.root_cause = Some(RootCause {
            category: RootCauseCategory::MasterData,
            code: "SUGGESTED_LOCATION_BLOCKED".to_owned(),
            confidence: 0.6,
            signals: vec![f.note.clone()],
        });
        f.actions = vec![recount(p, location, h.event_time)];
        return exceptions::open_or_update(ctx, f);
    }
    let actual = t.actual_location_id.as_deref();
    let wrong = t.status == TaskStatus::Confirmed
        && reason.is_none()
        && suggested.is_some()
        && actual.is_some()
        && actual != suggested;
    let (Some(actual), true) = (actual, wrong) else { return Ok(()) };
    let at = Subject::new(h, &t.sku, actual, t.lot.as_deref());
    let subject = subject_ref(&at, text);
    let mut f =
        finding(&at, subject, RULE_WRONG, Some("WRONG_LOCATION"), &item, &settings, h.event_time);
    task_facts(&mut f);
    f.severity = p.wrong_location_severity;
    f.note = format!(
        "put away at {actual} instead of {} without a reason",
        suggested.unwrap_or_default()
    );
    f.root_cause = Some(RootCause {
        category: RootCauseCategory::Process,
        code: "PUTAWAY_OVERRIDE_WITHOUT_REASON".to_owned(),
        confidence: 0.7,
        signals: vec![f.note.clone()],
    });
    f.actions = vec![recount(p, actual, h.event_time)];
    exceptions::open_or_update(ctx, f)
}

fn subject_ref(s: &Subject, text: String) -> SubjectRef {
    SubjectRef {
        tenant: s.tenant.clone(),
        site: s.site.clone(),
        sku: s.sku.clone(),
        kind: TYPE,
        text,
    }
}

fn finding(
    s: &Subject,
    subject: SubjectRef,
    rule: &'static str,
    subtype: Option<&str>,
    item: &ItemView,
    settings: &Resolved<PutawayFailurePolicy>,
    at: i64,
) -> Finding {
    let mut details = BTreeMap::new();
    if !settings.overrides.is_empty() {
        details.insert("policy_overrides".to_owned(), settings.overrides.join(","));
    }
    Finding {
        location: Some(s.location.clone()),
        lot: s.lot.clone(),
        details,
        ..Finding::blank(
            subject,
            rule,
            subtype.map(str::to_owned),
            at,
            item,
            settings.settings.owner,
        )
    }
}

fn recount(p: &PutawayFailurePolicy, location: &str, at: i64) -> ActionPlan {
    ActionPlan {
        location: Some(location.to_owned()),
        due_at: Some(at.saturating_add(p.recount_due_minutes * 60_000)),
        ..ActionPlan::new(ActionType::RecountTask, &p.ops_group)
    }
    .detail("count_type", "DEMAND")
    .detail("blind", "true")
    .detail("count_seq", "1")
}
