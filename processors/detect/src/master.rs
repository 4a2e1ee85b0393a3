//! Item master facts beyond valuation (`md.item`), for the detectors that need them.
//!
//! ```text
//! md.master   item -> MasterFacts   latest md.item by event time
//! ```
//!
//! The cycle-count rule keeps class and cost (`cc.item`); this store keeps what the other
//! rules need: minimum remaining shelf life, lot and serial control, GTINs. A version older
//! than the stored one is ignored, so the latest by event time wins whatever the arrival
//! order. The detector is registered before every detector that reads it.

use invex_model::{CanonicalEvent, ItemMaster};
use serde::{Deserialize, Serialize};

use crate::cycle_count::item_key;
use crate::detector::{Ctx, Detector, Table};
use crate::error::DetectError;
use crate::expiry::{self, StoreTtl};
use crate::store::StoreName;

/// Item master facts.
pub(crate) const MASTER: Table<MasterFacts> = Table::new(StoreName("md.master"));
/// The stores of this module; the item master is reference data and has no TTL.
pub(crate) const SPECS: [StoreTtl; 1] = [MASTER.spec()];
/// The names of [`SPECS`].
pub(crate) const STORES: [StoreName; 1] = expiry::names(&SPECS);

/// What the rules use of an item master record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MasterFacts {
    pub(crate) as_of: i64,
    pub(crate) event_id: String,
    pub(crate) min_remaining_shelf_life_days: Option<i32>,
    pub(crate) lot_controlled: bool,
    pub(crate) serial_controlled: bool,
    pub(crate) gtins: Vec<String>,
}

/// The item master facts of one SKU at one site, if any arrived.
pub(crate) fn facts(
    ctx: &Ctx<'_>,
    tenant: &str,
    site: &str,
    sku: &str,
) -> Result<Option<MasterFacts>, DetectError> {
    ctx.get(MASTER, &item_key(tenant, site, sku))
}

/// Keeps the latest item master record of each SKU.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Master;

impl Detector for Master {
    fn name(&self) -> &'static str {
        "md"
    }

    fn stores(&self) -> &'static [StoreName] {
        &STORES
    }

    fn process(&mut self, event: &CanonicalEvent, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        match event {
            CanonicalEvent::Item(i) => on_item(ctx, i),
            _ => Ok(()),
        }
    }
}

fn on_item(ctx: &mut Ctx<'_>, i: &ItemMaster) -> Result<(), DetectError> {
    let h = &i.header;
    let key = item_key(&h.tenant_id, &h.site_id, &i.sku);
    if ctx.get(MASTER, &key)?.is_some_and(|old| old.as_of > h.event_time) {
        return Ok(());
    }
    let facts = MasterFacts {
        as_of: h.event_time,
        event_id: h.event_id.clone(),
        min_remaining_shelf_life_days: i.min_remaining_shelf_life_days,
        lot_controlled: i.lot_controlled,
        serial_controlled: i.serial_controlled,
        gtins: i.gtins.clone(),
    };
    ctx.put(MASTER, &key, &facts)
}
