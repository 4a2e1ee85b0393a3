//! Ground truth: the exceptions the detector should open, one entry per exception.
//!
//! An entry is recorded when a first count reveals a fault, i.e. when the counted quantity
//! differs from the detector's ledger book. A misplaced putaway whose two locations are both
//! counted afterwards therefore yields two entries; a fault that no count sees yields none.

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
    /// The ERP never received a posting, so its book snapshot misses it.
    SyncLag,
}

impl FaultKind {
    /// Every kind, in a fixed order.
    pub const ALL: [Self; 3] = [Self::Miscount, Self::MisplacedStock, Self::SyncLag];

    /// The symbol (`MISPLACED_STOCK`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Miscount => "MISCOUNT",
            Self::MisplacedStock => "MISPLACED_STOCK",
            Self::SyncLag => "SYNC_LAG",
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
    /// Location the exception is about.
    pub location_id: String,
    /// Lot the exception is about.
    pub lot: Option<String>,
    /// Root-cause category of the exception's final version when the loop is closed through
    /// `Simulator::respond`: PROCESS for a miscount (the matching recount proves it), else
    /// the detector's rule applied to the simulated history at the count.
    pub expected_root_cause: RootCauseCategory,
    /// When the fault happened (UTC ms): the miscount, the misplaced putaway or the putaway
    /// whose ERP posting was lost.
    pub injected_at: i64,
    /// Resolution the exception should end with when the loop is closed through
    /// `Simulator::respond` (`COUNT_ERROR`, `ADJUSTED`, `ADJUSTMENT_REJECTED`).
    pub expected_resolution: Option<String>,
}
