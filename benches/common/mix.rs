//! The realistic event mix every micro-bench reads: one seeded simulator shift plus the
//! companion events of the systems the simulator leaves out.
//!
//! The simulator (invex-sim) produces item master, ERP book snapshots, receipts, putaways,
//! picks and counts. Half the detectors also read scans, ASN lines, order allocations and
//! integration acknowledgements, so [`companions`] derives those from the simulated events
//! the way the surrounding systems would send them (an ASN before each receipt, the ERP's
//! acknowledgement after it, an allocation and a barcode scan before each pick). Everything
//! is a pure function of the seed: every run of every bench sees the same events, in
//! event-time order, generated before anything is measured.

mod companions;

use invex_model::CanonicalEvent;
use invex_sim::{SimConfig, Simulator};

/// Seed of the simulated shift (the demo's default).
const SEED: u64 = 42;
/// Sites simulated; a detect task owns one partition, and one site keeps the key space of
/// the mix the size a single task sees.
const SITES: u16 = 1;
/// Simulated hours: two hours of the demo's default rates (2,500 picks and 150 receipts an
/// hour) after the opening item master and book snapshot of 2,000 SKUs.
const HOURS: i64 = 2;

/// The canonical events of the simulated shift with their companions, in event-time order.
pub(crate) fn shift() -> Vec<CanonicalEvent> {
    let config = SimConfig {
        seed: SEED,
        sites: SITES,
        duration_ms: HOURS * 3_600_000,
        ..SimConfig::default()
    };
    let simulator = Simulator::new(config).expect("the bench's simulator configuration is valid");
    companions::add(simulator.collect())
}
