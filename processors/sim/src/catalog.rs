//! The static world: items, sites, locations and the stock slots that join them.
//!
//! A slot is one (site, SKU, location) triple that can hold stock. Every SKU has, at every
//! site, one slot at the site's dock (where receipts land) and one or two storage slots (a pick
//! face, and for some SKUs a reserve). A storage location holds exactly one SKU, so "the
//! movements that touched a location" and "the movements of the SKU at that location" agree,
//! which is what the detector's root-cause rule looks at. Slots are numbered site-major, so
//! iterating them is deterministic and groups a site's rows together.

use std::collections::BTreeMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::config::{ClassProfile, SimConfig};

/// ABC class symbols, in profile order.
pub(crate) const CLASS_SYMBOLS: [&str; 3] = ["A", "B", "C"];

/// Units in one case, by item (cycled by item number).
const CASE_PACKS: [i64; 4] = [6, 12, 24, 10];

/// Storage bins per aisle and levels per bay, for location codes such as `A03-017-2`.
const BINS_PER_AISLE: usize = 200;
const LEVELS: usize = 5;

/// One SKU of the shared catalogue.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub(crate) sku: String,
    pub(crate) gtin: String,
    /// Index into [`CLASS_SYMBOLS`] and the class profiles.
    pub(crate) class: usize,
    pub(crate) unit_cost: f64,
    pub(crate) case_pack: i64,
}

/// A warehouse.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    pub(crate) id: String,
}

/// Whether a slot is a dock (receiving) slot or a storage bin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotKind {
    Dock,
    Storage,
}

/// One (site, SKU, location) that can hold stock.
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub(crate) site: usize,
    pub(crate) item: usize,
    pub(crate) location: String,
    pub(crate) kind: SlotKind,
}

/// The slots of one SKU at one site.
#[derive(Debug, Clone)]
pub(crate) struct Placement {
    pub(crate) dock: usize,
    /// Pick face first, then the reserve when there is one.
    pub(crate) storage: Vec<usize>,
}

/// Items, sites, slots and the demand distribution over items.
#[derive(Debug, Clone)]
pub(crate) struct Catalog {
    pub(crate) items: Vec<Item>,
    pub(crate) sites: Vec<Site>,
    pub(crate) slots: Vec<Slot>,
    /// `placements[site][item]`.
    pub(crate) placements: Vec<Vec<Placement>>,
    /// Cumulative demand weight by item, for sampling an item in O(log n).
    cumulative_demand: Vec<f64>,
    sku_index: BTreeMap<String, usize>,
}

impl Catalog {
    /// Builds the catalogue; draws item classes, costs and second locations from `rng`.
    pub(crate) fn build(cfg: &SimConfig, rng: &mut ChaCha8Rng) -> Self {
        let profiles = cfg.classes.all();
        let items = build_items(cfg.skus_per_site as usize, &profiles, rng);
        let sites: Vec<Site> = (1..=cfg.sites).map(|n| Site { id: format!("DC{n}") }).collect();
        let mut slots = Vec::new();
        let mut placements = Vec::with_capacity(sites.len());
        for site in 0..sites.len() {
            placements.push(place_site(site, items.len(), cfg.two_location_share, rng, &mut slots));
        }
        let mut total = 0.0;
        let cumulative_demand = items
            .iter()
            .map(|item| {
                total += profiles[item.class].demand_weight;
                total
            })
            .collect();
        let sku_index = items.iter().enumerate().map(|(i, item)| (item.sku.clone(), i)).collect();
        Self { items, sites, slots, placements, cumulative_demand, sku_index }
    }

    /// Draws an item with probability proportional to its class's demand weight.
    pub(crate) fn sample_item(&self, rng: &mut ChaCha8Rng) -> Option<usize> {
        let total = *self.cumulative_demand.last()?;
        if total <= 0.0 {
            return None;
        }
        let target = rng.random::<f64>() * total;
        let index = self.cumulative_demand.partition_point(|&c| c <= target);
        Some(index.min(self.items.len() - 1))
    }

    /// The slot of `sku` at `location` of `site`, if the catalogue has one.
    pub(crate) fn find_slot(&self, site: &str, sku: &str, location: &str) -> Option<usize> {
        let site = self.sites.iter().position(|s| s.id == site)?;
        let item = *self.sku_index.get(sku)?;
        let placement = &self.placements[site][item];
        std::iter::once(placement.dock)
            .chain(placement.storage.iter().copied())
            .find(|&slot| self.slots[slot].location == location)
    }

    /// The storage slots, in slot order.
    pub(crate) fn storage_slots(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.slots.len()).filter(|&s| self.slots[s].kind == SlotKind::Storage)
    }
}

fn build_items(n: usize, profiles: &[&ClassProfile; 3], rng: &mut ChaCha8Rng) -> Vec<Item> {
    let total: f64 = profiles.iter().map(|p| p.sku_share).sum();
    let a_end = (n as f64 * profiles[0].sku_share / total).round() as usize;
    let b_end = a_end + (n as f64 * profiles[1].sku_share / total).round() as usize;
    (0..n)
        .map(|i| {
            let class = if i < a_end {
                0
            } else if i < b_end {
                1
            } else {
                2
            };
            let p = profiles[class];
            let cost = p.unit_cost_min + rng.random::<f64>() * (p.unit_cost_max - p.unit_cost_min);
            Item {
                sku: format!("SKU-{:05}", i + 1),
                gtin: gtin14(i + 1),
                class,
                unit_cost: (cost * 100.0).round() / 100.0,
                case_pack: CASE_PACKS[i % CASE_PACKS.len()],
            }
        })
        .collect()
}

/// Creates the slots of one site; returns its placements by item.
fn place_site(
    site: usize,
    items: usize,
    two_location_share: f64,
    rng: &mut ChaCha8Rng,
    slots: &mut Vec<Slot>,
) -> Vec<Placement> {
    let mut bins = 0;
    let mut next_bin = || {
        bins += 1;
        bin_code(bins - 1)
    };
    let mut placements = Vec::with_capacity(items);
    for item in 0..items {
        let dock = push_slot(slots, site, item, "DOCK-01".to_owned(), SlotKind::Dock);
        let mut storage = vec![push_slot(slots, site, item, next_bin(), SlotKind::Storage)];
        if rng.random_bool(two_location_share) {
            storage.push(push_slot(slots, site, item, next_bin(), SlotKind::Storage));
        }
        placements.push(Placement { dock, storage });
    }
    placements
}

fn push_slot(
    slots: &mut Vec<Slot>,
    site: usize,
    item: usize,
    location: String,
    kind: SlotKind,
) -> usize {
    slots.push(Slot { site, item, location, kind });
    slots.len() - 1
}

/// `A01-001-1` style bin code for the n-th bin of a site.
fn bin_code(n: usize) -> String {
    let aisle = n / BINS_PER_AISLE + 1;
    let bay = (n % BINS_PER_AISLE) / LEVELS + 1;
    let level = n % LEVELS + 1;
    format!("A{aisle:02}-{bay:03}-{level}")
}

/// A GTIN-14 with a valid GS1 check digit for item number `n`.
fn gtin14(n: usize) -> String {
    let body = format!("0400000{:06}", n % 1_000_000);
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn gtin_check_digit_is_valid() {
        // 0400000000001 -> weights 3,1,3,... from the right give 3 * 1 + 4 * 1 = 7 -> check 3.
        assert_eq!(gtin14(1), "04000000000013");
        assert_eq!(gtin14(1).len(), 14);
    }

    #[test]
    fn catalogue_follows_the_abc_split_and_has_unique_bins() {
        let cfg = SimConfig { skus_per_site: 100, ..SimConfig::default() };
        let cat = Catalog::build(&cfg, &mut ChaCha8Rng::seed_from_u64(1));
        let per_class = |c| cat.items.iter().filter(|i| i.class == c).count();
        assert_eq!((per_class(0), per_class(1), per_class(2)), (20, 30, 50));
        for site in 0..cat.sites.len() {
            let mut bins: Vec<_> = cat
                .slots
                .iter()
                .filter(|s| s.site == site && s.kind == SlotKind::Storage)
                .map(|s| s.location.as_str())
                .collect();
            let n = bins.len();
            bins.sort_unstable();
            bins.dedup();
            assert_eq!(bins.len(), n);
            assert!(n > 100, "some SKUs have a reserve location");
        }
        let slot = cat.placements[1][7].storage[0];
        assert_eq!(cat.find_slot("DC2", "SKU-00008", &cat.slots[slot].location), Some(slot));
        assert_eq!(cat.find_slot("DC2", "SKU-00008", "nowhere"), None);
    }
}
