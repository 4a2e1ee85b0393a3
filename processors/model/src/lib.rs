//! invex-model: the vocabulary every invex processor speaks.
//!
//! Canonical events (what happened in the warehouse), exception records (what invex found),
//! action commands (what it asks a downstream system to do), audit records (why it decided)
//! and the dead-letter envelope. Types here are plain data with serde derives; their field
//! names and enum symbols are exactly those of the Avro schemas in `schemas/`, so one derive
//! serves Avro, JSON lines (`invex replay`) and the JSON action mirror.
//!
//! Conventions that hold for every type:
//! - times are UTC milliseconds since the Unix epoch (`*_time`, `*_at`); calendar dates (lot
//!   expiry) are days since the epoch, Avro's `date`;
//! - quantities are whole numbers in the unit of measure the record names (`uom`, UN/ECE Rec 20
//!   codes such as `EA`, `CS`, `PAL`): there is no implicit conversion anywhere;
//! - money is a decimal number in the record's `currency`;
//! - the Kafka key of every canonical topic is [`PartitionKey`] (`tenant|site|sku`), so all the
//!   events about one item at one site meet in one partition and one detect task.

mod action;
mod audit;
mod dlq;
mod event;
mod exception;
mod ids;
mod kpi;
mod topic;

pub use action::{ActionCommand, ActionType, RequestedBy};
pub use audit::{AuditRecord, Decision};
pub use dlq::{DlqEnvelope, ErrorClass};
pub use event::{
    AckStatus, ApprovalDecision, ApprovalVerdict, AsnLine, BookSnapshot, CanonicalEvent,
    ConditionCode, CountEvent, CountType, EpcisAction, ErrorDeclaration, EventHeader, ExpectedLot,
    IntegrationAck, ItemMaster, OrderAllocation, PickEvent, ReceiptLine, ScanEvent, ScanResult,
    SourceSystem, StockType, TaskEvent, TaskStatus, TaskType,
};
pub use exception::{
    Approval, ExceptionRecord, ExceptionStatus, ExceptionType, OwnerTeam, Quantities, RootCause,
    RootCauseCategory, Valuation,
};
pub use ids::{ActionId, ExceptionId, PartitionKey, PartitionKeyError};
pub use kpi::{DurationHistogram, KpiRecord, MoneyAmount, RootCauseCount};
pub use topic::{CanonicalTopic, UnknownTopic};
