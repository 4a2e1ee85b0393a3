//! Semantic checks: values the schema allows but the canonical model forbids.
//!
//! A schema says a quantity is a `long`; the model says it is a count of units, so it is
//! never negative, and an id is never empty. These rules are data, keyed by canonical field
//! path (array items without index: `expected_lots.quantity`), attached to the mapped field
//! when a mapping is compiled and enforced on the value the mapping produced. A failing
//! record is poison: it goes to the DLQ naming the field, instead of reaching a detector
//! that would count a negative pick as stock coming back. Signed on purpose and therefore
//! absent here: `integration.ack` `quantity` (a posting may reverse).

use invex_model::CanonicalTopic;
use serde_json::Value;

/// A constraint on one field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// A non-empty string.
    NonEmpty,
    /// A non-empty string without `|`: it becomes part of the `tenant|site|sku` key.
    KeyPart,
    /// A number >= 0.
    NonNegative,
    /// An integer >= 1 (line numbers, count rounds, attempts).
    Positive,
}

use Check::{KeyPart, NonEmpty, NonNegative, Positive};

const HEADER: &[(&str, Check)] = &[
    ("header.event_id", NonEmpty),
    ("header.tenant_id", KeyPart),
    ("header.site_id", KeyPart),
    ("sku", NonEmpty),
];

const SCAN: &[(&str, Check)] =
    &[("location_id", NonEmpty), ("quantity", NonNegative), ("uom", NonEmpty)];

const RECEIPT: &[(&str, Check)] = &[
    ("receipt_id", NonEmpty),
    ("line_no", Positive),
    ("po_line", Positive),
    ("location_id", NonEmpty),
    ("qty_received", NonNegative),
    ("qty_accepted", NonNegative),
    ("uom", NonEmpty),
];

const PICK: &[(&str, Check)] = &[
    ("pick_task_id", NonEmpty),
    ("order_id", NonEmpty),
    ("order_line", Positive),
    ("location_id", NonEmpty),
    ("qty_requested", NonNegative),
    ("qty_picked", NonNegative),
    ("uom", NonEmpty),
];

const COUNT: &[(&str, Check)] = &[
    ("count_doc_id", NonEmpty),
    ("count_seq", Positive),
    ("location_id", NonEmpty),
    ("counted_qty", NonNegative),
    ("wms_book_qty_at_freeze", NonNegative),
    ("uom", NonEmpty),
];

const TASK: &[(&str, Check)] = &[
    ("task_id", NonEmpty),
    ("from_location_id", NonEmpty),
    ("quantity", NonNegative),
    ("uom", NonEmpty),
];

const ASN: &[(&str, Check)] = &[
    ("asn_id", NonEmpty),
    ("po_id", NonEmpty),
    ("line_no", Positive),
    ("supplier_id", NonEmpty),
    ("qty_expected", NonNegative),
    ("uom", NonEmpty),
    ("expected_lots.lot", NonEmpty),
    ("expected_lots.quantity", NonNegative),
    ("under_tolerance_pct", NonNegative),
    ("over_tolerance_pct", NonNegative),
    ("min_remaining_shelf_life_days", NonNegative),
];

const BOOK: &[(&str, Check)] = &[
    ("snapshot_id", NonEmpty),
    ("location_id", NonEmpty),
    ("quantity", NonNegative),
    ("uom", NonEmpty),
    ("unit_cost", NonNegative),
    ("currency", NonEmpty),
];

const ALLOCATION: &[(&str, Check)] = &[
    ("allocation_id", NonEmpty),
    ("order_id", NonEmpty),
    ("order_line", Positive),
    ("qty_ordered", NonNegative),
    ("qty_allocated", NonNegative),
    ("uom", NonEmpty),
];

const ACK: &[(&str, Check)] = &[("message_id", NonEmpty), ("attempt", Positive)];

const ITEM: &[(&str, Check)] = &[
    ("base_uom", NonEmpty),
    ("case_pack", Positive),
    ("abc_class", NonEmpty),
    ("unit_cost", NonNegative),
    ("currency", NonEmpty),
    ("min_remaining_shelf_life_days", NonNegative),
];

const APPROVAL: &[(&str, Check)] = &[("exception_id", NonEmpty), ("actor", NonEmpty)];

/// The per-topic rules (the header rules apply to every topic).
pub(crate) fn topic_checks(topic: CanonicalTopic) -> &'static [(&'static str, Check)] {
    match topic {
        CanonicalTopic::Scan => SCAN,
        CanonicalTopic::Receipt => RECEIPT,
        CanonicalTopic::Pick => PICK,
        CanonicalTopic::Count => COUNT,
        CanonicalTopic::Task => TASK,
        CanonicalTopic::Asn => ASN,
        CanonicalTopic::Book => BOOK,
        CanonicalTopic::Allocation => ALLOCATION,
        CanonicalTopic::Ack => ACK,
        CanonicalTopic::Item => ITEM,
        CanonicalTopic::Approvals => APPROVAL,
    }
}

/// The checks of the field at `path` (dotted, without indices) of an event on `topic`.
pub(crate) fn checks_for(topic: CanonicalTopic, path: &str) -> Vec<Check> {
    HEADER
        .iter()
        .chain(topic_checks(topic))
        .filter(|(p, _)| *p == path)
        .map(|(_, check)| *check)
        .collect()
}

/// Every rule path that applies to `topic`, header rules included.
#[cfg(test)]
pub(crate) fn all_paths(topic: CanonicalTopic) -> impl Iterator<Item = &'static str> {
    HEADER.iter().chain(topic_checks(topic)).map(|(p, _)| *p)
}

impl Check {
    /// Why `value` violates this check, if it does. Values of another type pass: the type
    /// is checked before, against the schema.
    pub(crate) fn violation(self, value: &Value) -> Option<&'static str> {
        match (self, value) {
            (NonEmpty | KeyPart, Value::String(s)) if s.is_empty() => Some("must not be empty"),
            (KeyPart, Value::String(s)) if s.contains('|') => {
                Some("must not contain `|`: it is part of the tenant|site|sku key")
            }
            (NonNegative, Value::Number(n)) if n.as_f64().is_some_and(|x| x < 0.0) => {
                Some("must not be negative")
            }
            (Positive, Value::Number(n)) if n.as_i64().is_none_or(|x| x < 1) => {
                Some("must be at least 1")
            }
            _ => None,
        }
    }
}
