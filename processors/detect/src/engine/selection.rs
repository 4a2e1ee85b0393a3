//! Which detectors an engine runs.
//!
//! A deployment may run a subset of the built-in detectors (a site without barcode scanners
//! has no use for the barcode rule, and a benchmark compares one rule with a peer's). The
//! invariant: **a selected detector decides exactly as it does in an engine running every
//! detector.** Detectors read what others write: every rule reads the item facts the
//! cycle-count detector keeps, and every exception's lifecycle reads the item master and the
//! open allocations. So a [`Selection`] is closed under "declares a store owned by": the owner
//! of every store a selected detector declares in `Detector::stores` runs too, and so on.
//! Debug builds hold every detector to its declaration (`Ctx` asserts on each store access),
//! which is what makes the closure trustworthy.
//!
//! Poison and repeat checks (`Detector::validate`, `Detector::is_repeat`) belong to the
//! detectors that run: an event only a left-out detector would refuse reaches the selected
//! ones, which have no use for what it lacks. On the events every detector accepts, the
//! invariant above holds exactly (the root crate's `detector_selection` test checks it for each
//! detector selected alone).
//!
//! The engine keeps every store whatever it runs, so its changelog topics and restored state do
//! not depend on the selection. A detector left out keeps its state as it was (the TTL purge
//! goes on); its timers that come due meanwhile are dropped, like those of a detector that is
//! no longer built in, so adding it back starts it without them.

use std::fmt;

use crate::allocation::{self, AllocationConflict};
use crate::barcode::{self, BarcodeMismatch};
use crate::cycle_count::{self, CycleCount};
use crate::damaged::DamagedGoods;
use crate::detector::Detector;
use crate::duplicate_pick::{self, DuplicatePick};
use crate::exceptions::{self, Cases};
use crate::expired::{self, ExpiredInventory};
use crate::expiry::StoreTtl;
use crate::lots::{self, LotSerial};
use crate::master::{self, Master};
use crate::negative_on_hand::NegativeOnHand;
use crate::putaway::{self, PutawayFailure};
use crate::receiving::{self, ReceivingVariance};
use crate::sync::{self, SyncFailure};

/// A built-in detector: the name a configuration selects it by, the stores it owns (creates
/// and is the writer of record for) and a constructor.
struct BuiltIn {
    name: &'static str,
    owns: &'static [StoreTtl],
    build: fn() -> Box<dyn Detector>,
}

/// Every built-in detector, in the order the engine runs them.
const BUILT_IN: [BuiltIn; 13] = [
    // Before the cycle-count rule: it compares a new ERP snapshot with the previous one,
    // which the cycle-count ledger replaces.
    BuiltIn { name: "sync_failure", owns: &sync::OWN_STORES, build: || Box::new(SyncFailure) },
    BuiltIn { name: "cycle_count", owns: &cycle_count::SPECS, build: || Box::new(CycleCount) },
    BuiltIn { name: "item_master", owns: &master::SPECS, build: || Box::new(Master) },
    BuiltIn { name: "exception_lifecycle", owns: &exceptions::SPECS, build: || Box::new(Cases) },
    BuiltIn { name: "negative_on_hand", owns: &[], build: || Box::new(NegativeOnHand) },
    BuiltIn {
        name: "duplicate_pick",
        owns: &duplicate_pick::OWN_STORES,
        build: || Box::new(DuplicatePick),
    },
    BuiltIn {
        name: "receiving_variance",
        owns: &receiving::OWN_STORES,
        build: || Box::new(ReceivingVariance),
    },
    BuiltIn {
        name: "putaway_failure",
        owns: &putaway::OWN_STORES,
        build: || Box::new(PutawayFailure),
    },
    BuiltIn { name: "damaged_goods", owns: &[], build: || Box::new(DamagedGoods) },
    BuiltIn {
        name: "expired_inventory",
        owns: &expired::OWN_STORES,
        build: || Box::new(ExpiredInventory),
    },
    BuiltIn {
        name: "barcode_mismatch",
        owns: &barcode::OWN_STORES,
        build: || Box::new(BarcodeMismatch),
    },
    BuiltIn {
        name: "order_allocation_conflict",
        owns: &allocation::OWN_STORES,
        build: || Box::new(AllocationConflict),
    },
    BuiltIn {
        name: "lot_serial_inconsistency",
        owns: &lots::OWN_STORES,
        build: || Box::new(LotSerial),
    },
];

/// A set of built-in detectors closed under their store dependencies (module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Indexes into [`BUILT_IN`], ascending (the engine's running order).
    chosen: Vec<usize>,
}

/// A selection named a detector that is not built in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown detector {name:?}; the built-in detectors are: {}", Selection::NAMES.join(", "))]
pub struct UnknownDetector {
    /// The name as given.
    pub name: String,
}

impl Selection {
    /// The names a selection accepts, in running order.
    pub const NAMES: [&'static str; BUILT_IN.len()] = {
        let mut out = [""; BUILT_IN.len()];
        let mut i = 0;
        while i < BUILT_IN.len() {
            out[i] = BUILT_IN[i].name;
            i += 1;
        }
        out
    };

    /// Every built-in detector.
    pub fn all() -> Self {
        Self { chosen: (0..BUILT_IN.len()).collect() }
    }

    /// The detectors named, plus every detector they depend on.
    pub fn of<S: AsRef<str>>(names: &[S]) -> Result<Self, UnknownDetector> {
        let mut wanted = vec![false; BUILT_IN.len()];
        let mut pending = Vec::new();
        for name in names {
            let name = name.as_ref();
            let index = BUILT_IN
                .iter()
                .position(|b| b.name == name)
                .ok_or_else(|| UnknownDetector { name: name.to_owned() })?;
            pending.push(index);
        }
        while let Some(index) = pending.pop() {
            if std::mem::replace(&mut wanted[index], true) {
                continue;
            }
            pending.extend(owners_of((BUILT_IN[index].build)().stores()));
        }
        Ok(Self { chosen: (0..BUILT_IN.len()).filter(|i| wanted[*i]).collect() })
    }

    /// The names of the detectors it runs, in running order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.chosen.iter().map(|i| BUILT_IN[*i].name)
    }

    /// True when it runs every built-in detector.
    pub fn is_all(&self) -> bool {
        self.chosen.len() == BUILT_IN.len()
    }

    pub(crate) fn build(&self) -> Vec<Box<dyn Detector>> {
        self.chosen.iter().map(|i| (BUILT_IN[*i].build)()).collect()
    }
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.names().collect();
        f.write_str(&names.join(", "))
    }
}

/// The built-in detectors owning any of `stores` (the engine's own stores have no owner here).
fn owners_of(stores: &[crate::store::StoreName]) -> impl Iterator<Item = usize> + '_ {
    BUILT_IN.iter().enumerate().filter_map(move |(index, built)| {
        built.owns.iter().any(|own| stores.contains(&own.store)).then_some(index)
    })
}

/// Every store a built-in detector owns, for the engine's check against its list of stores.
#[cfg(test)]
pub(crate) fn owned_stores() -> impl Iterator<Item = StoreTtl> {
    BUILT_IN.iter().flat_map(|b| b.owns.iter().copied())
}
