//! invex-detect: pure, deterministic inventory-exception detectors, policy and lifecycle.
//!
//! The runtime (invex-runtime) owns Kafka, RocksDB and clocks; this crate owns decisions. Per
//! task (input partition) the runtime builds one [`Engine`] and calls [`Engine::process`] for
//! every canonical event, [`Engine::on_wall_clock`] about once a second, and produces the
//! [`Outputs`] to the `exceptions`, `actions` and `audit` topics in one transaction with the
//! changelog of the task's [`Store`]. A [`DetectError`] says whether the input is poison
//! (DLQ and continue) or the task must stop.
//!
//! Guarantees:
//! - **Deterministic**: no clock reads, randomness or threads (`clippy.toml` bans them); time
//!   is an input. The same events with the same wall-clock values yield byte-identical outputs,
//!   with deterministic exception, action and audit ids.
//! - **Restorable**: all state is in the store, whose every write is a changelog entry; a fresh
//!   engine on a store rebuilt from the changelog continues exactly (property-tested).
//! - **Idempotent**: an event id seen before changes nothing ([`Outcome::duplicate`]).
//! - **Safe**: a STOCK_ADJUSTMENT is only ever emitted for an APPROVE decision answering the
//!   outstanding APPROVAL_REQUEST (property-tested).
//!
//! The one detector so far is CYCLE_COUNT_DISCREPANCY (policy in
//! `processors/detect/policy/default.toml`). [`testkit::TestDriver`] runs the engine like
//! Kafka Streams' TopologyTestDriver; scenarios in `tests/scenarios/` are data files it runs.
//!
//! # Replay line format
//!
//! `invex replay` reads JSON lines, one [`invex_model::CanonicalEvent`] per line exactly as
//! serde_json writes it: `{"topic":"wh.count","value":{"header":{...},"count_doc_id":...}}`.
//! Scenario files use the same field names for their events (with defaults filled in), so an
//! event can move between a scenario and a replay file.

mod codec;
mod cycle_count;
mod detector;
mod engine;
mod error;
mod key;
mod output;
mod policy;
mod store;
pub mod testkit;

pub use detector::{Ctx, Detector, FiredTimer, Table, TimerKind, Times};
pub use engine::Engine;
pub use error::DetectError;
pub use output::{Outcome, Outputs};
pub use policy::{
    ApprovalTier, CycleCountOverride, CycleCountPolicy, CycleCountThresholds, Override, Policy,
    PolicyError, PolicyIssue, Scope, Tolerance,
};
pub use store::{ChangelogEntry, MemStore, Store, StoreError, StoreName};
