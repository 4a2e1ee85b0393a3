//! Unit tests of Avro raw records through the normalizer: frame, resolver and cache, pinned
//! record, mapping; every way a record fails, each with its schema id, pointer (where there is
//! one) and class.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use apache_avro::Decimal;
use apache_avro::types::Value as Avro;
use invex_model::{CanonicalEvent, ErrorClass};

use super::tests::{START, record, schema, write};
use super::{WriterSchemas, framed};
use crate::normalize::{NormalizeError, Normalizer, Reason};
use crate::schema::{ResolveError, SchemaResolver, StaticSchema};

/// Serves schemas by id and counts the lookups; can play an unreachable registry.
#[derive(Default)]
struct Registry {
    schemas: HashMap<u32, StaticSchema>,
    lookups: AtomicUsize,
    down: AtomicBool,
}

impl SchemaResolver for Registry {
    fn schema_by_id(&self, id: u32) -> Result<StaticSchema, ResolveError> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        if self.down.load(Ordering::Relaxed) {
            return Err(ResolveError::Transient("connection refused".into()));
        }
        self.schemas.get(&id).copied().ok_or(ResolveError::Unknown(id))
    }

    fn register(&self, subject: &str, _: &str) -> Result<(u32, StaticSchema), ResolveError> {
        Err(ResolveError::Invalid { subject: subject.into(), message: "read only".into() })
    }
}

const COUNT_SCHEMA: &str = r#"{"type": "record", "name": "Count", "namespace": "t", "fields": [
    {"name": "kind", "type": {"type": "enum", "name": "K", "symbols": ["COUNT", "OTHER"]}},
    {"name": "id", "type": "string"},
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    {"name": "site", "type": "string"},
    {"name": "loc", "type": "string"},
    {"name": "sku", "type": ["null", "string"]},
    {"name": "qty", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 3}}
]}"#;

const SOURCE: &str = r#"
name = "a"
topic = "raw.a"
format = "avro"
discriminator = "/kind"

[envelope]
header.event_id = "/id"
header.event_time = "/at"
header.event_tz_offset = { const = "+00:00" }
header.record_time = "/at"
header.tenant_id = { const = "t1" }
header.site_id = "/site"
header.source_system = { const = "EDGE" }
header.source_seq = { const = 1 }
header.action = { const = "OBSERVE" }
header.biz_step = { const = "cycle_counting" }

[kinds.count]
when = "COUNT"
event = "wh.count"

[kinds.count.fields]
count_doc_id = { const = "CC-1" }
count_type = { const = "ABC" }
count_seq = { const = 1 }
blind = { const = true }
location_id = "/loc"
sku = "/sku"
counted_qty = { number = "/qty" }
uom = { const = "EA" }
freeze_time = "/at"
"#;

/// Schema 7 is [`COUNT_SCHEMA`]; 8 the same with `sku` a long; 9 the same under another name;
/// 10 a recursive record, which invex refuses to decode with.
fn registry() -> Arc<Registry> {
    let mut schemas = HashMap::new();
    schemas.insert(7, schema(COUNT_SCHEMA));
    let long_sku = COUNT_SCHEMA.replace(r#"["null", "string"]"#, r#""long""#);
    schemas.insert(8, schema(&long_sku));
    schemas.insert(9, schema(&COUNT_SCHEMA.replace(r#""Count""#, r#""Tally""#)));
    let list = r#"{"type": "record", "name": "L", "fields": [
        {"name": "next", "type": ["null", "L"]}]}"#;
    schemas.insert(10, schema(list));
    Arc::new(Registry { schemas, ..Registry::default() })
}

fn count_datum(kind: u32, sku: Option<&str>, qty: &[u8]) -> Vec<u8> {
    let kind = Avro::Enum(kind, ["COUNT", "OTHER"][kind as usize].into());
    let sku = match sku {
        Some(sku) => Avro::Union(1, Box::new(Avro::String(sku.into()))),
        None => Avro::Union(0, Box::new(Avro::Null)),
    };
    let value = record(&[
        ("kind", kind),
        ("id", Avro::String("e1".into())),
        ("at", Avro::TimestampMicros(START * 1_000 + 250)),
        ("site", Avro::String("DC1".into())),
        ("loc", Avro::String("A-01".into())),
        ("sku", sku),
        ("qty", Avro::Decimal(Decimal::from(qty.to_vec()))),
    ]);
    write(schema(COUNT_SCHEMA), value)
}

/// 12.000 as decimal(9, 3).
const TWELVE: [u8; 2] = [0x2e, 0xe0];

fn normalizer(source: &str) -> Normalizer {
    Normalizer::from_files([("a.toml", source)]).unwrap_or_else(|e| panic!("{e}"))
}

fn failure(n: &Normalizer, schemas: &WriterSchemas, raw: &[u8]) -> NormalizeError {
    let err = n.normalize_with("a", raw, schemas).unwrap_err();
    assert!(err.is_poison() && !err.is_transient(), "{err}");
    assert!(err.to_string().starts_with("source `a`"), "{err}");
    err
}

#[test]
fn an_avro_record_maps_through_the_same_rules_and_its_schema_is_resolved_once() {
    let registry = registry();
    let schemas = WriterSchemas::new(registry.clone());
    let n = normalizer(SOURCE);
    let raw = framed(7, &count_datum(0, Some("SKU-1"), &TWELVE));
    for _ in 0..3 {
        let out = n.normalize_with("a", &raw, &schemas).unwrap();
        let CanonicalEvent::Count(count) = &out[0].event else { panic!("{out:?}") };
        assert_eq!((count.counted_qty, count.header.event_time), (12, START));
        assert_eq!((count.sku.as_str(), out[0].key.as_str()), ("SKU-1", "t1|DC1|SKU-1"));
    }
    assert_eq!(registry.lookups.load(Ordering::Relaxed), 1, "one lookup per schema id");
    let err = n.normalize("a", &raw).unwrap_err();
    assert_eq!((&err.reason, err.is_poison()), (&Reason::SchemasRequired, false));
}

#[test]
fn frames_and_schema_ids_that_cannot_be_used_are_deserialization_errors() {
    let registry = registry();
    let schemas = WriterSchemas::new(registry.clone());
    let n = normalizer(SOURCE);
    for (raw, first) in [(&b"{\"kind\": 1}"[..], Some(b'{')), (&[0, 0, 0, 7], Some(0)), (&[], None)]
    {
        let err = failure(&n, &schemas, raw);
        assert_eq!(err.reason, Reason::NotFramed { len: raw.len(), first });
        assert_eq!((err.schema_id, err.error_class()), (None, ErrorClass::Deserialization));
    }
    let unknown = framed(42, &count_datum(0, Some("SKU-1"), &TWELVE));
    let recursive = framed(10, &[0]);
    for _ in 0..2 {
        let err = failure(&n, &schemas, &unknown);
        assert_eq!((err.reason.clone(), err.schema_id), (Reason::UnknownSchema(42), Some(42)));
        assert_eq!(err.error_class(), ErrorClass::Deserialization);
        assert!(err.to_string().contains("schema id 42"), "{err}");
        let err = failure(&n, &schemas, &recursive);
        assert!(matches!(&err.reason, Reason::UnusableSchema(why) if why.contains("recursive")));
        assert_eq!((err.schema_id, err.error_class()), (Some(10), ErrorClass::Deserialization));
    }
    assert_eq!(registry.lookups.load(Ordering::Relaxed), 2, "each bad id is asked once");
}

#[test]
fn truncated_and_mismatched_datums_name_schema_id_and_apache_avros_reason() {
    let schemas = WriterSchemas::new(registry());
    let n = normalizer(SOURCE);
    let datum = count_datum(0, Some("SKU-1"), &TWELVE);
    let err = failure(&n, &schemas, &framed(7, &datum[..datum.len() - 4]));
    assert!(matches!(&err.reason, Reason::Truncated(why) if why.contains("end inside")), "{err}");
    assert_eq!((err.schema_id, err.location.pointer.as_deref()), (Some(7), None));
    assert_eq!(err.error_class(), ErrorClass::Deserialization);
    let text = err.to_string();
    assert!(text.starts_with("source `a`, schema id 7: truncated datum: its "), "{text}");
    let mut bad_enum = datum.clone();
    bad_enum[0] = 8;
    let err = failure(&n, &schemas, &framed(7, &bad_enum));
    let enum_index = "Enum value index 4 is out of bounds 2";
    assert!(matches!(&err.reason, Reason::NotItsSchema(why) if why.contains(enum_index)), "{err}");
    assert_eq!((err.schema_id, err.error_class()), (Some(7), ErrorClass::Deserialization));
    let err = failure(&n, &schemas, &framed(7, &[&datum[..], &[0]].concat()));
    assert!(matches!(&err.reason, Reason::NotItsSchema(why) if why.contains("left after")));
    assert_eq!(err.error_class(), ErrorClass::Deserialization);
}

#[test]
fn what_the_mapping_refuses_in_a_decoded_datum_is_validation() {
    let schemas = WriterSchemas::new(registry());
    let n = normalizer(SOURCE);
    let err = failure(&n, &schemas, &framed(7, &count_datum(0, None, &TWELVE)));
    assert_eq!((err.reason.clone(), err.error_class()), (Reason::Missing, ErrorClass::Validation));
    assert_eq!((err.schema_id, err.location.field.as_deref()), (Some(7), Some("sku")));
    assert_eq!(err.location.pointer.as_deref(), Some("/sku"));
    // Schema 8 writes `sku` as a long: a well-formed datum the mapping cannot use.
    let long_sku = schema(&COUNT_SCHEMA.replace(r#"["null", "string"]"#, r#""long""#));
    let value = |sku| {
        record(&[
            ("kind", Avro::Enum(0, "COUNT".into())),
            ("id", Avro::String("e1".into())),
            ("at", Avro::TimestampMicros(START * 1_000)),
            ("site", Avro::String("DC1".into())),
            ("loc", Avro::String("A-01".into())),
            ("sku", Avro::Long(sku)),
            ("qty", Avro::Decimal(Decimal::from(TWELVE.to_vec()))),
        ])
    };
    let err = failure(&n, &schemas, &framed(8, &write(long_sku, value(5))));
    assert_eq!(err.reason, Reason::WrongType { expected: "string".into(), found: "number" });
    assert_eq!((err.error_class(), err.schema_id), (ErrorClass::Validation, Some(8)));
    let err = failure(&n, &schemas, &framed(7, &count_datum(1, Some("SKU-1"), &TWELVE)));
    assert_eq!(err.reason, Reason::UnknownKind { found: Some("OTHER".into()) });
    assert_eq!(err.error_class(), ErrorClass::Validation);
    let minus_one = [0xfc, 0x18];
    let err = failure(&n, &schemas, &framed(7, &count_datum(0, Some("SKU-1"), &minus_one)));
    assert!(matches!(err.reason, Reason::Impossible { .. }), "{err}");
    assert_eq!(err.location.field.as_deref(), Some("counted_qty"));
}

#[test]
fn a_pinned_source_accepts_only_its_record() {
    let schemas = WriterSchemas::new(registry());
    let pinned = SOURCE.replace("[envelope]", "[avro]\nrecord = \"t.Count\"\n\n[envelope]");
    let n = normalizer(&pinned);
    assert_eq!(n.source("a").unwrap().pinned_record(), Some("t.Count"));
    let datum = count_datum(0, Some("SKU-1"), &TWELVE);
    assert_eq!(n.normalize_with("a", &framed(7, &datum), &schemas).unwrap().len(), 1);
    let err = failure(&n, &schemas, &framed(9, &datum));
    let expected = "t.Count".to_owned();
    assert_eq!(err.reason, Reason::WrongRecord { found: Some("t.Tally".into()), expected });
    assert_eq!((err.schema_id, err.error_class()), (Some(9), ErrorClass::Deserialization));
    assert!(normalizer(SOURCE).normalize_with("a", &framed(9, &datum), &schemas).is_ok());
}

#[test]
fn an_unreachable_registry_is_transient_and_asked_again() {
    let registry = registry();
    let schemas = WriterSchemas::new(registry.clone());
    let n = normalizer(SOURCE);
    let raw = framed(7, &count_datum(0, Some("SKU-1"), &TWELVE));
    registry.down.store(true, Ordering::Relaxed);
    let err = n.normalize_with("a", &raw, &schemas).unwrap_err();
    assert!(err.is_transient() && !err.is_poison(), "{err}");
    assert_eq!(err.schema_id, Some(7));
    registry.down.store(false, Ordering::Relaxed);
    assert!(n.normalize_with("a", &raw, &schemas).is_ok());
    assert_eq!(registry.lookups.load(Ordering::Relaxed), 2);
}

#[test]
fn the_avro_table_is_checked_when_loading() {
    let on_json = SOURCE
        .replace("\"avro\"", "\"json\"")
        .replace("[envelope]", "[avro]\nrecord = \"t.Count\"\n[envelope]");
    let errors = Normalizer::from_files([("bad.toml", on_json.as_str())]).unwrap_err();
    assert!(errors.0.iter().any(|e| e.key == "avro" && e.message.contains("format = \"avro\"")));
    let bad =
        SOURCE.replace("[envelope]", "[avro]\nrecord = \"t.2x\"\nsubject = \"s\"\n[envelope]");
    let errors = Normalizer::from_files([("bad.toml", bad.as_str())]).unwrap_err();
    assert!(errors.0.iter().any(|e| e.key == "avro.record" && e.message.contains("full name")));
    assert!(errors.0.iter().any(|e| e.key == "avro.subject" && e.message.contains("unknown key")));
}
