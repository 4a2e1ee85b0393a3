//! KPI aggregation: the pure core of the `kpi` processor.
//!
//! The kpi processor consumes the compacted `exceptions` topic and the append-only `audit`
//! topic and publishes hourly [`KpiRecord`]s per (tenant, site, exception type) to the `kpi`
//! topic. The runtime builds one [`KpiAggregator`] per task (input partition) and calls, in
//! partition order, [`KpiAggregator::on_exception`] and [`KpiAggregator::on_audit`] for every
//! record, then [`KpiAggregator::advance`] with the task's stream time, producing the returned
//! records in the same transaction as the store's changelog; [`KpiAggregator::live`] feeds the
//! Prometheus gauges between window closes.
//!
//! Invariants:
//! - **Partial and additive.** A task sees the exceptions whose id hashes to its partition, of
//!   any site, so its records are partial. Every count, sum, histogram bucket and money amount
//!   merges across tasks by addition, `oldest_open_age_ms` by maximum; percentiles are each
//!   record's own estimate (exact ones come from summed buckets). Keys carry the task.
//! - **Counted once.** An exception version at or below the highest applied version of its
//!   exception is a duplicate, an audit record is deduplicated by id within its window, and
//!   each window is emitted once (the cursor is persisted with the deletions). Transitions are
//!   counted in the hour of their event time (`updated_at`, `at`), see the track and count
//!   modules for what counts.
//! - **Late, not revised.** A transition whose window was already emitted changes state but
//!   no window: it is counted in [`KpiAggregator::late_records`] instead. Emitted records are
//!   never revised; the backlog is right again from the next window.
//! - **Deterministic.** No clock, randomness or hash-map iteration: the same inputs, stream
//!   times and `now` values yield the same records in the same order and the same state.
//! - **Restorable.** All state is in the three stores [`KPI_EXCEPTION`], [`KPI_BACKLOG`] and
//!   [`KPI_WINDOW`]; a fresh aggregator on a store rebuilt from the changelog continues exactly.
//! - **Bounded.** State holds the open exceptions, the exceptions that ended within the grace
//!   period plus the current hour (closed index, dropped when their window is emitted),
//!   tombstones of terminal exceptions for the grace period plus 7 days of stream time, the
//!   counts and audit ids of windows not yet emitted, and one live entry per (tenant, site,
//!   type) ever seen. Nothing else grows with the input.
//!
//! Stream time: windows close on the time passed to [`KpiAggregator::advance`]. A partition
//! that receives nothing does not move its stream time; a runtime that wants quiet hours
//! reported without input may pass a wall-clock-driven time instead (any non-decreasing time
//! works; a smaller one than before is harmless).

mod close;
mod count;
mod histogram;
mod live;
mod state;
mod track;
mod window;

#[cfg(test)]
mod tests;

use invex_model::{
    AuditRecord, ExceptionRecord, ExceptionType, KpiRecord, MoneyAmount, RootCauseCategory,
};

pub use self::histogram::DURATION_BOUNDS_MS;
pub use self::state::{KPI_BACKLOG, KPI_EXCEPTION, KPI_WINDOW};
use crate::error::DetectError;
use crate::store::{Store, StoreName};

/// The KPI aggregation of one task: parameters only, all state in the [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KpiAggregator {
    task: i32,
    grace_ms: i64,
}

impl KpiAggregator {
    /// The aggregator of task (partition) `task`; a window is emitted `grace_ms` (at least 0)
    /// of stream time after it ends, so transitions arriving that late still count in it.
    pub fn new(task: i32, grace_ms: i64) -> Self {
        Self { task, grace_ms: grace_ms.max(0) }
    }

    /// Every store the aggregator reads or writes (column families and changelogs).
    pub fn store_names() -> &'static [StoreName] {
        &state::STORES
    }

    /// Applies one version from the `exceptions` topic.
    pub fn on_exception(
        &mut self,
        store: &mut dyn Store,
        record: &ExceptionRecord,
    ) -> Result<KpiOutcome, DetectError> {
        track::on_exception(store, self.grace_ms, record)
    }

    /// Applies one record from the `audit` topic (count evaluations, for record accuracy).
    pub fn on_audit(
        &mut self,
        store: &mut dyn Store,
        record: &AuditRecord,
    ) -> Result<KpiOutcome, DetectError> {
        count::on_audit(store, record)
    }

    /// Emits the records of every window whose end + grace <= `stream_time`, each window
    /// once, in window order and then (tenant, site, type) order; purges expired tombstones.
    pub fn advance(
        &mut self,
        store: &mut dyn Store,
        stream_time: i64,
    ) -> Result<Vec<KpiRecord>, DetectError> {
        close::advance(store, self.task, self.grace_ms, stream_time)
    }

    /// Current open count, oldest open age at `now` and value at risk of every (tenant, site,
    /// type) this task has tracked an exception of, in (tenant, site, type) order. Groups
    /// whose backlog emptied stay listed with zeros, so gauges fall back to 0.
    pub fn live(&self, store: &dyn Store, now: i64) -> Result<Vec<LiveGauge>, DetectError> {
        live::gauges(store, now)
    }

    /// Transitions that arrived after their window was emitted (since the task's state began).
    pub fn late_records(&self, store: &dyn Store) -> Result<i64, DetectError> {
        Ok(window::meta(store)?.late)
    }
}

/// What one input did, for the runtime's counters and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KpiOutcome {
    /// How the input was taken.
    pub disposition: KpiDisposition,
    /// The KPI transition it carried, if any (also when late).
    pub transition: Option<KpiTransition>,
}

impl KpiOutcome {
    fn without(disposition: KpiDisposition) -> Self {
        Self { disposition, transition: None }
    }

    fn duplicate() -> Self {
        Self::without(KpiDisposition::Duplicate)
    }

    fn ignored() -> Self {
        Self::without(KpiDisposition::Ignored)
    }

    fn applied() -> Self {
        Self::without(KpiDisposition::Applied)
    }

    fn counted(in_window: bool, group: state::Group, change: KpiChange) -> Self {
        let disposition = if in_window { KpiDisposition::Counted } else { KpiDisposition::Late };
        let transition = KpiTransition {
            tenant_id: group.tenant_id,
            site_id: group.site_id,
            exception_type: group.exception_type,
            change,
        };
        Self { disposition, transition: Some(transition) }
    }
}

/// How an input was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KpiDisposition {
    /// Its transition was counted in the window of its event time.
    Counted,
    /// Its window was already emitted: state updated, transition only in the late counter.
    Late,
    /// State updated (value at risk, version), no transition.
    Applied,
    /// Seen before: nothing changed.
    Duplicate,
    /// Not a KPI input (an exception born terminal, an audit record of another decision).
    Ignored,
}

/// A transition of one (tenant, site, type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KpiTransition {
    /// Tenant.
    pub tenant_id: String,
    /// Site.
    pub site_id: String,
    /// Exception type (CYCLE_COUNT_DISCREPANCY for a count evaluation).
    pub exception_type: ExceptionType,
    /// What happened.
    pub change: KpiChange,
}

/// The kinds of transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KpiChange {
    /// An exception became open (first open version or reopened).
    Opened {
        /// Its root-cause category, when the version carries one.
        root_cause: Option<RootCauseCategory>,
    },
    /// An open exception became RESOLVED, CLOSED or CANCELLED.
    Resolved {
        /// From the start of its open period to `resolved_at` (or `updated_at`).
        time_to_resolve_ms: i64,
    },
    /// A first count was evaluated against the book.
    CountEvaluated {
        /// Within tolerance.
        hit: bool,
    },
}

/// Live numbers of one (tenant, site, type) for Prometheus gauges.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveGauge {
    /// Tenant.
    pub tenant_id: String,
    /// Site.
    pub site_id: String,
    /// Exception type.
    pub exception_type: ExceptionType,
    /// Exceptions open now.
    pub open: i64,
    /// Age of the oldest of them at `now`.
    pub oldest_open_age_ms: Option<i64>,
    /// Sum of their absolute variance values per currency, ascending currency (a currency
    /// stays listed at 0 once its exceptions closed).
    pub value_at_risk: Vec<MoneyAmount>,
}
