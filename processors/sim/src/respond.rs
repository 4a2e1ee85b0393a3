//! Closing the loop: the warehouse's answer to invex's actions.
//!
//! - A RECOUNT_TASK of cycle counting (rule `CC-*`) is answered by a recount that reports the
//!   shelf at the recount time, 5 to 20 minutes after the task. Recount tasks of the other
//!   detectors (a duplicate pick, a book below zero, ghost stock) are left to the warehouse's
//!   own schedule: answering them would reveal a location's fault through a count the ground
//!   truth cannot foresee, because it is fixed before the first event is read.
//! - An APPROVAL_REQUEST is answered by a supervisor's decision 2 to 10 minutes later. The
//!   verdict is a pure function of the seed and the subject (site, SKU, location, lot), which
//!   is how the ground truth knows the expected resolution in advance. A REJECT leaves the
//!   exception REJECTED, waiting for a person, so the supervisor closes the case 3 to 15
//!   minutes later with a RESOLVE that carries no reason code: the detector resolves it with
//!   its status reason (ADJUSTMENT_REJECTED), the truth's expected resolution.
//! - A STOCK_ADJUSTMENT (issued by the detector once the approval is in) is answered by the
//!   ERP's integration acknowledgement, status ACK, 10 seconds to 3 minutes later:
//!   `related_event_ids` names the action id, which moves the exception from ACTIONING to
//!   RESOLVED / ADJUSTED. Only for this run's tenant and sites: another tenant's ERP is not
//!   simulated. Its message id is an ERP document number derived from the action id.
//! - A RELEASE_HOLD is not answered: the detector issues one only after the approval of a
//!   release that a person's RESOLVE of a held, open, not REJECTED exception asks for, and
//!   the simulator resolves nothing but the exceptions it has just rejected. Nor is anything
//!   else (holds, escalations, notices): nobody in the simulated warehouse reports on them.
//!
//! Invariants and why they hold:
//! - Deterministic: every answer is a pure function of the seed, the action and the simulated
//!   history; delays come from `spread` (a hash of the seed and the action id), never from
//!   the run's random generator or from when `respond` is called. Event ids and source
//!   sequences continue the stream's numbering, so they follow the order of the calls, as
//!   those of a real system would.
//! - The generated stream is the same whether or not the loop is closed: answers draw nothing
//!   from the generators and leave the records alone (a recount only advances the location's
//!   count sequence, which no generated event reads again).
//! - Once: an action already answered (by action id) gets nothing more, so redelivered
//!   actions do not duplicate answers.
//! - Vendor-neutral: answers are canonical events like the generated ones; the caller renders
//!   them through the vendor of their topic (acknowledgements through the ERP's IDoc export,
//!   decisions through the WMS's webhooks in `invex demo`).
//!
//! An approved adjustment reaches the ERP at the decision, as the detector's ledger does:
//! book snapshot rows rendered after it include it, so the two books stay equal and no sync
//! divergence follows (the run's own books never include adjustments, which moves both
//! sides alike and leaves the sync rule's mirror unchanged). The acknowledgement confirms the
//! posting; it moves no book.

use invex_model::{
    AckStatus, ActionCommand, ActionType, ApprovalDecision, ApprovalVerdict, CanonicalEvent,
    CountType, EpcisAction, IntegrationAck, SourceSystem,
};

use crate::Simulator;
use crate::config::SimConfig;
use crate::record::{Body, CountRecord, Record};
use crate::render::{Stamp, ids};
use crate::schedule::count_time;

/// Rule-id prefix of the cycle-count detector, whose recount tasks the warehouse answers.
const CYCLE_COUNT_RULES: &str = "CC-";
/// A recount is taken 5 to 20 minutes after the task is created.
const RECOUNT_DELAY_MS: (i64, i64) = (300_000, 1_200_000);
/// A supervisor decides 2 to 10 minutes after the request.
const APPROVAL_DELAY_MS: (i64, i64) = (120_000, 600_000);
/// A supervisor closes a rejected case 3 to 15 minutes after the rejection.
const CLOSE_DELAY_MS: (i64, i64) = (180_000, 900_000);
/// The ERP confirms an adjustment posting 10 seconds to 3 minutes after it is issued.
const POSTING_ACK_DELAY_MS: (i64, i64) = (10_000, 180_000);
/// The WMS freezes the book one minute before a recount.
const RECOUNT_FREEZE_LEAD_MS: i64 = 60_000;
/// Business step of the supervisor's decisions and the adjustment postings: in a simulated
/// run every approval request is a cycle count's (the other detectors ask for none).
const COUNT_BIZ_STEP: &str = "cycle_counting";
/// Who decides and closes.
const SUPERVISOR: &str = "supervisor-1";

/// One decision of the supervisor, apart from its subject and time.
struct Say {
    verdict: ApprovalVerdict,
    /// Whether it answers the approval request (a RESOLVE closes the case instead).
    answers_request: bool,
    reason_code: Option<&'static str>,
    comment: &'static str,
}

/// Approves with EDIFACT 4499 reason `4` (inventory adjustment).
const APPROVE: Say = Say {
    verdict: ApprovalVerdict::Approve,
    answers_request: true,
    reason_code: Some("4"),
    comment: "recount confirms the variance",
};
const REJECT: Say = Say {
    verdict: ApprovalVerdict::Reject,
    answers_request: true,
    reason_code: None,
    comment: "variance not plausible, investigate first",
};
/// Without a reason code, so the detector resolves with the status reason of the rejection.
const CLOSE: Say = Say {
    verdict: ApprovalVerdict::Resolve,
    answers_request: false,
    reason_code: None,
    comment: "investigated, closed without adjustment",
};

impl Simulator {
    /// The events the warehouse produces in answer to `action`, in event-time order; empty
    /// for action types it does not act on, for a subject it does not know, and for an action
    /// already answered.
    pub fn respond(&mut self, action: &ActionCommand) -> Vec<CanonicalEvent> {
        if self.answered.contains(&action.action_id.0) {
            return Vec::new();
        }
        let answer = match action.action_type {
            ActionType::RecountTask if action.rule_id.starts_with(CYCLE_COUNT_RULES) => {
                self.recount(action).into_iter().collect()
            }
            ActionType::ApprovalRequest => self.decide(action),
            ActionType::StockAdjustment => self.confirm_posting(action).into_iter().collect(),
            _ => Vec::new(),
        };
        if !answer.is_empty() {
            self.answered.insert(action.action_id.0.clone());
        }
        answer
    }

    /// Where the next answer sits in the stream: the next event number and `source`'s next
    /// sequence number.
    fn stamp(&mut self, time: i64, source: SourceSystem) -> Stamp {
        let number = self.next_event_number;
        self.next_event_number += 1;
        Stamp { number, time, seq: self.seqs.next(source), source }
    }

    fn recount(&mut self, action: &ActionCommand) -> Option<CanonicalEvent> {
        if action.tenant_id != self.config.tenant {
            return None;
        }
        let location = action.location_id.as_deref()?;
        let slot = self.catalog.find_slot(&action.site_id, &action.sku, location)?;
        let delay = spread(self.config.seed, &[&action.action_id.0], RECOUNT_DELAY_MS);
        let time = count_time(self.config.start_time, action.created_at.saturating_add(delay));
        let freeze_time = time.saturating_sub(RECOUNT_FREEZE_LEAD_MS);
        let book = &self.books[slot];
        let counted = book.level_at(time).map_or(book.phys, |l| l.phys);
        let wms_at_freeze = book.level_at(freeze_time).map_or(book.wms, |l| l.wms);
        let count_seq = book.last_count_seq + 1;
        self.books[slot].last_count_seq = count_seq;
        self.next_count_number += 1;
        let body = Body::Count(CountRecord {
            number: self.next_count_number,
            slot: slot as u32,
            count_type: CountType::Demand,
            count_seq,
            counted,
            wms_at_freeze,
            freeze_time,
        });
        let stamp = self.stamp(time, SourceSystem::Wms);
        let record = Record { time, seq: stamp.seq, body };
        Some(self.renderer().render(stamp.number, &record))
    }

    /// The supervisor's decision; after a rejection also the RESOLVE that closes the case.
    fn decide(&mut self, action: &ActionCommand) -> Vec<CanonicalEvent> {
        let id = action.action_id.0.as_str();
        let time =
            action.created_at.saturating_add(spread(self.config.seed, &[id], APPROVAL_DELAY_MS));
        let rejects = approver_rejects(
            &self.config,
            &action.site_id,
            &action.sku,
            action.location_id.as_deref(),
            action.lot.as_deref(),
        );
        if rejects {
            let delay = spread(self.config.seed, &[id, "close"], CLOSE_DELAY_MS);
            let rejected = self.decision(action, time, &REJECT);
            return vec![rejected, self.decision(action, time.saturating_add(delay), &CLOSE)];
        }
        if let (Some(location), Some(qty)) = (action.location_id.as_deref(), action.quantity)
            && let Some(slot) = self.catalog.find_slot(&action.site_id, &action.sku, location)
        {
            self.adjustments.entry(slot).or_default().push((time, qty));
        }
        vec![self.decision(action, time, &APPROVE)]
    }

    fn decision(&mut self, action: &ActionCommand, time: i64, say: &Say) -> CanonicalEvent {
        let stamp = self.stamp(time, SourceSystem::Human);
        let header =
            self.renderer().header(stamp, &action.site_id, EpcisAction::Observe, COUNT_BIZ_STEP);
        CanonicalEvent::Approval(ApprovalDecision {
            header,
            exception_id: action.exception_id.0.clone(),
            approval_request_id: say.answers_request.then(|| action.action_id.0.clone()),
            verdict: say.verdict,
            actor: SUPERVISOR.to_owned(),
            actor_role: action.approval_tier.clone(),
            comment: Some(say.comment.to_owned()),
            reason_code: say.reason_code.map(str::to_owned),
            sku: action.sku.clone(),
        })
    }

    /// The ERP's acknowledgement of an adjustment posting, naming the action.
    fn confirm_posting(&mut self, action: &ActionCommand) -> Option<CanonicalEvent> {
        let known_site = self.catalog.sites.iter().any(|s| s.id == action.site_id);
        if action.tenant_id != self.config.tenant || !known_site {
            return None;
        }
        let quantity = action.quantity?;
        let id = action.action_id.0.as_str();
        let seed = self.config.seed;
        let time = action.created_at.saturating_add(spread(seed, &[id], POSTING_ACK_DELAY_MS));
        let stamp = self.stamp(time, SourceSystem::Erp);
        let header =
            self.renderer().header(stamp, &action.site_id, EpcisAction::Observe, COUNT_BIZ_STEP);
        let document = mix(seed, &[id, "document"]) % ids::ADJUSTMENT_DOCUMENTS;
        Some(CanonicalEvent::Ack(IntegrationAck {
            header,
            message_id: ids::adjustment(&action.site_id, document),
            direction: "WMS_TO_ERP".to_owned(),
            doc_type: "ADJ".to_owned(),
            sku: action.sku.clone(),
            quantity,
            related_event_ids: vec![id.to_owned()],
            status: AckStatus::Ack,
            error_code: None,
            attempt: 1,
        }))
    }
}

/// Whether the simulated approver rejects an adjustment of this subject.
pub(crate) fn approver_rejects(
    cfg: &SimConfig,
    site: &str,
    sku: &str,
    location: Option<&str>,
    lot: Option<&str>,
) -> bool {
    let fields = [cfg.tenant.as_str(), site, sku, location.unwrap_or(""), lot.unwrap_or("")];
    unit(mix(cfg.seed, &fields)) < cfg.approval_reject_share
}

/// A deterministic value in `[lo, hi)` derived from the seed and `fields` (an action id, and
/// what the value is for when one action has several).
fn spread(seed: u64, fields: &[&str], (lo, hi): (i64, i64)) -> i64 {
    lo + (unit(mix(seed, fields)) * (hi - lo) as f64) as i64
}

/// FNV-1a over length-prefixed fields, finished with the SplitMix64 mixer so that nearby
/// inputs give unrelated outputs. Stable across Rust versions, unlike `DefaultHasher`.
fn mix(seed: u64, fields: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for field in fields {
        for byte in (field.len() as u64).to_le_bytes().iter().chain(field.as_bytes()) {
            h ^= u64::from(*byte);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The top 53 bits of `h` as a number in `[0, 1)`.
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1_u64 << 53) as f64
}

#[cfg(test)]
#[path = "respond_tests.rs"]
mod tests;
