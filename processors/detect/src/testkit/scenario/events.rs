//! Events of scenario steps: a per-topic template with every field, the step's fields merged
//! over it, then deserialized into a [`CanonicalEvent`] exactly as a replay line would be.
//!
//! Field names are those of the JSON line format (`{"topic": ..., "value": {...}}`), so a step
//! is a replay line's `value` with the defaults left out. A field the template does not have is
//! an error (typos do not pass silently). Header defaults: `event_id` = `<topic>-<step>`,
//! `event_time` = `record_time` = the step's time, tenant/site of the scenario, source system
//! and CBV business step by topic, `source_seq` = the step number.

use invex_model::{CanonicalEvent, CanonicalTopic};
use serde_json::{Map, Value, json};

/// What a pipe step says about its event.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct EventSpec {
    pub(super) topic: CanonicalTopic,
    pub(super) time: i64,
    pub(super) id: String,
    pub(super) step: usize,
    pub(super) header: Map<String, Value>,
    pub(super) fields: Map<String, Value>,
}

/// Scenario-wide defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Defaults {
    pub(super) tenant: String,
    pub(super) site: String,
    pub(super) sku: String,
}

/// Builds the event of a pipe step.
pub(super) fn build(spec: &EventSpec, defaults: &Defaults) -> Result<CanonicalEvent, String> {
    let mut value = template(spec.topic, &spec.id, &defaults.sku);
    merge(&mut value, &spec.fields, "")?;
    let mut header = header(spec, defaults);
    merge(&mut header, &spec.header, "header.")?;
    fill_derived(spec.topic, spec.time, &mut value);
    if let Value::Object(map) = &mut value {
        map.insert("header".to_owned(), header);
    }
    let line = json!({ "topic": spec.topic.name(), "value": value });
    serde_json::from_value(line).map_err(|e| format!("event does not decode: {e}"))
}

fn header(spec: &EventSpec, d: &Defaults) -> Value {
    let (system, biz_step, action) = match spec.topic {
        CanonicalTopic::Book | CanonicalTopic::Asn | CanonicalTopic::Item => ("ERP", "", "OBSERVE"),
        CanonicalTopic::Allocation => ("OMS", "", "OBSERVE"),
        CanonicalTopic::Receipt => ("WMS", "receiving", "ADD"),
        CanonicalTopic::Pick => ("WMS", "picking", "OBSERVE"),
        CanonicalTopic::Task => ("WMS", "storing", "OBSERVE"),
        CanonicalTopic::Count => ("WMS", "cycle_counting", "OBSERVE"),
        CanonicalTopic::Approvals => ("HUMAN", "", "OBSERVE"),
        CanonicalTopic::Scan => ("EDGE", "", "OBSERVE"),
        _ => ("WMS", "", "OBSERVE"),
    };
    json!({
        "event_id": spec.id,
        "event_time": spec.time,
        "event_tz_offset": "+00:00",
        "record_time": spec.time,
        "tenant_id": d.tenant,
        "site_id": d.site,
        "source_system": system,
        "source_seq": spec.step,
        "operator_id": null,
        "device_id": null,
        "action": action,
        "biz_step": biz_step,
        "disposition": null,
        "error_declaration": null,
    })
}

/// Every field of the value of an event of `topic`, with defaults.
fn template(topic: CanonicalTopic, id: &str, sku: &str) -> Value {
    match topic {
        CanonicalTopic::Item => json!({
            "sku": sku, "gtins": [], "base_uom": "EA", "case_pack": null, "abc_class": "C",
            "unit_cost": 1.0, "currency": "EUR", "lot_controlled": false,
            "serial_controlled": false, "min_remaining_shelf_life_days": null,
        }),
        CanonicalTopic::Book => json!({
            "snapshot_id": format!("snap-{id}"), "location_id": "L1", "sku": sku, "lot": null,
            "stock_type": "UNRESTRICTED", "quantity": 0, "uom": "EA", "unit_cost": 1.0,
            "currency": "EUR",
        }),
        CanonicalTopic::Count => json!({
            "count_doc_id": format!("doc-{id}"), "count_type": "ABC", "count_seq": 1,
            "blind": true, "location_id": "L1", "sku": sku, "lot": null, "counted_qty": 0,
            "uom": "EA", "wms_book_qty_at_freeze": null, "freeze_time": null, "counter_id": null,
        }),
        CanonicalTopic::Receipt => json!({
            "receipt_id": format!("rcpt-{id}"), "line_no": 1, "asn_id": null, "po_id": null,
            "po_line": null, "supplier_id": null, "carrier_id": null, "sku": sku, "gtin": null,
            "lot": null, "expiry_date": null, "serials": [], "location_id": "DOCK",
            "qty_received": null, "qty_accepted": 0, "uom": "EA", "condition_code": "GOOD",
            "stock_type": "UNRESTRICTED", "lpn": null, "receipt_closed": true,
        }),
        CanonicalTopic::Pick => json!({
            "pick_task_id": format!("pick-{id}"), "order_id": format!("ord-{id}"),
            "order_line": 1, "allocation_id": null, "location_id": "L1", "sku": sku,
            "lot": null, "serials": [], "qty_requested": null, "qty_picked": 0, "uom": "EA",
            "short_reason": null, "confirm_method": "SCAN",
        }),
        CanonicalTopic::Task => json!({
            "task_id": format!("task-{id}"), "task_type": "PUTAWAY", "status": "CONFIRMED",
            "sku": sku, "lot": null, "quantity": 0, "uom": "EA", "from_location_id": "DOCK",
            "suggested_location_id": null, "actual_location_id": null, "override_reason": null,
            "lpn": null,
        }),
        CanonicalTopic::Scan => json!({
            "raw_barcode": "0", "symbology": null, "sku": sku, "gtin": null, "sscc": null,
            "lpn": null, "lot": null, "expiry_date": null, "serial": null, "location_id": "L1",
            "quantity": 1, "uom": "EA", "scan_result": "OK", "task_id": null, "task_type": null,
            "expected_gtin": null, "expected_lot": null, "expected_location_id": null,
        }),
        CanonicalTopic::Allocation => json!({
            "allocation_id": format!("alloc-{id}"), "order_id": format!("ord-{id}"),
            "order_line": 1, "channel": null, "sku": sku, "location_id": "L1", "lot": null,
            "qty_ordered": null, "qty_allocated": 0, "uom": "EA", "status": "RELEASED",
            "promised_ship_time": null,
        }),
        CanonicalTopic::Asn => json!({
            "asn_id": "ASN-1", "po_id": "PO-1", "line_no": 1, "supplier_id": "SUP-1",
            "sku": sku, "gtin": null, "qty_expected": 0, "uom": "EA", "expected_lots": [],
            "ssccs": [], "under_tolerance_pct": null, "over_tolerance_pct": null,
            "unlimited_over": false, "min_remaining_shelf_life_days": null, "eta": null,
        }),
        CanonicalTopic::Ack => json!({
            "message_id": format!("msg-{id}"), "direction": "WMS_TO_ERP", "doc_type": "GR",
            "sku": sku, "quantity": 0, "related_event_ids": [], "status": "ACK",
            "error_code": null, "attempt": 1,
        }),
        CanonicalTopic::Approvals => json!({
            "exception_id": null, "approval_request_id": null, "verdict": "APPROVE",
            "actor": "supervisor-1", "actor_role": null, "comment": null, "reason_code": null,
            "sku": sku,
        }),
    }
}

/// Defaults that depend on other fields: a count frozen at its own time, a receipt that
/// received what it accepted, a pick that was asked for what it picked, an allocation of what
/// was ordered.
fn fill_derived(topic: CanonicalTopic, time: i64, value: &mut Value) {
    let Value::Object(map) = value else { return };
    let (field, default) = match topic {
        CanonicalTopic::Count => ("freeze_time", Value::from(time)),
        CanonicalTopic::Receipt => {
            ("qty_received", map.get("qty_accepted").cloned().unwrap_or_default())
        }
        CanonicalTopic::Pick => {
            ("qty_requested", map.get("qty_picked").cloned().unwrap_or_default())
        }
        CanonicalTopic::Allocation => {
            ("qty_ordered", map.get("qty_allocated").cloned().unwrap_or_default())
        }
        _ => return,
    };
    if map.get(field).is_some_and(Value::is_null) {
        map.insert(field.to_owned(), default);
    }
}

/// Overlays `fields` on the object `target`; every field must exist in the template.
fn merge(target: &mut Value, fields: &Map<String, Value>, path: &str) -> Result<(), String> {
    let Value::Object(map) = target else { return Err(format!("{path} is not an object")) };
    for (key, value) in fields {
        match map.get_mut(key) {
            Some(slot) => *slot = value.clone(),
            None => return Err(format!("unknown event field {path}{key}")),
        }
    }
    Ok(())
}

/// Converts TOML to JSON. A date-time with an offset becomes UTC milliseconds (every time
/// field of the canonical events is one, e.g. `promised_ship_time = 2025-01-20T12:00:00Z`);
/// any other date-time stays its RFC 3339 text.
pub(super) fn to_json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Value::from(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => {
            super::time::datetime_ms(d).map_or_else(|_| Value::String(d.to_string()), Value::from)
        }
        toml::Value::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}
