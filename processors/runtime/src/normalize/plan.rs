//! The compiled form of a mapping: what the hot path walks.
//!
//! A message kind compiles to the list of its canonical event's fields in schema order, each
//! either mapped ([`Leaf`]), a record mapped field by field, or an unmapped nullable field
//! (always null). Everything that can be decided without a record is decided here when the
//! file is loaded: pointers are parsed, factors are exact decimals, constants and enum-map
//! values are checked against the field's shape and its semantic checks, `@` pointers are
//! only accepted where an element scope exists. What remains for the hot path is resolving
//! pointers and converting the raw values it finds.

use std::collections::BTreeMap;

use invex_model::CanonicalTopic;
use serde_json::Value;

use super::checks::Check;
use super::decimal::Decimal;
use super::pointer::Pointer;
use super::shape::Shape;

/// One message kind of a source.
#[derive(Debug, Clone)]
pub(crate) struct Kind {
    /// Name in the source file.
    pub(crate) name: String,
    /// Canonical event it maps to.
    pub(crate) topic: CanonicalTopic,
    /// When set, every element of this array is one event (receipt lines).
    pub(crate) split: Option<Pointer>,
    /// The event's fields, in schema order.
    pub(crate) fields: Vec<FieldPlan>,
}

/// One field of a record.
#[derive(Debug, Clone)]
pub(crate) struct FieldPlan {
    /// Canonical field name.
    pub(crate) name: String,
    /// How its value is produced.
    pub(crate) node: Node,
}

/// How a field's value is produced.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// By a rule (boxed: rules are much larger than the other variants).
    Leaf(Box<Leaf>),
    /// Field by field; a nullable record whose mapped fields are all absent is null.
    Record {
        /// Its fields.
        fields: Vec<FieldPlan>,
        /// Whether the record may be null.
        nullable: bool,
    },
    /// Not mapped, nullable: null.
    Null,
}

/// A mapped value.
#[derive(Debug, Clone)]
pub(crate) struct Leaf {
    /// The rule.
    pub(crate) expr: Expr,
    /// The canonical field's shape (never a record).
    pub(crate) shape: Shape,
    /// Absent is null rather than an error.
    pub(crate) nullable: bool,
    /// Semantic checks on the produced value.
    pub(crate) checks: Vec<Check>,
}

/// A rule's expression.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    /// The raw value, converted to the field's shape.
    Copy(Pointer),
    /// A fixed value (already in the field's shape).
    Const(Value),
    /// The first of these pointers that is present and not null.
    First(Vec<Pointer>),
    /// A number or decimal string, times an exact factor.
    Number {
        /// Raw value.
        from: Pointer,
        /// Multiplier.
        factor: Decimal,
    },
    /// RFC 3339 date-time text.
    Rfc3339(Pointer),
    /// Milliseconds since the epoch (number or numeric text).
    EpochMillis(Pointer),
    /// Seconds since the epoch, possibly fractional (number or numeric text).
    EpochSeconds(Pointer),
    /// `YYYY-MM-DD` text.
    IsoDate(Pointer),
    /// SAP-style `YYYYMMDD` date, optional `HHMMSS` time and millisecond fields (UTC).
    Yyyymmdd {
        /// The date.
        date: Pointer,
        /// The time of day; absent is midnight.
        time: Option<Pointer>,
        /// Milliseconds within the second; absent is zero.
        millis: Option<Pointer>,
    },
    /// A lookup table from raw values (as text) to canonical values.
    Map {
        /// Raw value.
        from: Pointer,
        /// Raw text to canonical value.
        values: BTreeMap<String, Value>,
        /// Unknown raw values pass through unchanged instead of failing.
        passthrough: bool,
    },
    /// An array of records, each element mapped field by field (`@` is the element).
    EachRecord {
        /// Raw array.
        from: Pointer,
        /// The item record's fields.
        fields: Vec<FieldPlan>,
    },
    /// An array of values, each element mapped by a rule (`@` is the element).
    EachItem {
        /// Raw array.
        from: Pointer,
        /// The item rule.
        item: Box<Leaf>,
    },
}

impl Expr {
    /// The pointer a problem with the produced value is reported at.
    pub(crate) fn primary(&self) -> Option<&Pointer> {
        match self {
            Self::Const(_) => None,
            Self::First(pointers) => pointers.first(),
            Self::Copy(p)
            | Self::Number { from: p, .. }
            | Self::Rfc3339(p)
            | Self::EpochMillis(p)
            | Self::EpochSeconds(p)
            | Self::IsoDate(p)
            | Self::Yyyymmdd { date: p, .. }
            | Self::Map { from: p, .. }
            | Self::EachRecord { from: p, .. }
            | Self::EachItem { from: p, .. } => Some(p),
        }
    }
}
