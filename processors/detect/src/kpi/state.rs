//! State of the KPI aggregator: three stores, tagged key spaces, typed access.
//!
//! ```text
//! kpi.exception  b'e' ++ exception id                       -> Tracked
//!                b'p' ++ purge_at ++ exception id            -> ()        tombstone purge index
//! kpi.backlog    b'o' ++ group ++ open_since ++ exception id -> Episode   open now
//!                b'c' ++ group ++ closed_at ++ exception id  -> Closed    closed, window not emitted
//!                b'g' ++ group                               -> GroupLive live gauges
//! kpi.window     b'w' ++ window_start ++ group               -> WindowCounts
//!                b's' ++ window_start ++ audit id            -> ()        audits counted
//!                b'm'                                        -> Meta
//! ```
//!
//! `group` is tenant ++ site ++ exception type symbol (strings as in the key module), so every
//! scan of a group, a window or the purge index returns entries in a deterministic order.
//! Values are encoded like every detector state value (format byte + JSON, codec module).
//! Money is kept in integer micro-units so that the incremental sums of the live gauges never
//! drift: adding and removing the same exception always restores the previous sum exactly.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use invex_model::{ExceptionType, RootCauseCategory};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::codec::{decode, encode};
use crate::detector::Table;
use crate::error::DetectError;
use crate::key::Key;
use crate::store::{Store, StoreName};

/// Per-exception state and the tombstone purge index.
pub const KPI_EXCEPTION: StoreName = StoreName("kpi.exception");
/// Open and recently closed exceptions by group, and the live gauges of each group.
pub const KPI_BACKLOG: StoreName = StoreName("kpi.backlog");
/// Counts of the windows not yet emitted, counted audit ids, and the window cursor.
pub const KPI_WINDOW: StoreName = StoreName("kpi.window");
/// Every store of the aggregator.
pub(crate) const STORES: [StoreName; 3] = [KPI_EXCEPTION, KPI_BACKLOG, KPI_WINDOW];

pub(super) const TRACKED: Table<Tracked> = Table::new(KPI_EXCEPTION);
pub(super) const PURGE: Table<()> = Table::new(KPI_EXCEPTION);
pub(super) const OPEN: Table<Episode> = Table::new(KPI_BACKLOG);
pub(super) const CLOSED: Table<Closed> = Table::new(KPI_BACKLOG);
pub(super) const LIVE: Table<GroupLive> = Table::new(KPI_BACKLOG);
pub(super) const COUNTS: Table<WindowCounts> = Table::new(KPI_WINDOW);
pub(super) const SEEN: Table<()> = Table::new(KPI_WINDOW);
pub(super) const META: Table<Meta> = Table::new(KPI_WINDOW);

const TRACKED_TAG: u8 = b'e';
const PURGE_TAG: u8 = b'p';
const OPEN_TAG: u8 = b'o';
const CLOSED_TAG: u8 = b'c';
const LIVE_TAG: u8 = b'g';
const COUNTS_TAG: u8 = b'w';
const SEEN_TAG: u8 = b's';
const META_KEY: &[u8] = b"m";

/// One (tenant, site, exception type): the unit every KPI is reported for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(super) struct Group {
    pub(super) tenant_id: String,
    pub(super) site_id: String,
    pub(super) exception_type: ExceptionType,
}

impl Group {
    /// The encoded group, a key component.
    pub(super) fn key(&self) -> Vec<u8> {
        Key::new()
            .str(&self.tenant_id)
            .str(&self.site_id)
            .str(self.exception_type.as_str())
            .into_bytes()
    }
}

/// Absolute money at stake in micro-units of one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Money {
    pub(super) currency: String,
    pub(super) micros: i64,
}

impl Money {
    /// `|value|` in micro-units; a non-finite value counts as nothing, a huge one saturates.
    pub(super) fn of(value: f64, currency: &str) -> Self {
        let micros = if value.is_finite() { (value.abs() * 1e6).round() as i64 } else { 0 };
        Self { currency: currency.to_owned(), micros }
    }
}

/// One open period of an exception.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Episode {
    /// Event time of the version that opened it: it is in the backlog of windows ending after.
    pub(super) counted_at: i64,
    /// Origin of its age and time to resolve.
    pub(super) open_since: i64,
    /// Value at risk while open (of the latest version).
    pub(super) value: Money,
}

/// An episode that ended, kept until the window it ended in is emitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Closed {
    pub(super) episode: Episode,
    /// Event time of the version that ended it.
    pub(super) closed_at: i64,
}

/// What the aggregator remembers of one exception.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Tracked {
    /// Highest version applied; lower or equal versions are duplicates.
    pub(super) version: i64,
    pub(super) group: Group,
    /// The current open episode; `None` once terminal (a tombstone).
    pub(super) open: Option<Episode>,
    /// When the tombstone of a terminal exception goes (stream time).
    pub(super) purge_at: Option<i64>,
}

/// Current numbers of one group, for the live gauges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct GroupLive {
    pub(super) group: Group,
    pub(super) open: i64,
    /// Value at risk per currency, micro-units (entries stay at 0 so gauges fall back to 0).
    pub(super) value: BTreeMap<String, i64>,
}

/// Transitions counted into one window of one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct WindowCounts {
    pub(super) group: Group,
    pub(super) opened: i64,
    pub(super) resolved: i64,
    /// Time-to-resolve bucket counts (see the histogram module).
    pub(super) ttr_counts: Vec<i64>,
    pub(super) ttr_sum_ms: i64,
    pub(super) root_causes: BTreeMap<RootCauseCategory, i64>,
    pub(super) evaluations: i64,
    pub(super) hits: i64,
}

impl WindowCounts {
    pub(super) fn new(group: Group) -> Self {
        Self {
            group,
            opened: 0,
            resolved: 0,
            ttr_counts: Vec::new(),
            ttr_sum_ms: 0,
            root_causes: BTreeMap::new(),
            evaluations: 0,
            hits: 0,
        }
    }
}

/// The window cursor and the late counter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Meta {
    /// Every window starting before this has been emitted; `None` before the first emission.
    pub(super) closed_until: Option<i64>,
    /// Inputs whose window was already emitted (applied to state, not to any window).
    pub(super) late: i64,
}

pub(super) fn tracked_key(id: &str) -> Vec<u8> {
    Key::new().byte(TRACKED_TAG).str(id).into_bytes()
}

pub(super) fn purge_prefix() -> Vec<u8> {
    vec![PURGE_TAG]
}

pub(super) fn purge_key(at: i64, id: &str) -> Vec<u8> {
    Key::new().byte(PURGE_TAG).time(at).str(id).into_bytes()
}

pub(super) fn open_prefix(group: &Group) -> Vec<u8> {
    Key::new().byte(OPEN_TAG).raw(&group.key()).into_bytes()
}

pub(super) fn open_key(group: &Group, open_since: i64, id: &str) -> Vec<u8> {
    Key::new().raw(&open_prefix(group)).time(open_since).str(id).into_bytes()
}

pub(super) fn closed_prefix(group: &Group) -> Vec<u8> {
    Key::new().byte(CLOSED_TAG).raw(&group.key()).into_bytes()
}

pub(super) fn closed_key(group: &Group, closed_at: i64, id: &str) -> Vec<u8> {
    Key::new().raw(&closed_prefix(group)).time(closed_at).str(id).into_bytes()
}

pub(super) fn live_prefix() -> Vec<u8> {
    vec![LIVE_TAG]
}

pub(super) fn live_key(group: &Group) -> Vec<u8> {
    Key::new().byte(LIVE_TAG).raw(&group.key()).into_bytes()
}

pub(super) fn counts_prefix(window_start: i64) -> Vec<u8> {
    Key::new().byte(COUNTS_TAG).time(window_start).into_bytes()
}

pub(super) fn counts_key(window_start: i64, group: &Group) -> Vec<u8> {
    Key::new().raw(&counts_prefix(window_start)).raw(&group.key()).into_bytes()
}

/// Prefix of every window's counts, earliest window first.
pub(super) fn all_counts_prefix() -> Vec<u8> {
    vec![COUNTS_TAG]
}

pub(super) fn seen_prefix(window_start: i64) -> Vec<u8> {
    Key::new().byte(SEEN_TAG).time(window_start).into_bytes()
}

pub(super) fn seen_key(window_start: i64, audit_id: &str) -> Vec<u8> {
    Key::new().raw(&seen_prefix(window_start)).str(audit_id).into_bytes()
}

pub(super) fn meta_key() -> &'static [u8] {
    META_KEY
}

/// The value at `key`, if any.
pub(super) fn get<T: DeserializeOwned>(
    store: &dyn Store,
    table: Table<T>,
    key: &[u8],
) -> Result<Option<T>, DetectError> {
    match store.get(table.name(), key)? {
        Some(bytes) => decode(table.name(), key, &bytes).map(Some),
        None => Ok(None),
    }
}

/// Sets `key` to `value`.
pub(super) fn put<T: Serialize>(
    store: &mut dyn Store,
    table: Table<T>,
    key: &[u8],
    value: &T,
) -> Result<(), DetectError> {
    let bytes = encode(table.name(), key, value)?;
    Ok(store.put(table.name(), key, &bytes)?)
}

/// Removes `key`.
pub(super) fn delete<T>(
    store: &mut dyn Store,
    table: Table<T>,
    key: &[u8],
) -> Result<(), DetectError> {
    Ok(store.delete(table.name(), key)?)
}

/// Entries under `prefix` in key order while `keep` accepts the decoded value; the first
/// entry `keep` refuses ends the scan (it is not returned).
pub(super) fn scan_while<T: DeserializeOwned>(
    store: &dyn Store,
    table: Table<T>,
    prefix: &[u8],
    keep: &mut dyn FnMut(&[u8], &T) -> bool,
) -> Result<Vec<(Vec<u8>, T)>, DetectError> {
    let mut out = Vec::new();
    let mut failure = None;
    store.scan_prefix(table.name(), prefix, &mut |k, v| match decode::<T>(table.name(), k, v) {
        Ok(value) if keep(k, &value) => {
            out.push((k.to_vec(), value));
            ControlFlow::Continue(())
        }
        Ok(_) => ControlFlow::Break(()),
        Err(e) => {
            failure = Some(e);
            ControlFlow::Break(())
        }
    })?;
    failure.map_or(Ok(out), Err)
}

/// Every entry under `prefix`, key order.
pub(super) fn scan<T: DeserializeOwned>(
    store: &dyn Store,
    table: Table<T>,
    prefix: &[u8],
) -> Result<Vec<(Vec<u8>, T)>, DetectError> {
    scan_while(store, table, prefix, &mut |_, _| true)
}

/// The first entry under `prefix`, if any.
pub(super) fn first<T: DeserializeOwned>(
    store: &dyn Store,
    table: Table<T>,
    prefix: &[u8],
) -> Result<Option<(Vec<u8>, T)>, DetectError> {
    let mut found = None;
    store.scan_prefix(table.name(), prefix, &mut |k, v| {
        found = Some((k.to_vec(), v.to_vec()));
        ControlFlow::Break(())
    })?;
    match found {
        Some((k, v)) => Ok(Some((k.clone(), decode(table.name(), &k, &v)?))),
        None => Ok(None),
    }
}
