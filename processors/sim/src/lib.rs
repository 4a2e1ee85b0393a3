//! invex-sim: a seeded warehouse simulator that knows the truth.
//!
//! It produces the canonical events of a shift at one or more sites: item master, ERP book
//! snapshots, ASN lines, receipts against them and their ERP postings and acknowledgements,
//! putaways, picks (with their scans), cycle counts. It injects faults of every exception
//! type at the rates of domain research §11 (see [`FaultKind`] and [`FaultRates`]) and
//! records, for every exception the detectors should open, what they should find
//! ([`Fault`]): type, subject as the detector keys it, expected root cause and the fault's
//! event time. A fault that legitimately causes exceptions of several types (a lost posting:
//! a sync failure and a count discrepancy) is listed once per exception. [`Simulator::respond`]
//! closes the loop the way a warehouse would: cycle-count recount tasks get recounts, approval
//! requests get decisions (a rejection is then closed by a RESOLVE), stock adjustments get the
//! ERP's acknowledgement. [`evaluate`] scores the detectors' exceptions against the truth.
//!
//! Invariants and why they hold:
//! - Determinism: one seed, one stream. All randomness is one ChaCha generator drawn in a
//!   fixed order (transport disturbances use a second one); collections are vectors and
//!   `BTreeMap`s; no clock is read. Answers to actions never draw from a generator, so
//!   closing the loop does not change the stream.
//! - Event-time order: the whole run is simulated in [`Simulator::new`] from a time-ordered
//!   queue; events are delivered in event-time order except the transport's late picks,
//!   which arrive 61-120 s late where that is within every detector's tolerance (see the
//!   delivery module), and its duplicates and retries, which the detectors must drop.
//! - Physical consistency: the shelf never goes negative; a pick takes what is there. The WMS
//!   book (and so the detector's) goes below zero only through a pick fault (and then the
//!   truth says so); the ERP book never does, so every event passes the normalize checks.
//! - Faithful truth: each rule the truth depends on (count tolerance and root cause, the sync
//!   rule's settle window and in-flight postings, ghost stock, no-read threshold) is mirrored
//!   from the detectors' contract with the default policy, so correct detectors score
//!   precision and recall 1.0 (`tests/detect.rs` checks it on a benchmark run).
//! - Ground truth and the physical history are complete once `new` returns; events are kept
//!   compact and rendered when read.

mod books;
mod catalog;
mod config;
mod delivery;
mod eval;
mod generate;
mod inject;
mod picking;
mod postings;
mod receiving;
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

pub use config::{AbcProfiles, ClassProfile, FaultRates, SimConfig, Transport};
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
    /// Generated events (answers to actions, duplicates and retries not included).
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

/// The ground truth of a run as `invex simulate` writes it and `invex evaluate` reads it:
/// the configuration (seed included, so the run can be reproduced), its size and the
/// exceptions the detectors should open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthFile {
    /// Configuration of the run.
    pub config: SimConfig,
    /// Size of the run.
    pub stats: SimStats,
    /// Ground-truth entries, in the order they were recorded.
    pub faults: Vec<Fault>,
}

/// A simulated run: its events, ground truth and the state needed to answer actions.
#[derive(Debug)]
pub struct Simulator {
    config: SimConfig,
    catalog: Catalog,
    books: Vec<SlotBook>,
    records: Vec<Record>,
    order: Vec<delivery::Delivery>,
    cursor: usize,
    faults: Vec<Fault>,
    stats: SimStats,
    seqs: SourceSeqs,
    answered: BTreeSet<String>,
    /// Approved adjustments by slot: `(decision time, quantity)`.
    adjustments: BTreeMap<usize, Vec<(i64, i64)>>,
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
        let faulted: Vec<bool> = run.books.iter().map(|b| b.locked || b.fault.is_some()).collect();
        let order = delivery::plan(
            config.seed,
            &config.transport,
            &run.records,
            &run.snapshot_times,
            &faulted,
        );
        Ok(Self {
            order,
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
            adjustments: BTreeMap::new(),
        })
    }

    /// The configuration the run was built from.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The next generated event in event-time order, `None` at the end of the run.
    pub fn next_event(&mut self) -> Option<CanonicalEvent> {
        let delivery = *self.order.get(self.cursor)?;
        let record = self.records.get(delivery.record as usize)?;
        let mut event = self.renderer().render(u64::from(delivery.record), record);
        if let (CanonicalEvent::Book(row), crate::record::Body::Book { slot, .. }) =
            (&mut event, record.body)
        {
            row.quantity += self.adjusted(slot as usize, record.time);
        }
        if delivery.copy == delivery::Sending::Retry {
            let h = event.header_mut();
            h.event_id.push_str("-retry");
            h.record_time = h.record_time.saturating_add(5_000);
        }
        self.cursor += 1;
        Some(event)
    }

    /// Event time of the next delivery, `None` at the end of the run: lets a driver merge
    /// the answers of [`Simulator::respond`] into the stream in event-time order.
    pub fn next_event_time(&self) -> Option<i64> {
        let delivery = self.order.get(self.cursor)?;
        self.records.get(delivery.record as usize).map(|r| r.time)
    }

    /// Deliveries not yet read (generated events plus transport duplicates and retries).
    pub fn remaining(&self) -> usize {
        self.order.len() - self.cursor
    }

    /// The exceptions the detector should open, in the order their counts happen.
    pub fn ground_truth(&self) -> &[Fault] {
        &self.faults
    }

    /// Size of the run.
    pub fn stats(&self) -> &SimStats {
        &self.stats
    }

    /// The ground truth with the configuration and size of the run, for a truth file.
    pub fn truth_file(&self) -> TruthFile {
        TruthFile {
            config: self.config.clone(),
            stats: self.stats.clone(),
            faults: self.faults.clone(),
        }
    }

    /// What the shelf held at `time` (after every movement at or before it): the quantity a
    /// counter would find. `None` for an unknown site, SKU or location.
    pub fn physical_qty(&self, site: &str, sku: &str, location: &str, time: i64) -> Option<i64> {
        let book = &self.books[self.catalog.find_slot(site, sku, location)?];
        Some(book.level_at(time).map_or(book.phys, |l| l.phys))
    }

    /// Sum of the adjustments of `slot` approved before `time`.
    fn adjusted(&self, slot: usize, time: i64) -> i64 {
        self.adjustments
            .get(&slot)
            .map_or(0, |list| list.iter().filter(|(at, _)| *at < time).map(|(_, q)| q).sum())
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
