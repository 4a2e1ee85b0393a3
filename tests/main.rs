//! invex integration tests: one binary whose module list is the table of contents.
//!
//! - `detector_selection`: each detector selected alone decides as among all of them;
//! - `policy_change`: a restart with a new policy keeps the state and applies the new values;
//! - `runtime_mock`: the detect processor on librdkafka's in-process mock cluster
//!   (equivalence with the test driver, aborted transactions, stop and restore);
//! - `runtime_faults`: broker down and up, request errors, a fenced producer, each ending
//!   with exactly the uninterrupted outputs;
//! - `runtime_ops`: the JSON mirror of the actions, late records, lag and lateness metrics;
//! - `runtime_repartition`: a serial seen at two sites, found across tasks through the
//!   repartition topics;
//! - `runtime_kpi`: the kpi processor's windows against the pure aggregator, restarts, the
//!   DLQ, quiet hours and its metrics;
//! - `topology`: `topology/` agrees with `schemas/` and with the code.
//!
//! Detector scenarios (`tests/scenarios/`) run in the invex-detect crate's own tests, which
//! need no broker and build in seconds.

mod detector_selection;
mod policy_change;
mod runtime_faults;
mod runtime_kpi;
mod runtime_mock;
mod runtime_normalize;
mod runtime_ops;
mod runtime_repartition;
mod support;
#[path = "support/mock.rs"]
mod support_mock;
mod topology;
