//! Closing the loop: the warehouse's answer to invex's actions.
//!
//! A RECOUNT_TASK of cycle counting (rule `CC-*`) is answered by a recount that reports the
//! shelf at the recount time; an APPROVAL_REQUEST by a supervisor's decision. Recount tasks
//! of the other detectors (a duplicate pick, a book below zero, ghost stock) are left to the
//! warehouse's own schedule: answering them would reveal a location's fault through a count
//! the ground truth cannot foresee, because it is fixed before the first event is read. Answers depend only on the action and the
//! simulated history, never on when `respond` is called or on the random generator of the
//! run, so the generated stream is the same whether or not the loop is closed. The approver's
//! verdict is a pure function of the seed and the subject (site, SKU, location, lot), which is
//! how the ground truth knows the expected resolution in advance.
//!
//! An approved adjustment reaches the ERP at the decision, as the detector's ledger does:
//! book snapshot rows rendered after it include it, so the two books stay equal and no sync
//! divergence follows (the run's own books never include adjustments, which moves both
//! sides alike and leaves the sync rule's mirror unchanged).

use invex_model::{
    ActionCommand, ActionType, ApprovalDecision, ApprovalVerdict, CanonicalEvent, CountType,
    EpcisAction, SourceSystem,
};

use crate::Simulator;
use crate::config::SimConfig;
use crate::record::{Body, CountRecord, Record};
use crate::render::Stamp;
use crate::schedule::count_time;

/// Rule-id prefix of the cycle-count detector, whose recount tasks the warehouse answers.
const CYCLE_COUNT_RULES: &str = "CC-";
/// A recount is taken 5 to 20 minutes after the task is created.
const RECOUNT_DELAY_MS: (i64, i64) = (300_000, 1_200_000);
/// A supervisor decides 2 to 10 minutes after the request.
const APPROVAL_DELAY_MS: (i64, i64) = (120_000, 600_000);
/// The WMS freezes the book one minute before a recount.
const RECOUNT_FREEZE_LEAD_MS: i64 = 60_000;

impl Simulator {
    /// The events the warehouse produces in answer to `action`; empty for action types it
    /// does not act on, for a subject it does not know, and for an action already answered.
    pub fn respond(&mut self, action: &ActionCommand) -> Vec<CanonicalEvent> {
        if self.answered.contains(&action.action_id.0) {
            return Vec::new();
        }
        let answer = match action.action_type {
            ActionType::RecountTask if action.rule_id.starts_with(CYCLE_COUNT_RULES) => {
                self.recount(action)
            }
            ActionType::ApprovalRequest => Some(self.decide(action)),
            _ => None,
        };
        let Some(event) = answer else { return Vec::new() };
        self.answered.insert(action.action_id.0.clone());
        self.next_event_number += 1;
        vec![event]
    }

    fn recount(&mut self, action: &ActionCommand) -> Option<CanonicalEvent> {
        if action.tenant_id != self.config.tenant {
            return None;
        }
        let location = action.location_id.as_deref()?;
        let slot = self.catalog.find_slot(&action.site_id, &action.sku, location)?;
        let delay = spread(self.config.seed, &action.action_id.0, RECOUNT_DELAY_MS);
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
        let record = Record { time, seq: self.seqs.next(SourceSystem::Wms), body };
        Some(self.renderer().render(self.next_event_number, &record))
    }

    fn decide(&mut self, action: &ActionCommand) -> CanonicalEvent {
        let delay = spread(self.config.seed, &action.action_id.0, APPROVAL_DELAY_MS);
        let time = action.created_at.saturating_add(delay);
        let rejects = approver_rejects(
            &self.config,
            &action.site_id,
            &action.sku,
            action.location_id.as_deref(),
            action.lot.as_deref(),
        );
        if !rejects
            && let (Some(location), Some(qty)) = (action.location_id.as_deref(), action.quantity)
            && let Some(slot) = self.catalog.find_slot(&action.site_id, &action.sku, location)
        {
            self.adjustments.entry(slot).or_default().push((time, qty));
        }
        let (verdict, reason_code, comment) = if rejects {
            (ApprovalVerdict::Reject, None, "variance not plausible, investigate first")
        } else {
            (ApprovalVerdict::Approve, Some("4".to_owned()), "recount confirms the variance")
        };
        let stamp = Stamp {
            number: self.next_event_number,
            time,
            seq: self.seqs.next(SourceSystem::Human),
            source: SourceSystem::Human,
        };
        let header =
            self.renderer().header(stamp, &action.site_id, EpcisAction::Observe, "cycle_counting");
        CanonicalEvent::Approval(ApprovalDecision {
            header,
            exception_id: action.exception_id.0.clone(),
            approval_request_id: Some(action.action_id.0.clone()),
            verdict,
            actor: "supervisor-1".to_owned(),
            actor_role: action.approval_tier.clone(),
            comment: Some(comment.to_owned()),
            reason_code,
            sku: action.sku.clone(),
        })
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

/// A deterministic value in `[lo, hi)` derived from the seed and an id.
fn spread(seed: u64, id: &str, (lo, hi): (i64, i64)) -> i64 {
    lo + (unit(mix(seed, &[id])) * (hi - lo) as f64) as i64
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
mod tests {
    use super::*;

    #[test]
    fn mix_is_stable_and_separates_field_boundaries() {
        assert_eq!(mix(1, &["ab", "c"]), mix(1, &["ab", "c"]));
        assert_ne!(mix(1, &["ab", "c"]), mix(1, &["a", "bc"]));
        assert_ne!(mix(1, &["ab"]), mix(2, &["ab"]));
    }

    #[test]
    fn reject_share_is_roughly_respected() {
        let cfg = SimConfig { approval_reject_share: 0.25, ..SimConfig::default() };
        let rejected = (0..4000)
            .filter(|i| approver_rejects(&cfg, "DC1", &format!("SKU-{i}"), Some("A01"), None))
            .count();
        assert!((800..1200).contains(&rejected), "{rejected}");
        let never = SimConfig { approval_reject_share: 0.0, ..SimConfig::default() };
        assert!(!approver_rejects(&never, "DC1", "SKU-1", None, None));
    }

    #[test]
    fn spread_stays_in_range() {
        for id in ["a", "b", "act-1", "act-2"] {
            let v = spread(9, id, RECOUNT_DELAY_MS);
            assert!((RECOUNT_DELAY_MS.0..RECOUNT_DELAY_MS.1).contains(&v));
        }
    }
}
