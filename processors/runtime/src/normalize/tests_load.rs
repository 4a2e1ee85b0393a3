//! Unit tests of loading: the shipped files, every problem at once with its key path, and
//! the expressions that need an element scope (arrays and split documents).

use invex_model::{CanonicalEvent, CanonicalTopic};
use serde_json::json;

use super::tests::source_text;
use super::*;

const ASN: &[(&str, &str)] = &[
    ("asn_id", r#""/asn""#),
    ("po_id", r#"{ const = "PO-1" }"#),
    ("line_no", r#"{ const = 1 }"#),
    ("supplier_id", r#"{ const = "SUP-1" }"#),
    ("sku", r#""/sku""#),
    ("qty_expected", r#"{ const = 10 }"#),
    ("uom", r#"{ const = "EA" }"#),
    ("ssccs", r#"{ each = "/units", item = "@/id" }"#),
    ("unlimited_over", r#"{ const = false }"#),
    ("expected_lots.each", r#""/lots""#),
    ("expected_lots.fields.lot", r#""@/n""#),
    ("expected_lots.fields.quantity", r#""@/q""#),
    ("expected_lots.fields.expiry_date", r#"{ iso_date = "@/exp" }"#),
];

const RECEIPT: &[(&str, &str)] = &[
    ("(split)", r#""/lines""#),
    ("header.event_id", r#""@/id""#),
    ("receipt_id", r#""/doc""#),
    ("line_no", r#""@/n""#),
    ("sku", r#""@/sku""#),
    ("serials", r#""@/serials""#),
    ("location_id", r#"{ const = "DOCK-1" }"#),
    ("qty_received", r#""@/q""#),
    ("qty_accepted", r#""@/q""#),
    ("uom", r#"{ const = "EA" }"#),
    ("expiry_date", r#"{ yyyymmdd = "@/exp" }"#),
    ("condition_code", r#"{ const = "GOOD" }"#),
    ("stock_type", r#"{ const = "UNRESTRICTED" }"#),
    ("receipt_closed", r#"{ const = false }"#),
];

fn load(event: &str, fields: &[(&str, &str)]) -> Normalizer {
    let text = source_text(event, fields, &[]);
    Normalizer::from_files([("t.toml", text.as_str())]).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn header() -> serde_json::Value {
    json!({"type": "k", "id": "e1", "at": "2026-01-01T08:00:00Z", "sent": 1, "site": "DC1"})
}

#[test]
fn shipped_sources_load_and_the_json_ones_cover_every_canonical_event() {
    let n = Normalizer::shipped().unwrap();
    assert_eq!(n.sources().len(), 3);
    for source in n.sources() {
        let mut topics: Vec<_> = source.kinds().map(|(_, topic)| topic).collect();
        topics.sort();
        if source.format() == Format::Json {
            assert_eq!(topics, CanonicalTopic::ALL.to_vec(), "{}", source.name());
        } else {
            assert_eq!(topics, [CanonicalTopic::Scan, CanonicalTopic::Count]);
        }
        assert_eq!(n.source_for_topic(source.topic()).map(Source::name), Some(source.name()));
    }
    let formats: Vec<_> = n.sources().iter().map(Source::format).collect();
    assert_eq!(formats, [Format::Json, Format::Avro, Format::Json]);
    // The crate directory as cargo names it when the test runs, not when it was built.
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR").unwrap();
    let dir = std::path::Path::new(&crate_dir).join("../../topology/sources");
    let from_dir = Normalizer::from_dir(&dir).unwrap();
    let names =
        |n: &Normalizer| n.sources().iter().map(|s| s.name().to_owned()).collect::<Vec<_>>();
    assert_eq!(names(&from_dir), names(&n), "every file of topology/sources is shipped");
}

#[test]
fn each_maps_arrays_of_records_and_of_values_with_element_pointers() {
    let n = load("erp.asn", ASN);
    let mut doc = header();
    doc["asn"] = json!("ASN-1");
    doc["sku"] = json!("SKU-1");
    doc["units"] = json!([{"id": "S1"}, {"id": "S2"}]);
    doc["lots"] = json!([{"n": "L1", "q": 4, "exp": "2026-06-30"}, {"n": "L2", "q": 6}]);
    let out = n.normalize("t", &serde_json::to_vec(&doc).unwrap()).unwrap();
    let CanonicalEvent::Asn(asn) = &out[0].event else { panic!() };
    assert_eq!(asn.ssccs, ["S1", "S2"]);
    assert_eq!(asn.expected_lots.len(), 2);
    assert_eq!(
        (asn.expected_lots[0].expiry_date, asn.expected_lots[1].expiry_date),
        (Some(20_634), None)
    );
    doc["lots"][0]["exp"] = json!("2026-13-01");
    let err = n.normalize("t", &serde_json::to_vec(&doc).unwrap()).unwrap_err();
    assert_eq!(
        err.reason,
        Reason::BadTime { text: "2026-13-01".into(), why: "month out of range".into() }
    );
    assert_eq!(err.location.field.as_deref(), Some("expected_lots[0].expiry_date"));
    assert_eq!(err.location.pointer.as_deref(), Some("/lots/0/exp"));
    assert!(err.to_string().contains("field `expected_lots[0].expiry_date` (raw \"/lots/0/exp\")"));
    doc["lots"][0]["exp"] = json!("2026-06-30");
    doc["lots"][1]["q"] = json!(-6);
    let err = n.normalize("t", &serde_json::to_vec(&doc).unwrap()).unwrap_err();
    assert_eq!(err.location.field.as_deref(), Some("expected_lots[1].quantity"));
    assert_eq!(err.location.pointer.as_deref(), Some("/lots/1/q"));
    doc["lots"] = json!({});
    let err = n.normalize("t", &serde_json::to_vec(&doc).unwrap()).unwrap_err();
    assert_eq!(err.location.field.as_deref(), Some("expected_lots"));
    doc["lots"] = json!(null);
    doc["units"] = json!([{"id": "S1"}, {}]);
    let err = n.normalize("t", &serde_json::to_vec(&doc).unwrap()).unwrap_err();
    assert_eq!((err.reason, err.location.field.as_deref()), (Reason::Missing, Some("ssccs[1]")));
    assert_eq!(err.location.pointer.as_deref(), Some("/units/1/id"));
}

#[test]
fn split_documents_give_one_event_per_line_or_fail_as_a_whole() {
    let n = load("wh.receipt", RECEIPT);
    let mut doc = header();
    doc["doc"] = json!("GR-1");
    doc["lines"] = json!([
        {"id": "e1-1", "n": 1, "sku": "A", "q": 3, "serials": ["x"], "exp": "20260630"},
        {"id": "e1-2", "n": 2, "sku": "B", "q": 4, "exp": "00000000"},
    ]);
    let out = n.normalize("t", &serde_json::to_vec(&doc).unwrap()).unwrap();
    let lines: Vec<_> = out
        .iter()
        .map(|o| match &o.event {
            CanonicalEvent::Receipt(r) => (
                r.header.event_id.as_str(),
                r.receipt_id.as_str(),
                r.line_no,
                r.expiry_date,
                o.key.as_str(),
            ),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        lines,
        [("e1-1", "GR-1", 1, Some(20_634), "t1|DC1|A"), ("e1-2", "GR-1", 2, None, "t1|DC1|B")]
    );
    doc["lines"][1]["q"] = json!("4");
    let err = n.normalize("t", &serde_json::to_vec(&doc).unwrap()).unwrap_err();
    assert_eq!(err.location.field.as_deref(), Some("qty_received"));
    assert_eq!(err.location.pointer.as_deref(), Some("/lines/1/q"));
    for (lines, reason) in [(json!([]), Reason::NoLines), (json!(null), Reason::Missing)] {
        doc["lines"] = lines;
        let err = n.normalize("t", &serde_json::to_vec(&doc).unwrap()).unwrap_err();
        assert_eq!((err.reason, err.location.pointer.as_deref()), (reason, Some("/lines")));
    }
}

/// Asserts `errors` has a problem at `key` whose message contains `says`.
fn has(errors: &SourceErrors, key: &str, says: &str) {
    assert!(
        errors.0.iter().any(|e| e.file == "bad.toml" && e.key == key && e.message.contains(says)),
        "no `{says}` at {key} in:\n{errors}"
    );
}

#[test]
fn loading_reports_every_problem_with_file_and_key_path() {
    let text = r#"
name = "bad"
topic = "raw.bad"
format = "json"
discriminator = "/type"
colour = "blue"

[envelope]
header.event_id = "@/id"
header.nonsense = "/x"

[kinds.a]
when = "a"
event = "wh.count"
split = "lines"
extra = 1
[kinds.a.fields]
count_doc_id = { number = "/doc" }
count_type = { const = "SOMETIMES" }
sku = { map = "/sku", values = { A = 1 } }
counted_qty = { number = "/q", factr = 2 }
uom = { const = "" }
location_id = { rfc3339 = "/l", map = "/l" }
blind = 7
header = "/header"
no_such_field = "/x"
lot = "bad pointer"

[kinds.b]
when = "a"
event = "wh.nothing"
fields = {}
"#;
    let errors = Normalizer::from_files([("bad.toml", text)]).unwrap_err();
    has(&errors, "colour", "unknown key");
    has(&errors, "envelope.header.event_id", "`@` pointers need an array element");
    has(&errors, "envelope.header.nonsense", "has no field `nonsense` (kind `a`)");
    has(&errors, "kinds.a.split", "not a JSON pointer");
    has(&errors, "kinds.a.extra", "unknown key");
    has(&errors, "kinds.a.fields.count_doc_id", "a `number` rule cannot produce a string field");
    has(&errors, "kinds.a.fields.count_type.const", "unknown enum value");
    has(&errors, "kinds.a.fields.sku.values.A", "wrong type");
    has(&errors, "kinds.a.fields.counted_qty.factr", "unknown key in a `number` rule");
    has(&errors, "kinds.a.fields.uom", "constant \"\" must not be empty");
    has(&errors, "kinds.a.fields.location_id", "exactly one of");
    has(&errors, "kinds.a.fields.blind", "a rule is a JSON pointer string or an expression table");
    has(&errors, "kinds.a.fields.header", "is a record: map its fields one by one");
    has(&errors, "kinds.a.fields.no_such_field", "wh.count has no field `no_such_field`");
    has(&errors, "kinds.a.fields.lot", "not a JSON pointer");
    has(
        &errors,
        "kinds.a.fields.freeze_time",
        "required field `freeze_time` (timestamp-millis) is not mapped",
    );
    has(&errors, "kinds.b.when", "same discriminator value as kind `a`");
    has(&errors, "kinds.b.event", "\"wh.nothing\" is not a canonical topic");
    let keys: std::collections::HashSet<_> =
        errors.0.iter().map(|e| (&e.key, &e.message)).collect();
    assert_eq!(keys.len(), errors.0.len(), "problems are reported once");
    assert!(errors.to_string().contains("bad.toml: colour: unknown key"));
}

#[test]
fn syntax_errors_duplicates_and_missing_keys_are_reported_per_file() {
    let errors =
        Normalizer::from_files([("bad.toml", "name = \"x\"\n\ntopic = = 1\n")]).unwrap_err();
    has(&errors, "(file)", "TOML syntax error at line 3");
    let errors = Normalizer::from_files([("bad.toml", "format = \"xml\"\n")]).unwrap_err();
    for key in ["name", "topic", "discriminator", "kinds"] {
        has(&errors, key, "");
    }
    has(&errors, "format", "unsupported format \"xml\" (supported: json, avro)");
    let one = source_text("wh.count", &[], &[]);
    let errors = Normalizer::from_files([("t.toml", one.as_str()), ("bad.toml", one.as_str())]);
    let errors = errors.unwrap_err();
    assert!(errors.0.iter().all(|e| e.file == "t.toml" || e.file == "bad.toml"));
    has(&errors, "kinds.k.fields.sku", "required field `sku`");
    assert!(Normalizer::from_files([]).is_err());
}

#[test]
fn source_names_and_raw_topics_are_unique_across_files() {
    let [(_, erp), _, (_, wms)] = SHIPPED_SOURCES;
    let errors =
        Normalizer::from_files([("a.toml", wms), ("bad.toml", wms), ("c.toml", erp)]).unwrap_err();
    has(&errors, "name", "\"wms-webhook\" is already used by a.toml");
    has(&errors, "topic", "\"raw.wms.webhook\" is already used by a.toml");
    assert_eq!(errors.0.len(), 2);
}

#[test]
fn the_normalizer_can_be_shared_across_threads() {
    fn shared<T: Send + Sync + Clone>(_: &T) {}
    shared(&Normalizer::shipped().unwrap());
}

#[test]
fn every_semantic_check_names_a_field_of_its_event() {
    for topic in CanonicalTopic::ALL {
        let fields = shape::event_fields(topic).unwrap();
        for path in checks::all_paths(topic) {
            let mut shape_fields = &fields;
            let mut found = None;
            for part in path.split('.') {
                found = shape_fields.iter().find(|f| f.name == part);
                match found.map(|f| &f.shape) {
                    Some(shape::Shape::Record(inner)) => shape_fields = inner,
                    Some(shape::Shape::Array(item)) => {
                        if let shape::Shape::Record(inner) = &**item {
                            shape_fields = inner;
                        }
                    }
                    _ => {}
                }
            }
            assert!(found.is_some(), "{topic}: check on unknown field {path}");
        }
    }
}
