//! Detector scenarios as data files.
//!
//! A scenario is a TOML file: a few top-level settings and an ordered list of `[[step]]`s.
//!
//! ```toml
//! description = "what the case shows"
//! start = 2025-03-03T08:00:00Z   # default 2025-01-06T08:00:00Z; step times are offsets from it
//! tenant = "t1"                  # defaults for every event: tenant, site, sku
//! site = "DC1"
//! sku = "SKU-1"
//! deliver_twice = false          # pipe every event twice; the second must be a silent duplicate
//! policy = '''                   # TOML appended to the default policy (e.g. [[overrides]])
//! '''
//!
//! [[step]]                       # pipe one event: topic, time, then any event fields
//! pipe = "wh.count"
//! at = 60                        # minutes after start, or "90s" / "2h" / an RFC 3339 time
//! id = "c1"                      # event id (default "<topic>-<step number>")
//! freeze_at = 55                 # wh.count only: freeze_time (default: the count's time)
//! location_id = "L1"
//! counted_qty = 95
//! header = { operator_id = "op-7" }
//! # approvals: `exception = "E1"` picks a named exception (default: the latest emitted);
//! # approval_request_id defaults to that exception's latest APPROVAL_REQUEST, or the one of
//! # `request_attempt = n`; actor_role defaults to that request's approval tier.
//! # integration.ack: `acks = "STOCK_ADJUSTMENT"` puts the id of the latest action of that type
//! # (of the exception named by `exception`, else of any) in related_event_ids.
//! # expect_error = "poison"      # the event must be refused as poison
//!
//! [[step]]
//! advance_wall_clock = "3s"      # or set_wall_clock = <time>, restore = true,
//!                                # redeliver = "all" | ["c1", ...]
//!
//! [[step]]                       # check what was emitted since the previous expect step
//! expect.exceptions = [{ name = "E1", status = "AWAITING_RECOUNT", root_cause = "PROCESS" }]
//! expect.actions = [{ type = "RECOUNT_TASK", attempt = 1 }]
//! expect.audit = ["OPENED", "RECOUNT_REQUESTED"]
//! expect.stores = { "cc.pending" = 0 }
//! # an exception may also name its `site`; an audit entry may be a table of fields, e.g.
//! # { decision = "OPENED", rule = "LS-005", details = { previous_site = "DC1" } }
//! ```
//!
//! Events are built from per-topic templates with the field names of the JSON line format (see
//! the events module) for every canonical topic: `md.item`, `erp.book`, `erp.asn` (ASN-1 /
//! PO-1 line 1), `wh.count`, `wh.receipt`, `wh.pick`, `wh.task` (a confirmed PUTAWAY from
//! `DOCK` by default), `oms.allocation`, `integration.ack`, `approvals` and `wh.scan` (an
//! `OK` scan without task, which no rule acts on: a neutral event that moves stream time). A
//! TOML date-time in an event field (`promised_ship_time = 2025-01-20T12:00:00Z`) becomes UTC
//! milliseconds. [`Scenario::check`] runs a scenario straight through and again with a
//! restore from the changelog after every step; both runs must pass and emit the same records.

mod events;
mod expect;
mod parse;
mod run;
mod time;

use std::path::Path;

use self::events::Defaults;
use self::expect::Expect;
use crate::policy::Policy;

/// A parsed scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    name: String,
    description: String,
    start: i64,
    defaults: Defaults,
    policy: Policy,
    deliver_twice: bool,
    steps: Vec<Step>,
}

/// One step of a scenario.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Pipe(PipeStep),
    AdvanceWallClock(i64),
    SetWallClock(i64),
    Restore,
    Redeliver(Option<Vec<String>>),
    Expect(Box<Expect>),
}

/// A pipe step before approval references are resolved.
#[derive(Debug, Clone, PartialEq)]
struct PipeStep {
    event: events::EventSpec,
    exception: Option<String>,
    request_attempt: Option<i32>,
    expect_poison: bool,
    /// `integration.ack`: the action type whose latest action id fills `related_event_ids`.
    acks: Option<invex_model::ActionType>,
}

/// How to run a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// One driver from start to end (explicit `restore` steps still restore).
    Straight,
    /// Restore from the changelog after every step.
    RestoreAfterEveryStep,
}

/// Every record a run emitted, one JSON line each (`exception {...}`, `action {...}`,
/// `audit {...}`), in emission order per step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    /// The lines.
    pub lines: Vec<String>,
}

/// Why a scenario failed; always names the scenario and, for a step, its number and kind.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not a valid scenario.
    #[error("{scenario}: {message}")]
    Invalid {
        /// Scenario name.
        scenario: String,
        /// What is wrong.
        message: String,
    },
    /// A step failed.
    #[error("{scenario}: step {step} ({kind}) [{mode:?}]: {message}")]
    Step {
        /// Scenario name.
        scenario: String,
        /// Step number, from 1.
        step: usize,
        /// Step kind.
        kind: &'static str,
        /// Run mode.
        mode: RunMode,
        /// What went wrong.
        message: String,
    },
    /// The two run modes emitted different records.
    #[error("{scenario}: straight run and restore-after-every-step run differ: {message}")]
    Diverged {
        /// Scenario name.
        scenario: String,
        /// First difference.
        message: String,
    },
}

impl Scenario {
    /// Reads and parses a scenario file; its name is the file stem.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ScenarioError::Io { path: path.display().to_string(), source })?;
        let name = path.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        Self::parse(&name, &text)
    }

    /// Parses a scenario.
    pub fn parse(name: &str, text: &str) -> Result<Self, ScenarioError> {
        parse::parse(name, text)
            .map_err(|message| ScenarioError::Invalid { scenario: name.to_owned(), message })
    }

    /// The scenario's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the scenario shows.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Runs every step, checking expectations.
    pub fn run(&self, mode: RunMode) -> Result<Transcript, ScenarioError> {
        run::run(self, mode)
    }

    /// Runs both modes; both must pass and emit identical records.
    pub fn check(&self) -> Result<Transcript, ScenarioError> {
        let straight = self.run(RunMode::Straight)?;
        let restored = self.run(RunMode::RestoreAfterEveryStep)?;
        if straight == restored {
            return Ok(straight);
        }
        let at = straight.lines.iter().zip(&restored.lines).position(|(a, b)| a != b);
        let message = match at {
            Some(i) => format!(
                "line {i}:\n  straight: {}\n  restored: {}",
                straight.lines[i], restored.lines[i]
            ),
            None => format!("{} vs {} lines", straight.lines.len(), restored.lines.len()),
        };
        Err(ScenarioError::Diverged { scenario: self.name.clone(), message })
    }
}
