//! Unit tests of decoding one datum: how every Avro type appears to pointers, how a datum cut
//! short, one with bytes left over and one that is not a value of its schema are told apart,
//! and which writer schemas are refused as unbounded. Datums are written by apache-avro
//! (cut or altered where a test needs bad bytes).

use std::str::FromStr;

use apache_avro::types::Value as Avro;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::{BigDecimal, Days, Decimal, Duration, Millis, Months, Schema, Uuid};
use serde_json::json;

use super::WriterSchemas;
use super::writer::{Bad, MAX_DEPTH, Writer};
use crate::normalize::Reason;
use crate::schema::StaticSchema;

pub(super) const START: i64 = 1_767_254_400_000; // 2026-01-01T08:00:00Z

pub(super) fn schema(text: &str) -> StaticSchema {
    Box::leak(Box::new(Schema::parse_str(text).unwrap()))
}

pub(super) fn write(schema: &Schema, value: Avro) -> Vec<u8> {
    GenericDatumWriter::builder(schema).build().unwrap().write_value_to_vec(value).unwrap()
}

pub(super) fn record(fields: &[(&str, Avro)]) -> Avro {
    Avro::Record(fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect())
}

fn read(schema: StaticSchema, datum: &[u8]) -> Result<serde_json::Value, Bad> {
    Writer::compile(schema).unwrap().read(datum)
}

const ALL_TYPES: &str = r#"{"type": "record", "name": "All", "namespace": "t", "fields": [
    {"name": "n", "type": "null"},
    {"name": "b", "type": "boolean"},
    {"name": "i", "type": "int"},
    {"name": "l", "type": "long"},
    {"name": "f", "type": "float"},
    {"name": "d", "type": "double"},
    {"name": "by", "type": "bytes"},
    {"name": "s", "type": "string"},
    {"name": "fx", "type": {"type": "fixed", "name": "Two", "size": 2}},
    {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}},
    {"name": "a", "type": {"type": "array", "items": "long"}},
    {"name": "m", "type": {"type": "map", "values": "string"}},
    {"name": "some", "type": ["null", "string"]},
    {"name": "none", "type": ["null", "string"]},
    {"name": "either", "type": ["long", "string", "E"]},
    {"name": "rec", "type": {"type": "record", "name": "R", "fields": [
        {"name": "x", "type": "int"}]}},
    {"name": "again", "type": "R"},
    {"name": "dec", "type": {"type": "bytes", "logicalType": "decimal",
        "precision": 9, "scale": 2}},
    {"name": "decf", "type": {"type": "fixed", "name": "D4", "size": 4,
        "logicalType": "decimal", "precision": 9, "scale": 0}},
    {"name": "big", "type": {"type": "bytes", "logicalType": "big-decimal"}},
    {"name": "u", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "ub", "type": {"type": "bytes", "logicalType": "uuid"}},
    {"name": "uf", "type": {"type": "fixed", "name": "U16", "size": 16,
        "logicalType": "uuid"}},
    {"name": "date", "type": {"type": "int", "logicalType": "date"}},
    {"name": "tm", "type": {"type": "int", "logicalType": "time-millis"}},
    {"name": "tu", "type": {"type": "long", "logicalType": "time-micros"}},
    {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "tsu", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    {"name": "tsn", "type": {"type": "long", "logicalType": "timestamp-nanos"}},
    {"name": "lts", "type": {"type": "long", "logicalType": "local-timestamp-micros"}},
    {"name": "dur", "type": {"type": "fixed", "name": "Dur", "size": 12,
        "logicalType": "duration"}}
]}"#;

fn all_types_datum() -> Vec<u8> {
    let uuid = Uuid::from_bytes([0xab; 16]);
    let value = record(&[
        ("n", Avro::Null),
        ("b", Avro::Boolean(true)),
        ("i", Avro::Int(-7)),
        ("l", Avro::Long(1 << 40)),
        ("f", Avro::Float(0.1)),
        ("d", Avro::Double(2.5)),
        ("by", Avro::Bytes(vec![0x41, 0x1d, 0xe9])),
        ("s", Avro::String("é/~".into())),
        ("fx", Avro::Fixed(2, vec![0x30, 0x31])),
        ("e", Avro::Enum(1, "B".into())),
        ("a", Avro::Array(vec![Avro::Long(1), Avro::Long(-2)])),
        ("m", Avro::Map([("k/1".to_owned(), Avro::String("v".into()))].into())),
        ("some", Avro::Union(1, Box::new(Avro::String("x".into())))),
        ("none", Avro::Union(0, Box::new(Avro::Null))),
        ("either", Avro::Union(2, Box::new(Avro::Enum(0, "A".into())))),
        ("rec", record(&[("x", Avro::Int(3))])),
        ("again", record(&[("x", Avro::Int(4))])),
        ("dec", Avro::Decimal(Decimal::from(vec![0xfb, 0x1e]))),
        ("decf", Avro::Decimal(Decimal::from(vec![0, 0, 0x30, 0x39]))),
        ("big", Avro::BigDecimal(BigDecimal::from_str("-1.250").unwrap())),
        ("u", Avro::Uuid(uuid)),
        ("ub", Avro::Uuid(uuid)),
        ("uf", Avro::Uuid(uuid)),
        ("date", Avro::Date(20_634)),
        ("tm", Avro::TimeMillis(3_600_000)),
        ("tu", Avro::TimeMicros(1_500_999)),
        ("ts", Avro::TimestampMillis(START)),
        ("tsu", Avro::TimestampMicros(START * 1_000 + 999)),
        ("tsn", Avro::TimestampNanos(-1)),
        ("lts", Avro::LocalTimestampMicros(START * 1_000)),
        ("dur", Avro::Duration(Duration::new(Months::new(1), Days::new(2), Millis::new(3)))),
    ]);
    write(schema(ALL_TYPES), value)
}

#[test]
fn every_avro_type_appears_as_documented() {
    let tree = read(schema(ALL_TYPES), &all_types_datum()).unwrap();
    let uuid = "abababab-abab-abab-abab-abababababab";
    assert_eq!(
        tree,
        json!({
            "n": null, "b": true, "i": -7, "l": 1_u64 << 40, "f": 0.1, "d": 2.5,
            "by": "A\u{1d}é", "s": "é/~", "fx": "01", "e": "B", "a": [1, -2], "m": {"k/1": "v"},
            "some": "x", "none": null, "either": "A", "rec": {"x": 3}, "again": {"x": 4},
            "dec": "-12.50", "decf": "12345", "big": "-1.250", "u": uuid, "ub": uuid, "uf": uuid,
            "date": 20_634, "tm": 3_600_000, "tu": 1_500, "ts": START, "tsu": START, "tsn": -1,
            "lts": START, "dur": {"months": 1, "days": 2, "millis": 3}
        })
    );
}

#[test]
fn non_finite_floats_and_extreme_decimals_are_text() {
    let schema = schema(
        r#"{"type": "record", "name": "F", "fields": [
            {"name": "f", "type": "float"}, {"name": "d", "type": "double"},
            {"name": "x", "type": {"type": "bytes", "logicalType": "decimal",
                "precision": 38, "scale": 38}},
            {"name": "z", "type": {"type": "bytes", "logicalType": "big-decimal"}}
        ]}"#,
    );
    let value = record(&[
        ("f", Avro::Float(f32::NAN)),
        ("d", Avro::Double(f64::NEG_INFINITY)),
        ("x", Avro::Decimal(Decimal::from(vec![0xff]))),
        ("z", Avro::BigDecimal(BigDecimal::from_str("12e3").unwrap())),
    ]);
    let tiny = format!("-0.{}1", "0".repeat(37));
    let tree = read(schema, &write(schema, value)).unwrap();
    assert_eq!(tree, json!({"f": "NaN", "d": "-Infinity", "x": tiny, "z": "12000"}));
}

#[test]
fn a_decimal_that_cannot_be_rendered_exactly_is_refused_at_its_pointer() {
    let schema = schema(
        r#"{"type": "record", "name": "W", "fields": [{"name": "lines", "type": {"type": "map",
            "values": {"type": "fixed", "name": "D17", "size": 17, "logicalType": "decimal",
            "precision": 40, "scale": 0}}}]}"#,
    );
    let wide = Avro::Decimal(Decimal::from(vec![1; 17]));
    let value = record(&[("lines", Avro::Map([("a/b".to_owned(), wide)].into()))]);
    let bad = read(schema, &write(schema, value)).unwrap_err();
    assert!(
        matches!(&bad.reason, Reason::NotItsSchema(why) if why.contains("16 bytes")),
        "{bad:?}"
    );
    assert_eq!(bad.pointer.as_deref(), Some("/lines/a~1b"));
}

#[test]
fn every_cut_of_a_datum_is_truncated_and_extra_bytes_are_not_its_schema() {
    let schema = schema(ALL_TYPES);
    let datum = all_types_datum();
    for len in 0..datum.len() {
        let bad = read(schema, &datum[..len]).unwrap_err();
        assert!(matches!(&bad.reason, Reason::Truncated(_)), "cut at {len}: {bad:?}");
        assert_eq!(bad.pointer, None);
    }
    let bad = read(schema, &[&datum[..], &[0]].concat()).unwrap_err();
    let left = "1 byte(s) left after the datum";
    assert!(matches!(&bad.reason, Reason::NotItsSchema(why) if why.contains(left)), "{bad:?}");
}

#[test]
fn a_datum_that_ends_where_apache_avro_would_read_null_is_truncated() {
    // apache-avro reads a union index (and a boolean, and a string) at the end of its input
    // as null instead of failing; the cut must still be seen.
    let schema = schema(
        r#"{"type": "record", "name": "N", "fields": [{"name": "id", "type": "long"},
            {"name": "note", "type": ["null", "string"]}]}"#,
    );
    let value = record(&[
        ("id", Avro::Long(5)),
        ("note", Avro::Union(1, Box::new(Avro::String("x".into())))),
    ]);
    let datum = write(schema, value);
    let bad = read(schema, &datum[..1]).unwrap_err();
    let says = "its 1 byte(s) end inside a value";
    assert!(matches!(&bad.reason, Reason::Truncated(why) if why == says), "{bad:?}");
}

/// Reads the datum apache-avro writes for `value` of `written` as a datum of `read_as`.
fn misread(read_as: &str, written: &str, value: Avro) -> Bad {
    read(schema(read_as), &write(schema(written), value)).unwrap_err()
}

fn assert_not_its_schema(bad: Bad, says: &str) {
    assert!(matches!(&bad.reason, Reason::NotItsSchema(why) if why.contains(says)), "{bad:?}");
    assert_eq!(bad.pointer, None, "apache-avro does not say where");
}

#[test]
fn bytes_that_are_not_a_value_of_the_schema_carry_apache_avros_reason() {
    let int = r#""int""#;
    assert_not_its_schema(misread(r#""boolean""#, int, Avro::Int(1)), "Invalid u8 for bool: 2");
    let one = r#"{"type": "enum", "name": "E", "symbols": ["A"]}"#;
    assert_not_its_schema(misread(one, int, Avro::Int(1)), "Enum value index 1 is out of bounds");
    let union = r#"["null", "long"]"#;
    assert_not_its_schema(
        misread(union, r#""long""#, Avro::Long(2)),
        "Union index 2 out of bounds",
    );
    let utf8 = Avro::Bytes(vec![0xff]);
    assert_not_its_schema(misread(r#""string""#, r#""bytes""#, utf8), "Invalid utf-8");
    let uuid = r#"{"type": "string", "logicalType": "uuid"}"#;
    let not_uuid = Avro::String("not-a-uuid".into());
    assert_not_its_schema(misread(uuid, r#""string""#, not_uuid), "UUID");
    // A length beyond apache-avro's allocation limit (whichever this test process set first)
    // is refused before anything is allocated.
    let limit = apache_avro::util::max_allocation_bytes(WriterSchemas::MAX_ALLOCATION_BYTES);
    let huge = Avro::Long(i64::try_from(limit).unwrap() + 1);
    assert_not_its_schema(misread(r#""string""#, r#""long""#, huge), "Unable to allocate");
}

fn refused(text: &str) -> String {
    match Writer::compile(schema(text)) {
        Ok(_) => panic!("accepted: {text}"),
        Err(why) => why,
    }
}

/// A record whose field `t<n>` is record `T<n>` nesting `T<n-1>`, ..., `T0`: `n + 2` levels.
fn chain(n: usize) -> String {
    let mut fields = vec![
        r#"{"name": "t0", "type": {"type": "record", "name": "T0", "fields": [
        {"name": "x", "type": "int"}]}}"#
            .to_owned(),
    ];
    for i in 1..=n {
        fields.push(format!(
            r#"{{"name": "t{i}", "type": {{"type": "record", "name": "T{i}", "fields": [
                {{"name": "next", "type": "T{}"}}]}}}}"#,
            i - 1
        ));
    }
    format!(r#"{{"type": "record", "name": "Top", "fields": [{}]}}"#, fields.join(","))
}

#[test]
fn writer_schemas_that_could_nest_or_expand_without_bound_are_refused() {
    let list = r#"{"type": "record", "name": "L", "namespace": "t", "fields": [
        {"name": "next", "type": ["null", "L"]}]}"#;
    assert!(refused(list).starts_with("recursive type t.L"), "{}", refused(list));
    assert!(Writer::compile(schema(&chain(MAX_DEPTH - 2))).is_ok(), "64 levels are fine");
    let deep = refused(&chain(MAX_DEPTH - 1));
    assert_eq!(deep, "its values nest deeper than 64 levels");
    for items in [r#""null""#, r#"{"type": "record", "name": "Nothing", "fields": []}"#] {
        let array = format!(r#"{{"type": "array", "items": {items}}}"#);
        assert!(refused(&array).contains("take no bytes"), "{items}");
    }
    assert!(Writer::compile(schema(r#"{"type": "map", "values": "null"}"#)).is_ok());
    let size = WriterSchemas::MAX_ALLOCATION_BYTES + 1;
    let huge = format!(r#"{{"type": "fixed", "name": "Huge", "size": {size}}}"#);
    assert!(refused(&huge).contains("larger than the allocation limit"));
}
