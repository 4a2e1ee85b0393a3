//! Audit records (`audit` topic, append-only, key = exception id).
//!
//! One record per decision, automatic or human: which rule, under which policy version, from
//! which input events, with what outcome. Nothing is ever rewritten; the trail of an exception
//! is the sequence of its audit records.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{ExceptionId, ExceptionStatus};

/// Kind of decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Decision {
    /// A new exception was opened.
    Opened,
    /// A finding was within tolerance: recorded resolved, no action.
    AcceptedWithinTolerance,
    /// A recount was requested.
    RecountRequested,
    /// An approval was requested.
    ApprovalRequested,
    /// An approval was granted and its action issued.
    Approved,
    /// An approval was refused.
    Rejected,
    /// The exception was resolved.
    Resolved,
    /// An open exception was detected again and updated.
    Redetected,
    /// A human decision could not be applied (stale, unknown exception, wrong state).
    DecisionIgnored,
    /// Another lifecycle transition.
    Transitioned,
    /// Priority, root-cause recommendation and owner computed (OPEN to TRIAGED).
    Triaged,
    /// A person acknowledged the exception (the acknowledge SLA stops).
    Acknowledged,
    /// A person put the exception on hold (SLA clocks pause).
    Held,
    /// A person released the exception from hold (SLA clocks resume).
    Released,
    /// The exception was cancelled (SLA clocks stop).
    Cancelled,
    /// An SLA deadline passed: escalation level raised and an ESCALATION issued.
    Escalated,
}

/// One audited decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Deterministic id: the exception id, its version and the decision.
    pub audit_id: String,
    /// Exception concerned.
    pub exception_id: ExceptionId,
    /// Exception version this decision produced.
    pub exception_version: i64,
    /// Tenant.
    pub tenant_id: String,
    /// Site.
    pub site_id: String,
    /// Event time of the decision.
    pub at: i64,
    /// Decision.
    pub decision: Decision,
    /// Status before.
    pub from_status: Option<ExceptionStatus>,
    /// Status after.
    pub to_status: ExceptionStatus,
    /// Rule that decided (or `human` for a person's decision).
    pub rule_id: String,
    /// Policy version in force.
    pub policy_version: String,
    /// Events that were the inputs of this decision.
    pub input_event_ids: Vec<String>,
    /// Person who decided, for human decisions.
    pub actor: Option<String>,
    /// Actions the decision issued.
    pub action_ids: Vec<String>,
    /// Outcome in words.
    pub note: String,
    /// Numbers behind the decision (`variance`, `tolerance_pct`, ...), as text.
    pub details: BTreeMap<String, String>,
}
