//! invex-runtime: runs invex's processors on Kafka.
//!
//! - [`Processor`]: a consumer group member that owns tasks (one per input partition number,
//!   co-partitioned across every input topic), each with its own RocksDB state, and commits
//!   outputs, changelog records and input offsets in one Kafka transaction (exactly-once, the
//!   default) or flushes then commits offsets (at-least-once). It runs one of three logics
//!   ([`ProcessorKind`]): `detect` (canonical events through the pure detectors),
//!   `normalize` (vendor records on raw topics to canonical events, see [`normalize`]) or
//!   `kpi` (detect's exceptions and audit records to hourly KPI records and the
//!   [`KpiMetrics`]); the core is the same for all.
//! - [`Codec`]: Avro in the Confluent wire format, schemas from a [`SchemaResolver`]
//!   (Schema Registry or the embedded `schemas/`).
//! - [`RuntimeConfig`]: TOML + `INVEX_*` environment, validated with every error at once.
//! - [`admin`]: the topics a deployment needs and the co-partitioning check.
//!
//! Local state never runs ahead of Kafka: a task's writes stay in an overlay until the Kafka
//! commit succeeds, then land in RocksDB in one batch with their changelog checkpoint. After a
//! crash the state directory is reused, never wiped, and the changelog tail is replayed.

pub mod admin;
mod codec;
mod config;
mod core;
mod delivery;
mod error;
mod fencing;
mod http;
mod kind;
mod kpi_metrics;
mod lag;
mod logic;
mod metrics;
pub mod normalize;
mod ordering;
mod processor;
mod progress;
mod reader;
mod rebalance;
mod registry_admin;
mod restore;
mod restoring;
mod schema;
mod sink;
mod store;
mod task;
mod topics;

pub use codec::{Codec, CodecError};
pub use config::{ConfigErrors, Guarantee, LateRecords, RuntimeConfig, SchemaSource};
pub use core::{Clock, system_clock};
pub use delivery::flush_producer;
pub use error::RuntimeError;
pub use http::serve_admin;
pub use kind::{KpiConfig, NormalizeConfig, ProcessorKind};
pub use kpi_metrics::KpiMetrics;
pub use logic::NORMALIZE_STORES;
pub use logic::kpi::KPI_STORES;
pub use metrics::{Metrics, StateGauges};
pub use processor::{Processor, ProcessorHandle, base_client_config};
pub use progress::CommittedOffsets;
pub use reader::ReaderContext;
pub use registry_admin::{SchemaAdmin, SubjectReport, SubjectState};
pub use schema::{
    EmbeddedResolver, RegistryResolver, ResolveError, SUBJECTS, SchemaResolver, StaticSchema,
    embedded_schema_text, resolver_for,
};
pub use topics::{Output, Topics};
