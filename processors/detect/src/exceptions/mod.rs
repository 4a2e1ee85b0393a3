//! The exception lifecycle shared by every detector except cycle count.
//!
//! A detector describes what it found as a [`Finding`]: the exception type, rule, subject
//! (what the exception is about, as used in its id), numbers, evidence and the actions to
//! request. This module turns findings into exception records, actions and audit records and
//! keeps them in two stores:
//!
//! ```text
//! exc.case   item ++ exception_id            -> Case     open and recently resolved
//! exc.open   item ++ type ++ subject         -> id       the open exception of a subject
//! exc.open   item ++ "ACTIONING" ++ action   -> id       the exception (of either home)
//!                                                        waiting for that action's ack
//! ```
//!
//! (`item` is `tenant, site, sku`, string components as everywhere.) Invariants:
//! - at most one open exception per (type, subject): a new finding for an open subject updates
//!   it (`REDETECTED`, one version more) instead of opening another, and only when its numbers
//!   or subtype changed, so re-evaluating an unchanged situation emits nothing;
//! - ids are deterministic: the exception id hashes (type, tenant, site, subject, opening
//!   event), an action id (exception id, action type, attempt), an audit id is
//!   `<exception id>/v<version>/<DECISION>` (plus `/<event id>` for ignored decisions);
//! - a resolved case is kept `cycle_count.resolved_retention_hours` (event time) so that late
//!   decisions are audited against it, then purged by a timer of the detector that resolved it
//!   (timer key [`PURGE`] ++ case key; every detector using this module routes it to [`purge`]);
//! - a STOCK_ADJUSTMENT is only ever built by the decision module, for an APPROVE that answers
//!   the case's outstanding APPROVAL_REQUEST.

mod decision;
mod lifecycle;
mod release;

use std::collections::BTreeMap;

use invex_model::{
    ActionType, ExceptionRecord, ExceptionType, OwnerTeam, Quantities, RootCause, Valuation,
};
use serde::{Deserialize, Serialize};

pub(crate) use self::decision::owns;
pub(crate) use self::lifecycle::{
    Cleared, accept, commit_governed, find_open, open_or_update, purge, resolve_open,
};
pub(crate) use self::release::{request_release, wants_release};
use crate::cycle_count::item_key;
use crate::detector::{Ctx, Detector, FiredTimer, Table};
use crate::error::DetectError;
use crate::expiry::{self, StoreTtl};
use crate::key::Key;
use crate::store::{StoreName, join};

/// Cases by id.
pub(crate) const CASE: Table<Case> = Table::new(StoreName("exc.case"));
/// Open case per (type, subject).
pub(crate) const OPEN: Table<String> = Table::new(StoreName("exc.open"));
/// The stores of this module, without TTL: open exceptions and their indexes must not
/// disappear; a closed case is deleted by its purge timer, its index entries when it closes.
pub(crate) const SPECS: [StoreTtl; 2] = [CASE.spec(), OPEN.spec()];
/// The names of [`SPECS`].
pub(crate) const STORES: [StoreName; 2] = expiry::names(&SPECS);
/// What [`Cases`] reads and writes: the cases of both homes (the cycle-count rule keeps its
/// own) and the rest of the lifecycle's stores.
const DECLARED: [StoreName; crate::cycle_count::STORES.len() + crate::governance::GOVERNED.len()] =
    join(&[&crate::cycle_count::STORES, &crate::governance::GOVERNED]);

/// Timer tag (in the timer key space of the detector that resolved a case): purge it.
pub(crate) const PURGE: u8 = b'X';

/// Applies human decisions to the cases of this module, acknowledgements of approved actions to
/// exceptions of both homes, and purges the cases it resolves.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cases;

impl Detector for Cases {
    fn name(&self) -> &'static str {
        "exc"
    }

    fn stores(&self) -> &'static [StoreName] {
        &DECLARED
    }

    fn process(
        &mut self,
        event: &invex_model::CanonicalEvent,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), DetectError> {
        match event {
            invex_model::CanonicalEvent::Approval(d) => decision::on_decision(ctx, d),
            // For both homes: an acknowledgement of an approved action ends its ACTIONING.
            invex_model::CanonicalEvent::Ack(a) => crate::governance::on_ack(ctx, a),
            _ => Ok(()),
        }
    }

    fn on_timer(&mut self, timer: &FiredTimer, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        match timer.key.split_first() {
            Some((&PURGE, key)) => purge(ctx, key),
            Some((&crate::governance::SLA, key)) => {
                crate::governance::on_timer(ctx, key, timer.due)
            }
            _ => Ok(()),
        }
    }
}

/// One exception owned by this module: the latest published version and what the next
/// transitions need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Case {
    pub(crate) record: ExceptionRecord,
    /// Actions issued so far per action type (the next attempt number minus one).
    pub(crate) attempts: BTreeMap<String, i32>,
    /// Quantity of the outstanding (or decided) approval request.
    pub(crate) proposed_adjustment: Option<i64>,
    /// SLA clocks, hold and approvals given (see the governance module).
    #[serde(default)]
    pub(crate) gov: crate::governance::Governance,
}

/// What an exception is about: its tenant, site and SKU, and the subject text of its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SubjectRef {
    pub(crate) tenant: String,
    pub(crate) site: String,
    pub(crate) sku: String,
    pub(crate) kind: ExceptionType,
    /// Subject text (`sku|location|lot`, `sku|asn`, ...), part of the exception id.
    pub(crate) text: String,
}

impl SubjectRef {
    pub(crate) fn item_key(&self) -> Vec<u8> {
        item_key(&self.tenant, &self.site, &self.sku)
    }

    pub(crate) fn open_key(&self) -> Vec<u8> {
        Key::new().raw(&self.item_key()).str(self.kind.as_str()).str(&self.text).into_bytes()
    }

    pub(crate) fn case_key(&self, exception_id: &str) -> Vec<u8> {
        Key::new().raw(&self.item_key()).str(exception_id).into_bytes()
    }
}

/// An action a finding asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ActionPlan {
    pub(crate) action_type: ActionType,
    pub(crate) target_group: String,
    /// Quantity; `None` means the exception's variance.
    pub(crate) quantity: Option<i64>,
    /// Location; `None` means the exception's location.
    pub(crate) location: Option<String>,
    pub(crate) due_at: Option<i64>,
    pub(crate) reason_code: Option<String>,
    pub(crate) details: BTreeMap<String, String>,
}

impl ActionPlan {
    /// An action of `action_type` for `target_group` with the exception's numbers.
    pub(crate) fn new(action_type: ActionType, target_group: &str) -> Self {
        Self {
            action_type,
            target_group: target_group.to_owned(),
            quantity: None,
            location: None,
            due_at: None,
            reason_code: None,
            details: BTreeMap::new(),
        }
    }

    /// Adds a detail attribute.
    pub(crate) fn detail(mut self, key: &str, value: impl Into<String>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }
}

/// What a detector found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Finding {
    pub(crate) subject: SubjectRef,
    pub(crate) rule: &'static str,
    pub(crate) subtype: Option<String>,
    pub(crate) location: Option<String>,
    pub(crate) lot: Option<String>,
    /// Event time of the deciding event (or the timer's due time).
    pub(crate) at: i64,
    /// Event whose id makes the exception id unique among exceptions of the same subject.
    pub(crate) opening_event: String,
    pub(crate) quantities: Quantities,
    pub(crate) valuation: Valuation,
    pub(crate) severity: i32,
    pub(crate) owner: OwnerTeam,
    pub(crate) root_cause: Option<RootCause>,
    /// Input events of the decision, oldest first.
    pub(crate) inputs: Vec<String>,
    pub(crate) correlation: BTreeMap<String, String>,
    /// Numbers behind the decision, for the audit record.
    pub(crate) details: BTreeMap<String, String>,
    pub(crate) note: String,
    /// Actions to request when the exception opens.
    pub(crate) actions: Vec<ActionPlan>,
    /// Actions to request when the finding updates an open exception (usually none).
    pub(crate) update_actions: Vec<ActionPlan>,
    /// An approval to request when the exception opens: the proposed stock adjustment.
    pub(crate) approval: Option<i64>,
}

impl Finding {
    /// A finding with no quantities, evidence or actions yet, valued at the item's unit cost:
    /// detectors fill in what their rule knows with struct update syntax.
    pub(crate) fn blank(
        subject: SubjectRef,
        rule: &'static str,
        subtype: Option<String>,
        at: i64,
        item: &crate::cycle_count::ItemView,
        owner: OwnerTeam,
    ) -> Self {
        Self {
            subject,
            rule,
            subtype,
            location: None,
            lot: None,
            at,
            opening_event: String::new(),
            quantities: quantities(0, 0, None, ""),
            valuation: valuation(0, item.unit_cost, &item.currency),
            severity: 0,
            owner,
            root_cause: None,
            inputs: Vec::new(),
            correlation: BTreeMap::new(),
            details: BTreeMap::new(),
            note: String::new(),
            actions: Vec::new(),
            update_actions: Vec::new(),
            approval: None,
        }
    }
}

/// Quantities of a finding: `variance = observed - expected`, percentage of `expected`.
pub(crate) fn quantities(expected: i64, observed: i64, book: Option<i64>, uom: &str) -> Quantities {
    let variance = observed.saturating_sub(expected);
    Quantities {
        expected: Some(expected),
        observed: Some(observed),
        book,
        variance,
        variance_pct: (expected != 0).then(|| variance as f64 / expected as f64 * 100.0),
        uom: uom.to_owned(),
    }
}

/// Valuation of `qty` units at `unit_cost`.
pub(crate) fn valuation(qty: i64, unit_cost: f64, currency: &str) -> Valuation {
    Valuation { variance_value: qty as f64 * unit_cost, unit_cost, currency: currency.to_owned() }
}
