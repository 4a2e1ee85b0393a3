//! The RF-scanner gateway shape: the inverse of `topology/sources/rf-scanner.toml`.
//!
//! One Avro datum of `schemas/raw/rf-scanner.avsc` (`com.acme.rfgateway.v2.GatewayMessage`)
//! per scan or count: an envelope, then a union of the two payload records. Capture times are
//! microseconds, counted quantities decimals with three digits, enums the gateway's own
//! symbols. Only the datum: the Confluent frame carries the schema id the producer's registry
//! assigned, which is not the warehouse's business (the producer adds it).
//!
//! The value is built as an apache-avro [`Value`] and written by apache-avro against the
//! shipped schema, parsed once. Writing cannot fail for any event: the schema is a constant of
//! this build (the tests parse it) and every value here is built for it, one variant per
//! field, from the event's own types (`i32` for `int` and `date`, `i64` for `long` and
//! timestamps, a decimal of at most 16 bytes); apache-avro validates the value before writing,
//! so a mistake in this file fails every test that renders, never silently. The `expect`s
//! below therefore guard this crate's own code, not input.

use std::sync::LazyLock;

use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::{Decimal, Schema};
use invex_model::{
    CanonicalEvent, CountEvent, CountType, EpcisAction, EventHeader, ScanEvent, ScanResult,
    SourceSystem,
};

/// The shipped writer schema, parsed once.
static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::parse_str(include_str!("../../../../schemas/raw/rf-scanner.avsc"))
        .expect("the shipped RF-scanner schema parses")
});

/// apache-avro's writer for [`SCHEMA`], built once.
static WRITER: LazyLock<GenericDatumWriter<'static>> = LazyLock::new(|| {
    GenericDatumWriter::builder(&SCHEMA).build().expect("the shipped RF-scanner schema resolves")
});

/// The datum of a scan or a count; empty for any other event (the gateway sends none).
pub(crate) fn render(event: &CanonicalEvent) -> Vec<u8> {
    let (kind, header, payload) = match event {
        CanonicalEvent::Scan(scan) => ((0, "BARCODE_SCAN"), &scan.header, barcode_scan(scan)),
        CanonicalEvent::Count(count) => ((1, "CYCLE_COUNT"), &count.header, cycle_count(count)),
        _ => return Vec::new(),
    };
    let message = envelope(symbol(kind), header, payload);
    WRITER.write_value_to_vec(message).expect("an RF datum is built for the shipped schema")
}

/// The message: the envelope fields, then the payload as the union's branch `payload.0`.
fn envelope(message_type: Value, h: &EventHeader, payload: (u32, Value)) -> Value {
    let correction = match &h.error_declaration {
        Some(correction) => {
            let corrects = correction.corrects_event_ids.iter().map(|id| string(id)).collect();
            let fields =
                [("reason", string(&correction.reason)), ("corrects", Value::Array(corrects))];
            Value::Union(1, Box::new(record(fields)))
        }
        None => Value::Union(0, Box::new(Value::Null)),
    };
    record([
        ("message_type", message_type),
        ("message_id", string(&h.event_id)),
        ("captured_at", Value::TimestampMicros(h.event_time.saturating_mul(1_000))),
        ("utc_offset", string(&h.event_tz_offset)),
        ("forwarded_at", Value::TimestampMillis(h.record_time)),
        ("tenant", string(&h.tenant_id)),
        ("site", string(&h.site_id)),
        ("origin", symbol(origin(h.source_system))),
        ("sequence", Value::Long(h.source_seq)),
        (
            "handheld",
            record([
                ("device_id", opt_string(h.device_id.as_deref())),
                ("operator_badge", opt_string(h.operator_id.as_deref())),
            ]),
        ),
        (
            "epcis",
            record([
                ("action", symbol(action(h.action))),
                ("biz_step", string(&h.biz_step)),
                ("disposition", opt_string(h.disposition.as_deref())),
            ]),
        ),
        ("correction", correction),
        ("payload", Value::Union(payload.0, Box::new(payload.1))),
    ])
}

/// The `BarcodeScan` branch of the payload.
fn barcode_scan(e: &ScanEvent) -> (u32, Value) {
    let task = record([
        ("id", opt_string(e.task_id.as_deref())),
        ("type", opt_string(e.task_type.as_deref())),
        ("expected_gtin", opt_string(e.expected_gtin.as_deref())),
        ("expected_lot", opt_string(e.expected_lot.as_deref())),
        ("expected_location", opt_string(e.expected_location_id.as_deref())),
    ]);
    let expiry = optional(e.expiry_date.map(Value::Date));
    let scan = record([
        ("barcode", string(&e.raw_barcode)),
        ("symbology", opt_string(e.symbology.as_deref())),
        ("sku", string(&e.sku)),
        ("gtin", opt_string(e.gtin.as_deref())),
        ("sscc", opt_string(e.sscc.as_deref())),
        ("license_plate", opt_string(e.lpn.as_deref())),
        ("lot", opt_string(e.lot.as_deref())),
        ("expiry", expiry),
        ("serial", opt_string(e.serial.as_deref())),
        ("location", string(&e.location_id)),
        ("quantity", Value::Long(e.quantity)),
        ("uom", string(&e.uom)),
        ("result", symbol(read_result(e.scan_result))),
        ("task", task),
    ]);
    (0, scan)
}

/// The `CycleCount` branch of the payload.
fn cycle_count(e: &CountEvent) -> (u32, Value) {
    let counted = Decimal::from(unscaled_bytes(i128::from(e.counted_qty) * 1_000));
    let count = record([
        ("count_document", string(&e.count_doc_id)),
        ("count_type", symbol(count_kind(e.count_type))),
        ("round", Value::Int(e.count_seq)),
        ("blind", Value::Boolean(e.blind)),
        ("location", string(&e.location_id)),
        ("sku", string(&e.sku)),
        ("lot", opt_string(e.lot.as_deref())),
        ("counted_quantity", Value::Decimal(counted)),
        ("uom", string(&e.uom)),
        ("book_quantity", optional(e.wms_book_qty_at_freeze.map(Value::Long))),
        ("frozen_at", Value::TimestampMillis(e.freeze_time)),
        ("counter", opt_string(e.counter_id.as_deref())),
    ]);
    (1, count)
}

fn record<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Record(fields.into_iter().map(|(name, value)| (name.to_owned(), value)).collect())
}

fn string(text: &str) -> Value {
    Value::String(text.to_owned())
}

/// `["null", T]`: the null branch or `T`'s.
fn optional(value: Option<Value>) -> Value {
    match value {
        Some(value) => Value::Union(1, Box::new(value)),
        None => Value::Union(0, Box::new(Value::Null)),
    }
}

fn opt_string(text: Option<&str>) -> Value {
    optional(text.map(string))
}

/// An enum symbol with its index in the schema's `symbols`.
fn symbol((index, name): (u32, &str)) -> Value {
    Value::Enum(index, name.to_owned())
}

/// The unscaled value of a decimal as apache-avro's [`Decimal`] is built from: big-endian
/// two's complement in the fewest bytes that keep the sign (as Java's
/// `BigInteger.toByteArray` writes it).
fn unscaled_bytes(unscaled: i128) -> Vec<u8> {
    let all = unscaled.to_be_bytes();
    let fill = if unscaled < 0 { 0xff } else { 0 };
    let redundant = all
        .windows(2)
        .take_while(|pair| pair[0] == fill && (pair[1] & 0x80 == fill & 0x80))
        .count();
    all[redundant..].to_vec()
}

/// The `Origin` symbol.
fn origin(source: SourceSystem) -> (u32, &'static str) {
    match source {
        SourceSystem::Edge => (0, "RF_GATEWAY"),
        SourceSystem::Wms => (1, "WMS"),
        SourceSystem::Erp => (2, "ERP"),
        SourceSystem::Oms => (3, "OMS"),
        SourceSystem::Human => (4, "HUMAN"),
        SourceSystem::Simulator => (5, "SIMULATOR"),
    }
}

/// The `EpcisAction` symbol.
fn action(action: EpcisAction) -> (u32, &'static str) {
    match action {
        EpcisAction::Add => (0, "ADD"),
        EpcisAction::Observe => (1, "OBSERVE"),
        EpcisAction::Delete => (2, "DELETE"),
    }
}

/// The `ReadResult` symbol.
fn read_result(result: ScanResult) -> (u32, &'static str) {
    match result {
        ScanResult::Ok => (0, "GOOD_READ"),
        ScanResult::NoRead => (1, "NO_READ"),
        ScanResult::Mismatch => (2, "WRONG_ITEM"),
        ScanResult::UnknownItem => (3, "UNKNOWN_ITEM"),
    }
}

/// The `CountKind` symbol.
fn count_kind(kind: CountType) -> (u32, &'static str) {
    match kind {
        CountType::Abc => (0, "CYCLE"),
        CountType::Demand => (1, "ON_DEMAND"),
        CountType::NearZero => (2, "NEAR_ZERO"),
        CountType::EmptyLocation => (3, "EMPTY_LOCATION"),
    }
}

#[cfg(test)]
mod tests {
    use invex_model::ItemMaster;

    use super::*;

    fn header() -> EventHeader {
        EventHeader {
            event_id: "e1".into(),
            event_time: 1,
            event_tz_offset: "+01:00".into(),
            record_time: 2,
            tenant_id: "t".into(),
            site_id: "s".into(),
            source_system: SourceSystem::Edge,
            source_seq: 3,
            operator_id: None,
            device_id: None,
            action: EpcisAction::Observe,
            biz_step: "picking".into(),
            disposition: None,
            error_declaration: None,
        }
    }

    #[test]
    fn a_sparse_count_is_the_expected_bytes() {
        let count = CountEvent {
            header: header(),
            count_doc_id: "C".into(),
            count_type: CountType::Demand,
            count_seq: 2,
            blind: true,
            location_id: "L".into(),
            sku: "K".into(),
            lot: None,
            counted_qty: 5,
            uom: "EA".into(),
            wms_book_qty_at_freeze: None,
            freeze_time: 4,
            counter_id: None,
        };
        let mut want = vec![0x02, 0x04, b'e', b'1', 0xd0, 0x0f, 0x0c];
        want.extend_from_slice(b"+01:00");
        want.extend_from_slice(&[0x04, 0x02, b't', 0x02, b's', 0x00, 0x06, 0x00, 0x00, 0x02]);
        want.extend_from_slice(&[0x0e]);
        want.extend_from_slice(b"picking");
        want.extend_from_slice(&[0x00, 0x00, 0x02, 0x02, b'C', 0x02, 0x04, 0x01, 0x02, b'L']);
        want.extend_from_slice(&[0x02, b'K', 0x00, 0x04, 0x13, 0x88, 0x04, b'E', b'A', 0x00]);
        want.extend_from_slice(&[0x08, 0x00]);
        assert_eq!(render(&CanonicalEvent::Count(count)), want);
    }

    #[test]
    fn decimals_are_minimal_twos_complement() {
        for (unscaled, want) in [
            (0, &[0x00][..]),
            (127, &[0x7f]),
            (128, &[0x00, 0x80]),
            (-1, &[0xff]),
            (-128, &[0x80]),
            (-129, &[0xff, 0x7f]),
            (12_000, &[0x2e, 0xe0]),
        ] {
            assert_eq!(unscaled_bytes(unscaled), want, "{unscaled}");
        }
        let largest = i128::from(i64::MAX) * 1_000;
        assert_eq!(Decimal::from(unscaled_bytes(largest)), Decimal::from(largest.to_be_bytes()));
    }

    #[test]
    fn events_the_gateway_does_not_send_render_empty() {
        let item = ItemMaster {
            header: header(),
            sku: "K".into(),
            gtins: Vec::new(),
            base_uom: "EA".into(),
            case_pack: None,
            abc_class: "A".into(),
            unit_cost: 1.0,
            currency: "EUR".into(),
            lot_controlled: false,
            serial_controlled: false,
            min_remaining_shelf_life_days: None,
        };
        assert!(render(&CanonicalEvent::Item(item)).is_empty());
    }
}
