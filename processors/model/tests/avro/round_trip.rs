//! Every subject's Rust type survives Avro binary with its subject's schema.
//!
//! Two codecs are checked, because the runtime may use either: the generic one through
//! `apache_avro::Value` (validated against the schema) and the schema-aware serde one. Each
//! must read what the other wrote. Only the schema-aware encoder is byte-deterministic (it
//! writes map entries in `BTreeMap` order), which replay needs: outputs byte for byte equal.

use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::builders::{self, Fill};
use crate::support::{
    SUBJECTS, decode_serde, decode_value, encode_serde, encode_value, load_schema, subject_path,
};

fn assert_round_trips<T>(subject: &str, build: fn(Fill) -> T)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let schema = load_schema(&subject_path(subject));
    assert_field_order(&apache_avro::to_value(build(Fill::All)).unwrap(), &schema, subject);
    for fill in Fill::BOTH {
        let original = build(fill);
        for (encoder, bytes) in [
            ("Value", encode_value(&schema, &original)),
            ("serde", encode_serde(&schema, &original)),
        ] {
            let generic: T = decode_value(&schema, &bytes);
            assert_eq!(generic, original, "{subject} ({fill:?}): {encoder} encoder, Value decoder");
            let direct: T = decode_serde(&schema, &bytes);
            assert_eq!(direct, original, "{subject} ({fill:?}): {encoder} encoder, serde decoder");
        }
    }
}

/// Both codecs match record fields by name, so a reordered schema would still round-trip; the
/// schema must nevertheless list fields in Rust declaration order, the order the model (the
/// source of truth) and `apache_avro::to_value` use.
fn assert_field_order(value: &Value, schema: &Schema, at: &str) {
    match (value, schema) {
        (Value::Record(fields), Schema::Record(record)) => {
            let rust: Vec<&str> = fields.iter().map(|(name, _)| name.as_str()).collect();
            let avro: Vec<&str> = record.fields.iter().map(|f| f.name.as_str()).collect();
            assert_eq!(rust, avro, "field order of {at}");
            for ((name, v), field) in fields.iter().zip(&record.fields) {
                assert_field_order(v, &field.schema, &format!("{at}.{name}"));
            }
        }
        (Value::Union(_, inner), Schema::Union(union)) => {
            if let Some(branch) = union.variants().iter().find(|s| **s != Schema::Null) {
                assert_field_order(inner, branch, at);
            }
        }
        (Value::Array(items), Schema::Array(array)) => {
            items.iter().for_each(|item| assert_field_order(item, &array.items, at));
        }
        _ => {}
    }
}

macro_rules! round_trips {
    ($($test:ident: $subject:literal => $build:path;)+) => {
        /// The subjects that have a round-trip test below.
        const COVERED: &[&str] = &[$($subject),+];

        $(
            #[test]
            fn $test() {
                assert_round_trips($subject, $build);
            }
        )+
    };
}

round_trips! {
    scan_event_round_trips: "wh.scan-value" => builders::scan_event;
    receipt_line_round_trips: "wh.receipt-value" => builders::receipt_line;
    pick_event_round_trips: "wh.pick-value" => builders::pick_event;
    count_event_round_trips: "wh.count-value" => builders::count_event;
    task_event_round_trips: "wh.task-value" => builders::task_event;
    asn_line_round_trips: "erp.asn-value" => builders::asn_line;
    book_snapshot_round_trips: "erp.book-value" => builders::book_snapshot;
    order_allocation_round_trips: "oms.allocation-value" => builders::order_allocation;
    integration_ack_round_trips: "integration.ack-value" => builders::integration_ack;
    item_master_round_trips: "md.item-value" => builders::item_master;
    approval_decision_round_trips: "approvals-value" => builders::approval_decision;
    exception_record_round_trips: "exceptions-value" => builders::exception_record;
    action_command_round_trips: "actions-value" => builders::action_command;
    audit_record_round_trips: "audit-value" => builders::audit_record;
    dlq_envelope_round_trips: "dlq-value" => builders::dlq_envelope;
    kpi_record_round_trips: "kpi-value" => builders::kpi_record;
}

#[test]
fn every_subject_has_a_round_trip_test() {
    let mut covered = COVERED.to_vec();
    covered.sort_unstable();
    let mut subjects: Vec<&str> = SUBJECTS.iter().map(|(subject, _)| *subject).collect();
    subjects.sort_unstable();
    assert_eq!(covered, subjects);
}

/// The logical types are real on the wire (a reader sees timestamps and dates), yet the plain
/// `i64` / `i32` fields of the model serialize into them and deserialize out of them.
#[test]
fn logical_types_decode_as_logical_values_into_plain_integers() {
    let schema = load_schema(&subject_path("erp.asn-value"));
    let original = builders::asn_line(Fill::All);
    let bytes = encode_value(&schema, &original);
    let reader = GenericDatumReader::builder(&schema).build().unwrap();
    let Value::Record(fields) = reader.read_value(&mut bytes.as_slice()).unwrap() else {
        panic!("an AsnLine decodes to a record");
    };
    let field = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v).unwrap();
    let Value::Record(header) = field("header") else { panic!("the header is a record") };
    let event_time = Value::TimestampMillis(original.header.event_time);
    assert!(header.contains(&("event_time".to_owned(), event_time)));
    let eta = Value::TimestampMillis(original.eta.unwrap());
    assert_eq!(field("eta"), &Value::Union(1, Box::new(eta)));
    let Value::Array(lots) = field("expected_lots") else { panic!("expected_lots is an array") };
    let Value::Record(lot) = &lots[0] else { panic!("an expected lot is a record") };
    let expiry = Value::Date(original.expected_lots[0].expiry_date.unwrap());
    assert!(lot.contains(&("expiry_date".to_owned(), Value::Union(1, Box::new(expiry)))));
    assert_eq!(decode_serde::<invex_model::AsnLine>(&schema, &bytes), original);
}

/// Replay must produce byte-identical outputs, so the encoder the runtime uses must not
/// depend on hash order: the schema-aware one writes map entries in key order.
#[test]
fn schema_aware_encoding_writes_map_entries_in_key_order() {
    let schema = load_schema(&subject_path("audit-value"));
    let mut record = builders::audit_record(Fill::Required);
    let keys = ["a_first", "b_second", "c_third", "d_fourth", "e_fifth", "f_sixth"];
    record.details = keys.iter().rev().map(|k| ((*k).to_owned(), "1".to_owned())).collect();
    let bytes = encode_serde(&schema, &record);
    let at = |key: &str| bytes.windows(key.len()).position(|w| w == key.as_bytes()).unwrap();
    let positions: Vec<usize> = keys.iter().map(|k| at(k)).collect();
    assert!(positions.is_sorted(), "map keys at {positions:?}");
    assert_eq!(encode_serde(&schema, &record), bytes);
}
