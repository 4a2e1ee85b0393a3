//! SLA clocks and the escalation ladder.
//!
//! Deadlines come from `[governance]` by severity: acknowledge `ack_minutes_sev<n>` and resolve
//! `resolve_minutes_sev<n>` after the exception opened, on the wall clock, so a quiet
//! warehouse still escalates. A clock pauses while the exception is ON_HOLD (the time left is
//! kept) and resumes on release; acknowledging stops the acknowledge clock; a closed status
//! (resolved, cancelled) stops every clock ([`settle`], called by both homes' commits).
//!
//! A deadline that passes raises the escalation level by one and issues an ESCALATION to the
//! team of that level (`escalation_teams`, level 1 first) with action id hash(exception,
//! ESCALATION, level): deterministic, one per level. While a deadline stays breached (not
//! acknowledged, or not resolved) the next level follows `escalation_interval_minutes` later,
//! up to the last team. The level is an attribute of the record, never a status.

use std::collections::BTreeMap;

use invex_model::{ActionCommand, ActionType, Decision, ExceptionRecord, RequestedBy};

use super::{Clock, Governance, Governed, Home, RULE_SLA, bump, case_key};
use crate::cycle_count::{self, AuditDraft, symbol};
use crate::detector::{Ctx, TimerKind};
use crate::error::DetectError;
use crate::key::Key;
use crate::policy::{GovernancePolicy, Scope};

/// Timer tag of SLA timers (in the `exc` detector's timer key space).
pub(crate) const SLA: u8 = b'S';
/// The detector whose timers SLA timers are.
const OWNER: &str = "exc";
const MINUTE_MS: i64 = 60_000;

/// Which clock a timer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Ack,
    Resolve,
    Ladder,
}

impl Which {
    const ALL: [Self; 3] = [Self::Ack, Self::Resolve, Self::Ladder];

    const fn tag(self) -> u8 {
        match self {
            Self::Ack => b'A',
            Self::Resolve => b'R',
            Self::Ladder => b'L',
        }
    }

    fn from_tag(tag: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.tag() == tag)
    }

    fn slot(self, gov: &mut Governance) -> &mut Option<Clock> {
        match self {
            Self::Ack => &mut gov.ack,
            Self::Resolve => &mut gov.resolve,
            Self::Ladder => &mut gov.ladder,
        }
    }
}

fn timer_key(home: Home, which: Which, record: &ExceptionRecord) -> Vec<u8> {
    Key::new().byte(SLA).byte(home.tag()).byte(which.tag()).raw(&case_key(record)).into_bytes()
}

/// The governance settings in force for an exception.
pub(crate) fn settings(
    ctx: &Ctx<'_>,
    record: &ExceptionRecord,
) -> Result<GovernancePolicy, DetectError> {
    let item = cycle_count::item(ctx, &record.tenant_id, &record.site_id, &record.sku)?;
    let scope = Scope {
        tenant: &record.tenant_id,
        site: &record.site_id,
        class: item.class.as_deref(),
        sku: &record.sku,
    };
    Ok(ctx.policy().governance(&scope).settings)
}

/// Starts both deadlines of a newly opened exception.
pub(crate) fn start(
    ctx: &mut Ctx<'_>,
    home: Home,
    record: &ExceptionRecord,
    gov: &mut Governance,
) -> Result<(), DetectError> {
    let p = settings(ctx, record)?;
    let (ack, resolve) = deadlines(&p, record.severity);
    let now = ctx.times().wall_clock;
    // A reopened exception starts its clocks afresh; what its actions recorded stays.
    *gov = Governance { held: gov.held, ..Governance::default() };
    set(ctx, home, Which::Ack, record, gov, Clock::Running(now.saturating_add(ack)))?;
    set(ctx, home, Which::Resolve, record, gov, Clock::Running(now.saturating_add(resolve)))
}

fn deadlines(p: &GovernancePolicy, severity: i32) -> (i64, i64) {
    let (ack, resolve) = match severity {
        ..=1 => (p.ack_minutes_sev1, p.resolve_minutes_sev1),
        2 => (p.ack_minutes_sev2, p.resolve_minutes_sev2),
        3 => (p.ack_minutes_sev3, p.resolve_minutes_sev3),
        4 => (p.ack_minutes_sev4, p.resolve_minutes_sev4),
        _ => (p.ack_minutes_sev5, p.resolve_minutes_sev5),
    };
    (ack.saturating_mul(MINUTE_MS), resolve.saturating_mul(MINUTE_MS))
}

fn set(
    ctx: &mut Ctx<'_>,
    home: Home,
    which: Which,
    record: &ExceptionRecord,
    gov: &mut Governance,
    clock: Clock,
) -> Result<(), DetectError> {
    stop(ctx, home, which, record, gov)?;
    if let Clock::Running(due) = clock {
        ctx.schedule_for(OWNER, TimerKind::WallClock, due, &timer_key(home, which, record))?;
    }
    *which.slot(gov) = Some(clock);
    Ok(())
}

fn stop(
    ctx: &mut Ctx<'_>,
    home: Home,
    which: Which,
    record: &ExceptionRecord,
    gov: &mut Governance,
) -> Result<(), DetectError> {
    if let Some(Clock::Running(due)) = which.slot(gov).take() {
        ctx.cancel_for(OWNER, TimerKind::WallClock, due, &timer_key(home, which, record))?;
    }
    Ok(())
}

/// Stops the acknowledge clock (and the ladder when only that deadline was breached).
pub(crate) fn acknowledged(
    ctx: &mut Ctx<'_>,
    home: Home,
    record: &ExceptionRecord,
    gov: &mut Governance,
) -> Result<(), DetectError> {
    gov.acknowledged = true;
    stop(ctx, home, Which::Ack, record, gov)?;
    if !gov.resolve_breached {
        stop(ctx, home, Which::Ladder, record, gov)?;
    }
    Ok(())
}

/// Pauses every running clock, keeping the time left.
pub(crate) fn pause(
    ctx: &mut Ctx<'_>,
    home: Home,
    record: &ExceptionRecord,
    gov: &mut Governance,
) -> Result<(), DetectError> {
    let now = ctx.times().wall_clock;
    for which in Which::ALL {
        if let Some(Clock::Running(due)) = *which.slot(gov) {
            let left = due.saturating_sub(now).max(0);
            set(ctx, home, which, record, gov, Clock::Paused(left))?;
        }
    }
    Ok(())
}

/// Resumes every paused clock with the time it had left.
pub(crate) fn resume(
    ctx: &mut Ctx<'_>,
    home: Home,
    record: &ExceptionRecord,
    gov: &mut Governance,
) -> Result<(), DetectError> {
    let now = ctx.times().wall_clock;
    for which in Which::ALL {
        if let Some(Clock::Paused(left)) = *which.slot(gov) {
            set(ctx, home, which, record, gov, Clock::Running(now.saturating_add(left)))?;
        }
    }
    Ok(())
}

/// Stops every clock of an exception that is no longer open, and ends its wait for an
/// action; both homes call it on commit.
pub(crate) fn settle(
    ctx: &mut Ctx<'_>,
    home: Home,
    record: &ExceptionRecord,
    gov: &mut Governance,
) -> Result<(), DetectError> {
    if !record.status.is_open() {
        for which in Which::ALL {
            stop(ctx, home, which, record, gov)?;
        }
    }
    super::actioning::settle(ctx, record, gov)
}

/// An SLA timer fired (timer key without the [`SLA`] tag).
pub(crate) fn on_timer(ctx: &mut Ctx<'_>, key: &[u8], due: i64) -> Result<(), DetectError> {
    let (Some(&home), Some(&which), Some(case)) = (key.first(), key.get(1), key.get(2..)) else {
        return Ok(());
    };
    let (Some(home), Some(which)) = (Home::from_tag(home), Which::from_tag(which)) else {
        return Ok(());
    };
    let Some(mut governed) = Governed::load(ctx, home, case)? else { return Ok(()) };
    let (record, gov) = governed.parts();
    // A clock that was stopped or moved since leaves a stale timer: it must not count.
    if *which.slot(gov) != Some(Clock::Running(due)) || !record.status.is_open() {
        return Ok(());
    }
    *which.slot(gov) = None;
    let reason = match which {
        Which::Ack => {
            gov.ack_breached = true;
            "ACK_SLA_BREACHED"
        }
        Which::Resolve => {
            gov.resolve_breached = true;
            "RESOLVE_SLA_BREACHED"
        }
        Which::Ladder if gov.resolve_breached => "RESOLVE_SLA_STILL_BREACHED",
        Which::Ladder if gov.ack_breached && !gov.acknowledged => "ACK_SLA_STILL_BREACHED",
        Which::Ladder => return governed.save(ctx),
    };
    escalate(ctx, governed, reason, due)
}

/// Raises the escalation level and issues its ESCALATION, or only records the breach at the
/// top of the ladder.
fn escalate(
    ctx: &mut Ctx<'_>,
    mut governed: Governed,
    reason: &str,
    at: i64,
) -> Result<(), DetectError> {
    let home = governed.home();
    let p = settings(ctx, governed.record())?;
    let (record, gov) = governed.parts();
    let Some(team) = next_team(&p, record.escalation_level).cloned() else {
        return governed.save(ctx);
    };
    bump(ctx, record, RULE_SLA, at, None);
    let (action, draft) = climb(record, &team, reason, at);
    if next_team(&p, record.escalation_level).is_some() {
        let next = ctx.times().wall_clock.saturating_add(p.escalation_interval_minutes * MINUTE_MS);
        set(ctx, home, Which::Ladder, record, gov, Clock::Running(next))?;
    }
    governed.commit(ctx, vec![action], vec![draft])
}

/// The team of the level above `level`, if the ladder has one.
fn next_team(p: &GovernancePolicy, level: i32) -> Option<&String> {
    let index = usize::try_from(level).ok()?;
    p.escalation_teams.get(index)
}

/// Raises the escalation level of `record` (already bumped to the version that escalates) by
/// one and builds its ESCALATION with its audit draft; `None`, level unchanged, at the top of
/// the ladder. The SLA timers use it, and so does a refused action (actioning module).
pub(crate) fn raise(
    p: &GovernancePolicy,
    record: &mut ExceptionRecord,
    reason: &str,
    at: i64,
) -> Option<(ActionCommand, AuditDraft)> {
    let team = next_team(p, record.escalation_level)?.clone();
    Some(climb(record, &team, reason, at))
}

/// One level up, to `team`.
fn climb(
    record: &mut ExceptionRecord,
    team: &str,
    reason: &str,
    at: i64,
) -> (ActionCommand, AuditDraft) {
    record.escalation_level = record.escalation_level.saturating_add(1);
    escalation(record, team, reason, at)
}

/// The ESCALATION of the record's (new) level and its audit draft.
fn escalation(
    record: &ExceptionRecord,
    team: &str,
    reason: &str,
    at: i64,
) -> (ActionCommand, AuditDraft) {
    let level = record.escalation_level;
    let status = record.status;
    let mut action =
        cycle_count::action(record, ActionType::Escalation, level, RequestedBy::Rule, at);
    action.target_group = team.to_owned();
    let details: BTreeMap<String, String> = [
        ("level", level.to_string()),
        ("team", team.to_owned()),
        ("reason", reason.to_owned()),
        ("status", symbol(status)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    action.details.extend(details.clone());
    let draft = AuditDraft {
        decision: Decision::Escalated,
        rule: None,
        from: Some(status),
        to: status,
        at,
        note: format!("{reason}: escalated to level {level} ({team})"),
        actor: None,
        action_ids: vec![action.action_id.0.clone()],
        inputs: Vec::new(),
        details,
    };
    (action, draft)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;

    #[test]
    fn deadlines_follow_severity_and_clamp_out_of_range_ones() {
        let p = Policy::default_policy().detectors().governance.clone();
        assert_eq!(deadlines(&p, 1), (15 * MINUTE_MS, 240 * MINUTE_MS));
        assert_eq!(deadlines(&p, 3), (240 * MINUTE_MS, 2_880 * MINUTE_MS));
        assert_eq!(deadlines(&p, 0), deadlines(&p, 1), "below 1 counts as critical");
        assert_eq!(deadlines(&p, 9), deadlines(&p, 5), "above 5 counts as informational");
    }

    #[test]
    fn timer_tags_round_trip() {
        for which in Which::ALL {
            assert_eq!(Which::from_tag(which.tag()), Some(which));
        }
        for home in [Home::Count, Home::Shared] {
            assert_eq!(Home::from_tag(home.tag()), Some(home));
        }
        assert_eq!(Which::from_tag(b'?'), None);
    }
}
