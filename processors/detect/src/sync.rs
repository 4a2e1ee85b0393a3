//! SYNC_FAILURE: the WMS and the ERP are out of step.
//!
//! Rules:
//! - `SF-001` a WMS posting (`integration.ack` with status SENT or RETRYING) that the ERP has
//!   not acknowledged `ack_timeout_minutes` after it was first sent: a stream-time timer at
//!   the send time plus the timeout and a wall-clock timer at its arrival plus the timeout
//!   (persisted: a quiet partition still fires). Subtype `ACK_MISSING`, subject
//!   `sku|message`, an IT_INCIDENT (resync). A refusal (status ERROR) opens it at once, subtype
//!   `ACK_ERROR`. `SF-003` resolves it when the ACK arrives (ACKNOWLEDGED).
//! - `SF-002` an ERP book snapshot that differs from the book the WMS movements imply (the
//!   previous snapshot plus every movement since, the cycle-count ledger) and is not explained
//!   by movements of the last `settle_window_minutes` (not yet posted) nor by the quantity of
//!   postings still unacknowledged: subtype `BOOK_DIVERGENCE`, subject `sku|location|lot`,
//!   expected = the WMS-implied book, observed = the ERP's, root cause SYSTEM_SYNC, an
//!   IT_INCIDENT. The ledger follows every snapshot, so while the divergence is open the gap
//!   it found is added back; a later snapshot that agrees with the WMS view resolves it
//!   (`SF-003`, BOOK_ALIGNED). Only
//!   snapshots after an anchored one are compared, and only single-row books (one stock type:
//!   the rows of one snapshot run arrive one by one).
//!
//! This detector runs before the cycle-count rule, so it sees the previous snapshot before the
//! new one replaces it.
//!
//! Site-wide outage: many SKUs of one site failing together point to an integration outage
//! (domain research 6.2), not to one bad posting. When a finding of either rule is recorded
//! and, counting it, `outage_sku_threshold` distinct SKUs of the site have an open
//! SYNC_FAILURE opened within `outage_window_minutes` before it, its root cause becomes
//! SYSTEM_SYNC / `INTEGRATION_OUTAGE` with the count as the signal (each SKU keeps its own
//! exception). Limitation, by design of the partitioning: a task only holds the SKUs of its
//! partition, so the count is per partition. With P partitions a site-wide outage of N SKUs
//! shows about N/P per task; set the threshold for that, or aggregate across partitions
//! downstream (the KPI processor sees every exception). Exceptions opened before the
//! threshold was crossed keep their per-SKU root cause.
//!
//! State: `sf.msg` (item ++ message id -> the message's status and timers).
//! Poison: an acknowledgement with an empty message id.
//!
//! Policy keys (`[sync_failure]`, overridable): `ack_timeout_minutes`,
//! `settle_window_minutes`, `ack_severity`, `divergence_severity`, `owner`, `it_group`,
//! `outage_sku_threshold`, `outage_window_minutes`.

use std::collections::BTreeMap;

use invex_model::{
    AckStatus, ActionType, BookSnapshot, CanonicalEvent, ExceptionType, IntegrationAck, RootCause,
    RootCauseCategory,
};
use serde::{Deserialize, Serialize};

use crate::cycle_count::{self, ItemView, Subject, item_key, symbol};
use crate::detector::{Ctx, Detector, FiredTimer, Table, TimerKind};
use crate::error::DetectError;
use crate::exceptions::{self, ActionPlan, Cleared, Finding, SubjectRef};
use crate::expiry::{StoreTtl, Ttl};
use crate::key::Key;
use crate::policy::{Scope, SyncFailurePolicy};
use crate::store::{StoreName, join};

/// Integration messages by id. TTL 30 days: nothing deletes a message; its acknowledgement
/// deadline is at most 7 days after it was sent and the settle window at most 7 days (policy
/// validation), and the deadline's stream-time timer writes the message when it fires, so a
/// message lives 30 days past its deadline. A message nobody acknowledged for that long stops
/// counting as in flight (its SF-001 exception stays open; a late ACK still resolves it).
const MSG: Table<MsgState> = Table::expiring(StoreName("sf.msg"), Ttl::days(30));
/// Timer tag: acknowledgement deadline (key `b'A' ++ message key`).
const DEADLINE: u8 = b'A';
const RULE_ACK: &str = "SF-001";
const RULE_BOOK: &str = "SF-002";
const RULE_CLEARED: &str = "SF-003";
const TYPE: ExceptionType = ExceptionType::SyncFailure;
const MINUTE_MS: i64 = 60_000;

const STORES: [StoreName; 8] = join(&[
    &[MSG.name(), cycle_count::STORES[0], cycle_count::STORES[1], cycle_count::STORES[2]],
    &crate::governance::GOVERNED,
]);

/// This detector's own stores.
pub(crate) const OWN_STORES: [StoreTtl; 1] = [MSG.spec()];

/// One integration message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct MsgState {
    tenant: String,
    site: String,
    sku: String,
    message_id: String,
    first_sent: i64,
    first_event: String,
    quantity: i64,
    doc_type: String,
    acked: bool,
    deadline: Option<(i64, i64)>,
}

/// The sync-failure detector; its parameters come from the policy.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SyncFailure;

impl Detector for SyncFailure {
    fn name(&self) -> &'static str {
        "sf"
    }

    fn stores(&self) -> &'static [StoreName] {
        &STORES
    }

    fn validate(&self, event: &CanonicalEvent, _ctx: &Ctx<'_>) -> Result<(), DetectError> {
        match event {
            CanonicalEvent::Ack(a) if a.message_id.trim().is_empty() => {
                Err(DetectError::invalid(event, "message_id is empty"))
            }
            _ => Ok(()),
        }
    }

    fn process(&mut self, event: &CanonicalEvent, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        match event {
            CanonicalEvent::Ack(a) => on_ack(ctx, a),
            CanonicalEvent::Book(b) => on_book(ctx, b),
            _ => Ok(()),
        }
    }

    fn on_timer(&mut self, timer: &FiredTimer, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        match timer.key.split_first() {
            Some((&DEADLINE, key)) => on_deadline(ctx, key),
            Some((&exceptions::PURGE, key)) => exceptions::purge(ctx, key),
            _ => Ok(()),
        }
    }
}

fn settings(
    ctx: &Ctx<'_>,
    tenant: &str,
    site: &str,
    sku: &str,
) -> Result<(ItemView, SyncFailurePolicy), DetectError> {
    let item = cycle_count::item(ctx, tenant, site, sku)?;
    let scope = Scope { tenant, site, class: item.class.as_deref(), sku };
    let p = ctx.policy().sync_failure(&scope).settings;
    Ok((item, p))
}

fn msg_key(tenant: &str, site: &str, sku: &str, id: &str) -> Vec<u8> {
    Key::new().raw(&item_key(tenant, site, sku)).str(id).into_bytes()
}

fn on_ack(ctx: &mut Ctx<'_>, a: &IntegrationAck) -> Result<(), DetectError> {
    let h = &a.header;
    let key = msg_key(&h.tenant_id, &h.site_id, &a.sku, &a.message_id);
    let mut msg = ctx.get(MSG, &key)?.unwrap_or_else(|| MsgState {
        tenant: h.tenant_id.clone(),
        site: h.site_id.clone(),
        sku: a.sku.clone(),
        message_id: a.message_id.clone(),
        first_sent: h.event_time,
        first_event: h.event_id.clone(),
        quantity: a.quantity,
        doc_type: a.doc_type.clone(),
        acked: false,
        deadline: None,
    });
    if h.event_time < msg.first_sent {
        (msg.first_sent, msg.first_event) = (h.event_time, h.event_id.clone());
    }
    let timer = Key::new().byte(DEADLINE).raw(&key).into_bytes();
    match a.status {
        AckStatus::Ack => {
            msg.acked = true;
            if let Some((stream, wall)) = msg.deadline.take() {
                ctx.cancel(TimerKind::StreamTime, stream, &timer)?;
                ctx.cancel(TimerKind::WallClock, wall, &timer)?;
            }
            let inputs = [h.event_id.clone()];
            let cleared = Cleared {
                rule: RULE_CLEARED,
                at: h.event_time,
                resolution: "ACKNOWLEDGED",
                note: format!("message {} acknowledged", a.message_id),
                inputs: &inputs,
                details: BTreeMap::new(),
            };
            exceptions::resolve_open(ctx, &msg_subject(&msg), cleared)?;
        }
        AckStatus::Error if !msg.acked => {
            let reason = a.error_code.clone().unwrap_or_else(|| "ERROR".to_owned());
            open_ack(ctx, &msg, "ACK_ERROR", &h.event_id, h.event_time, &reason)?;
        }
        AckStatus::Sent | AckStatus::Retrying if !msg.acked && msg.deadline.is_none() => {
            let (_, p) = settings(ctx, &h.tenant_id, &h.site_id, &a.sku)?;
            let timeout = p.ack_timeout_minutes * MINUTE_MS;
            let due = (
                msg.first_sent.saturating_add(timeout),
                ctx.times().wall_clock.saturating_add(timeout),
            );
            ctx.schedule(TimerKind::StreamTime, due.0, &timer)?;
            ctx.schedule(TimerKind::WallClock, due.1, &timer)?;
            msg.deadline = Some(due);
        }
        _ => {}
    }
    ctx.put(MSG, &key, &msg)
}

fn on_deadline(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<(), DetectError> {
    let Some(mut msg) = ctx.get(MSG, key)? else { return Ok(()) };
    let Some((stream, wall)) = msg.deadline.take() else { return Ok(()) };
    let timer = Key::new().byte(DEADLINE).raw(key).into_bytes();
    ctx.cancel(TimerKind::StreamTime, stream, &timer)?;
    ctx.cancel(TimerKind::WallClock, wall, &timer)?;
    ctx.put(MSG, key, &msg)?;
    if msg.acked {
        return Ok(());
    }
    let first = msg.first_event.clone();
    open_ack(ctx, &msg, "ACK_MISSING", &first, stream, "no acknowledgement")
}

fn msg_subject(msg: &MsgState) -> SubjectRef {
    SubjectRef {
        tenant: msg.tenant.clone(),
        site: msg.site.clone(),
        sku: msg.sku.clone(),
        kind: TYPE,
        text: format!("{}|{}", msg.sku, msg.message_id),
    }
}

fn open_ack(
    ctx: &mut Ctx<'_>,
    msg: &MsgState,
    subtype: &str,
    event: &str,
    at: i64,
    reason: &str,
) -> Result<(), DetectError> {
    let (item, p) = settings(ctx, &msg.tenant, &msg.site, &msg.sku)?;
    let note = format!("{} posting {} of {}: {reason}", msg.doc_type, msg.message_id, msg.quantity);
    let mut f = finding(msg_subject(msg), RULE_ACK, subtype, &item, &p, at);
    f.severity = p.ack_severity;
    // The message carries no unit of measure; its quantity is the posting's own.
    f.quantities = exceptions::quantities(msg.quantity, 0, None, "");
    f.valuation = exceptions::valuation(msg.quantity, item.unit_cost, &item.currency);
    f.opening_event = event.to_owned();
    f.inputs = vec![msg.first_event.clone(), event.to_owned()];
    f.inputs.dedup();
    f.correlation.insert("message_id".to_owned(), msg.message_id.clone());
    f.root_cause = Some(sync_cause("POSTING_NOT_ACKNOWLEDGED", note.clone()));
    f.actions = vec![
        ActionPlan::new(ActionType::ItIncident, &p.it_group)
            .detail("message_id", msg.message_id.clone())
            .detail("doc_type", msg.doc_type.clone())
            .detail("request", "RESYNC"),
    ];
    f.note = note;
    flag_outage(ctx, &mut f, &p)?;
    exceptions::open_or_update(ctx, f)
}

fn on_book(ctx: &mut Ctx<'_>, b: &BookSnapshot) -> Result<(), DetectError> {
    let h = &b.header;
    let subject = Subject::new(h, &b.sku, &b.location_id, b.lot.as_deref());
    let Some(wms) = cycle_count::book(ctx, &subject, h.event_time)? else { return Ok(()) };
    let row = symbol(b.stock_type);
    let comparable = wms.anchored
        && wms.rows == [row]
        && wms.baseline_as_of.is_some_and(|a| a < h.event_time)
        && wms.uom == b.uom;
    if !comparable {
        return Ok(());
    }
    let (item, p) = settings(ctx, &h.tenant_id, &h.site_id, &b.sku)?;
    let subject_ref = SubjectRef {
        tenant: h.tenant_id.clone(),
        site: h.site_id.clone(),
        sku: b.sku.clone(),
        kind: TYPE,
        text: subject.text(),
    };
    // The ledger follows every ERP snapshot; while a divergence is open, the gap it found
    // (WMS-implied minus ERP) still separates the WMS view from the ledger.
    let gap = exceptions::find_open(ctx, &subject_ref)?.map_or(0, |c| {
        let q = &c.record.quantities;
        q.expected.unwrap_or(0).saturating_sub(q.observed.unwrap_or(0))
    });
    let implied = wms.qty.saturating_add(gap);
    let settle_from = h.event_time.saturating_sub(p.settle_window_minutes * MINUTE_MS);
    let settled = cycle_count::book(ctx, &subject, settle_from)?.map_or(wms.qty, |v| v.qty);
    let in_flight = in_flight(ctx, &subject)?;
    let candidates = [implied, settled.saturating_add(gap), implied.saturating_sub(in_flight)];
    let explained = candidates.contains(&b.quantity);
    if explained {
        let inputs = [h.event_id.clone()];
        let cleared = Cleared {
            rule: RULE_CLEARED,
            at: h.event_time,
            resolution: "BOOK_ALIGNED",
            note: format!("ERP book {} agrees with the WMS movements", b.quantity),
            inputs: &inputs,
            details: BTreeMap::new(),
        };
        return exceptions::resolve_open(ctx, &subject_ref, cleared).map(drop);
    }
    let note = format!(
        "ERP book {} at {}, the WMS movements imply {implied} ({in_flight} unacknowledged in \
         flight)",
        b.quantity, b.location_id
    );
    let mut f = finding(subject_ref, RULE_BOOK, "BOOK_DIVERGENCE", &item, &p, h.event_time);
    f.severity = p.divergence_severity;
    f.location = Some(b.location_id.clone());
    f.lot = subject.lot.clone();
    f.quantities = exceptions::quantities(implied, b.quantity, Some(implied), &b.uom);
    f.valuation = exceptions::valuation(b.quantity - implied, item.unit_cost, &item.currency);
    f.opening_event = h.event_id.clone();
    f.inputs = vec![h.event_id.clone()];
    f.details.insert("settled_book".to_owned(), settled.to_string());
    f.details.insert("in_flight".to_owned(), in_flight.to_string());
    f.root_cause = Some(sync_cause("ERP_BOOK_DIVERGES", note.clone()));
    f.actions =
        vec![ActionPlan::new(ActionType::ItIncident, &p.it_group).detail("request", "RESYNC")];
    f.note = note;
    flag_outage(ctx, &mut f, &p)?;
    exceptions::open_or_update(ctx, f)
}

/// Turns the root cause of a finding into an integration outage when enough SKUs of its site
/// (in this task) have an open SYNC_FAILURE opened within the window (see the module docs).
fn flag_outage(ctx: &Ctx<'_>, f: &mut Finding, p: &SyncFailurePolicy) -> Result<(), DetectError> {
    let s = &f.subject;
    let since = f.at.saturating_sub(p.outage_window_minutes.saturating_mul(MINUTE_MS));
    let site = Key::new().str(&s.tenant).str(&s.site).into_bytes();
    let mut skus = std::collections::BTreeSet::from([s.sku.clone()]);
    for (_, case) in ctx.scan(exceptions::CASE, &site)? {
        let r = &case.record;
        if r.exception_type == TYPE && r.status.is_open() && r.opened_at >= since {
            skus.insert(r.sku.clone());
        }
    }
    let count = i64::try_from(skus.len()).unwrap_or(i64::MAX);
    if count < p.outage_sku_threshold {
        return Ok(());
    }
    let signal = format!(
        "{count} SKUs of site {} have a sync failure opened within {} minutes (this partition)",
        s.site, p.outage_window_minutes
    );
    let mut signals = vec![signal];
    signals.extend(f.root_cause.take().into_iter().flat_map(|c| c.signals));
    f.root_cause = Some(RootCause {
        category: RootCauseCategory::SystemSync,
        code: "INTEGRATION_OUTAGE".to_owned(),
        confidence: 0.9,
        signals,
    });
    f.details.insert("outage_skus".to_owned(), count.to_string());
    Ok(())
}

/// Quantity of this item's postings not acknowledged yet.
fn in_flight(ctx: &Ctx<'_>, subject: &Subject) -> Result<i64, DetectError> {
    let messages = ctx.scan(MSG, &subject.item_key())?;
    Ok(messages
        .iter()
        .filter(|(_, m)| !m.acked)
        .fold(0_i64, |t, (_, m)| t.saturating_add(m.quantity)))
}

fn sync_cause(code: &str, signal: String) -> RootCause {
    RootCause {
        category: RootCauseCategory::SystemSync,
        code: code.to_owned(),
        confidence: 0.7,
        signals: vec![signal],
    }
}

fn finding(
    subject: SubjectRef,
    rule: &'static str,
    subtype: &str,
    item: &ItemView,
    p: &SyncFailurePolicy,
    at: i64,
) -> Finding {
    Finding::blank(subject, rule, Some(subtype.to_owned()), at, item, p.owner)
}
