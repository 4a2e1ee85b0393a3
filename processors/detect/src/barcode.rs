//! BARCODE_MISMATCH: what a scanner read differs from what was expected, or cannot be read.
//!
//! Rules, on `wh.scan`:
//! - `BM-001` a scan that differs from its task's expectation: the scanned GTIN, lot or location
//!   differs from `expected_gtin`, `expected_lot` or `expected_location_id` (subtypes
//!   `ITEM_MISMATCH`, `LOT_MISMATCH`, `LOCATION_MISMATCH`, checked in that order), or the
//!   scanner itself reported `MISMATCH` (subtype `MISMATCH`). Subject `sku|task|subtype`
//!   (`sku|location|subtype` without a task); observed = mismatching scans so far; a
//!   RECOUNT_TASK verifies the location. The device blocks the confirmation itself; invex
//!   records and routes it.
//! - `BM-002` a GTIN the item master does not know: the scanner reported `UNKNOWN_ITEM`, or
//!   the item master (`md.item`) lists GTINs for the SKU and not the scanned one. Subtype
//!   `UNKNOWN_GTIN`, subject `sku|gtin`, owner `master_data_owner`, root cause MASTER_DATA, an
//!   IT_INCIDENT to the master-data group.
//! - `BM-003` `no_read_threshold` no-reads of one item at one location within
//!   `no_read_window_minutes` of event time (no-reads up to a day late count where they
//!   belong): subtype
//!   `REPEATED_NO_READ`, subject `sku|location`, a QUALITY_REVIEW (check or replace the label).
//!
//! State: `bm.noread` (item ++ location -> no-read times, kept for the window plus a day of
//! lateness behind the newest, at most 1000).
//! Poison: a scan with a negative quantity or an empty location.
//!
//! Policy keys (`[barcode_mismatch]`, overridable): `no_read_threshold`,
//! `no_read_window_minutes`, `mismatch_severity`, `unknown_gtin_severity`,
//! `no_read_severity`, `owner`, `master_data_owner`, `ops_group`, `master_data_group`.

use std::collections::BTreeMap;

use invex_model::{
    ActionType, CanonicalEvent, ExceptionType, RootCause, RootCauseCategory, ScanEvent, ScanResult,
};

use crate::cycle_count::{self, item_key};
use crate::detector::{Ctx, Detector, FiredTimer, Table};
use crate::error::DetectError;
use crate::exceptions::{self, ActionPlan, Finding, SubjectRef};
use crate::expiry::{StoreTtl, Ttl};
use crate::key::Key;
use crate::policy::{BarcodeMismatchPolicy, Scope};
use crate::store::{StoreName, join};

/// No-read times (and event ids) per item and location. TTL 7 days: nothing deletes a key,
/// and the rule looks back at most the window (at most a day by policy validation) plus a day
/// of lateness; 7 days is also the dedupe horizon, beyond which the engine no longer promises
/// anything about a late event.
const NO_READ: Table<Vec<(i64, String)>> = Table::expiring(StoreName("bm.noread"), Ttl::days(7));
/// How late (event time) a no-read may arrive and still count in its window.
const LATE_MS: i64 = 86_400_000;
/// Most no-reads kept per item and location (the oldest go first).
const MAX_NO_READS: usize = 1_000;
const RULE_MISMATCH: &str = "BM-001";
const RULE_UNKNOWN: &str = "BM-002";
const RULE_NO_READ: &str = "BM-003";
const TYPE: ExceptionType = ExceptionType::BarcodeMismatch;

const STORES: [StoreName; 6] =
    join(&[&[NO_READ.name(), cycle_count::STORES[0]], &crate::governance::GOVERNED]);

/// This detector's own stores.
pub(crate) const OWN_STORES: [StoreTtl; 1] = [NO_READ.spec()];

/// The barcode-mismatch detector; its parameters come from the policy.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BarcodeMismatch;

impl Detector for BarcodeMismatch {
    fn name(&self) -> &'static str {
        "bm"
    }

    fn stores(&self) -> &'static [StoreName] {
        &STORES
    }

    fn validate(&self, event: &CanonicalEvent, _ctx: &Ctx<'_>) -> Result<(), DetectError> {
        let CanonicalEvent::Scan(s) = event else { return Ok(()) };
        if s.quantity < 0 {
            return Err(DetectError::invalid(
                event,
                format!("quantity {} is negative", s.quantity),
            ));
        }
        if s.location_id.trim().is_empty() {
            return Err(DetectError::invalid(event, "location_id is empty"));
        }
        Ok(())
    }

    fn process(&mut self, event: &CanonicalEvent, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        let CanonicalEvent::Scan(s) = event else { return Ok(()) };
        let h = &s.header;
        let item = cycle_count::item(ctx, &h.tenant_id, &h.site_id, &s.sku)?;
        let scope = Scope {
            tenant: &h.tenant_id,
            site: &h.site_id,
            class: item.class.as_deref(),
            sku: &s.sku,
        };
        let p = ctx.policy().barcode_mismatch(&scope).settings;
        match s.scan_result {
            ScanResult::NoRead => return no_read(ctx, s, &p),
            ScanResult::UnknownItem => return unknown_gtin(ctx, s, &p),
            ScanResult::Ok | ScanResult::Mismatch => {}
        }
        let master = crate::master::facts(ctx, &h.tenant_id, &h.site_id, &s.sku)?;
        let known =
            |g: &String| master.as_ref().is_none_or(|m| m.gtins.is_empty() || m.gtins.contains(g));
        if s.gtin.as_ref().is_some_and(|g| !known(g)) {
            return unknown_gtin(ctx, s, &p);
        }
        match mismatch(s) {
            Some(subtype) => open_mismatch(ctx, s, &p, subtype),
            None => Ok(()),
        }
    }

    fn on_timer(&mut self, timer: &FiredTimer, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        match timer.key.split_first() {
            Some((&exceptions::PURGE, key)) => exceptions::purge(ctx, key),
            _ => Ok(()),
        }
    }
}

/// The first expectation the scan contradicts.
fn mismatch(s: &ScanEvent) -> Option<&'static str> {
    let differs = |want: &Option<String>, got: Option<&str>| {
        want.as_deref().zip(got).is_some_and(|(w, g)| !w.trim().eq_ignore_ascii_case(g.trim()))
    };
    if differs(&s.expected_gtin, s.gtin.as_deref()) {
        Some("ITEM_MISMATCH")
    } else if differs(&s.expected_lot, s.lot.as_deref()) {
        Some("LOT_MISMATCH")
    } else if differs(&s.expected_location_id, Some(&s.location_id)) {
        Some("LOCATION_MISMATCH")
    } else if s.scan_result == ScanResult::Mismatch {
        Some("MISMATCH")
    } else {
        None
    }
}

fn base(s: &ScanEvent, text: String, rule: &'static str, subtype: &str, note: String) -> Finding {
    let h = &s.header;
    let subject = SubjectRef {
        tenant: h.tenant_id.clone(),
        site: h.site_id.clone(),
        sku: s.sku.clone(),
        kind: TYPE,
        text,
    };
    let mut correlation = BTreeMap::new();
    if let Some(task) = &s.task_id {
        correlation.insert("task_id".to_owned(), task.clone());
    }
    let mut details = BTreeMap::new();
    details.insert("raw_barcode".to_owned(), s.raw_barcode.clone());
    Finding {
        subject,
        rule,
        subtype: Some(subtype.to_owned()),
        location: Some(s.location_id.clone()),
        lot: s.lot.clone(),
        at: h.event_time,
        opening_event: h.event_id.clone(),
        quantities: exceptions::quantities(0, 1, None, "SCAN"),
        valuation: exceptions::valuation(0, 0.0, crate::cycle_count::NO_CURRENCY),
        severity: 0,
        owner: invex_model::OwnerTeam::Ops,
        root_cause: None,
        inputs: vec![h.event_id.clone()],
        correlation,
        details,
        note,
        actions: Vec::new(),
        update_actions: Vec::new(),
        approval: None,
    }
}

/// Counts one more occurrence on the open exception of the subject, if any.
fn counted(ctx: &Ctx<'_>, f: &mut Finding) -> Result<(), DetectError> {
    if let Some(case) = exceptions::find_open(ctx, &f.subject)? {
        let seen = case.record.quantities.observed.unwrap_or(0);
        f.quantities = exceptions::quantities(0, seen + 1, None, "SCAN");
    }
    Ok(())
}

fn open_mismatch(
    ctx: &mut Ctx<'_>,
    s: &ScanEvent,
    p: &BarcodeMismatchPolicy,
    subtype: &str,
) -> Result<(), DetectError> {
    let scope = s.task_id.as_deref().unwrap_or(&s.location_id);
    let text = format!("{}|{scope}|{subtype}", s.sku);
    let expected = [&s.expected_gtin, &s.expected_lot, &s.expected_location_id]
        .iter()
        .filter_map(|v| v.as_deref())
        .collect::<Vec<_>>()
        .join("/");
    let note = format!("scanned {} where the task expected {expected}", s.raw_barcode);
    let mut f = base(s, text, RULE_MISMATCH, subtype, note);
    counted(ctx, &mut f)?;
    f.severity = p.mismatch_severity;
    f.owner = p.owner;
    f.root_cause = Some(cause(RootCauseCategory::Process, "WRONG_SCAN", f.note.clone()));
    f.actions = vec![
        ActionPlan::new(ActionType::RecountTask, &p.ops_group)
            .detail("count_type", "DEMAND")
            .detail("blind", "true")
            .detail("count_seq", "1"),
    ];
    exceptions::open_or_update(ctx, f)
}

fn unknown_gtin(
    ctx: &mut Ctx<'_>,
    s: &ScanEvent,
    p: &BarcodeMismatchPolicy,
) -> Result<(), DetectError> {
    let gtin = s.gtin.clone().unwrap_or_else(|| s.raw_barcode.clone());
    let note = format!("GTIN {gtin} is not in the item master of {}", s.sku);
    let mut f = base(s, format!("{}|{gtin}", s.sku), RULE_UNKNOWN, "UNKNOWN_GTIN", note);
    counted(ctx, &mut f)?;
    f.severity = p.unknown_gtin_severity;
    f.owner = p.master_data_owner;
    f.root_cause = Some(cause(RootCauseCategory::MasterData, "GTIN_NOT_IN_MASTER", f.note.clone()));
    f.actions = vec![
        ActionPlan::new(ActionType::ItIncident, &p.master_data_group)
            .detail("gtin", gtin)
            .detail("reason", "UNKNOWN_GTIN"),
    ];
    exceptions::open_or_update(ctx, f)
}

fn no_read(ctx: &mut Ctx<'_>, s: &ScanEvent, p: &BarcodeMismatchPolicy) -> Result<(), DetectError> {
    let h = &s.header;
    let key = Key::new()
        .raw(&item_key(&h.tenant_id, &h.site_id, &s.sku))
        .str(&s.location_id)
        .into_bytes();
    let mut reads = ctx.get(NO_READ, &key)?.unwrap_or_default();
    let entry = (h.event_time, h.event_id.clone());
    let at = reads.partition_point(|r| r < &entry);
    reads.insert(at, entry);
    let window = p.no_read_window_minutes * 60_000;
    let newest = reads.last().map_or(h.event_time, |r| r.0);
    reads.retain(|r| r.0 > newest.saturating_sub(window.saturating_add(LATE_MS)));
    let excess = reads.len().saturating_sub(MAX_NO_READS);
    reads.drain(..excess);
    let most = densest(&reads, window);
    ctx.put(NO_READ, &key, &reads)?;
    if i64::try_from(most.len()).unwrap_or(i64::MAX) < p.no_read_threshold {
        return Ok(());
    }
    let note = format!(
        "{} no-reads at {} within {} minutes",
        most.len(),
        s.location_id,
        p.no_read_window_minutes
    );
    let text = format!("{}|{}", s.sku, s.location_id);
    let mut f = base(s, text, RULE_NO_READ, "REPEATED_NO_READ", note);
    f.quantities =
        exceptions::quantities(0, i64::try_from(most.len()).unwrap_or(i64::MAX), None, "SCAN");
    f.inputs = most.iter().map(|r| r.1.clone()).collect();
    f.opening_event = most.first().map_or_else(|| h.event_id.clone(), |r| r.1.clone());
    f.severity = p.no_read_severity;
    f.owner = p.owner;
    f.root_cause = Some(cause(RootCauseCategory::Process, "LABEL_UNREADABLE", f.note.clone()));
    f.actions =
        vec![ActionPlan::new(ActionType::QualityReview, &p.ops_group).detail("check", "RELABEL")];
    exceptions::open_or_update(ctx, f)
}

/// The largest run of reads (time order) that fits in one window.
fn densest(reads: &[(i64, String)], window: i64) -> &[(i64, String)] {
    let mut best = &reads[..0];
    let mut start = 0;
    for end in 0..reads.len() {
        while reads[end].0.saturating_sub(reads[start].0) >= window {
            start += 1;
        }
        if end + 1 - start > best.len() {
            best = &reads[start..=end];
        }
    }
    best
}

fn cause(category: RootCauseCategory, code: &str, signal: String) -> RootCause {
    RootCause { category, code: code.to_owned(), confidence: 0.6, signals: vec![signal] }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(times: &[i64]) -> Vec<(i64, String)> {
        times.iter().map(|t| (*t, format!("e{t}"))).collect()
    }

    #[test]
    fn densest_run_fits_in_one_window() {
        let r = reads(&[0, 5, 9, 10, 30]);
        assert_eq!(densest(&r, 10).len(), 3, "0, 5, 9 (10 is a full window after 0)");
        assert_eq!(densest(&r, 11).len(), 4);
        assert!(densest(&[], 10).is_empty());
    }
}
