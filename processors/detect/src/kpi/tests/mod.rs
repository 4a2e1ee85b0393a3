//! Tests of the KPI aggregator, on [`MemStore`] with the declared stores only.

mod accuracy;
mod lifecycle;
mod merge;
mod windows;

use std::collections::BTreeMap;

use invex_model::{
    AuditRecord, Decision, ExceptionId, ExceptionRecord, ExceptionStatus, ExceptionType, KpiRecord,
    OwnerTeam, Quantities, RootCause, RootCauseCategory, Valuation,
};

use super::{KpiAggregator, KpiOutcome};
use crate::store::MemStore;

/// 2026-01-01T00:00:00Z, a whole hour.
pub(super) const T0: i64 = 1_767_225_600_000;
pub(super) const MIN: i64 = 60_000;
pub(super) const HOUR: i64 = 60 * MIN;
pub(super) const GRACE: i64 = 10 * MIN;

/// One task: an aggregator and its store.
pub(super) struct Task {
    pub(super) agg: KpiAggregator,
    pub(super) store: MemStore,
}

impl Task {
    pub(super) fn new(task: i32) -> Self {
        Self {
            agg: KpiAggregator::new(task, GRACE),
            store: MemStore::with_stores(KpiAggregator::store_names()),
        }
    }

    pub(super) fn exc(&mut self, record: &ExceptionRecord) -> KpiOutcome {
        self.agg.on_exception(&mut self.store, record).unwrap()
    }

    pub(super) fn audit(&mut self, record: &AuditRecord) -> KpiOutcome {
        self.agg.on_audit(&mut self.store, record).unwrap()
    }

    pub(super) fn advance(&mut self, stream_time: i64) -> Vec<KpiRecord> {
        self.agg.advance(&mut self.store, stream_time).unwrap()
    }
}

/// An exception whose versions the tests write.
#[derive(Debug, Clone)]
pub(super) struct Exc {
    pub(super) id: String,
    pub(super) site: String,
    pub(super) kind: ExceptionType,
    pub(super) opened_at: i64,
    pub(super) value: f64,
    pub(super) currency: String,
    pub(super) cause: Option<RootCauseCategory>,
}

impl Exc {
    /// A cycle-count exception at DC1 worth 10 EUR, root cause PROCESS.
    pub(super) fn new(id: &str, opened_at: i64) -> Self {
        Self {
            id: id.to_owned(),
            site: "DC1".to_owned(),
            kind: ExceptionType::CycleCountDiscrepancy,
            opened_at,
            value: -10.0,
            currency: "EUR".to_owned(),
            cause: Some(RootCauseCategory::Process),
        }
    }

    pub(super) fn site(mut self, site: &str) -> Self {
        site.clone_into(&mut self.site);
        self
    }

    pub(super) fn kind(mut self, kind: ExceptionType) -> Self {
        self.kind = kind;
        self
    }

    pub(super) fn value(mut self, value: f64, currency: &str) -> Self {
        self.value = value;
        currency.clone_into(&mut self.currency);
        self
    }

    pub(super) fn cause(mut self, cause: Option<RootCauseCategory>) -> Self {
        self.cause = cause;
        self
    }

    /// Version `version` in `status`, produced by an event at `at`.
    pub(super) fn v(&self, version: i64, status: ExceptionStatus, at: i64) -> ExceptionRecord {
        let resolved = matches!(status, ExceptionStatus::Resolved | ExceptionStatus::Closed);
        ExceptionRecord {
            exception_id: ExceptionId(self.id.clone()),
            version,
            exception_type: self.kind,
            subtype: None,
            severity: 3,
            status,
            status_reason: None,
            tenant_id: "t1".to_owned(),
            site_id: self.site.clone(),
            subject: "SKU-1|A-01".to_owned(),
            location_id: None,
            sku: "SKU-1".to_owned(),
            lot: None,
            quantities: Quantities {
                expected: Some(100),
                observed: Some(90),
                book: Some(100),
                variance: -10,
                variance_pct: Some(-10.0),
                uom: "EA".to_owned(),
            },
            valuation: Valuation {
                variance_value: self.value,
                unit_cost: 1.0,
                currency: self.currency.clone(),
            },
            rule_id: "CC-001".to_owned(),
            policy_version: "p1".to_owned(),
            opened_at: self.opened_at,
            updated_at: at,
            resolved_at: resolved.then_some(at),
            resolution: None,
            source_event_ids: Vec::new(),
            root_cause: self.cause.map(|category| RootCause {
                category,
                code: "X".to_owned(),
                confidence: 0.5,
                signals: Vec::new(),
            }),
            owner_team: OwnerTeam::InventoryControl,
            approval: None,
            recount_attempts: 0,
            escalation_level: 0,
            correlation: BTreeMap::new(),
        }
    }

    /// Version 1, open, at its opening time.
    pub(super) fn opened(&self) -> ExceptionRecord {
        self.v(1, ExceptionStatus::Open, self.opened_at)
    }
}

/// An audit record of the cycle-count rule evaluating a count of `site` at `at`.
pub(super) fn evaluation(
    id: &str,
    site: &str,
    decision: Decision,
    within: bool,
    count_seq: i32,
    at: i64,
) -> AuditRecord {
    let details = [("within_tolerance", within.to_string()), ("count_seq", count_seq.to_string())];
    AuditRecord {
        audit_id: id.to_owned(),
        exception_id: ExceptionId(format!("exc-{id}")),
        exception_version: 1,
        tenant_id: "t1".to_owned(),
        site_id: site.to_owned(),
        at,
        decision,
        from_status: None,
        to_status: ExceptionStatus::Open,
        rule_id: "CC-001".to_owned(),
        policy_version: "p1".to_owned(),
        input_event_ids: Vec::new(),
        actor: None,
        action_ids: Vec::new(),
        note: String::new(),
        details: details.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    }
}

/// The record of `site`/`kind` for the window starting at `start`.
pub(super) fn find<'a>(
    records: &'a [KpiRecord],
    site: &str,
    kind: ExceptionType,
    start: i64,
) -> &'a KpiRecord {
    records
        .iter()
        .find(|r| r.site_id == site && r.exception_type == kind && r.window_start == start)
        .unwrap_or_else(|| panic!("no record for {site} {kind:?} at {start} in {records:#?}"))
}
