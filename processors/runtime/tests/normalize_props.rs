//! No input makes normalize panic: arbitrary bytes, arbitrary JSON, and real vendor payloads
//! with one value anywhere in them replaced by arbitrary JSON. Whatever comes out is either
//! poison with a location, or events whose key and hash are those of the event itself.

use std::sync::LazyLock;

use invex_runtime::normalize::{ContentHash, Normalizer};
use invex_sim::{SimConfig, Simulator, Vendor};
use proptest::prelude::*;
use serde_json::Value;

static NORMALIZER: LazyLock<Normalizer> = LazyLock::new(|| match Normalizer::shipped() {
    Ok(n) => n,
    Err(e) => panic!("{e}"),
});

/// Rendered payloads of a small seeded run, every vendor, parsed back to JSON.
static PAYLOADS: LazyLock<Vec<(Vendor, Value)>> = LazyLock::new(|| {
    let config =
        SimConfig { seed: 5, skus_per_site: 40, duration_ms: 3_600_000, ..SimConfig::default() };
    let sim = Simulator::new(config).unwrap_or_else(|e| panic!("{e}"));
    let mut seen = std::collections::BTreeSet::new();
    sim.filter(|event| seen.insert(event.topic()))
        .flat_map(|event| Vendor::ALL.map(|vendor| (vendor, vendor.render(&event))))
        .map(|(vendor, raw)| (vendor, serde_json::from_slice(&raw).unwrap_or(Value::Null)))
        .collect()
});

/// Normalizes `raw` with every source and checks the outcome is well formed.
fn check_all_sources(raw: &[u8]) -> Result<(), TestCaseError> {
    for vendor in Vendor::ALL {
        match NORMALIZER.normalize(vendor.source_name(), raw) {
            Ok(events) => {
                prop_assert!(!events.is_empty());
                for out in events {
                    prop_assert_eq!(&out.key, &out.event.partition_key().to_string());
                    prop_assert_eq!(out.content_hash, ContentHash::of(&out.event));
                }
            }
            Err(e) => {
                prop_assert!(e.is_poison(), "{}", e);
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }
    Ok(())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop_oneof![
            Just("ZWMRCPT".to_owned()),
            Just("inbound.receipt.confirmed".to_owned()),
            Just("20260101".to_owned()),
            Just("12.000-".to_owned()),
            Just("2026-01-01T08:00:00Z".to_owned()),
            any::<String>(),
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replaces the value at a path chosen by `choices` (one number per level) with `with`.
fn replace_somewhere(doc: &mut Value, choices: &[usize], with: Value) {
    let Some((choice, rest)) = choices.split_first() else {
        *doc = with;
        return;
    };
    match doc {
        Value::Object(map) if !map.is_empty() => {
            let len = map.len();
            if let Some(inner) = map.values_mut().nth(choice % len) {
                replace_somewhere(inner, rest, with);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let len = items.len();
            replace_somewhere(&mut items[choice % len], rest, with);
        }
        _ => *doc = with,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(raw in prop::collection::vec(any::<u8>(), 0..256)) {
        check_all_sources(&raw)?;
    }

    #[test]
    fn arbitrary_json_never_panics(doc in json_value()) {
        check_all_sources(&serde_json::to_vec(&doc).unwrap_or_default())?;
    }

    #[test]
    fn vendor_payloads_with_one_value_replaced_never_panic(
        index in any::<prop::sample::Index>(),
        choices in prop::collection::vec(any::<usize>(), 0..6),
        with in json_value(),
    ) {
        let mut doc = index.get(&PAYLOADS).1.clone();
        replace_somewhere(&mut doc, &choices, with);
        check_all_sources(&serde_json::to_vec(&doc).unwrap_or_default())?;
    }
}
