//! The Avro contract of invex-model: the schemas in `schemas/` against the Rust types.
//!
//! The Rust types are the source of truth; one self-contained schema per Schema Registry
//! subject (`<topic>-value`) must encode them through serde and decode them back unchanged,
//! and must stay BACKWARD compatible with every released version kept in `schemas/history/`.

mod builders;
mod compat;
mod files;
mod round_trip;
mod support;
