//! A new policy on a running deployment: an instance restarted with another policy file keeps
//! its state (open exceptions, timers, baselines) and decides from then on with the new
//! thresholds, stamping the new version on every record. Modelled as what a restart does to a
//! task: a new engine on the same store.

use std::sync::Arc;

use invex_detect::{Engine, MemStore, Outputs, Policy};
use invex_model::{CanonicalEvent, ExceptionType};
use invex_sim::{FaultRates, SimConfig, Simulator};

/// The shipped default policy file, as text.
fn default_text() -> String {
    let root = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    std::fs::read_to_string(root.join("processors/detect/policy/default.toml")).unwrap()
}

/// The default policy under another version, plus `extra` TOML appended.
fn relabelled(version: &str, extra: &str) -> Policy {
    let text = default_text();
    let old = Policy::default_policy().version().to_owned();
    let text = text.replace(&format!("version = \"{old}\""), &format!("version = \"{version}\""));
    Policy::from_toml_str(&format!("{text}\n{extra}")).unwrap()
}

fn events() -> Vec<CanonicalEvent> {
    let config = SimConfig {
        sites: 1,
        skus_per_site: 300,
        duration_ms: 8 * 3_600_000,
        faults: FaultRates::benchmark(),
        ..SimConfig::default()
    };
    Simulator::new(config).unwrap().collect()
}

/// Feeds `events` to `engine` on `store` as `invex replay` does; returns what it produced.
fn feed(engine: &mut Engine, events: &[CanonicalEvent], store: &mut MemStore) -> Outputs {
    let mut out = Outputs::default();
    for event in events {
        let clock = event.header().event_time;
        engine.on_wall_clock(clock, store, &mut out).unwrap();
        match engine.process(event, clock, store, &mut out) {
            Err(e) if !e.is_poison() => panic!("the engine stopped: {e}"),
            _ => {}
        }
        engine.loop_back(clock, store, &mut out).unwrap();
    }
    out
}

/// Runs `first` with an engine of the default policy, then `second` with a new engine of
/// `next` on the same store (a restart with a new policy file); returns each part's outputs.
fn run_switching(
    first: &[CanonicalEvent],
    second: &[CanonicalEvent],
    next: Policy,
) -> (Outputs, Outputs) {
    let mut store = MemStore::default();
    let before = feed(&mut Engine::new(Arc::new(Policy::default_policy())), first, &mut store);
    let after = feed(&mut Engine::new(Arc::new(next)), second, &mut store);
    (before, after)
}

/// What one engine of the default policy, never restarted, produces for `second` after
/// `first`.
fn uninterrupted(first: &[CanonicalEvent], second: &[CanonicalEvent]) -> Outputs {
    let (mut store, mut engine) =
        (MemStore::default(), Engine::new(Arc::new(Policy::default_policy())));
    feed(&mut engine, first, &mut store);
    feed(&mut engine, second, &mut store)
}

/// `records` as JSON with the policy version blanked.
fn without_version<T: serde::Serialize>(records: &[T]) -> Vec<String> {
    records
        .iter()
        .map(|r| {
            let mut value = serde_json::to_value(r).unwrap();
            value["policy_version"] = serde_json::Value::Null;
            value.to_string()
        })
        .collect()
}

#[test]
fn a_new_policy_version_loses_no_state_and_stamps_every_later_record() {
    let events = events();
    let (first, second) = events.split_at(events.len() / 2);
    let same = uninterrupted(first, second);
    let (_, relabelled) = run_switching(first, second, relabelled("2026.2-relabelled", ""));
    assert!(!same.exceptions.is_empty(), "the second half must decide something");
    // Same thresholds under a new version: exactly the outputs of a run that never stopped,
    // so the switch lost no state.
    assert_eq!(without_version(&relabelled.exceptions), without_version(&same.exceptions));
    assert_eq!(without_version(&relabelled.actions), without_version(&same.actions));
    assert_eq!(without_version(&relabelled.audit), without_version(&same.audit));
    let versions = relabelled
        .exceptions
        .iter()
        .map(|e| &e.policy_version)
        .chain(relabelled.actions.iter().map(|a| &a.policy_version))
        .chain(relabelled.audit.iter().map(|a| &a.policy_version));
    assert!(versions.into_iter().all(|v| v == "2026.2-relabelled"));
}

#[test]
fn a_changed_threshold_decides_the_records_after_the_switch() {
    let events = events();
    let (first, second) = events.split_at(events.len() / 2);
    let severity_one = "[[overrides]]\nname = \"noh-critical\"\ntenant = \"acme\"\n\
                        [overrides.negative_on_hand]\nseverity = 1\n";
    let (before, after) = run_switching(first, second, relabelled("2026.2-noh", severity_one));
    let noh = |out: &Outputs| -> Vec<i32> {
        out.exceptions
            .iter()
            .filter(|e| e.exception_type == ExceptionType::NegativeOnHand && e.version == 1)
            .map(|e| e.severity)
            .collect()
    };
    let (opened_before, opened_after) = (noh(&before), noh(&after));
    assert!(!opened_before.is_empty() && !opened_after.is_empty(), "NOH opens in both halves");
    assert!(opened_before.iter().all(|s| *s != 1), "the default severity before");
    assert!(opened_after.iter().all(|s| *s == 1), "the new severity after: {opened_after:?}");
}
