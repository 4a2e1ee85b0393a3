//! The shape of every canonical event, read from its embedded Avro schema.
//!
//! Mappings are checked against the same `schemas/*.avsc` the codec writes with, not against
//! a second hand-kept table: a field added to the model and its schema is at once a field a
//! mapping may (or, when it is required, must) map. The field names and enum symbols of the
//! schemas are exactly those of the serde derives in invex-model, so a JSON object built to
//! this shape deserializes into the model type.

use std::collections::HashMap;

use apache_avro::Schema;
use apache_avro::schema::Name;
use invex_model::CanonicalTopic;

use crate::schema::embedded_schema_text;

/// What a canonical field holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Shape {
    /// UTF-8 text.
    String,
    /// 32-bit integer.
    Int,
    /// 64-bit integer.
    Long,
    /// 64-bit float.
    Double,
    /// `true` or `false`.
    Boolean,
    /// Days since the epoch (Avro `date`).
    Date,
    /// UTC milliseconds since the epoch (Avro `timestamp-millis`).
    Timestamp,
    /// One of these symbols.
    Enum(Vec<String>),
    /// A list of items.
    Array(Box<Shape>),
    /// Named fields.
    Record(Vec<Field>),
}

/// One field of a record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Field {
    /// Field name (as in the model and the schema).
    pub(crate) name: String,
    /// What it holds.
    pub(crate) shape: Shape,
    /// True when the schema is a union with `null` (an `Option` in the model).
    pub(crate) nullable: bool,
}

impl Shape {
    /// Short description for error messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::String => "string".into(),
            Self::Int => "int".into(),
            Self::Long => "long".into(),
            Self::Double => "double".into(),
            Self::Boolean => "boolean".into(),
            Self::Date => "date".into(),
            Self::Timestamp => "timestamp-millis".into(),
            Self::Enum(symbols) => format!("enum [{}]", symbols.join(", ")),
            Self::Array(item) => format!("array of {}", item.describe()),
            Self::Record(_) => "record".into(),
        }
    }
}

/// The fields of the canonical event published on `topic`.
pub(crate) fn event_fields(topic: CanonicalTopic) -> Result<Vec<Field>, String> {
    let subject = format!("{}-value", topic.name());
    let text = embedded_schema_text(&subject).ok_or_else(|| format!("no schema for {subject}"))?;
    let schema = Schema::parse_str(text).map_err(|e| format!("schema {subject}: {e}"))?;
    match convert(&schema, &mut HashMap::new())? {
        (Shape::Record(fields), false) => Ok(fields),
        _ => Err(format!("schema {subject} is not a record")),
    }
}

/// Converts an Avro schema to a shape and whether it is nullable, remembering named types
/// so that later references resolve.
fn convert(schema: &Schema, names: &mut HashMap<Name, Shape>) -> Result<(Shape, bool), String> {
    let shape = match schema {
        Schema::String => Shape::String,
        Schema::Int => Shape::Int,
        Schema::Long => Shape::Long,
        Schema::Double => Shape::Double,
        Schema::Boolean => Shape::Boolean,
        Schema::Date => Shape::Date,
        Schema::TimestampMillis => Shape::Timestamp,
        Schema::Array(array) => Shape::Array(Box::new(convert(&array.items, names)?.0)),
        Schema::Union(union) => return nullable(union.variants(), names),
        Schema::Enum(e) => {
            let shape = Shape::Enum(e.symbols.clone());
            names.insert(e.name.clone(), shape.clone());
            shape
        }
        Schema::Record(record) => {
            let mut fields = Vec::with_capacity(record.fields.len());
            for field in &record.fields {
                let (shape, nullable) = convert(&field.schema, names)?;
                fields.push(Field { name: field.name.clone(), shape, nullable });
            }
            let shape = Shape::Record(fields);
            names.insert(record.name.clone(), shape.clone());
            shape
        }
        Schema::Ref { name } => {
            names.get(name).cloned().ok_or_else(|| format!("unresolved reference {name:?}"))?
        }
        other => return Err(format!("unsupported Avro type {other:?} in a canonical event")),
    };
    Ok((shape, false))
}

/// `["null", T]` in either order is a nullable `T`; other unions do not occur in events.
fn nullable(
    variants: &[Schema],
    names: &mut HashMap<Name, Shape>,
) -> Result<(Shape, bool), String> {
    match variants {
        [Schema::Null, other] | [other, Schema::Null] => Ok((convert(other, names)?.0, true)),
        _ => Err("only unions of null and one type are supported".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_canonical_event_has_a_shape_with_a_header() {
        for topic in CanonicalTopic::ALL {
            let fields = event_fields(topic).unwrap();
            let header = fields.iter().find(|f| f.name == "header").unwrap();
            let Shape::Record(header_fields) = &header.shape else { panic!("{topic}") };
            assert!(
                header_fields
                    .iter()
                    .any(|f| f.name == "event_time" && f.shape == Shape::Timestamp && !f.nullable)
            );
            assert!(fields.iter().any(|f| f.name == "sku" && f.shape == Shape::String));
        }
        let asn = event_fields(CanonicalTopic::Asn).unwrap();
        let lots = asn.iter().find(|f| f.name == "expected_lots").unwrap();
        assert!(matches!(&lots.shape, Shape::Array(item) if matches!(**item, Shape::Record(_))));
    }
}
