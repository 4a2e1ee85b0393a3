//! Exception versions to transitions.
//!
//! ```text
//! version <= the one applied             -> duplicate, nothing changes
//! not open before, open now              -> OPENED: an episode starts (open index, live +1);
//!                                           opened and root cause counted at updated_at
//! open before, open now                  -> value at risk updated, nothing counted
//! open before, RESOLVED|CLOSED|CANCELLED -> RESOLVED: the episode moves to the closed index,
//!                                           live -1; resolved and time to resolve counted
//! not open before, terminal now          -> nothing counted (a record born terminal, such as
//!                                           a count accepted within tolerance, never opened)
//! ```
//!
//! "Open before" is the state of the highest version applied, so a version replayed by the
//! compacted topic or a restart is a duplicate and each transition is counted once. Age and
//! time to resolve run from `opened_at` for an exception first seen open, and from the
//! reopening version's `updated_at` for a reopened one (whose `opened_at` is its first
//! opening). Time to resolve ends at `resolved_at`, or `updated_at` when there is none
//! (CANCELLED).
//!
//! A terminal exception keeps a tombstone (its version, no episode) so that a replayed older
//! version is still recognised as a duplicate. The tombstone is purged [`TOMBSTONE_RETENTION_MS`]
//! plus the grace period after the exception ended, by stream time (close module); a version
//! replayed later than that is no longer recognised.

use invex_model::ExceptionRecord;

use super::histogram::observe;
use super::state::{
    self, CLOSED, Closed, Episode, Group, GroupLive, LIVE, Money, OPEN, PURGE, TRACKED, Tracked,
};
use super::window::{self, HOUR_MS};
use super::{KpiChange, KpiOutcome};
use crate::error::DetectError;
use crate::store::Store;

/// How long a terminal exception's tombstone outlives the grace period (7 days, like the
/// engine's event-id dedupe).
pub(super) const TOMBSTONE_RETENTION_MS: i64 = 7 * 24 * HOUR_MS;

/// Applies one exception version.
pub(super) fn on_exception(
    store: &mut dyn Store,
    grace_ms: i64,
    record: &ExceptionRecord,
) -> Result<KpiOutcome, DetectError> {
    let key = state::tracked_key(&record.exception_id.0);
    let known = state::get(store, TRACKED, &key)?;
    if known.as_ref().is_some_and(|t| record.version <= t.version) {
        return Ok(KpiOutcome::duplicate());
    }
    let group = Group {
        tenant_id: record.tenant_id.clone(),
        site_id: record.site_id.clone(),
        exception_type: record.exception_type,
    };
    let episode = known.as_ref().and_then(|t| t.open.clone());
    match (episode, record.status.is_open()) {
        (None, true) => open(store, group, known.is_some(), record),
        (Some(episode), true) => update(store, group, episode, record),
        (Some(episode), false) => close(store, group, episode, grace_ms, record),
        (None, false) => match known {
            Some(tombstone) => {
                let tracked = Tracked { version: record.version, ..tombstone };
                state::put(store, TRACKED, &key, &tracked)?;
                Ok(KpiOutcome::applied())
            }
            None => Ok(KpiOutcome::ignored()),
        },
    }
}

fn open(
    store: &mut dyn Store,
    group: Group,
    reopened: bool,
    record: &ExceptionRecord,
) -> Result<KpiOutcome, DetectError> {
    let id = &record.exception_id.0;
    let episode = Episode {
        counted_at: record.updated_at,
        open_since: if reopened { record.updated_at } else { record.opened_at },
        value: value_of(record),
    };
    let open_key = state::open_key(&group, episode.open_since, id);
    state::put(store, OPEN, &open_key, &episode)?;
    adjust_live(store, &group, 1, &[(&episode.value, 1)])?;
    let tracked = Tracked {
        version: record.version,
        group: group.clone(),
        open: Some(episode),
        purge_at: None,
    };
    state::put(store, TRACKED, &state::tracked_key(id), &tracked)?;
    let root_cause = record.root_cause.as_ref().map(|c| c.category);
    let in_window = window::count(store, &group, record.updated_at, |c| {
        c.opened = c.opened.saturating_add(1);
        if let Some(category) = root_cause {
            let n = c.root_causes.entry(category).or_default();
            *n = n.saturating_add(1);
        }
    })?;
    Ok(KpiOutcome::counted(in_window, group, KpiChange::Opened { root_cause }))
}

fn update(
    store: &mut dyn Store,
    group: Group,
    mut episode: Episode,
    record: &ExceptionRecord,
) -> Result<KpiOutcome, DetectError> {
    let id = &record.exception_id.0;
    let value = value_of(record);
    if value != episode.value {
        adjust_live(store, &group, 0, &[(&episode.value, -1), (&value, 1)])?;
        episode.value = value;
        state::put(store, OPEN, &state::open_key(&group, episode.open_since, id), &episode)?;
    }
    let tracked = Tracked { version: record.version, group, open: Some(episode), purge_at: None };
    state::put(store, TRACKED, &state::tracked_key(id), &tracked)?;
    Ok(KpiOutcome::applied())
}

fn close(
    store: &mut dyn Store,
    group: Group,
    episode: Episode,
    grace_ms: i64,
    record: &ExceptionRecord,
) -> Result<KpiOutcome, DetectError> {
    let id = &record.exception_id.0;
    let closed_at = record.updated_at;
    let ended = record.resolved_at.unwrap_or(closed_at);
    let time_to_resolve_ms = ended.saturating_sub(episode.open_since).max(0);
    state::delete(store, OPEN, &state::open_key(&group, episode.open_since, id))?;
    adjust_live(store, &group, -1, &[(&episode.value, -1)])?;
    let closed_key = state::closed_key(&group, closed_at, id);
    state::put(store, CLOSED, &closed_key, &Closed { episode, closed_at })?;
    let purge_at = closed_at.saturating_add(grace_ms).saturating_add(TOMBSTONE_RETENTION_MS);
    state::put(store, PURGE, &state::purge_key(purge_at, id), &())?;
    let tracked = Tracked {
        version: record.version,
        group: group.clone(),
        open: None,
        purge_at: Some(purge_at),
    };
    state::put(store, TRACKED, &state::tracked_key(id), &tracked)?;
    let in_window = window::count(store, &group, closed_at, |c| {
        c.resolved = c.resolved.saturating_add(1);
        c.ttr_sum_ms = c.ttr_sum_ms.saturating_add(time_to_resolve_ms);
        observe(&mut c.ttr_counts, time_to_resolve_ms);
    })?;
    Ok(KpiOutcome::counted(in_window, group, KpiChange::Resolved { time_to_resolve_ms }))
}

fn value_of(record: &ExceptionRecord) -> Money {
    Money::of(record.valuation.variance_value, &record.valuation.currency)
}

/// Adds `open` to the group's open count and each `sign * money` to its value at risk (a
/// currency enters the gauges with its first non-zero amount).
fn adjust_live(
    store: &mut dyn Store,
    group: &Group,
    open: i64,
    values: &[(&Money, i64)],
) -> Result<(), DetectError> {
    let key = state::live_key(group);
    let mut live = state::get(store, LIVE, &key)?.unwrap_or_else(|| GroupLive {
        group: group.clone(),
        open: 0,
        value: Default::default(),
    });
    live.open = live.open.saturating_add(open);
    for (money, sign) in values.iter().filter(|(m, _)| m.micros != 0) {
        let sum = live.value.entry(money.currency.clone()).or_default();
        *sum = sum.saturating_add(money.micros.saturating_mul(*sign));
    }
    state::put(store, LIVE, &key, &live)
}
