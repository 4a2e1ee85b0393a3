//! invex-detect: pure, deterministic inventory-exception detectors, policy and lifecycle.
//!
//! The runtime (invex-runtime) owns Kafka, RocksDB and clocks; this crate owns decisions. Per
//! task (input partition) the runtime builds one [`Engine`] and calls [`Engine::process`] for
//! every canonical event, [`Engine::process_repartitioned`] for every record of an internal
//! topic ([`RepartitionTopic`]), [`Engine::on_wall_clock`] about once a second, and produces the
//! [`Outputs`] to the `exceptions`, `actions` and `audit` topics and the internal topics in one
//! transaction with the changelog of the task's [`Store`]. A host that runs one task over every
//! partition (the test driver, `invex replay`) feeds the internal records back with
//! [`Engine::loop_back`]. A [`DetectError`] says whether the input is poison (DLQ and
//! continue) or the task must stop.
//!
//! Guarantees:
//! - **Deterministic**: no clock reads, randomness or threads (`clippy.toml` bans them); time
//!   is an input. The same events with the same wall-clock values yield byte-identical outputs,
//!   with deterministic exception, action and audit ids.
//! - **Restorable**: all state is in the store, whose every write is a changelog entry; a fresh
//!   engine on a store rebuilt from the changelog continues exactly (property-tested).
//! - **Idempotent**: an event id seen before changes nothing ([`Outcome::duplicate`]); an
//!   internal record, which has no id of its own, has an idempotent effect instead.
//! - **Bounded**: a store that grows with the key space and that no owner cleans declares a
//!   TTL in stream time ([`Engine::store_ttls`]); reads hide an expired entry at once and the
//!   purge in [`Engine::on_wall_clock`] deletes it through the store port
//!   ([`Outcome::expired`]), so a replay behaves exactly like live processing did.
//! - **Safe**: a STOCK_ADJUSTMENT or RELEASE_HOLD is only ever emitted for an APPROVE decision
//!   answering the outstanding APPROVAL_REQUEST, by a role at the required tier or both roles
//!   of the dual approval (property-tested).
//! - **Isolated**: tenants share nothing: the tenant is in every state key and id, and one
//!   tenant's policy override, events and decisions never change another's outputs
//!   (property-tested).
//!
//! Detectors, one module each (its docs list the rule ids, policy keys and actions), all
//! configured by one policy (`processors/detect/policy/default.toml`):
//!
//! | type | module | rules |
//! |---|---|---|
//! | CYCLE_COUNT_DISCREPANCY | `cycle_count` | CC-001..003 |
//! | NEGATIVE_ON_HAND | `negative_on_hand` | NOH-001..002 |
//! | DUPLICATE_PICK | `duplicate_pick` | DP-001..003 |
//! | RECEIVING_VARIANCE | `receiving` | RV-001..004 |
//! | PUTAWAY_FAILURE | `putaway` | PF-001..004 |
//! | DAMAGED_GOODS | `damaged` | DG-001..002 |
//! | EXPIRED_INVENTORY | `expired` | EXP-001..004 |
//! | BARCODE_MISMATCH | `barcode` | BM-001..003 |
//! | SYNC_FAILURE | `sync` | SF-001..003 |
//! | ORDER_ALLOCATION_CONFLICT | `allocation` | OAC-001..003 |
//! | LOT_SERIAL_INCONSISTENCY | `lots` | LS-001..005 |
//!
//! Every detector but cycle count records its exceptions through the shared lifecycle of the
//! `exceptions` module (one open exception per type and subject, deterministic ids, approval
//! answers with rule EX-001). Both homes follow one lifecycle from the `governance` module
//! (GOV-001 triage, GOV-002 SLA escalation on the wall clock, GOV-003 acknowledge, hold,
//! release, resolve and cancel, GOV-004 the approval gate by tier and dual approval). There is one stock book, the cycle-count ledger; the other
//! detectors read it and never keep their own. [`testkit::TestDriver`] runs the engine like
//! Kafka Streams' TopologyTestDriver; scenarios in `tests/scenarios/` are data files it runs.
//!
//! # Replay line format
//!
//! `invex replay` reads JSON lines, one [`invex_model::CanonicalEvent`] per line exactly as
//! serde_json writes it: `{"topic":"wh.count","value":{"header":{...},"count_doc_id":...}}`.
//! Scenario files use the same field names for their events (with defaults filled in), so an
//! event can move between a scenario and a replay file.

mod allocation;
mod barcode;
mod codec;
mod cycle_count;
mod damaged;
mod detector;
mod duplicate_pick;
mod engine;
mod error;
mod exceptions;
mod expired;
mod expiry;
mod governance;
mod key;
pub mod kpi;
mod lots;
mod master;
mod negative_on_hand;
mod output;
mod policy;
mod putaway;
mod receiving;
mod repartition;
mod store;
mod sync;
pub mod testkit;

pub use detector::{Ctx, Detector, FiredTimer, Table, TimerKind, Times};
pub use engine::{Engine, Selection, UnknownDetector};
pub use error::DetectError;
pub use expiry::{StoreTtl, Ttl};
pub use kpi::{
    DURATION_BOUNDS_MS, KPI_BACKLOG, KPI_EXCEPTION, KPI_WINDOW, KpiAggregator, KpiChange,
    KpiDisposition, KpiOutcome, KpiTransition, LiveGauge,
};
pub use output::{Outcome, Outputs};
pub use policy::{
    ApprovalTier, BarcodeMismatchOverride, BarcodeMismatchPolicy, CycleCountOverride,
    CycleCountPolicy, CycleCountThresholds, DamagedGoodsOverride, DamagedGoodsPolicy,
    DetectorOverrides, DetectorPolicies, DuplicatePickOverride, DuplicatePickPolicy,
    ExpiredInventoryOverride, ExpiredInventoryPolicy, GovernanceOverride, GovernancePolicy,
    LotSerialOverride, LotSerialPolicy, NegativeOnHandOverride, NegativeOnHandPolicy,
    OrderAllocationConflictOverride, OrderAllocationConflictPolicy, Override, Policy, PolicyError,
    PolicyIssue, PutawayFailureOverride, PutawayFailurePolicy, ReceivingVarianceOverride,
    ReceivingVariancePolicy, Resolved, Scope, SyncFailureOverride, SyncFailurePolicy, Tolerance,
};
pub use repartition::{RepartitionTopic, Repartitioned, SerialFinding, SerialSighting};
pub use store::{ChangelogEntry, MemStore, Store, StoreError, StoreName};
