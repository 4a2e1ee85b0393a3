//! Unit tests: one per expression kind and per error kind, each asserting the field path.

use std::fmt::Write as _;

use invex_model::{CanonicalEvent, CountType, ErrorClass};
use serde_json::{Value, json};

use super::*;

const HEADER: &[(&str, &str)] = &[
    ("header.event_id", r#""/id""#),
    ("header.event_time", r#"{ rfc3339 = "/at" }"#),
    ("header.event_tz_offset", r#"{ const = "+00:00" }"#),
    ("header.record_time", r#"{ epoch_millis = "/sent" }"#),
    ("header.tenant_id", r#"{ const = "t1" }"#),
    ("header.site_id", r#""/site""#),
    ("header.source_system", r#"{ const = "WMS" }"#),
    ("header.source_seq", r#"{ const = 1 }"#),
    ("header.action", r#"{ const = "OBSERVE" }"#),
    ("header.biz_step", r#"{ const = "cycle_counting" }"#),
];

const COUNT: &[(&str, &str)] = &[
    ("count_doc_id", r#""/doc""#),
    ("count_type", r#"{ const = "ABC" }"#),
    ("count_seq", r#"{ const = 1 }"#),
    ("blind", r#"{ const = true }"#),
    ("location_id", r#""/loc""#),
    ("sku", r#""/sku""#),
    ("counted_qty", r#""/qty""#),
    ("uom", r#"{ const = "EA" }"#),
    ("freeze_time", r#"{ rfc3339 = "/at" }"#),
];

const START: i64 = 1_767_254_400_000; // 2026-01-01T08:00:00Z

/// A one-kind source (`when = "k"`) for `event` with `fields` over the base `fields`.
pub(super) fn source_text(event: &str, base: &[(&str, &str)], over: &[(&str, &str)]) -> String {
    let mut text = String::from(
        "name = \"t\"\ntopic = \"raw.t\"\nformat = \"json\"\ndiscriminator = \"/type\"\n",
    );
    text.push_str("[envelope]\n");
    for (key, rule) in HEADER {
        let _ = writeln!(text, "{key} = {rule}");
    }
    let _ = writeln!(text, "[kinds.k]\nwhen = \"k\"\nevent = \"{event}\"");
    if let Some((_, split)) = over.iter().chain(base).find(|(k, _)| *k == "(split)") {
        let _ = writeln!(text, "split = {split}");
    }
    text.push_str("[kinds.k.fields]\n");
    let fields = base.iter().filter(|(k, _)| !over.iter().any(|(o, _)| o == k));
    for (key, rule) in fields.chain(over).filter(|(k, _)| *k != "(split)") {
        let _ = writeln!(text, "{key} = {rule}");
    }
    text
}

fn normalizer(event: &str, base: &[(&str, &str)], over: &[(&str, &str)]) -> Normalizer {
    let text = source_text(event, base, over);
    match Normalizer::from_files([("t.toml", text.as_str())]) {
        Ok(n) => n,
        Err(e) => panic!("{e}\n{text}"),
    }
}

fn count_doc(extra: Value) -> Vec<u8> {
    let mut doc = json!({
        "type": "k", "id": "e1", "at": "2026-01-01T08:00:00Z", "sent": START + 150,
        "site": "DC1", "doc": "CC-1", "loc": "A-01", "sku": "SKU-1", "qty": 5
    });
    for (key, value) in extra.as_object().into_iter().flatten() {
        doc[key] = value.clone();
    }
    serde_json::to_vec(&doc).unwrap()
}

fn count(n: &Normalizer, extra: Value) -> Result<invex_model::CountEvent, NormalizeError> {
    let mut out = n.normalize("t", &count_doc(extra))?;
    assert_eq!(out.len(), 1);
    match out.remove(0).event {
        CanonicalEvent::Count(c) => Ok(c),
        other => panic!("{other:?}"),
    }
}

fn failure(n: &Normalizer, raw: &[u8]) -> NormalizeError {
    let err = n.normalize("t", raw).unwrap_err();
    assert!(err.is_poison());
    err
}

/// Asserts the error names `field` and `pointer` and its message says so.
fn at(err: &NormalizeError, field: Option<&str>, pointer: Option<&str>) {
    assert_eq!(err.location.field.as_deref(), field, "{err}");
    assert_eq!(err.location.pointer.as_deref(), pointer, "{err}");
    let text = err.to_string();
    assert!(text.starts_with("source `t`"), "{text}");
    if let Some(field) = field {
        assert!(text.contains(&format!("field `{field}`")), "{text}");
    }
}

#[test]
fn copy_and_const_build_the_event_and_its_key() {
    let n = normalizer("wh.count", COUNT, &[]);
    let out = n.normalize("t", &count_doc(json!({}))).unwrap();
    assert_eq!(out[0].key, "t1|DC1|SKU-1");
    assert_eq!(out[0].key, out[0].event.partition_key().to_string());
    let CanonicalEvent::Count(c) = &out[0].event else { panic!() };
    assert_eq!(
        (c.counted_qty, c.count_type, c.blind, c.lot.as_deref()),
        (5, CountType::Abc, true, None)
    );
    assert_eq!((c.header.event_time, c.header.record_time), (START, START + 150));
    assert_eq!(c.header.tenant_id, "t1");
    assert_eq!(c.header.error_declaration, None);
}

#[test]
fn first_takes_the_first_present_non_null_pointer() {
    let n = normalizer("wh.count", COUNT, &[("lot", r#"{ first = ["/lot/a", "/lot/b"] }"#)]);
    let lot = |extra| count(&n, extra).unwrap().lot;
    assert_eq!(lot(json!({"lot": {"a": null, "b": "L2"}})), Some("L2".into()));
    assert_eq!(lot(json!({"lot": {"a": "L1", "b": "L2"}})), Some("L1".into()));
    assert_eq!(lot(json!({})), None);
    let err = count(&n, json!({"lot": {"a": 7}})).unwrap_err();
    assert!(matches!(err.reason, Reason::WrongType { found: "number", .. }));
    at(&err, Some("lot"), Some("/lot/a"));
}

#[test]
fn number_parses_decimal_text_and_scales_exactly() {
    let n =
        normalizer("wh.count", COUNT, &[("counted_qty", r#"{ number = "/q", factor = 1000 }"#)]);
    assert_eq!(count(&n, json!({"q": "0.012"})).unwrap().counted_qty, 12);
    assert_eq!(count(&n, json!({"q": 0.5})).unwrap().counted_qty, 500);
    assert_eq!(
        count(&n, json!({"q": " 0.003- "})).unwrap_err().reason.error_class(),
        ErrorClass::Validation
    );
    let err = count(&n, json!({"q": "0.0125"})).unwrap_err();
    assert_eq!(
        err.reason,
        Reason::BadNumber { text: "0.0125".into(), why: "not a whole number".into() }
    );
    at(&err, Some("counted_qty"), Some("/q"));
    let err = count(&n, json!({"q": "12,5"})).unwrap_err();
    assert_eq!(
        err.reason,
        Reason::BadNumber { text: "12,5".into(), why: "not a decimal number".into() }
    );
    assert_eq!(err.error_class(), ErrorClass::Deserialization);
    at(&err, Some("counted_qty"), Some("/q"));
}

#[test]
fn epoch_times_in_seconds_and_millis_drop_sub_millisecond_precision() {
    let n = normalizer("wh.count", COUNT, &[("header.record_time", r#"{ epoch_seconds = "/s" }"#)]);
    let record_time = |s: Value| count(&n, json!({ "s": s })).map(|c| c.header.record_time);
    assert_eq!(record_time(json!(1_767_254_400.15)).unwrap(), START + 150);
    assert_eq!(record_time(json!("1767254400.1509")).unwrap(), START + 150);
    let err = record_time(json!("yesterday")).unwrap_err();
    assert!(matches!(err.reason, Reason::BadTime { .. }));
    at(&err, Some("header.record_time"), Some("/s"));
    let n = normalizer("wh.count", COUNT, &[]);
    assert_eq!(
        count(&n, json!({"sent": "1767254400150"})).unwrap().header.record_time,
        START + 150
    );
}

#[test]
fn rfc3339_accepts_offsets_and_names_the_field_when_unparsable() {
    let n = normalizer("wh.count", COUNT, &[]);
    let c = count(&n, json!({"at": "2026-01-01T09:00:00.250+01:00"})).unwrap();
    assert_eq!((c.header.event_time, c.freeze_time), (START + 250, START + 250));
    let err = count(&n, json!({"at": "2026-02-30T08:00:00Z"})).unwrap_err();
    assert_eq!(
        err.reason,
        Reason::BadTime {
            text: "2026-02-30T08:00:00Z".into(),
            why: "day out of range for its month".into()
        }
    );
    at(&err, Some("header.event_time"), Some("/at"));
}

#[test]
fn yyyymmdd_with_time_and_millis_is_a_timestamp_and_zero_date_is_absent() {
    let rule = r#"{ yyyymmdd = "/d", hhmmss = "/t", millis = "/ms" }"#;
    let n = normalizer(
        "wh.count",
        COUNT,
        &[("freeze_time", rule), ("wms_book_qty_at_freeze", r#""/b""#)],
    );
    let freeze = |extra| count(&n, extra).map(|c| c.freeze_time);
    assert_eq!(
        freeze(json!({"d": "20260101", "t": "080001", "ms": "250"})).unwrap(),
        START + 1_250
    );
    assert_eq!(freeze(json!({"d": "20260101"})).unwrap(), START - 8 * 3_600_000);
    let err = freeze(json!({"d": "00000000"})).unwrap_err();
    assert_eq!(err.reason, Reason::Missing);
    at(&err, Some("freeze_time"), Some("/d"));
    let err = freeze(json!({"d": "20260101", "t": "080001", "ms": "1000"})).unwrap_err();
    assert!(matches!(err.reason, Reason::BadTime { .. }));
    at(&err, Some("freeze_time"), Some("/ms"));
    let err = freeze(json!({"d": "20260101", "t": "8:00"})).unwrap_err();
    at(&err, Some("freeze_time"), Some("/t"));
}

#[test]
fn map_translates_values_passes_through_or_refuses_unknown_ones() {
    let over = [
        (
            "count_type",
            r#"{ map = "/ct", values = { A = "ABC", 2 = "DEMAND", true = "NEAR_ZERO" } }"#,
        ),
        ("uom", r#"{ map = "/u", values = { ST = "EA" }, passthrough = true }"#),
        ("blind", r#"{ map = "/b", values = { X = true, "" = false } }"#),
    ];
    let n = normalizer("wh.count", COUNT, &over);
    let c = count(&n, json!({"ct": "A", "u": "ST", "b": ""})).unwrap();
    assert_eq!((c.count_type, c.uom.as_str(), c.blind), (CountType::Abc, "EA", false));
    let c = count(&n, json!({"ct": 2, "u": "KG", "b": "X"})).unwrap();
    assert_eq!((c.count_type, c.uom.as_str(), c.blind), (CountType::Demand, "KG", true));
    assert_eq!(
        count(&n, json!({"ct": true, "u": "ST", "b": "X"})).unwrap().count_type,
        CountType::NearZero
    );
    let err = count(&n, json!({"ct": "Z", "u": "ST", "b": "X"})).unwrap_err();
    assert_eq!(
        err.reason,
        Reason::UnknownEnumValue { value: "Z".into(), expected: r#""2", "A", "true""#.into() }
    );
    at(&err, Some("count_type"), Some("/ct"));
}

#[test]
fn copy_into_an_enum_refuses_unknown_symbols_and_wrong_types() {
    let n = normalizer("wh.count", COUNT, &[("count_type", r#""/ct""#)]);
    assert_eq!(count(&n, json!({"ct": "DEMAND"})).unwrap().count_type, CountType::Demand);
    let err = count(&n, json!({"ct": "demand"})).unwrap_err();
    assert!(matches!(&err.reason, Reason::UnknownEnumValue { value, .. } if value == "demand"));
    at(&err, Some("count_type"), Some("/ct"));
    let err = count(&n, json!({"ct": "ABC", "qty": "5"})).unwrap_err();
    assert_eq!(err.reason, Reason::WrongType { expected: "long".into(), found: "string" });
    at(&err, Some("counted_qty"), Some("/qty"));
    let err = count(&n, json!({"ct": "ABC", "qty": 5.5})).unwrap_err();
    assert!(matches!(err.reason, Reason::BadNumber { .. }));
}

#[test]
fn missing_and_null_required_fields_are_poison_naming_the_field() {
    let n = normalizer("wh.count", COUNT, &[]);
    for raw in [json!({"sku": null}), json!({"sku": {"nested": 1}})] {
        let err = count(&n, raw).unwrap_err();
        at(&err, Some("sku"), Some("/sku"));
    }
    let mut doc: Value = serde_json::from_slice(&count_doc(json!({}))).unwrap();
    doc.as_object_mut().unwrap().remove("id");
    let err = failure(&n, &serde_json::to_vec(&doc).unwrap());
    assert_eq!((err.reason.clone(), err.error_class()), (Reason::Missing, ErrorClass::Validation));
    assert_eq!(err.location.kind.as_deref(), Some("k"));
    at(&err, Some("header.event_id"), Some("/id"));
}

#[test]
fn impossible_values_are_refused_with_the_rule_they_break() {
    let n = normalizer("wh.count", COUNT, &[]);
    let err = count(&n, json!({"qty": -1})).unwrap_err();
    assert_eq!(err.reason, Reason::Impossible { value: "-1".into(), why: "must not be negative" });
    at(&err, Some("counted_qty"), Some("/qty"));
    let err = count(&n, json!({"sku": ""})).unwrap_err();
    at(&err, Some("sku"), Some("/sku"));
    let err = count(&n, json!({"site": "DC|1"})).unwrap_err();
    assert!(
        matches!(err.reason, Reason::Impossible { why, .. } if why.contains("tenant|site|sku"))
    );
    at(&err, Some("header.site_id"), Some("/site"));
}

#[test]
fn nullable_records_are_null_when_nothing_is_mapped_and_checked_when_something_is() {
    let over = [
        ("header.error_declaration.reason", r#""/fix/why""#),
        ("header.error_declaration.corrects_event_ids", r#""/fix/ids""#),
    ];
    let n = normalizer("wh.count", COUNT, &over);
    assert_eq!(count(&n, json!({})).unwrap().header.error_declaration, None);
    let fix = count(&n, json!({"fix": {"why": "incorrect_data", "ids": ["e0"]}})).unwrap();
    let fix = fix.header.error_declaration.unwrap();
    assert_eq!(
        (fix.reason.as_str(), fix.corrects_event_ids),
        ("incorrect_data", vec!["e0".to_owned()])
    );
    assert!(
        count(&n, json!({"fix": {"why": "did_not_occur"}}))
            .unwrap()
            .header
            .error_declaration
            .is_some()
    );
    let err = count(&n, json!({"fix": {"ids": ["e0"]}})).unwrap_err();
    at(&err, Some("header.error_declaration.reason"), Some("/fix/why"));
    let err = count(&n, json!({"fix": {"why": "x", "ids": ["e0", 3]}})).unwrap_err();
    at(&err, Some("header.error_declaration.corrects_event_ids[1]"), Some("/fix/ids/1"));
}

#[test]
fn unknown_kinds_invalid_json_and_unknown_sources() {
    let n = normalizer("wh.count", COUNT, &[]);
    let err = failure(&n, br#"{"type": "other"}"#);
    assert_eq!(err.reason, Reason::UnknownKind { found: Some("other".into()) });
    at(&err, None, Some("/type"));
    assert_eq!(
        failure(&n, br#"{"type": 7}"#).reason,
        Reason::UnknownKind { found: Some("7".into()) }
    );
    assert_eq!(failure(&n, b"[]").reason, Reason::UnknownKind { found: None });
    for (raw, offset) in
        [(&b"{\"type\": x}"[..], 9), (b"{\n  \"a\": tru }", 12), (b"{} {}", 3), (b"", 0)]
    {
        let err = failure(&n, raw);
        assert!(
            matches!(&err.reason, Reason::InvalidJson { offset: o, .. } if *o == offset),
            "{err} for {:?}",
            String::from_utf8_lossy(raw)
        );
        assert_eq!(err.error_class(), ErrorClass::Deserialization);
    }
    let err = failure(&n, b"{\"type\": \"k\xff\"}");
    assert!(matches!(err.reason, Reason::InvalidJson { .. }));
    let err = n.normalize("nope", b"{}").unwrap_err();
    assert!(!err.is_poison());
    assert_eq!(err.reason, Reason::UnknownSource);
}

#[test]
fn content_hash_ignores_what_a_retry_changes_and_nothing_else() {
    let n = normalizer("wh.count", COUNT, &[]);
    let hash = |extra| n.normalize("t", &count_doc(extra)).unwrap()[0].content_hash;
    let original = hash(json!({}));
    assert_eq!(original, hash(json!({"id": "e1-retry", "sent": START + 9_000})));
    assert_ne!(original, hash(json!({"qty": 6})));
    assert_ne!(original, hash(json!({"at": "2026-01-01T08:00:00.001Z"})));
    let event = n.normalize("t", &count_doc(json!({}))).unwrap().remove(0);
    assert_eq!(ContentHash::of(&event.event), event.content_hash);
    assert_eq!(event.content_hash.to_string().len(), 64);
}
