//! Names of the canonical input topics.
//!
//! These are default names: a deployment adds a prefix and may override each one in its
//! configuration. The Avro subject of a topic's values is `<topic>-value` (TopicNameStrategy).

use std::fmt;
use std::str::FromStr;

/// A canonical input topic of the detect processor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CanonicalTopic {
    /// Barcode and RFID reads.
    Scan,
    /// Received lines.
    Receipt,
    /// Pick confirmations.
    Pick,
    /// Counts and recounts.
    Count,
    /// Putaway, replenishment and move tasks.
    Task,
    /// ASN and PO lines.
    Asn,
    /// ERP book snapshots.
    Book,
    /// Order allocations.
    Allocation,
    /// Integration acknowledgements.
    Ack,
    /// Item master data.
    Item,
    /// Human decisions.
    Approvals,
}

impl CanonicalTopic {
    /// Every canonical topic, in a fixed order.
    pub const ALL: [Self; 11] = [
        Self::Scan,
        Self::Receipt,
        Self::Pick,
        Self::Count,
        Self::Task,
        Self::Asn,
        Self::Book,
        Self::Allocation,
        Self::Ack,
        Self::Item,
        Self::Approvals,
    ];

    /// Default topic name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Scan => "wh.scan",
            Self::Receipt => "wh.receipt",
            Self::Pick => "wh.pick",
            Self::Count => "wh.count",
            Self::Task => "wh.task",
            Self::Asn => "erp.asn",
            Self::Book => "erp.book",
            Self::Allocation => "oms.allocation",
            Self::Ack => "integration.ack",
            Self::Item => "md.item",
            Self::Approvals => "approvals",
        }
    }
}

impl fmt::Display for CanonicalTopic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a canonical topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTopic(pub String);

impl fmt::Display for UnknownTopic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a canonical topic", self.0)
    }
}

impl std::error::Error for UnknownTopic {}

impl FromStr for CanonicalTopic {
    type Err = UnknownTopic;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|t| t.name() == s).ok_or_else(|| UnknownTopic(s.to_owned()))
    }
}
