//! Vendor-shaped raw traffic: canonical events as real systems would send them.
//!
//! Warehouses do not publish canonical events; their WMS posts webhooks, their ERP exports
//! IDocs and their RF-scanner gateway forwards Avro. [`Vendor::render`] writes a canonical
//! event as the raw value one of three invented but plausible vendors would send, so that the
//! simulator can feed invex's normalize processor (and `invex simulate` a real cluster) with
//! what production looks like.
//!
//! Invariants and why they hold:
//! - Exact inverse of the shipped mappings: each vendor is the inverse of its source file in
//!   `topology/sources/` (`wms-webhook.toml`, `erp-idoc.toml`, `rf-scanner.toml`);
//!   normalizing a rendered event gives the event back, field for field (invex-runtime's
//!   `tests/normalize.rs` checks the JSON vendors for a seeded run and for fully populated
//!   events of every type, its normalize unit tests the RF gateway). Exactness holds for the
//!   values those formats can express: years 0000-9999, canonical units other than the ERP
//!   codes `ST`, `PCE` and `KAR`, and (WMS tolerances only) percentages with at most 15
//!   significant digits.
//! - The JSON vendors send every canonical event; the RF gateway sends scans and counts
//!   only ([`Vendor::carries`]).
//! - Avro without a frame: [`Vendor::RfScanner`] renders the bare datum of its writer schema
//!   (`schemas/raw/rf-scanner.avsc`). The Confluent frame holds the schema id that the
//!   producer's registry assigned when the schema was registered, a fact of the deployment,
//!   not of the simulated warehouse, so the producer adds it (as a Confluent serializer does):
//!   the simulator stays registry-free and its output the same for every deployment.
//! - Deterministic: a pure function of the event; members are written in a fixed order.
//! - Total: every event renders; nothing here panics on an event. The RF gateway's datums are
//!   written by apache-avro against the shipped schema, which can only fail on a bug in this
//!   crate (see `rf`), never on an event's content.

mod erp;
mod json;
mod rf;
mod text;
mod wms;

use invex_model::{CanonicalEvent, CanonicalTopic};

/// A vendor shape with a source mapping shipped in `topology/sources/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Vendor {
    /// A WMS's webhooks: camelCase, nested, RFC 3339 times.
    WmsWebhook,
    /// An ERP's IDoc-style export: uppercase segments, flat strings, SAP dates.
    ErpIdoc,
    /// An RF-scanner gateway: scans and cycle counts as Avro datums (snake_case, enums, a
    /// union of payload records, microsecond times, decimal quantities).
    RfScanner,
}

impl Vendor {
    /// The vendors that send every canonical event: the two JSON vendors (the RF gateway
    /// sends scans and counts only, see [`Vendor::carries`]).
    pub const ALL: [Self; 2] = [Self::WmsWebhook, Self::ErpIdoc];

    /// Every vendor, JSON and Avro.
    pub const EVERY: [Self; 3] = [Self::WmsWebhook, Self::ErpIdoc, Self::RfScanner];

    /// The source `name` of this vendor's mapping file.
    pub const fn source_name(self) -> &'static str {
        match self {
            Self::WmsWebhook => "wms-webhook",
            Self::ErpIdoc => "erp-idoc",
            Self::RfScanner => "rf-scanner",
        }
    }

    /// The raw topic this vendor publishes to (the mapping file's `topic`). An Avro vendor's
    /// writer schema is registered under `<raw topic>-value`.
    pub const fn raw_topic(self) -> &'static str {
        match self {
            Self::WmsWebhook => "raw.wms.webhook",
            Self::ErpIdoc => "raw.erp.idoc",
            Self::RfScanner => "raw.rf.scanner",
        }
    }

    /// True when this vendor sends Avro datums (which travel in the Confluent frame), false
    /// for JSON documents.
    pub const fn is_avro(self) -> bool {
        matches!(self, Self::RfScanner)
    }

    /// Whether this vendor sends events of `topic`.
    pub const fn carries(self, topic: CanonicalTopic) -> bool {
        match self {
            Self::WmsWebhook | Self::ErpIdoc => true,
            Self::RfScanner => matches!(topic, CanonicalTopic::Scan | CanonicalTopic::Count),
        }
    }

    /// The raw value this vendor sends for `event`: a JSON document, or (Avro vendors) the
    /// bare Avro datum, to be framed with the writer schema's id by the producer. Empty when
    /// the vendor does not carry the event's topic.
    pub fn render(self, event: &CanonicalEvent) -> Vec<u8> {
        match self {
            Self::WmsWebhook => wms::render(event).into_bytes(),
            Self::ErpIdoc => erp::render(event).into_bytes(),
            Self::RfScanner => rf::render(event),
        }
    }
}
