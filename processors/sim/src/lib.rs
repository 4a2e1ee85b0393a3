//! invex-sim: a seeded warehouse simulator that knows the truth.
//!
//! It produces the canonical events of a shift at one or more sites (item master, ERP book
//! snapshots, receipts, putaways, picks, cycle counts), injects three kinds of fault
//! (MISCOUNT, MISPLACED_STOCK, SYNC_LAG), and records, for every exception invex's cycle-count
//! detector should open, what it should find ([`Fault`]). [`Simulator::respond`] closes the
//! loop the way a warehouse would: recount tasks get recounts, approval requests get
//! decisions. [`evaluate`] scores the detector's exceptions against the truth.
//!
//! Invariants and why they hold:
//! - Determinism: one seed, one stream. All randomness is one ChaCha generator drawn in a
//!   fixed order; collections are vectors and `BTreeMap`s; no clock is read. Answers to
//!   actions never draw from that generator, so closing the loop does not change the stream.
//! - Event-time order: the whole run is simulated in [`Simulator::new`] from a time-ordered
//!   queue, so events come out sorted by event time; generation is O(events log events).
//! - Physical consistency: shelf and books never go negative; a pick takes what is there.
//! - Detectability: every fault's variance is >= 2 units and >= 10 % of the detector's book,
//!   and every count without a fault is exact, so a correct detector scores precision and
//!   recall 1.0.
//! - Ground truth and the physical history are complete once `new` returns; events are kept
//!   compact and rendered when read.

mod books;
mod catalog;
mod config;
mod eval;
mod generate;
mod inject;
mod record;
mod render;
mod respond;
mod schedule;
mod truth;
pub mod vendor;

use std::collections::{BTreeMap, BTreeSet};

use invex_model::CanonicalEvent;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use config::{AbcProfiles, ClassProfile, FaultRates, SimConfig};
pub use eval::{Evaluation, KindScore, TypeScore, evaluate};
pub use truth::{Fault, FaultKind};
pub use vendor::Vendor;

use books::SlotBook;
use catalog::{Catalog, SlotKind};
use record::{Record, SourceSeqs};
use render::Renderer;

/// Why a simulator could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// The configuration is invalid; the caller must fix it. Lists every problem.
    #[error("invalid simulator configuration: {}", .0.join("; "))]
    InvalidConfig(Vec<String>),
}

/// Size of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    /// Sites.
    pub sites: u16,
    /// SKUs per site.
    pub skus_per_site: u32,
    /// Storage locations over all sites.
    pub storage_locations: u64,
    /// Storage locations counted (first count) during the run.
    pub counted_locations: u64,
    /// Generated events (answers to actions not included).
    pub events: u64,
    /// Generated events by canonical topic name.
    pub events_by_topic: BTreeMap<String, u64>,
    /// Injected faults by kind (a misplaced putaway counts once).
    pub faults_injected: BTreeMap<String, u64>,
    /// Exceptions the detector should open (ground-truth entries).
    pub expected_exceptions: u64,
    /// First event time (UTC ms).
    pub start_time: i64,
    /// End of the simulated interval (UTC ms, exclusive).
    pub end_time: i64,
}

/// A simulated run: its events, ground truth and the state needed to answer actions.
#[derive(Debug)]
pub struct Simulator {
    config: SimConfig,
    catalog: Catalog,
    books: Vec<SlotBook>,
    records: Vec<Record>,
    cursor: usize,
    faults: Vec<Fault>,
    stats: SimStats,
    seqs: SourceSeqs,
    answered: BTreeSet<String>,
    next_event_number: u64,
    next_count_number: u32,
}

impl Simulator {
    /// Validates `config` and simulates the whole run.
    pub fn new(config: SimConfig) -> Result<Self, SimError> {
        config.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let catalog = Catalog::build(&config, &mut rng);
        let run = generate::generate(&config, &catalog, &mut rng);
        let stats = stats(&config, &catalog, &run);
        Ok(Self {
            next_event_number: run.records.len() as u64,
            next_count_number: run.next_count_number,
            config,
            catalog,
            books: run.books,
            records: run.records,
            cursor: 0,
            faults: run.faults,
            stats,
            seqs: run.seqs,
            answered: BTreeSet::new(),
        })
    }

    /// The configuration the run was built from.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The next generated event in event-time order, `None` at the end of the run.
    pub fn next_event(&mut self) -> Option<CanonicalEvent> {
        let record = self.records.get(self.cursor)?;
        let event = self.renderer().render(self.cursor as u64, record);
        self.cursor += 1;
        Some(event)
    }

    /// Generated events not yet read.
    pub fn remaining(&self) -> usize {
        self.records.len() - self.cursor
    }

    /// The exceptions the detector should open, in the order their counts happen.
    pub fn ground_truth(&self) -> &[Fault] {
        &self.faults
    }

    /// Size of the run.
    pub fn stats(&self) -> &SimStats {
        &self.stats
    }

    /// What the shelf held at `time` (after every movement at or before it): the quantity a
    /// counter would find. `None` for an unknown site, SKU or location.
    pub fn physical_qty(&self, site: &str, sku: &str, location: &str, time: i64) -> Option<i64> {
        let book = &self.books[self.catalog.find_slot(site, sku, location)?];
        Some(book.level_at(time).map_or(book.phys, |l| l.phys))
    }

    fn renderer(&self) -> Renderer<'_> {
        Renderer { cfg: &self.config, cat: &self.catalog }
    }
}

impl Iterator for Simulator {
    type Item = CanonicalEvent;

    fn next(&mut self) -> Option<CanonicalEvent> {
        self.next_event()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining(), Some(self.remaining()))
    }
}

impl ExactSizeIterator for Simulator {}

fn stats(cfg: &SimConfig, cat: &Catalog, run: &generate::Generated) -> SimStats {
    let mut events_by_topic = BTreeMap::new();
    for record in &run.records {
        *events_by_topic.entry(record.body.topic().name().to_owned()).or_insert(0) += 1;
    }
    let storage = cat.storage_slots().count() as u64;
    let counted = cat
        .slots
        .iter()
        .zip(&run.books)
        .filter(|(slot, book)| slot.kind == SlotKind::Storage && book.last_count_seq > 0)
        .count() as u64;
    SimStats {
        sites: cfg.sites,
        skus_per_site: cfg.skus_per_site,
        storage_locations: storage,
        counted_locations: counted,
        events: run.records.len() as u64,
        events_by_topic,
        faults_injected: run.injected.iter().map(|(k, n)| (k.as_str().to_owned(), *n)).collect(),
        expected_exceptions: run.faults.len() as u64,
        start_time: cfg.start_time,
        end_time: cfg.end_time(),
    }
}
