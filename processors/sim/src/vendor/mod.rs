//! Vendor-shaped raw traffic: canonical events as real systems would send them.
//!
//! Warehouses do not publish canonical events; their WMS posts webhooks and their ERP
//! exports IDocs. [`Vendor::render`] writes a canonical event as the raw JSON one of two
//! invented but plausible vendors would send, so that the simulator can feed invex's
//! normalize processor (and `invex simulate` a real cluster) with what production looks like.
//!
//! Invariants and why they hold:
//! - Exact inverse of the shipped mappings: each vendor is the inverse of its source file in
//!   `topology/sources/` (`wms-webhook.toml`, `erp-idoc.toml`); normalizing a rendered event
//!   gives the event back, field for field (invex-runtime's `tests/normalize.rs` checks it for
//!   a seeded run and for fully populated events of every type). Exactness holds for the
//!   values those formats can express: years 0000-9999, canonical units other than the ERP
//!   codes `ST`, `PCE` and `KAR`, and (WMS tolerances only) percentages with at most 15
//!   significant digits.
//! - Deterministic: a pure function of the event; members are written in a fixed order.
//! - Total: every event renders; nothing here panics.

mod erp;
mod json;
mod text;
mod wms;

use invex_model::CanonicalEvent;

/// A vendor shape with a source mapping shipped in `topology/sources/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Vendor {
    /// A WMS's webhooks: camelCase, nested, RFC 3339 times.
    WmsWebhook,
    /// An ERP's IDoc-style export: uppercase segments, flat strings, SAP dates.
    ErpIdoc,
}

impl Vendor {
    /// Every vendor.
    pub const ALL: [Self; 2] = [Self::WmsWebhook, Self::ErpIdoc];

    /// The source `name` of this vendor's mapping file.
    pub const fn source_name(self) -> &'static str {
        match self {
            Self::WmsWebhook => "wms-webhook",
            Self::ErpIdoc => "erp-idoc",
        }
    }

    /// The raw topic this vendor publishes to (the mapping file's `topic`).
    pub const fn raw_topic(self) -> &'static str {
        match self {
            Self::WmsWebhook => "raw.wms.webhook",
            Self::ErpIdoc => "raw.erp.idoc",
        }
    }

    /// The raw JSON bytes this vendor sends for `event`.
    pub fn render(self, event: &CanonicalEvent) -> Vec<u8> {
        match self {
            Self::WmsWebhook => wms::render(event),
            Self::ErpIdoc => erp::render(event),
        }
        .into_bytes()
    }
}
