//! Partial records of two tasks, summed, equal the records of one task fed everything.

use std::collections::BTreeMap;

use invex_model::{
    AuditRecord, Decision, ExceptionRecord, ExceptionStatus, ExceptionType, KpiRecord,
    RootCauseCategory,
};
use proptest::prelude::*;

use super::{Exc, HOUR, MIN, T0, Task, evaluation};
use crate::kpi::histogram::quantile;

const SITES: [&str; 2] = ["DC1", "DC2"];
const TYPES: [ExceptionType; 3] = [
    ExceptionType::CycleCountDiscrepancy,
    ExceptionType::NegativeOnHand,
    ExceptionType::SyncFailure,
];
const CAUSES: [Option<RootCauseCategory>; 3] =
    [None, Some(RootCauseCategory::Process), Some(RootCauseCategory::SystemSync)];

/// One input of a task, at its event time.
#[derive(Debug, Clone)]
enum Input {
    Exception(Box<ExceptionRecord>),
    Audit(Box<AuditRecord>),
}

impl Input {
    fn at(&self) -> i64 {
        match self {
            Self::Exception(r) => r.updated_at,
            Self::Audit(r) => r.at,
        }
    }
}

/// (site, type, opened minute, minutes to resolve (none: stays open), value in cents, USD or
/// EUR, cause).
type Plan = (usize, usize, i64, Option<i64>, i64, bool, usize);

fn inputs(plans: &[Plan], counts: &[(usize, bool, i64)]) -> Vec<(usize, Input)> {
    let mut all = Vec::new();
    for (i, &(site, kind, opened, ttr, cents, usd, cause)) in plans.iter().enumerate() {
        let currency = if usd { "USD" } else { "EUR" };
        let e = Exc::new(&format!("e{i}"), T0 + opened * MIN)
            .site(SITES[site])
            .kind(TYPES[kind])
            .value(cents as f64 / 100.0, currency)
            .cause(CAUSES[cause]);
        all.push((i, Input::Exception(Box::new(e.opened()))));
        if let Some(ttr) = ttr {
            let resolved = e.v(2, ExceptionStatus::Resolved, e.opened_at + ttr * MIN);
            all.push((i, Input::Exception(Box::new(resolved))));
        }
    }
    for (i, &(site, hit, offset)) in counts.iter().enumerate() {
        let audit =
            evaluation(&format!("c{i}"), SITES[site], Decision::Opened, hit, 1, T0 + offset);
        all.push((i, Input::Audit(Box::new(audit))));
    }
    all.sort_by_key(|(_, input)| input.at());
    all
}

fn run(inputs: &[&Input], task: i32) -> Vec<KpiRecord> {
    let mut t = Task::new(task);
    let mut out = Vec::new();
    for input in inputs {
        match input {
            Input::Exception(r) => t.exc(r),
            Input::Audit(r) => t.audit(r),
        };
        out.extend(t.advance(input.at()));
    }
    out.extend(t.advance(T0 + 40 * HOUR));
    out
}

fn add(into: &mut Vec<i64>, from: &[i64]) {
    into.resize(into.len().max(from.len()), 0);
    into.iter_mut().zip(from).for_each(|(a, b)| *a += b);
}

/// Sums partial records per (tenant, site, type, window), as a consumer of the topic would.
fn merge(records: Vec<KpiRecord>) -> BTreeMap<(String, String, ExceptionType, i64), KpiRecord> {
    let mut merged: BTreeMap<_, KpiRecord> = BTreeMap::new();
    for r in records {
        let key = (r.tenant_id.clone(), r.site_id.clone(), r.exception_type, r.window_start);
        let Some(m) = merged.get_mut(&key) else {
            merged.insert(key, r);
            continue;
        };
        m.opened += r.opened;
        m.resolved += r.resolved;
        m.open_backlog += r.open_backlog;
        m.oldest_open_age_ms = m.oldest_open_age_ms.max(r.oldest_open_age_ms);
        add(&mut m.open_age.counts, &r.open_age.counts);
        m.open_age.sum_ms += r.open_age.sum_ms;
        add(&mut m.time_to_resolve.counts, &r.time_to_resolve.counts);
        m.time_to_resolve.sum_ms += r.time_to_resolve.sum_ms;
        m.value_at_risk.extend(r.value_at_risk);
        m.root_causes.extend(r.root_causes);
        m.count_evaluations += r.count_evaluations;
        m.count_hits += r.count_hits;
    }
    merged.into_iter().map(|(key, r)| (key, normalise(r))).collect()
}

/// Sums money and root causes per currency and category, recomputes the percentile
/// estimates from the (summed) buckets, and blanks the task.
fn normalise(mut r: KpiRecord) -> KpiRecord {
    let mut money: BTreeMap<String, i64> = BTreeMap::new();
    for m in &r.value_at_risk {
        *money.entry(m.currency.clone()).or_default() += (m.amount * 1e6).round() as i64;
    }
    r.value_at_risk = money
        .into_iter()
        .map(|(currency, micros)| invex_model::MoneyAmount { currency, amount: micros as f64 })
        .collect();
    let mut causes: BTreeMap<RootCauseCategory, i64> = BTreeMap::new();
    for c in &r.root_causes {
        *causes.entry(c.category).or_default() += c.count;
    }
    r.root_causes = causes
        .into_iter()
        .map(|(category, count)| invex_model::RootCauseCount { category, count })
        .collect();
    for h in [&mut r.open_age, &mut r.time_to_resolve] {
        h.p50_ms = quantile(&h.counts, 0.5);
        h.p90_ms = quantile(&h.counts, 0.9);
        h.p99_ms = quantile(&h.counts, 0.99);
    }
    r.task = 0;
    r
}

fn plan() -> impl Strategy<Value = Plan> {
    (0..2_usize, 0..3_usize, 0..480_i64, proptest::option::of(0..600_i64), -50_000..50_000_i64)
        .prop_flat_map(|(site, kind, opened, ttr, cents)| {
            (Just((site, kind, opened, ttr, cents)), any::<bool>(), 0..3_usize)
        })
        .prop_map(|((site, kind, opened, ttr, cents), usd, cause)| {
            (site, kind, opened, ttr, cents, usd, cause)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn two_tasks_summed_equal_one_task_fed_everything(
        plans in proptest::collection::vec(plan(), 1..30),
        counts in proptest::collection::vec((0..2_usize, any::<bool>(), 0..(480 * MIN)), 0..20),
    ) {
        let all = inputs(&plans, &counts);
        let everything: Vec<&Input> = all.iter().map(|(_, input)| input).collect();
        let even: Vec<&Input> = all.iter().filter(|(i, _)| i % 2 == 0).map(|(_, x)| x).collect();
        let odd: Vec<&Input> = all.iter().filter(|(i, _)| i % 2 == 1).map(|(_, x)| x).collect();
        let single = merge(run(&everything, 0));
        let mut partial = run(&even, 0);
        partial.extend(run(&odd, 1));
        let summed = merge(partial);
        prop_assert!(!single.is_empty());
        prop_assert_eq!(summed, single);
    }
}
