//! The rules of the duplicate-pick detector (see the module docs of the parent).

use std::collections::BTreeMap;

use invex_model::{
    ActionType, ExceptionType, OrderAllocation, PickEvent, RootCause, RootCauseCategory,
};

use super::state::{ALLOC, AllocFacts, AllocPick, AllocState, Confirmation, LINE, alloc_key};
use crate::cycle_count::{self, ItemView};
use crate::detector::Ctx;
use crate::error::DetectError;
use crate::exceptions::{self, ActionPlan, Cleared, Finding, SubjectRef};
use crate::policy::{DuplicatePickPolicy, Resolved, Scope};

/// Rule: a line confirmed twice.
const RULE_DOUBLE: &str = "DP-001";
/// Rule: picked above the allocation.
const RULE_OVER: &str = "DP-002";
/// Rule: the allocation covers the picks again.
const RULE_COVERED: &str = "DP-003";
const TYPE: ExceptionType = ExceptionType::DuplicatePick;

/// Records a confirmation and checks its line and its allocation.
pub(super) fn on_pick(ctx: &mut Ctx<'_>, p: &PickEvent) -> Result<(), DetectError> {
    let key = super::state::line_key(p);
    let mut line = ctx.get(LINE, &key)?.unwrap_or_default();
    line.confirmations.push(Confirmation::of(p));
    ctx.put(LINE, &key, &line)?;
    let h = &p.header;
    let item = cycle_count::item(ctx, &h.tenant_id, &h.site_id, &p.sku)?;
    let settings = settings(ctx, h, &p.sku, &item);
    if line.confirmations.len() > 1 {
        double_confirmation(ctx, p, &line.confirmations, &item, &settings)?;
    }
    let Some(id) = &p.allocation_id else { return Ok(()) };
    let key = alloc_key(&h.tenant_id, &h.site_id, &p.sku, id);
    let mut state = ctx.get(ALLOC, &key)?.unwrap_or_default();
    let pick = AllocPick {
        time: h.event_time,
        qty: p.qty_picked,
        location: p.location_id.clone(),
        lot: p.lot.clone(),
        uom: p.uom.clone(),
    };
    state.picks.insert(h.event_id.clone(), pick);
    ctx.put(ALLOC, &key, &state)?;
    let ids = AllocIds { tenant: &h.tenant_id, site: &h.site_id, sku: &p.sku, id };
    over_allocation(ctx, &ids, &state, &h.event_id, &item, &settings)
}

/// Keeps the latest allocation version and checks its picks.
pub(super) fn on_allocation(ctx: &mut Ctx<'_>, a: &OrderAllocation) -> Result<(), DetectError> {
    let h = &a.header;
    let key = alloc_key(&h.tenant_id, &h.site_id, &a.sku, &a.allocation_id);
    let mut state = ctx.get(ALLOC, &key)?.unwrap_or_default();
    if state.allocation.as_ref().is_some_and(|old| old.time > h.event_time) {
        return Ok(()); // an older version arriving late
    }
    state.allocation = Some(AllocFacts::of(a));
    ctx.put(ALLOC, &key, &state)?;
    let item = cycle_count::item(ctx, &h.tenant_id, &h.site_id, &a.sku)?;
    let settings = settings(ctx, h, &a.sku, &item);
    let ids =
        AllocIds { tenant: &h.tenant_id, site: &h.site_id, sku: &a.sku, id: &a.allocation_id };
    over_allocation(ctx, &ids, &state, &h.event_id, &item, &settings)
}

fn settings(
    ctx: &Ctx<'_>,
    h: &invex_model::EventHeader,
    sku: &str,
    item: &ItemView,
) -> Resolved<DuplicatePickPolicy> {
    let scope = Scope { tenant: &h.tenant_id, site: &h.site_id, class: item.class.as_deref(), sku };
    ctx.policy().duplicate_pick(&scope)
}

fn double_confirmation(
    ctx: &mut Ctx<'_>,
    p: &PickEvent,
    confirmations: &[Confirmation],
    item: &ItemView,
    settings: &Resolved<DuplicatePickPolicy>,
) -> Result<(), DetectError> {
    let s = &settings.settings;
    let requested = confirmations.iter().map(|c| c.qty_requested).max().unwrap_or(0);
    let picked: i64 = confirmations.iter().map(|c| c.qty_picked).sum();
    if s.allow_partial_confirmations && picked <= requested {
        return Ok(());
    }
    let h = &p.header;
    let subject = SubjectRef {
        tenant: h.tenant_id.clone(),
        site: h.site_id.clone(),
        sku: p.sku.clone(),
        kind: TYPE,
        text: format!("{}|{}|{}|{}", p.sku, p.pick_task_id, p.order_id, p.order_line),
    };
    let inputs: Vec<String> = confirmations.iter().map(|c| c.event_id.clone()).collect();
    let mut correlation = BTreeMap::new();
    correlation.insert("pick_task_id".to_owned(), p.pick_task_id.clone());
    correlation.insert("order_id".to_owned(), p.order_id.clone());
    let signals = confirmations
        .iter()
        .map(|c| {
            let who = c.operator.as_deref().unwrap_or("unknown operator");
            format!(
                "{} confirmed {} at {} by {who} ({})",
                c.event_id, c.qty_picked, c.location, c.time
            )
        })
        .collect();
    let mut details = base_details(settings);
    details.insert("confirmations".to_owned(), confirmations.len().to_string());
    let finding = Finding {
        subject,
        rule: RULE_DOUBLE,
        subtype: Some("DOUBLE_CONFIRMATION".to_owned()),
        location: Some(p.location_id.clone()),
        lot: p.lot.clone(),
        at: h.event_time,
        opening_event: h.event_id.clone(),
        quantities: exceptions::quantities(requested, picked, None, &p.uom),
        valuation: exceptions::valuation(picked - requested, item.unit_cost, &item.currency),
        severity: s.severity,
        owner: s.owner,
        root_cause: Some(RootCause {
            category: RootCauseCategory::Process,
            code: "DOUBLE_CONFIRMATION".to_owned(),
            confidence: 0.6,
            signals,
        }),
        inputs,
        correlation,
        details,
        note: format!("line {} confirmed {} times", p.pick_task_id, confirmations.len()),
        actions: vec![recount(s, &p.location_id, h.event_time)],
        update_actions: Vec::new(),
        approval: None,
    };
    exceptions::open_or_update(ctx, finding)
}

/// Which allocation a check is about.
struct AllocIds<'a> {
    tenant: &'a str,
    site: &'a str,
    sku: &'a str,
    id: &'a str,
}

fn over_allocation(
    ctx: &mut Ctx<'_>,
    ids: &AllocIds<'_>,
    state: &AllocState,
    event_id: &str,
    item: &ItemView,
    settings: &Resolved<DuplicatePickPolicy>,
) -> Result<(), DetectError> {
    let Some(allocation) = &state.allocation else { return Ok(()) };
    let picks: Vec<(&String, &AllocPick)> =
        state.picks.iter().filter(|(_, p)| p.uom == allocation.uom).collect();
    let picked: i64 = picks.iter().map(|(_, p)| p.qty).sum();
    let s = &settings.settings;
    let subject = SubjectRef {
        tenant: ids.tenant.to_owned(),
        site: ids.site.to_owned(),
        sku: ids.sku.to_owned(),
        kind: TYPE,
        text: format!("{}|{}", ids.sku, ids.id),
    };
    let mut inputs = vec![allocation.event_id.clone()];
    inputs.extend(picks.iter().map(|(id, _)| (*id).clone()));
    let mut details = base_details(settings);
    details.insert("allocated".to_owned(), allocation.qty_allocated.to_string());
    details.insert("picked".to_owned(), picked.to_string());
    if picked <= allocation.qty_allocated.saturating_add(s.over_allocation_tolerance) {
        let cleared = Cleared {
            rule: RULE_COVERED,
            at: ctx.times().event_time,
            resolution: "ALLOCATION_COVERS_PICKS",
            note: format!("allocation {} covers the {picked} picked", ids.id),
            inputs: &inputs,
            details,
        };
        return exceptions::resolve_open(ctx, &subject, cleared).map(drop);
    }
    let Some((_, last)) = picks.iter().max_by_key(|(id, p)| (p.time, *id)) else {
        return Ok(());
    };
    let mut correlation = BTreeMap::new();
    correlation.insert("allocation_id".to_owned(), ids.id.to_owned());
    correlation.insert("order_id".to_owned(), allocation.order_id.clone());
    let over = picked - allocation.qty_allocated;
    let finding = Finding {
        subject,
        rule: RULE_OVER,
        subtype: Some("OVER_ALLOCATION".to_owned()),
        location: Some(last.location.clone()),
        lot: last.lot.clone(),
        at: ctx.times().event_time,
        opening_event: event_id.to_owned(),
        quantities: exceptions::quantities(allocation.qty_allocated, picked, None, &allocation.uom),
        valuation: exceptions::valuation(over, item.unit_cost, &item.currency),
        severity: s.severity,
        owner: s.owner,
        root_cause: Some(RootCause {
            category: RootCauseCategory::Process,
            code: "PICKED_ABOVE_ALLOCATION".to_owned(),
            confidence: 0.6,
            signals: vec![format!(
                "{} pick(s) total {picked}, allocation {} is {} (status {})",
                picks.len(),
                ids.id,
                allocation.qty_allocated,
                allocation.status
            )],
        }),
        inputs,
        correlation,
        details,
        note: format!("picked {picked} against an allocation of {}", allocation.qty_allocated),
        actions: vec![recount(s, &last.location, ctx.times().event_time)],
        update_actions: Vec::new(),
        approval: None,
    };
    exceptions::open_or_update(ctx, finding)
}

fn recount(s: &DuplicatePickPolicy, location: &str, at: i64) -> ActionPlan {
    ActionPlan {
        location: Some(location.to_owned()),
        due_at: Some(at.saturating_add(s.recount_due_minutes * 60_000)),
        ..ActionPlan::new(ActionType::RecountTask, &s.recount_target_group)
    }
    .detail("count_type", "DEMAND")
    .detail("blind", "true")
    .detail("count_seq", "1")
}

fn base_details(settings: &Resolved<DuplicatePickPolicy>) -> BTreeMap<String, String> {
    let mut d = BTreeMap::new();
    let s = &settings.settings;
    d.insert("allow_partial_confirmations".to_owned(), s.allow_partial_confirmations.to_string());
    d.insert("over_allocation_tolerance".to_owned(), s.over_allocation_tolerance.to_string());
    if !settings.overrides.is_empty() {
        d.insert("policy_overrides".to_owned(), settings.overrides.join(","));
    }
    d
}
