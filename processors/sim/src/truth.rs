//! Ground truth: the exceptions the detectors should open, one entry per exception.
//!
//! An entry names the exception as the detector keys it: type, tenant, site and `subject`
//! (the detector's subject text, e.g. `sku|location|lot` for a count, `sku|asn` for a
//! receipt), plus SKU, location and lot for people. One fault may legitimately cause several
//! exceptions (a lost putaway posting is a sync failure at the next ERP snapshot and a count
//! discrepancy at the next count; a theft is a ghost-stock short pick and a count
//! discrepancy): each is its own entry with the same `kind` and `injected_at`. A fault that no
//! detector can see (a count discrepancy whose location is never counted) yields none.

use std::fmt;

use invex_model::{ExceptionType, RootCauseCategory};
use serde::{Deserialize, Serialize};

/// Kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FaultKind {
    /// A first count reports a wrong quantity; the shelf and the books are right.
    Miscount,
    /// A putaway was confirmed to one location but stored at another.
    MisplacedStock,
    /// The ERP never received a putaway's posting, so its book snapshot misses it.
    SyncLag,
    /// A delivery brought less than its ASN announced, beyond the under-delivery tolerance.
    ShortReceipt,
    /// A delivery brought more than its ASN announced.
    OverReceipt,
    /// A delivery arrived damaged by the carrier and was refused at the dock.
    DamagedReceipt,
    /// A putaway was confirmed at another location than suggested, without a reason.
    WrongBinPutaway,
    /// A picker scanned a look-alike item instead of the one the pick task expects.
    WrongItemScan,
    /// A damaged label: the scanner failed to read it three times in a row.
    RepeatedNoRead,
    /// A delivery of a lot already past its expiry date, refused at the dock.
    ExpiredLot,
    /// A delivered lot's label shows another expiry date than the ASN announced.
    LotExpiryConflict,
    /// A pick line confirmed a second time for stock that was picked once.
    DoubleConfirmation,
    /// A pick confirmed in cases where eaches were picked: the book drops by the pack factor.
    UomError,
    /// Stock disappeared from a shelf without any transaction.
    Theft,
    /// The ERP acknowledged a goods-receipt posting late (integration lag).
    AckLag,
    /// The ERP never acknowledged a goods-receipt posting (lost until replay).
    LostPosting,
    /// A posting sent during an integration outage, acknowledged only after it.
    OutageBurst,
}

impl FaultKind {
    /// Every kind, in a fixed order.
    pub const ALL: [Self; 17] = [
        Self::Miscount,
        Self::MisplacedStock,
        Self::SyncLag,
        Self::ShortReceipt,
        Self::OverReceipt,
        Self::DamagedReceipt,
        Self::WrongBinPutaway,
        Self::WrongItemScan,
        Self::RepeatedNoRead,
        Self::ExpiredLot,
        Self::LotExpiryConflict,
        Self::DoubleConfirmation,
        Self::UomError,
        Self::Theft,
        Self::AckLag,
        Self::LostPosting,
        Self::OutageBurst,
    ];

    /// The symbol (`MISPLACED_STOCK`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Miscount => "MISCOUNT",
            Self::MisplacedStock => "MISPLACED_STOCK",
            Self::SyncLag => "SYNC_LAG",
            Self::ShortReceipt => "SHORT_RECEIPT",
            Self::OverReceipt => "OVER_RECEIPT",
            Self::DamagedReceipt => "DAMAGED_RECEIPT",
            Self::WrongBinPutaway => "WRONG_BIN_PUTAWAY",
            Self::WrongItemScan => "WRONG_ITEM_SCAN",
            Self::RepeatedNoRead => "REPEATED_NO_READ",
            Self::ExpiredLot => "EXPIRED_LOT",
            Self::LotExpiryConflict => "LOT_EXPIRY_CONFLICT",
            Self::DoubleConfirmation => "DOUBLE_CONFIRMATION",
            Self::UomError => "UOM_ERROR",
            Self::Theft => "THEFT",
            Self::AckLag => "ACK_LAG",
            Self::LostPosting => "LOST_POSTING",
            Self::OutageBurst => "OUTAGE_BURST",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One exception the detector should open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// Deterministic id, `flt-<seed>-<n>`.
    pub fault_id: String,
    /// What was injected.
    pub kind: FaultKind,
    /// Exception type the detector should open.
    pub exception_type: ExceptionType,
    /// Tenant.
    pub tenant: String,
    /// Site.
    pub site: String,
    /// SKU.
    pub sku: String,
    /// What the exception is about, exactly as the detector writes `subject` on it.
    pub subject: String,
    /// Location the exception is about, when it is about one.
    pub location_id: Option<String>,
    /// Lot the exception is about.
    pub lot: Option<String>,
    /// Root-cause category of the exception's final version when the loop is closed through
    /// `Simulator::respond`: for a count, PROCESS for a miscount (the matching recount proves
    /// it), else the detector's rule applied to the simulated history at the count; for the
    /// other types the category the detector's rule assigns.
    pub expected_root_cause: RootCauseCategory,
    /// Event time of the fault (UTC ms): the miscount, the misplaced putaway, the receipt,
    /// the scan, the pick, the theft, or the posting that was not acknowledged in time.
    pub injected_at: i64,
    /// Resolution a count discrepancy should end with when the loop is closed through
    /// `Simulator::respond` (`COUNT_ERROR`, `ADJUSTED`, `ADJUSTMENT_REJECTED`); `None` for
    /// the other types.
    pub expected_resolution: Option<String>,
}
