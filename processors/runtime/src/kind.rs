//! Which processor an instance runs, and the settings only the normalize processor reads.
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
}

impl ProcessorKind {
    /// Every processor.
    pub const ALL: [Self; 2] = [Self::Detect, Self::Normalize];

    /// Name on the command line, in logs and on dead letters.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Detect => "detect",
            Self::Normalize => "normalize",
        }
    }

    /// Application id when the configuration sets none.
    pub const fn default_application_id(self) -> &'static str {
        match self {
            Self::Detect => "invex-detect",
            Self::Normalize => "invex-normalize",
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
