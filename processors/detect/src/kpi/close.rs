//! Closing windows: KPI records, backlog snapshots, and the purge that keeps state bounded.
//!
//! A window `[s, e)` closes once `e + grace <= stream time`, windows strictly in order from
//! the cursor (`closed_until`, or the earliest counted window before the first close), and
//! each exactly once: the cursor moves in the same store transaction as the deletions.
//!
//! The backlog of a group at `e` is every episode with `counted_at < e` that is still open,
//! or that closed at or after `e` (closed episodes wait in the closed index until the window
//! they closed in is emitted). So later transitions that arrived within the grace period do
//! not leak into an earlier window, and `backlog(e) = backlog(e - 1 h) + opened - resolved`
//! holds when nothing was late. Value at risk uses each exception's latest value.
//!
//! A group is reported for a window when it counted something there or has a backlog at its
//! end: a quiet site with open exceptions is reported every hour, a group never seen never.
//! Records come out by window, then by (tenant, site, type symbol) in byte order.

use std::collections::BTreeMap;

use invex_model::{KpiRecord, MoneyAmount, RootCauseCount};

use super::histogram::{histogram, observe};
use super::state::{
    self, CLOSED, COUNTS, Episode, Group, LIVE, META, OPEN, PURGE, SEEN, TRACKED, WindowCounts,
};
use super::window::{self, HOUR_MS};
use crate::error::DetectError;
use crate::key::KeyReader;
use crate::store::Store;

/// Emits every window due at `stream_time`, then purges expired tombstones.
pub(super) fn advance(
    store: &mut dyn Store,
    task: i32,
    grace_ms: i64,
    stream_time: i64,
) -> Result<Vec<KpiRecord>, DetectError> {
    let mut out = Vec::new();
    let mut meta = window::meta(store)?;
    let cursor = match meta.closed_until {
        Some(closed) => Some(closed),
        None => earliest_counted_window(store)?,
    };
    if let Some(mut start) = cursor {
        let mut moved = false;
        while let Some(end) = start.checked_add(HOUR_MS)
            && end.saturating_add(grace_ms) <= stream_time
        {
            close_window(store, task, start, end, &mut out)?;
            start = end;
            moved = true;
        }
        if moved {
            meta.closed_until = Some(start);
            state::put(store, META, state::meta_key(), &meta)?;
        }
    }
    purge(store, stream_time)?;
    Ok(out)
}

fn earliest_counted_window(store: &dyn Store) -> Result<Option<i64>, DetectError> {
    let first = state::first(store, COUNTS, &state::all_counts_prefix())?;
    Ok(first.and_then(|(key, _)| {
        let mut reader = KeyReader::new(&key);
        reader.byte()?;
        reader.time()
    }))
}

fn close_window(
    store: &mut dyn Store,
    task: i32,
    start: i64,
    end: i64,
    out: &mut Vec<KpiRecord>,
) -> Result<(), DetectError> {
    let mut groups: BTreeMap<Vec<u8>, (Group, Option<WindowCounts>)> = BTreeMap::new();
    for (_, live) in state::scan(store, LIVE, &state::live_prefix())? {
        groups.insert(live.group.key(), (live.group, None));
    }
    let counted = state::scan(store, COUNTS, &state::counts_prefix(start))?;
    for (key, counts) in counted {
        state::delete(store, COUNTS, &key)?;
        groups.insert(counts.group.key(), (counts.group.clone(), Some(counts)));
    }
    for (key, ()) in state::scan(store, SEEN, &state::seen_prefix(start))? {
        state::delete(store, SEEN, &key)?;
    }
    for (group, counts) in groups.into_values() {
        let backlog = snapshot(store, &group, end)?;
        if counts.is_none() && backlog.open == 0 {
            continue;
        }
        let counts = counts.unwrap_or_else(|| WindowCounts::new(group.clone()));
        out.push(record(task, start, end, counts, backlog));
    }
    Ok(())
}

/// The open backlog of a group at `end`.
#[derive(Debug, Default)]
struct Backlog {
    open: i64,
    oldest_ms: Option<i64>,
    age_counts: Vec<i64>,
    age_sum_ms: i64,
    value: BTreeMap<String, i64>,
}

impl Backlog {
    fn add(&mut self, episode: &Episode, end: i64) {
        let age = end.saturating_sub(episode.open_since).max(0);
        self.open = self.open.saturating_add(1);
        self.oldest_ms = Some(self.oldest_ms.map_or(age, |oldest| oldest.max(age)));
        observe(&mut self.age_counts, age);
        self.age_sum_ms = self.age_sum_ms.saturating_add(age);
        let sum = self.value.entry(episode.value.currency.clone()).or_default();
        *sum = sum.saturating_add(episode.value.micros);
    }
}

/// The backlog at `end`; drops closed episodes that can be in no later backlog.
fn snapshot(store: &mut dyn Store, group: &Group, end: i64) -> Result<Backlog, DetectError> {
    let mut backlog = Backlog::default();
    for (_, episode) in state::scan(store, OPEN, &state::open_prefix(group))? {
        if episode.counted_at < end {
            backlog.add(&episode, end);
        }
    }
    for (key, closed) in state::scan(store, CLOSED, &state::closed_prefix(group))? {
        if closed.closed_at < end {
            state::delete(store, CLOSED, &key)?;
        } else if closed.episode.counted_at < end {
            backlog.add(&closed.episode, end);
        }
    }
    Ok(backlog)
}

fn record(task: i32, start: i64, end: i64, c: WindowCounts, b: Backlog) -> KpiRecord {
    let value_at_risk = b
        .value
        .into_iter()
        .filter(|(_, micros)| *micros != 0)
        .map(|(currency, micros)| MoneyAmount { currency, amount: micros as f64 / 1e6 })
        .collect();
    let root_causes = c
        .root_causes
        .into_iter()
        .filter(|(_, count)| *count != 0)
        .map(|(category, count)| RootCauseCount { category, count })
        .collect();
    KpiRecord {
        tenant_id: c.group.tenant_id,
        site_id: c.group.site_id,
        exception_type: c.group.exception_type,
        window_start: start,
        window_end: end,
        task,
        opened: c.opened,
        resolved: c.resolved,
        open_backlog: b.open,
        oldest_open_age_ms: b.oldest_ms,
        open_age: histogram(b.age_counts, b.age_sum_ms),
        time_to_resolve: histogram(c.ttr_counts, c.ttr_sum_ms),
        value_at_risk,
        root_causes,
        count_evaluations: c.evaluations,
        count_hits: c.hits,
    }
}

/// Deletes the tombstones due at `stream_time` (a reopened exception keeps its state: its
/// stale purge entry no longer matches).
fn purge(store: &mut dyn Store, stream_time: i64) -> Result<(), DetectError> {
    let due = state::scan_while(store, PURGE, &state::purge_prefix(), &mut |key, _| {
        purge_entry(key).is_some_and(|(at, _)| at <= stream_time)
    })?;
    for (key, ()) in due {
        state::delete(store, PURGE, &key)?;
        let Some((at, id)) = purge_entry(&key) else { continue };
        let tracked_key = state::tracked_key(&id);
        let tracked = state::get(store, TRACKED, &tracked_key)?;
        if tracked.is_some_and(|t| t.open.is_none() && t.purge_at == Some(at)) {
            state::delete(store, TRACKED, &tracked_key)?;
        }
    }
    Ok(())
}

fn purge_entry(key: &[u8]) -> Option<(i64, String)> {
    let mut reader = KeyReader::new(key);
    reader.byte()?;
    Some((reader.time()?, reader.str()?))
}
