//! Schema evolution: every current schema reads data written with every kept older version.
//!
//! The registry runs in BACKWARD mode, where a new schema must read everything written with
//! the previous one; checking against every kept version (BACKWARD_TRANSITIVE) also covers
//! consumers that replay old segments of a topic. The negative tests mutate a real subject
//! file in memory to prove the check can fail, and the positive controls prove it does not fail
//! on the changes the README allows.

use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use invex_model::CountEvent;
use serde_json::{Value as Json, json};

use crate::builders::{self, Fill};

use crate::support::{
    SUBJECTS, avsc_stems, check_backward, history, load_json, load_schema, schemas_dir,
    subject_path,
};

#[test]
fn every_subject_keeps_its_released_versions() {
    let kept = std::fs::read_dir(schemas_dir().join("history"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect::<std::collections::BTreeSet<_>>();
    let subjects = SUBJECTS.iter().map(|(s, _)| (*s).to_owned()).collect();
    assert_eq!(kept, subjects);
    for (subject, _) in SUBJECTS {
        let versions = avsc_stems(&schemas_dir().join("history").join(subject));
        assert!(versions.contains("v1"), "{subject} has no v1");
    }
}

#[test]
fn current_schemas_are_backward_compatible_with_every_kept_version() {
    for (subject, _) in SUBJECTS {
        let current = load_schema(&subject_path(subject));
        for old in history(subject) {
            let verdict = check_backward(&load_schema(&old), &current);
            assert_eq!(
                verdict,
                Ok(()),
                "{subject} cannot read data written with {}",
                old.display()
            );
        }
    }
}

/// The JSON of the count subject, the one mutated below.
fn count_schema() -> Json {
    load_json(&subject_path("wh.count-value"))
}

fn parse(json: &Json) -> Schema {
    Schema::parse(json).unwrap()
}

fn add_top_level_field(schema: &mut Json, field: Json) {
    schema["fields"].as_array_mut().unwrap().push(field);
}

/// The `symbols` of the enum named `name`, wherever it is defined.
fn symbols_of<'a>(json: &'a mut Json, name: &str) -> Option<&'a mut Vec<Json>> {
    match json {
        Json::Object(object) => {
            if object.get("name").is_some_and(|n| n == name) {
                return object.get_mut("symbols").and_then(Json::as_array_mut);
            }
            object.values_mut().find_map(|v| symbols_of(v, name))
        }
        Json::Array(items) => items.iter_mut().find_map(|v| symbols_of(v, name)),
        _ => None,
    }
}

#[test]
fn a_new_field_without_default_is_incompatible() {
    let old = count_schema();
    let mut new = old.clone();
    add_top_level_field(&mut new, json!({"name": "zone_id", "type": "string", "doc": "Zone."}));
    let verdict = check_backward(&parse(&old), &parse(&new));
    assert!(verdict.as_ref().is_err_and(|e| e.contains("zone_id")), "{verdict:?}");
}

#[test]
fn a_removed_enum_symbol_is_incompatible() {
    let old = count_schema();
    let mut new = old.clone();
    symbols_of(&mut new, "CountType").unwrap().retain(|s| s != "EMPTY_LOCATION");
    assert!(check_backward(&parse(&old), &parse(&new)).is_err());
}

#[test]
fn a_narrowed_field_type_is_incompatible() {
    let old = count_schema();
    let mut new = old.clone();
    let fields = new["fields"].as_array_mut().unwrap();
    let counted = fields.iter_mut().find(|f| f["name"] == "counted_qty").unwrap();
    counted["type"] = json!("int");
    let verdict = check_backward(&parse(&old), &parse(&new));
    assert!(verdict.as_ref().is_err_and(|e| e.contains("counted_qty")), "{verdict:?}");
}

#[test]
fn an_optional_field_with_null_default_and_a_new_enum_symbol_are_compatible() {
    let old = count_schema();
    let mut new = old.clone();
    add_top_level_field(
        &mut new,
        json!({"name": "zone_id", "type": ["null", "string"], "default": null, "doc": "Zone."}),
    );
    symbols_of(&mut new, "CountType").unwrap().push(json!("LPN"));
    assert_eq!(check_backward(&parse(&old), &parse(&new)), Ok(()));
}

/// The evolution recipe end to end: data written before an optional field existed decodes,
/// through the current schema as reader, into the current Rust type with the field `None`.
#[test]
fn data_written_before_an_optional_field_existed_decodes_with_it_unset() {
    let current = count_schema();
    let mut old = current.clone();
    old["fields"].as_array_mut().unwrap().retain(|f| f["name"] != "counter_id");
    let (old, current) = (parse(&old), parse(&current));

    let expected = builders::count_event(Fill::Required);
    let Value::Record(mut fields) = apache_avro::to_value(&expected).unwrap() else {
        panic!("a CountEvent serializes to a record");
    };
    fields.retain(|(name, _)| name != "counter_id");
    let writer = GenericDatumWriter::builder(&old).build().unwrap();
    let bytes = writer.write_value_to_vec(Value::Record(fields)).unwrap();

    let reader = GenericDatumReader::builder(&old).reader_schema(&current).build().unwrap();
    let decoded = reader.read_value(&mut bytes.as_slice()).unwrap();
    assert_eq!(apache_avro::from_value::<CountEvent>(&decoded).unwrap(), expected);
}
