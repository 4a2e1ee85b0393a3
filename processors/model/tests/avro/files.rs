//! The schema files themselves: they parse, the set of subjects is the expected one, and the
//! conventions that the round trips cannot see hold: docs everywhere, optional fields as
//! `["null", T]` defaulting to null, identical copies of shared types, enum symbols equal to
//! the serde names in declaration order, logical types on every time and date.

use std::collections::{BTreeMap, BTreeSet};

use apache_avro::Schema;
use invex_model::{
    AckStatus, ActionType, ApprovalVerdict, ConditionCode, CountType, Decision, EpcisAction,
    ErrorClass, ExceptionStatus, ExceptionType, OwnerTeam, RequestedBy, RootCauseCategory,
    ScanResult, SourceSystem, StockType, TaskStatus, TaskType,
};
use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::support::{
    NAMESPACE, SUBJECTS, all_avsc_files, avsc_stems, load_json, load_schema, schemas_dir,
    subject_path, topic_subjects,
};

#[test]
fn every_schema_file_parses() {
    let files = all_avsc_files();
    assert!(files.len() >= 2 * SUBJECTS.len(), "found only {files:?}");
    for path in files {
        load_schema(&path);
    }
}

#[test]
fn subject_files_are_exactly_the_expected_subjects() {
    let expected: BTreeSet<String> = SUBJECTS.iter().map(|(s, _)| (*s).to_owned()).collect();
    assert_eq!(avsc_stems(&schemas_dir()), expected);
    assert_eq!(topic_subjects(), expected, "every topic invex reads or writes has a subject");
}

#[test]
fn top_level_records_are_named_after_their_rust_types() {
    for (subject, type_name) in SUBJECTS {
        let Schema::Record(record) = load_schema(&subject_path(subject)) else {
            panic!("{subject} is not a record");
        };
        assert_eq!(record.name.name(), type_name, "{subject}");
        assert_eq!(record.name.namespace(), Some(NAMESPACE), "{subject}");
    }
}

/// Calls `visit` on every JSON object that defines a named type (record or enum).
fn visit_named(json: &Json, visit: &mut impl FnMut(&serde_json::Map<String, Json>)) {
    match json {
        Json::Object(object) => {
            if matches!(object.get("type"), Some(Json::String(t)) if t == "record" || t == "enum") {
                visit(object);
            }
            object.values().for_each(|v| visit_named(v, visit));
        }
        Json::Array(items) => items.iter().for_each(|v| visit_named(v, visit)),
        _ => {}
    }
}

/// Every named type definition in the current subjects, by name, with the subjects defining it.
fn named_definitions() -> BTreeMap<String, Vec<(&'static str, Json)>> {
    let mut found: BTreeMap<String, Vec<(&'static str, Json)>> = BTreeMap::new();
    for (subject, _) in SUBJECTS {
        visit_named(&load_json(&subject_path(subject)), &mut |object| {
            let name = object["name"].as_str().unwrap().to_owned();
            let mut definition = object.clone();
            // The namespace is declared once, on the top-level record, and inherited.
            definition.remove("namespace");
            found.entry(name).or_default().push((subject, Json::Object(definition)));
        });
    }
    found
}

/// The fields of a record definition with their names (nothing for an enum).
fn fields(definition: &Json) -> impl Iterator<Item = (&str, &Json)> {
    let fields = definition.get("fields").and_then(Json::as_array).into_iter().flatten();
    fields.map(|field| (field["name"].as_str().unwrap(), field))
}

/// Each subject is self-contained, so shared types are copied; the copies must not drift.
#[test]
fn shared_named_types_are_identical_in_every_subject() {
    let definitions = named_definitions();
    assert!(definitions["EventHeader"].len() == 11, "one header per canonical event");
    for (name, copies) in definitions {
        let (first_subject, first) = &copies[0];
        for (subject, copy) in &copies[1..] {
            assert_eq!(copy, first, "{name} differs between {first_subject} and {subject}");
        }
    }
}

#[test]
fn every_record_field_and_enum_is_documented() {
    for (name, copies) in named_definitions() {
        let (subject, definition) = &copies[0];
        let documented = |j: &Json| j["doc"].as_str().is_some_and(|d| !d.trim().is_empty());
        assert!(documented(definition), "{subject}: {name} has no doc");
        for (field_name, field) in fields(definition) {
            assert!(documented(field), "{subject}: {name}.{field_name} has no doc");
        }
    }
}

/// `Option<T>` is `["null", T]` with default null, so adding one later is BACKWARD compatible.
/// `null` must come first: apache-avro's `Value` conversion of `Option` hard-codes branch 0 for
/// `None` and 1 for `Some`.
#[test]
fn unions_are_optional_fields_defaulting_to_null() {
    for (name, copies) in named_definitions() {
        let (subject, definition) = &copies[0];
        for (field_name, field) in fields(definition) {
            let Json::Array(branches) = &field["type"] else {
                continue;
            };
            let at = format!("{subject}: {name}.{field_name}");
            assert_eq!(branches.len(), 2, "{at}");
            assert_eq!(branches[0], Json::from("null"), "{at}");
            assert_eq!(field.get("default"), Some(&Json::Null), "{at}");
        }
    }
}

/// The Avro type a model field must have on the wire when it is a time or a date (the model
/// keeps them as plain `i64` milliseconds and `i32` days), `None` for every other field.
fn logical_type_of(field_name: &str) -> Option<Json> {
    let is_time = field_name.ends_with("_time")
        || field_name.ends_with("_at")
        || ["at", "eta", "source_timestamp"].contains(&field_name);
    if is_time {
        Some(json!({"type": "long", "logicalType": "timestamp-millis"}))
    } else if field_name.ends_with("_date") {
        Some(json!({"type": "int", "logicalType": "date"}))
    } else {
        None
    }
}

#[test]
fn times_are_timestamp_millis_and_dates_are_dates() {
    for (name, copies) in named_definitions() {
        let (subject, definition) = &copies[0];
        for (field_name, field) in fields(definition) {
            let at = format!("{subject}: {name}.{field_name}");
            let wire = match &field["type"] {
                Json::Array(branches) => &branches[branches.len() - 1],
                single => single,
            };
            let logical = wire.get("logicalType").map(|_| wire.clone());
            assert_eq!(logical, logical_type_of(field_name), "{at}");
        }
    }
}

/// Lists every variant of a model enum; the exhaustive match stops compiling when the model
/// gains a variant that is not listed here.
macro_rules! variants {
    ($ty:ident: $($variant:ident),+ $(,)?) => {{
        fn exhaustive(v: $ty) {
            match v {
                $($ty::$variant)|+ => {}
            }
        }
        let _ = exhaustive as fn($ty);
        (stringify!($ty), serde_names(&[$($ty::$variant),+]))
    }};
}

fn serde_names<T: Serialize>(variants: &[T]) -> Vec<Json> {
    variants.iter().map(|v| serde_json::to_value(v).unwrap()).collect()
}

/// Both codecs match symbols by name, yet the schema lists them in declaration order like the
/// model does (the schema-aware encoder tries the variant index first and falls back to a
/// search), and every model enum must appear with exactly its serde names.
#[test]
fn enum_symbols_are_the_serde_names_in_declaration_order() {
    let model: BTreeMap<&str, Vec<Json>> = BTreeMap::from([
        variants!(SourceSystem: Wms, Erp, Edge, Oms, Human, Simulator),
        variants!(EpcisAction: Add, Observe, Delete),
        variants!(ScanResult: Ok, NoRead, Mismatch, UnknownItem),
        variants!(ConditionCode: Good, Damaged, IncorrectProduct, QualityProblem, Rejected),
        variants!(StockType: Unrestricted, QualityInspection, Blocked),
        variants!(TaskType: Putaway, Replenishment, Move),
        variants!(TaskStatus: Created, Confirmed, Cancelled),
        variants!(CountType: Abc, Demand, NearZero, EmptyLocation),
        variants!(AckStatus: Sent, Ack, Error, Retrying),
        variants!(ApprovalVerdict:
            Approve, Reject, RequestRecount, Acknowledge, Resolve, Hold, Release, Cancel),
        variants!(ExceptionType:
            ReceivingVariance, DamagedGoods, PutawayFailure, BarcodeMismatch,
            CycleCountDiscrepancy, LotSerialInconsistency, ExpiredInventory, DuplicatePick,
            SyncFailure, OrderAllocationConflict, NegativeOnHand),
        variants!(ExceptionStatus:
            Open, Triaged, InProgress, AwaitingRecount, AwaitingApproval, Approved, Rejected,
            Actioning, Resolved, Closed, OnHold, Cancelled),
        variants!(OwnerTeam:
            Ops, InventoryControl, Quality, Procurement, Finance, ItIntegration, CustomerService),
        variants!(RootCauseCategory:
            Process, SystemSync, Supplier, Carrier, MasterData, Theft, Unknown),
        variants!(ActionType:
            RecountTask, InventoryHold, ReleaseHold, SupplierCase, ErpStatusUpdate,
            CustomerServiceNotification, Escalation, ApprovalRequest, StockAdjustment,
            ItIncident, QualityReview),
        variants!(RequestedBy: Rule, User),
        variants!(Decision:
            Opened, AcceptedWithinTolerance, RecountRequested, ApprovalRequested, Approved,
            Rejected, Resolved, Redetected, DecisionIgnored, Transitioned, Triaged, Acknowledged,
            Held, Released, Cancelled, Escalated),
        variants!(ErrorClass: Deserialization, Validation, Processing, Late),
    ]);
    let mut in_schemas = BTreeSet::new();
    for (name, copies) in named_definitions() {
        let (subject, definition) = &copies[0];
        if definition["type"] != "enum" {
            continue;
        }
        let expected = model.get(name.as_str());
        let expected =
            expected.unwrap_or_else(|| panic!("{subject}: enum {name} is not a model enum"));
        assert_eq!(definition["symbols"].as_array(), Some(expected), "{subject}: {name}");
        in_schemas.insert(name);
    }
    let model_names: BTreeSet<String> = model.keys().map(|k| (*k).to_owned()).collect();
    assert_eq!(in_schemas, model_names, "every model enum appears in some subject");
}
