//! Expectations of a scenario step.
//!
//! An `expect` step checks the records emitted since the previous `expect` step (or the
//! start). For each of `exceptions`, `actions` and `audit`: a list must match the records one
//! to one, in order, each entry checking only the fields it names; without a list,
//! `counts.<kind>` checks the number of records; with neither, there must be none. `stores`
//! checks the number of entries of named stores. `name = "E1"` on an exception binds its id
//! the first time and requires the same id afterwards (a new name requires a new id); actions
//! and audit records refer to bound exceptions with `exception = "E1"`. Besides record fields,
//! an exception may check `site` (its `site_id`) and `priority` (the triage score,
//! `correlation["triage.priority_score"]`), an action `level` (an ESCALATION's
//! `details["level"]`) and an audit record `details` (each named entry, others ignored).

use std::collections::BTreeMap;
use std::fmt::Debug;

use invex_model::{
    ActionCommand, ActionType, ApprovalVerdict, AuditRecord, Decision, ExceptionId,
    ExceptionRecord, ExceptionStatus, ExceptionType, OwnerTeam, RequestedBy, RootCauseCategory,
};
use serde::{Deserialize, Serialize};

use crate::output::Outputs;

/// One `expect` step.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Expect {
    exceptions: Option<Vec<ExceptionExpect>>,
    actions: Option<Vec<ActionExpect>>,
    audit: Option<Vec<AuditExpect>>,
    #[serde(default)]
    counts: Counts,
    #[serde(default)]
    stores: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Counts {
    exceptions: Option<usize>,
    actions: Option<usize>,
    audit: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExceptionExpect {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<ExceptionType>,
    site: Option<String>,
    status: Option<ExceptionStatus>,
    resolution: Option<String>,
    root_cause: Option<RootCauseCategory>,
    root_cause_code: Option<String>,
    owner: Option<OwnerTeam>,
    severity: Option<i32>,
    version: Option<i64>,
    subtype: Option<String>,
    location: Option<String>,
    expected: Option<i64>,
    observed: Option<i64>,
    variance: Option<i64>,
    recount_attempts: Option<i32>,
    approval_tier: Option<String>,
    approval_decision: Option<ApprovalVerdict>,
    rule: Option<String>,
    status_reason: Option<String>,
    escalation_level: Option<i32>,
    /// Triage priority score (`correlation["triage.priority_score"]`).
    priority: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionExpect {
    exception: Option<String>,
    #[serde(rename = "type")]
    kind: Option<ActionType>,
    attempt: Option<i32>,
    quantity: Option<i64>,
    tier: Option<String>,
    target_group: Option<String>,
    requested_by: Option<RequestedBy>,
    reason_code: Option<String>,
    approval_ref: Option<String>,
    priority: Option<i32>,
    rule: Option<String>,
    /// Escalation level (`details["level"]` of an ESCALATION).
    level: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum AuditExpect {
    Decision(Decision),
    Fields(AuditFields),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditFields {
    decision: Option<Decision>,
    exception: Option<String>,
    version: Option<i64>,
    from: Option<ExceptionStatus>,
    to: Option<ExceptionStatus>,
    actor: Option<String>,
    rule: Option<String>,
    /// Entries the record's `details` must have (other entries are not checked).
    details: Option<BTreeMap<String, String>>,
}

/// Collects mismatches.
#[derive(Debug, Default)]
struct Report(Vec<String>);

impl Report {
    fn field<T: PartialEq + Serialize + Debug>(
        &mut self,
        path: &str,
        name: &str,
        want: &Option<T>,
        have: &T,
    ) {
        if let Some(want) = want
            && want != have
        {
            self.0.push(format!("{path}.{name}: expected {}, found {}", show(want), show(have)));
        }
    }
}

fn show<T: Serialize + Debug>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| format!("{value:?}"))
}

/// Checks one `expect` step against what was emitted; `store_len` counts a store's entries.
pub(super) fn verify(
    expect: &Expect,
    got: &Outputs,
    names: &mut BTreeMap<String, ExceptionId>,
    store_len: &dyn Fn(&str) -> Result<usize, String>,
) -> Result<(), String> {
    let mut r = Report::default();
    let c = &expect.counts;
    if lengths(&mut r, "exceptions", &expect.exceptions, c.exceptions, &got.exceptions) {
        for (i, (want, have)) in expect.exceptions.iter().flatten().zip(&got.exceptions).enumerate()
        {
            exception(&mut r, &format!("exceptions[{i}]"), want, have, names);
        }
    }
    if lengths(&mut r, "actions", &expect.actions, c.actions, &got.actions) {
        for (i, (want, have)) in expect.actions.iter().flatten().zip(&got.actions).enumerate() {
            action(&mut r, &format!("actions[{i}]"), want, have, names);
        }
    }
    if lengths(&mut r, "audit", &expect.audit, c.audit, &got.audit) {
        for (i, (want, have)) in expect.audit.iter().flatten().zip(&got.audit).enumerate() {
            audit(&mut r, &format!("audit[{i}]"), want, have, names);
        }
    }
    for (store, want) in &expect.stores {
        match store_len(store) {
            Ok(have) => r.field("stores", store, &Some(*want), &have),
            Err(e) => r.0.push(e),
        }
    }
    if r.0.is_empty() { Ok(()) } else { Err(r.0.join("\n")) }
}

/// Checks the number of records; true when the entries should be compared one by one.
fn lengths<E, T: Serialize>(
    r: &mut Report,
    kind: &str,
    list: &Option<Vec<E>>,
    count: Option<usize>,
    got: &[T],
) -> bool {
    let want = list.as_ref().map(Vec::len).or(count).unwrap_or(0);
    if want != got.len() {
        let seen: Vec<String> = got.iter().map(|g| summary(g)).collect();
        r.0.push(format!("{kind}: expected {want} record(s), found {}: {seen:#?}", got.len()));
        return false;
    }
    list.is_some()
}

fn summary<T: Serialize>(record: &T) -> String {
    let Ok(serde_json::Value::Object(map)) = serde_json::to_value(record) else {
        return String::new();
    };
    let keys = ["exception_type", "status", "resolution", "action_type", "attempt", "decision"];
    keys.iter()
        .filter_map(|k| map.get(*k).map(|v| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(" ")
}

fn bind(
    r: &mut Report,
    path: &str,
    name: &str,
    id: &ExceptionId,
    names: &mut BTreeMap<String, ExceptionId>,
    may_bind: bool,
) {
    match names.get(name) {
        Some(bound) if bound == id => {}
        Some(bound) => r.0.push(format!("{path}: {name} is {bound}, found {id}")),
        None if !may_bind => r.0.push(format!("{path}: no exception is named {name}")),
        None => match names.iter().find(|(_, bound)| *bound == id) {
            Some((other, _)) => {
                r.0.push(format!("{path}: {name} is the same exception as {other}"))
            }
            None => {
                names.insert(name.to_owned(), id.clone());
            }
        },
    }
}

fn exception(
    r: &mut Report,
    p: &str,
    w: &ExceptionExpect,
    h: &ExceptionRecord,
    names: &mut BTreeMap<String, ExceptionId>,
) {
    if let Some(name) = &w.name {
        bind(r, p, name, &h.exception_id, names, true);
    }
    let cause = h.root_cause.as_ref();
    r.field(p, "type", &w.kind, &h.exception_type);
    r.field(p, "site", &w.site, &h.site_id);
    r.field(p, "status", &w.status, &h.status);
    r.field(p, "resolution", &w.resolution.clone().map(Some), &h.resolution);
    r.field(p, "root_cause", &w.root_cause.map(Some), &cause.map(|c| c.category));
    r.field(
        p,
        "root_cause_code",
        &w.root_cause_code.clone().map(Some),
        &cause.map(|c| c.code.clone()),
    );
    r.field(p, "owner", &w.owner, &h.owner_team);
    r.field(p, "severity", &w.severity, &h.severity);
    r.field(p, "version", &w.version, &h.version);
    r.field(p, "subtype", &w.subtype.clone().map(Some), &h.subtype);
    r.field(p, "location", &w.location.clone().map(Some), &h.location_id);
    r.field(p, "expected", &w.expected.map(Some), &h.quantities.expected);
    r.field(p, "observed", &w.observed.map(Some), &h.quantities.observed);
    r.field(p, "variance", &w.variance, &h.quantities.variance);
    r.field(p, "recount_attempts", &w.recount_attempts, &h.recount_attempts);
    let approval = h.approval.as_ref();
    r.field(
        p,
        "approval_tier",
        &w.approval_tier.clone().map(Some),
        &approval.map(|a| a.tier.clone()),
    );
    r.field(
        p,
        "approval_decision",
        &w.approval_decision.map(Some),
        &approval.and_then(|a| a.decision),
    );
    r.field(p, "rule", &w.rule, &h.rule_id);
    r.field(p, "status_reason", &w.status_reason.clone().map(Some), &h.status_reason);
    r.field(p, "escalation_level", &w.escalation_level, &h.escalation_level);
    let priority = h.correlation.get("triage.priority_score").cloned();
    r.field(p, "priority", &w.priority.clone().map(Some), &priority);
}

fn action(
    r: &mut Report,
    p: &str,
    w: &ActionExpect,
    h: &ActionCommand,
    names: &mut BTreeMap<String, ExceptionId>,
) {
    if let Some(name) = &w.exception {
        bind(r, p, name, &h.exception_id, names, false);
    }
    r.field(p, "type", &w.kind, &h.action_type);
    r.field(p, "attempt", &w.attempt, &h.attempt);
    r.field(p, "quantity", &w.quantity.map(Some), &h.quantity);
    r.field(p, "tier", &w.tier.clone().map(Some), &h.approval_tier);
    r.field(p, "target_group", &w.target_group, &h.target_group);
    r.field(p, "requested_by", &w.requested_by, &h.requested_by);
    r.field(p, "reason_code", &w.reason_code.clone().map(Some), &h.reason_code);
    r.field(p, "approval_ref", &w.approval_ref.clone().map(Some), &h.approval_ref);
    r.field(p, "priority", &w.priority, &h.priority);
    r.field(p, "rule", &w.rule, &h.rule_id);
    r.field(p, "level", &w.level.clone().map(Some), &h.details.get("level").cloned());
}

fn audit(
    r: &mut Report,
    p: &str,
    w: &AuditExpect,
    h: &AuditRecord,
    names: &mut BTreeMap<String, ExceptionId>,
) {
    let w = match w {
        AuditExpect::Decision(d) => {
            return r.field(p, "decision", &Some(*d), &h.decision);
        }
        AuditExpect::Fields(f) => f,
    };
    if let Some(name) = &w.exception {
        bind(r, p, name, &h.exception_id, names, false);
    }
    r.field(p, "decision", &w.decision, &h.decision);
    r.field(p, "version", &w.version, &h.exception_version);
    r.field(p, "from", &w.from.map(Some), &h.from_status);
    r.field(p, "to", &w.to, &h.to_status);
    r.field(p, "actor", &w.actor.clone().map(Some), &h.actor);
    r.field(p, "rule", &w.rule, &h.rule_id);
    for (key, want) in w.details.iter().flatten() {
        r.field(p, &format!("details.{key}"), &Some(Some(want)), &h.details.get(key));
    }
}
