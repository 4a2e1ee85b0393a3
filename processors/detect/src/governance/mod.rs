//! Lifecycle governance shared by every exception type: triage, SLA clocks and escalation,
//! the human decisions outside approvals, and the approval gate.
//!
//! Exceptions live in one of two homes: the cycle-count rule's own store (`cc.exception`) or
//! the shared lifecycle of the other detectors (`exc.case`). Both keep a [`Governance`] next
//! to the record, and both call this module at the same points, so every type follows one
//! lifecycle (domain research section 10):
//!
//! ```text
//! opened (detector)        OPEN -> TRIAGED            triage module, same version as OPENED
//! ACKNOWLEDGE              OPEN|TRIAGED -> IN_PROGRESS, other open statuses unchanged;
//!                          stops the acknowledge clock
//! HOLD (reason)            any open but ON_HOLD -> ON_HOLD; clocks pause
//! RELEASE                  ON_HOLD -> the status before the hold; clocks resume
//! RESOLVE                  any open but ON_HOLD -> RESOLVED; clocks stop (held stock of a
//!                          `release_approval_types` exception: asks for its release first,
//!                          see the exceptions release module)
//! CANCEL                   any open -> CANCELLED; clocks stop
//! APPROVE/REJECT/RECOUNT   the home's decision module, behind the gate module: an APPROVE
//!                          ends in ACTIONING, a REJECT in REJECTED
//! ack of the action        ACTIONING -> RESOLVED; a refusal -> IN_PROGRESS + ESCALATION
//!                          (actioning module)
//! ACKNOWLEDGE on REJECTED  REJECTED -> IN_PROGRESS (reopened to investigate)
//! REQUEST_RECOUNT          REJECTED -> IN_PROGRESS -> AWAITING_RECOUNT (home's decision module)
//! RESOLVE on REJECTED      REJECTED -> RESOLVED, no adjustment (resolution = reason_code, else
//!                          the rejection: ADJUSTMENT_REJECTED | RELEASE_REJECTED)
//! deadline passed          escalation level + 1, ESCALATION to the ladder's team (sla module)
//! ```
//!
//! After a person resolved or cancelled an exception of the shared lifecycle, the same finding
//! with the same numbers does not reopen it (their decision stands until the numbers change).
//!
//! Triage happens when the exception opens because everything it weighs (value, allocations,
//! lot control, the detector's evidence) is known then, and a routed, prioritised exception is
//! what the owner team should see first; a re-detection re-scores it on the same status.
//!
//! Every transition bumps the version and appends an audit record (with the actor for a
//! person). A decision that does not fit the current status changes nothing and is audited as
//! DECISION_IGNORED with the reason, like a stale approval. Rule ids: `GOV-001` triage,
//! `GOV-002` SLA escalation, `GOV-003` a human lifecycle decision, `GOV-004` the approval gate,
//! `GOV-005` an integration acknowledgement of an approved action.
//!
//! SLA timers are wall-clock timers kept in the engine's timer store under the `exc` detector
//! (whichever detector opened the exception), key `b'S' ++ home ++ deadline ++ case key`; their
//! due times are also in [`Governance`], so a restored task cancels and fires exactly the same.

mod actioning;
mod gate;
mod human;
mod sla;
mod triage;

use invex_model::{ActionCommand, ExceptionRecord, ExceptionStatus};
use serde::{Deserialize, Serialize};

use self::actioning::Awaited;
pub(crate) use self::actioning::{on_ack, start as start_actioning};
pub(crate) use self::gate::{GateVerdict, check_approval, partial_draft, refused_draft};
pub(crate) use self::human::{decide, is_lifecycle_verdict};
pub(crate) use self::sla::{SLA, on_timer, settings, settle};
pub(crate) use self::triage::{on_open, rescore};
use crate::cycle_count::{self, AuditDraft, ExceptionState};
use crate::detector::Ctx;
use crate::error::DetectError;
use crate::exceptions::{self, Case};
use crate::key::Key;
use crate::store::StoreName;

/// Rule: triage an opened exception.
pub(crate) const RULE_TRIAGE: &str = "GOV-001";

/// The stores an exception's lifecycle reads and writes on behalf of whichever detector opens
/// or changes it (the shared cases, the item master the gate consults, the open allocations
/// triage weighs). Every detector that raises exceptions declares them in its
/// `Detector::stores`, so a selection of detectors brings in their owners.
pub(crate) const GOVERNED: [StoreName; 4] = [
    exceptions::STORES[0],
    exceptions::STORES[1],
    crate::master::STORES[0],
    crate::allocation::OWN_STORES[0].store,
];
/// Rule: an SLA deadline passed.
pub(crate) const RULE_SLA: &str = "GOV-002";
/// Rule: a person's lifecycle decision (acknowledge, hold, release, resolve, cancel).
pub(crate) const RULE_HUMAN: &str = "GOV-003";
/// Rule: the approval gate (role and tier of an approval).
pub(crate) const RULE_GATE: &str = "GOV-004";

/// Which store an exception lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Home {
    /// `cc.exception` (cycle count).
    Count,
    /// `exc.case` (every other type).
    Shared,
}

impl Home {
    const fn tag(self) -> u8 {
        match self {
            Self::Count => b'C',
            Self::Shared => b'X',
        }
    }

    const fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            b'C' => Some(Self::Count),
            b'X' => Some(Self::Shared),
            _ => None,
        }
    }
}

/// A wall-clock SLA clock: running towards a due time, or paused with the time left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum Clock {
    /// Fires at this wall-clock time (UTC ms).
    Running(i64),
    /// On hold with this many ms left.
    Paused(i64),
}

/// One approval given towards a request that needs several (dual approval).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Given {
    pub(crate) role: String,
    pub(crate) actor: String,
    pub(crate) event_id: String,
}

/// Governance state of one exception, kept next to its record in its home store.
///
/// Every field defaults, so values written before governance existed still decode.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Governance {
    /// Acknowledge deadline, until acknowledged, breached or stopped.
    #[serde(default)]
    pub(crate) ack: Option<Clock>,
    /// Resolve deadline, until resolved, breached or stopped.
    #[serde(default)]
    pub(crate) resolve: Option<Clock>,
    /// Next escalation level while a deadline stays breached.
    #[serde(default)]
    pub(crate) ladder: Option<Clock>,
    /// The acknowledge deadline passed without an acknowledgement.
    #[serde(default)]
    pub(crate) ack_breached: bool,
    /// The resolve deadline passed.
    #[serde(default)]
    pub(crate) resolve_breached: bool,
    /// A person acknowledged the exception.
    #[serde(default)]
    pub(crate) acknowledged: bool,
    /// Status before the hold, while ON_HOLD.
    #[serde(default)]
    pub(crate) held_from: Option<ExceptionStatus>,
    /// Approvals given towards the outstanding request (dual approval).
    #[serde(default)]
    pub(crate) approvals: Vec<Given>,
    /// Quantity a detector's INVENTORY_HOLD blocked, until released.
    #[serde(default)]
    pub(crate) held: Option<i64>,
    /// The outstanding approval request asks for the release of the held stock.
    #[serde(default)]
    pub(crate) release_requested: bool,
    /// The approved action an ACTIONING exception waits for (see the actioning module).
    /// Omitted while `None`, so values written before it existed stay byte-identical.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) awaiting: Option<Awaited>,
}

/// An exception loaded from its home, with its governance state.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Governed {
    /// A cycle-count exception.
    Count(ExceptionState),
    /// An exception of the shared lifecycle.
    Shared(Case),
}

impl Governed {
    /// Loads the exception stored at `key` (item ++ exception id) in `home`.
    pub(crate) fn load(ctx: &Ctx<'_>, home: Home, key: &[u8]) -> Result<Option<Self>, DetectError> {
        Ok(match home {
            Home::Count => cycle_count::load_exception(ctx, key)?.map(Self::Count),
            Home::Shared => ctx.get(exceptions::CASE, key)?.map(Self::Shared),
        })
    }

    pub(crate) fn home(&self) -> Home {
        match self {
            Self::Count(_) => Home::Count,
            Self::Shared(_) => Home::Shared,
        }
    }

    pub(crate) fn record(&self) -> &ExceptionRecord {
        match self {
            Self::Count(s) => &s.record,
            Self::Shared(c) => &c.record,
        }
    }

    pub(crate) fn parts(&mut self) -> (&mut ExceptionRecord, &mut Governance) {
        match self {
            Self::Count(s) => (&mut s.record, &mut s.gov),
            Self::Shared(c) => (&mut c.record, &mut c.gov),
        }
    }

    /// Emits the new version, its actions and audit records, and persists it.
    pub(crate) fn commit(
        self,
        ctx: &mut Ctx<'_>,
        actions: Vec<ActionCommand>,
        drafts: Vec<AuditDraft>,
    ) -> Result<(), DetectError> {
        match self {
            Self::Count(s) => cycle_count::commit_governed(ctx, s, actions, drafts),
            Self::Shared(c) => exceptions::commit_governed(ctx, c, actions, drafts),
        }
    }

    /// Persists a changed governance state without a new version (nothing to publish).
    pub(crate) fn save(self, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        let key = case_key(self.record());
        match self {
            Self::Count(s) => cycle_count::save_exception(ctx, &key, &s),
            Self::Shared(c) => ctx.put(exceptions::CASE, &key, &c),
        }
    }
}

/// Audits a decision that was refused (no new version) under the policy version in force,
/// which may be newer than the one the exception's latest version recorded.
pub(crate) fn emit_refusal(
    ctx: &mut Ctx<'_>,
    record: &ExceptionRecord,
    draft: AuditDraft,
    rule: &str,
    event_id: &str,
) {
    let mut audit = cycle_count::audit(record, draft, rule, Some(event_id));
    audit.policy_version = ctx.policy().version().to_owned();
    ctx.emit_audit(audit);
}

/// The approvals behind an adjustment, for its details: `ROLE:actor:event id`, comma-separated.
pub(crate) fn describe(approvals: &[Given]) -> String {
    let parts: Vec<String> =
        approvals.iter().map(|g| format!("{}:{}:{}", g.role, g.actor, g.event_id)).collect();
    parts.join(",")
}

/// Key of an exception in either home: item ++ exception id.
pub(crate) fn case_key(record: &ExceptionRecord) -> Vec<u8> {
    let item = cycle_count::item_key(&record.tenant_id, &record.site_id, &record.sku);
    Key::new().raw(&item).str(&record.exception_id.0).into_bytes()
}

/// A new version of `record` decided at `at` by `rule` under the policy in force, from the
/// input `event`.
pub(crate) fn bump(
    ctx: &Ctx<'_>,
    record: &mut ExceptionRecord,
    rule: &str,
    at: i64,
    event: Option<&str>,
) {
    record.version += 1;
    record.updated_at = at;
    record.rule_id = rule.to_owned();
    record.policy_version = ctx.policy().version().to_owned();
    if let Some(id) = event {
        cycle_count::add_sources(record, &[id.to_owned()]);
    }
}
