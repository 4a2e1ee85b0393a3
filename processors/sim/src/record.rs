//! Compact generated events.
//!
//! The simulation runs to the end in `Simulator::new` (so that ground truth and the physical
//! history are complete before the first event is read), but it stores events in this compact
//! form, a few dozen bytes each, and renders a full [`invex_model::CanonicalEvent`] only when
//! the event is read. Indices refer to the catalogue; `seq` is the per-source sequence.

use invex_model::{CanonicalTopic, CountType, SourceSystem};

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
    /// Receipt of `qty` into the dock slot `slot`.
    Receipt { number: u32, slot: u32, qty: i64 },
    /// Confirmed putaway from the dock slot `from` into the storage slot `to` (as booked).
    Putaway { number: u32, from: u32, to: u32, qty: i64 },
    /// Pick from `slot`.
    Pick { number: u32, slot: u32, requested: i64, picked: i64 },
    /// Count of `slot`.
    Count(CountRecord),
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
            Self::Receipt { .. } => CanonicalTopic::Receipt,
            Self::Putaway { .. } => CanonicalTopic::Task,
            Self::Pick { .. } => CanonicalTopic::Pick,
            Self::Count(_) => CanonicalTopic::Count,
        }
    }

    /// The system that produces this kind of event.
    pub(crate) fn source(&self) -> SourceSystem {
        match self {
            Self::Item { .. } | Self::Book { .. } => SourceSystem::Erp,
            Self::Receipt { .. } | Self::Putaway { .. } | Self::Count(_) => SourceSystem::Wms,
            Self::Pick { .. } => SourceSystem::Edge,
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
