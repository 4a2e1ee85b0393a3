//! Simulator configuration.
//!
//! Every knob has a default (`SimConfig::default()` is the `invex demo` setup: 2 sites, 2000
//! SKUs each, one 8-hour shift, roughly 70k events). Fields deserialize with serde defaults, so
//! a file only names what it changes; unknown fields are errors. [`SimConfig::validate`] reports
//! every problem at once, so that a user fixes a file in one pass.
//!
//! Fault rates default to domain research §11 where it gives one; the three count faults
//! (miscount, misplaced stock, lost putaway posting) are conditional probabilities far above
//! industry rates so that the demo shows a handful in one shift. [`FaultRates::benchmark`]
//! raises the rare kinds so that one shift shows every exception type several times.

use serde::{Deserialize, Serialize};

use crate::SimError;

/// One hour in milliseconds.
const HOUR_MS: i64 = 3_600_000;
/// 9999-12-31T23:59:59Z: keeps every derived time far from overflow.
const LATEST_START_MS: i64 = 253_402_300_799_000;
/// Upper bound of per-hour rates: keeps a run's memory bounded by what a user can mean.
const MAX_PER_HOUR: f64 = 1_000_000.0;

/// Behaviour of one ABC class of items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassProfile {
    /// Share of the SKUs in this class (the three shares are normalised).
    pub sku_share: f64,
    /// Lowest unit cost.
    pub unit_cost_min: f64,
    /// Highest unit cost.
    pub unit_cost_max: f64,
    /// Relative pick and receipt frequency of one SKU of this class.
    pub demand_weight: f64,
    /// Share of this class's storage locations counted once during the run.
    pub count_share: f64,
    /// Largest quantity one pick line asks for.
    pub max_pick_qty: i64,
    /// Smallest stock of a storage location at the start.
    pub initial_stock_min: i64,
    /// Largest stock of a storage location at the start.
    pub initial_stock_max: i64,
}

/// The three ABC classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AbcProfiles {
    /// Fast movers, high value.
    pub a: ClassProfile,
    /// Medium.
    pub b: ClassProfile,
    /// Slow movers, low value.
    pub c: ClassProfile,
}

impl Default for AbcProfiles {
    fn default() -> Self {
        Self {
            a: ClassProfile {
                sku_share: 0.2,
                unit_cost_min: 40.0,
                unit_cost_max: 400.0,
                demand_weight: 10.0,
                count_share: 0.5,
                max_pick_qty: 6,
                initial_stock_min: 80,
                initial_stock_max: 400,
            },
            b: ClassProfile {
                sku_share: 0.3,
                unit_cost_min: 8.0,
                unit_cost_max: 60.0,
                demand_weight: 3.0,
                count_share: 0.3,
                max_pick_qty: 4,
                initial_stock_min: 40,
                initial_stock_max: 200,
            },
            c: ClassProfile {
                sku_share: 0.5,
                unit_cost_min: 0.5,
                unit_cost_max: 12.0,
                demand_weight: 1.0,
                count_share: 0.15,
                max_pick_qty: 3,
                initial_stock_min: 10,
                initial_stock_max: 120,
            },
        }
    }
}

impl AbcProfiles {
    /// The profiles in class order A, B, C.
    pub(crate) fn all(&self) -> [&ClassProfile; 3] {
        [&self.a, &self.b, &self.c]
    }
}

/// Probabilities and rates of the injected faults (domain research §11 where it gives one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultRates {
    /// Probability that a first count of a clean location reports a wrong quantity.
    pub miscount: f64,
    /// Probability that a putaway of a two-location SKU is confirmed to one location but stored
    /// at the other, among putaways where a later count of either location would see it.
    pub misplaced_stock: f64,
    /// Probability that the ERP never receives a putaway's posting, among putaways whose
    /// location is counted after a later ERP snapshot (so the snapshot misses the posting).
    pub sync_lag: f64,
    /// Share of ASN lines received with a quantity variance beyond tolerance (§11: 4 %).
    pub receipt_variance: f64,
    /// Share of those variances that are short (§11: 60/40 short/over).
    pub short_share: f64,
    /// Share of receipt lines that arrive damaged and are refused (§11: 1 %).
    pub damaged_receipt: f64,
    /// Share of receipt lines of a lot past its expiry, refused at the dock.
    pub expired_lot: f64,
    /// Share of receipt lines whose lot label contradicts the ASN's expiry, refused.
    pub lot_expiry_conflict: f64,
    /// Probability that a putaway of a two-location SKU is confirmed at the other location
    /// without a reason (§11: 0.2-0.5 % of all putaways).
    pub wrong_bin_putaway: f64,
    /// Share of pick lines whose scan reads a look-alike item (§11: mis-pick 0.5 %, half of
    /// them the wrong SKU).
    pub wrong_item_scan: f64,
    /// Share of pick lines whose label cannot be read three times in a row.
    pub repeated_no_read: f64,
    /// Share of pick lines with one no-read recovered by a rescan (benign; §11: 0.5-2 %).
    pub single_no_read: f64,
    /// Share of pick lines confirmed twice.
    pub double_confirmation: f64,
    /// Share of pick lines confirmed in cases instead of eaches (§11: 0.05-0.2 %).
    pub uom_error: f64,
    /// Thefts per site and day (shelf stock of an A item gone without a transaction).
    pub thefts_per_site_day: f64,
    /// Share of goods-receipt postings acknowledged 20-90 minutes late (§11: 0.3 %).
    pub ack_lag: f64,
    /// Share of goods-receipt postings never acknowledged (§11: 0.02 %).
    pub lost_posting: f64,
    /// Integration outages per site and day, 5-60 minutes each (§11: 1-2 a month).
    pub outages_per_site_day: f64,
}

impl Default for FaultRates {
    fn default() -> Self {
        Self {
            miscount: 0.02,
            misplaced_stock: 0.25,
            sync_lag: 0.03,
            receipt_variance: 0.04,
            short_share: 0.6,
            damaged_receipt: 0.01,
            expired_lot: 0.002,
            lot_expiry_conflict: 0.003,
            wrong_bin_putaway: 0.03,
            wrong_item_scan: 0.0025,
            repeated_no_read: 0.0005,
            single_no_read: 0.01,
            double_confirmation: 0.001,
            uom_error: 0.001,
            thefts_per_site_day: 2.0,
            ack_lag: 0.003,
            lost_posting: 0.0002,
            outages_per_site_day: 0.05,
        }
    }
}

impl FaultRates {
    /// Rates high enough that one 8-hour shift at two sites shows every exception type
    /// several times: the benchmark the evaluation tests run.
    pub fn benchmark() -> Self {
        Self {
            expired_lot: 0.02,
            lot_expiry_conflict: 0.02,
            wrong_bin_putaway: 0.1,
            wrong_item_scan: 0.002,
            repeated_no_read: 0.001,
            double_confirmation: 0.001,
            uom_error: 0.004,
            thefts_per_site_day: 48.0,
            ack_lag: 0.02,
            lost_posting: 0.01,
            outages_per_site_day: 6.0,
            ..Self::default()
        }
    }

    fn problems(&self) -> Vec<String> {
        let shares = [
            ("miscount", self.miscount),
            ("misplaced_stock", self.misplaced_stock),
            ("sync_lag", self.sync_lag),
            ("receipt_variance", self.receipt_variance),
            ("short_share", self.short_share),
            ("damaged_receipt", self.damaged_receipt),
            ("expired_lot", self.expired_lot),
            ("lot_expiry_conflict", self.lot_expiry_conflict),
            ("wrong_bin_putaway", self.wrong_bin_putaway),
            ("wrong_item_scan", self.wrong_item_scan),
            ("repeated_no_read", self.repeated_no_read),
            ("single_no_read", self.single_no_read),
            ("double_confirmation", self.double_confirmation),
            ("uom_error", self.uom_error),
            ("ack_lag", self.ack_lag),
            ("lost_posting", self.lost_posting),
        ];
        let mut out: Vec<String> = shares
            .into_iter()
            .filter(|(_, x)| !is_share(*x))
            .map(|(name, _)| format!("faults.{name}: must be in [0, 1]"))
            .collect();
        let receipt = self.receipt_variance + self.damaged_receipt + self.expired_lot;
        if receipt + self.lot_expiry_conflict > 1.0 {
            out.push("faults: receipt fault shares add up to more than 1".to_owned());
        }
        let pick = self.wrong_item_scan + self.repeated_no_read + self.single_no_read;
        if pick + self.double_confirmation + self.uom_error > 1.0 {
            out.push("faults: pick fault shares add up to more than 1".to_owned());
        }
        for (name, x) in [
            ("thefts_per_site_day", self.thefts_per_site_day),
            ("outages_per_site_day", self.outages_per_site_day),
        ] {
            if !(is_rate(x) && x <= MAX_PER_HOUR) {
                out.push(format!("faults.{name}: must be in [0, 1000000]"));
            }
        }
        out
    }
}

/// Transport disturbances that must not produce exceptions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Transport {
    /// Share of events delivered twice with the same event id (§11: 0.5 %).
    pub duplicate: f64,
    /// Share of pick confirmations re-sent under a new event id with identical content.
    pub retry: f64,
    /// Share of pick confirmations (edge events) delivered 61-120 s late (§11: 2 %), where
    /// no count, snapshot or other movement of their location falls in that delay.
    pub late: f64,
}

impl Default for Transport {
    fn default() -> Self {
        Self { duplicate: 0.005, retry: 0.002, late: 0.02 }
    }
}

/// Everything the simulator needs; `Default` is the demo setup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Seed of the ChaCha random generator: same seed, same events.
    pub seed: u64,
    /// Tenant owning all stock.
    pub tenant: String,
    /// Number of sites (`DC1`, `DC2`, ...).
    pub sites: u16,
    /// SKUs stocked at every site (one catalogue shared by all sites).
    pub skus_per_site: u32,
    /// Share of SKUs that have a second storage location (reserve) at a site.
    pub two_location_share: f64,
    /// First event time (UTC ms).
    pub start_time: i64,
    /// Simulated duration (ms); no generated event is at or after `start_time + duration_ms`.
    pub duration_ms: i64,
    /// Local offset of every site (`+01:00`).
    pub tz_offset: String,
    /// Currency of unit costs.
    pub currency: String,
    /// ABC classes.
    pub classes: AbcProfiles,
    /// Pick lines per hour and site.
    pub picks_per_hour: f64,
    /// Receipt lines (each followed by a putaway) per hour and site.
    pub receipts_per_hour: f64,
    /// Interval between ERP book snapshots after the one at `start_time` (ms), at least an
    /// hour: longer than the sync rule's settle window, which the ground truth mirrors.
    pub snapshot_interval_ms: i64,
    /// Root-cause movement window of the detector policy (ms), mirrored to compute the root
    /// cause the detector is expected to report.
    pub movement_window_ms: i64,
    /// Injected fault probabilities.
    pub faults: FaultRates,
    /// Transport disturbances (duplicates, retries, late delivery).
    pub transport: Transport,
    /// Whether the loop is closed (`Simulator::respond` answers recounts, approvals and
    /// adjustments): the demo and the evaluation tests. It sets the root cause and resolution a count
    /// discrepancy is expected to end with. Off for traffic produced to a cluster nobody
    /// answers.
    pub close_loop: bool,
    /// Share of approval requests the simulated approver rejects.
    pub approval_reject_share: f64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            tenant: "acme".to_owned(),
            sites: 2,
            skus_per_site: 2000,
            two_location_share: 0.1,
            start_time: 1_767_254_400_000, // 2026-01-01T08:00:00Z
            duration_ms: 8 * HOUR_MS,
            tz_offset: "+01:00".to_owned(),
            currency: "EUR".to_owned(),
            classes: AbcProfiles::default(),
            picks_per_hour: 2500.0,
            receipts_per_hour: 150.0,
            snapshot_interval_ms: 2 * HOUR_MS,
            movement_window_ms: 24 * HOUR_MS,
            faults: FaultRates::default(),
            transport: Transport::default(),
            close_loop: true,
            approval_reject_share: 0.1,
        }
    }
}

impl SimConfig {
    /// End of the simulated interval (exclusive).
    pub fn end_time(&self) -> i64 {
        self.start_time.saturating_add(self.duration_ms)
    }

    /// Checks every field and reports all problems at once.
    pub fn validate(&self) -> Result<(), SimError> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, what: &str| {
            if !ok {
                problems.push(what.to_owned());
            }
        };
        check(
            !self.tenant.is_empty() && !self.tenant.contains('|'),
            "tenant: empty or contains '|'",
        );
        check((1..=99).contains(&self.sites), "sites: must be 1..=99");
        check((1..=99_999).contains(&self.skus_per_site), "skus_per_site: must be 1..=99999");
        check(is_share(self.two_location_share), "two_location_share: must be in [0, 1]");
        check(
            (0..=LATEST_START_MS).contains(&self.start_time),
            "start_time: must be between 1970 and 9999",
        );
        check(
            (60_000..=31 * 24 * HOUR_MS).contains(&self.duration_ms),
            "duration_ms: must be between one minute and 31 days",
        );
        check(!self.tz_offset.is_empty(), "tz_offset: empty");
        check(!self.currency.is_empty(), "currency: empty");
        let per_hour = |x: f64| is_rate(x) && x <= MAX_PER_HOUR;
        check(per_hour(self.picks_per_hour), "picks_per_hour: must be in [0, 1000000]");
        check(per_hour(self.receipts_per_hour), "receipts_per_hour: must be in [0, 1000000]");
        check(
            self.snapshot_interval_ms >= HOUR_MS,
            "snapshot_interval_ms: must be >= one hour (longer than the sync settle window)",
        );
        check(self.movement_window_ms > 0, "movement_window_ms: must be positive");
        let t = &self.transport;
        check(is_share(t.duplicate), "transport.duplicate: must be in [0, 1]");
        check(is_share(t.retry), "transport.retry: must be in [0, 1]");
        check(is_share(t.late), "transport.late: must be in [0, 1]");
        check(is_share(self.approval_reject_share), "approval_reject_share: must be in [0, 1]");
        let shares: f64 = self.classes.all().iter().map(|c| c.sku_share).sum();
        check(shares > 0.0 && shares.is_finite(), "classes: sku shares must add up to more than 0");
        problems.extend(self.faults.problems());
        for (name, class) in ["a", "b", "c"].into_iter().zip(self.classes.all()) {
            for problem in class_problems(class) {
                problems.push(format!("classes.{name}.{problem}"));
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(SimError::InvalidConfig(problems)) }
    }
}

fn is_share(x: f64) -> bool {
    (0.0..=1.0).contains(&x)
}

fn is_rate(x: f64) -> bool {
    x.is_finite() && x >= 0.0
}

fn class_problems(c: &ClassProfile) -> Vec<&'static str> {
    let checks = [
        (is_rate(c.sku_share), "sku_share: must be finite and >= 0"),
        (
            is_rate(c.unit_cost_min)
                && c.unit_cost_min <= c.unit_cost_max
                && c.unit_cost_max.is_finite(),
            "unit_cost_min/max: need 0 <= min <= max",
        ),
        (is_rate(c.demand_weight), "demand_weight: must be finite and >= 0"),
        (is_share(c.count_share), "count_share: must be in [0, 1]"),
        (c.max_pick_qty >= 1, "max_pick_qty: must be >= 1"),
        (
            0 <= c.initial_stock_min && c.initial_stock_min <= c.initial_stock_max,
            "initial_stock_min/max: need 0 <= min <= max",
        ),
    ];
    checks.into_iter().filter(|(ok, _)| !ok).map(|(_, what)| what).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        assert_eq!(SimConfig::default().validate(), Ok(()));
    }

    #[test]
    fn every_problem_is_reported() {
        let mut cfg = SimConfig { sites: 0, tenant: "a|b".to_owned(), ..SimConfig::default() };
        cfg.faults.sync_lag = 2.0;
        cfg.classes.b.max_pick_qty = 0;
        let Err(SimError::InvalidConfig(problems)) = cfg.validate() else {
            panic!("invalid config accepted");
        };
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems.iter().any(|p| p.starts_with("classes.b.max_pick_qty")));
    }

    #[test]
    fn partial_json_uses_defaults_and_rejects_unknown_fields() {
        let cfg: SimConfig = serde_json::from_str(r#"{"seed": 7, "sites": 1}"#).unwrap();
        assert_eq!((cfg.seed, cfg.sites, cfg.skus_per_site), (7, 1, 2000));
        assert!(serde_json::from_str::<SimConfig>(r#"{"sedd": 7}"#).is_err());
    }
}
