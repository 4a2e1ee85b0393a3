//! Which processor an instance runs, and the settings only one processor reads (`[normalize]`,
//! `[kpi]`).
//!
//! One binary runs every processor (`invex run --processor <name>`); the configuration file
//! of an instance is the same shape for all of them. Only the defaults differ: the
//! application id (consumer group, transactional id prefix, state sub-directory, changelog
//! prefix) defaults to `invex-<processor>`, so two processors never share a group or state.

use std::path::PathBuf;
use std::time::Duration;

use crate::normalize::{Normalizer, SourceErrors};

/// The processors of invex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProcessorKind {
    /// Canonical events through every detector: exceptions, actions, audit.
    Detect,
    /// Vendor records on raw topics to canonical events, deduplicated.
    Normalize,
    /// Exception versions and audit records to hourly KPI records and Prometheus metrics.
    Kpi,
}

impl ProcessorKind {
    /// Every processor.
    pub const ALL: [Self; 3] = [Self::Detect, Self::Normalize, Self::Kpi];

    /// Name on the command line, in logs and on dead letters.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Detect => "detect",
            Self::Normalize => "normalize",
            Self::Kpi => "kpi",
        }
    }

    /// Application id when the configuration sets none.
    pub const fn default_application_id(self) -> &'static str {
        match self {
            Self::Detect => "invex-detect",
            Self::Normalize => "invex-normalize",
            Self::Kpi => "invex-kpi",
        }
    }
}

/// The `[normalize]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizeConfig {
    /// Directory of source files (`*.toml`); `None`: the sources shipped in
    /// `topology/sources/`, compiled into the binary.
    pub sources_dir: Option<PathBuf>,
    /// How long (event time) a published event's content hash is remembered: a retry of it
    /// within this window is dropped.
    pub dedupe_ttl: Duration,
}

/// A day: vendors retry within minutes, offline devices re-upload within a shift.
pub(crate) const DEFAULT_DEDUPE_TTL_MS: u64 = 24 * 3_600_000;

impl Default for NormalizeConfig {
    fn default() -> Self {
        Self { sources_dir: None, dedupe_ttl: Duration::from_millis(DEFAULT_DEDUPE_TTL_MS) }
    }
}

impl NormalizeConfig {
    /// Loads and validates the configured source files, every problem of every file at once.
    pub fn load_sources(&self) -> Result<Normalizer, SourceErrors> {
        match &self.sources_dir {
            Some(dir) => Normalizer::from_dir(dir),
            None => Normalizer::shipped(),
        }
    }
}

/// The `[kpi]` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KpiConfig {
    /// How long (stream time) after its end an hourly window stays open for transitions that
    /// arrive late; it is emitted once this has passed. It must cover the event-time skew
    /// between the detect tasks whose outputs meet in one kpi task (see `crate::logic::kpi`).
    /// Not `application.grace_ms`, which is the detect processor's late-record threshold.
    pub grace: Duration,
}

/// Five minutes: detect commits every 100 ms, so its outputs reach the kpi processor within
/// seconds of each other in steady state; the rest is margin for a rebalance or a restart.
pub(crate) const DEFAULT_KPI_GRACE_MS: u64 = 5 * 60_000;

impl Default for KpiConfig {
    fn default() -> Self {
        Self { grace: Duration::from_millis(DEFAULT_KPI_GRACE_MS) }
    }
}
