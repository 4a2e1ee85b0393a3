//! Compact generated events.
//!
//! The simulation runs to the end in `Simulator::new` (so that ground truth and the physical
//! history are complete before the first event is read), but it stores events in this compact
//! form, a few dozen bytes each, and renders a full [`invex_model::CanonicalEvent`] only when
//! the event is read. Indices refer to the catalogue; `seq` is the per-source sequence.

use invex_model::{AckStatus, CanonicalTopic, ConditionCode, CountType, ScanResult, SourceSystem};

/// One generated event before rendering.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Record {
    /// Event time (UTC ms).
    pub(crate) time: i64,
    /// Per-source sequence number.
    pub(crate) seq: i64,
    pub(crate) body: Body,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Body {
    /// Item master of `item` at `site`.
    Item { site: u32, item: u32 },
    /// ERP book row of `slot` in snapshot number `snapshot`.
    Book { slot: u32, snapshot: u32, qty: i64 },
    /// ASN line number `number` announcing `qty` for the dock slot `slot`.
    Asn { number: u32, slot: u32, qty: i64, lot: Option<LotTag> },
    /// Receipt against ASN `number` into the dock slot `slot`.
    Receipt(ReceiptRecord),
    /// Confirmed putaway from the dock slot `from` into the storage slot `to` (as booked),
    /// suggested at `suggested`.
    Putaway { number: u32, from: u32, to: u32, suggested: u32, qty: i64 },
    /// Pick confirmation of line `number` at `slot`; `picked` is the quantity confirmed.
    Pick { number: u32, slot: u32, requested: i64, picked: i64 },
    /// Scan of pick line `pick` at `slot`, reading `scanned` (an item index).
    Scan { pick: u32, slot: u32, scanned: u32, result: ScanResult },
    /// Integration message `message` (goods receipt at the dock slot `slot`).
    Ack { message: u32, slot: u32, qty: i64, status: AckStatus },
    /// Count of `slot`.
    Count(CountRecord),
}

/// A lot and its expiry (days since the epoch); the lot id derives from the ASN number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LotTag {
    pub(crate) number: u32,
    pub(crate) expiry: i32,
}

/// A received line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ReceiptRecord {
    pub(crate) number: u32,
    pub(crate) slot: u32,
    pub(crate) received: i64,
    pub(crate) accepted: i64,
    pub(crate) condition: ConditionCode,
    pub(crate) lot: Option<LotTag>,
}

/// A count or recount.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CountRecord {
    pub(crate) number: u32,
    pub(crate) slot: u32,
    pub(crate) count_type: CountType,
    pub(crate) count_seq: i32,
    pub(crate) counted: i64,
    pub(crate) wms_at_freeze: i64,
    pub(crate) freeze_time: i64,
}

impl Body {
    /// The canonical topic of the rendered event.
    pub(crate) fn topic(&self) -> CanonicalTopic {
        match self {
            Self::Item { .. } => CanonicalTopic::Item,
            Self::Book { .. } => CanonicalTopic::Book,
            Self::Asn { .. } => CanonicalTopic::Asn,
            Self::Receipt(_) => CanonicalTopic::Receipt,
            Self::Putaway { .. } => CanonicalTopic::Task,
            Self::Pick { .. } => CanonicalTopic::Pick,
            Self::Scan { .. } => CanonicalTopic::Scan,
            Self::Ack { .. } => CanonicalTopic::Ack,
            Self::Count(_) => CanonicalTopic::Count,
        }
    }

    /// The slot whose stock the event moves or observes (picks, putaway legs, counts), for
    /// the transport layer's "nothing else happens at this location meanwhile" check.
    pub(crate) fn stock_slots(&self) -> [Option<u32>; 2] {
        match *self {
            Self::Pick { slot, .. } | Self::Count(CountRecord { slot, .. }) => [Some(slot), None],
            Self::Putaway { from, to, .. } => [Some(from), Some(to)],
            Self::Receipt(r) => [Some(r.slot), None],
            _ => [None, None],
        }
    }

    /// The system that produces this kind of event.
    pub(crate) fn source(&self) -> SourceSystem {
        match self {
            Self::Item { .. } | Self::Book { .. } | Self::Asn { .. } => SourceSystem::Erp,
            Self::Ack { status: AckStatus::Ack | AckStatus::Error, .. } => SourceSystem::Erp,
            Self::Receipt(_) | Self::Putaway { .. } | Self::Count(_) | Self::Ack { .. } => {
                SourceSystem::Wms
            }
            Self::Pick { .. } | Self::Scan { .. } => SourceSystem::Edge,
        }
    }
}

/// Next sequence number per source system.
#[derive(Debug, Clone, Default)]
pub(crate) struct SourceSeqs([i64; 6]);

impl SourceSeqs {
    /// Returns the next sequence number of `source` (starting at 1).
    pub(crate) fn next(&mut self, source: SourceSystem) -> i64 {
        let index = match source {
            SourceSystem::Wms => 0,
            SourceSystem::Erp => 1,
            SourceSystem::Edge => 2,
            SourceSystem::Oms => 3,
            SourceSystem::Human => 4,
            SourceSystem::Simulator => 5,
        };
        self.0[index] += 1;
        self.0[index]
    }
}
