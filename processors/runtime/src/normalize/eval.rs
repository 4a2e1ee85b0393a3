//! The hot path: one compiled kind applied to one parsed document.
//!
//! The document is parsed once into a `serde_json::Value`; evaluation walks the kind's
//! fields in schema order, resolves pointers into that tree and builds the canonical event
//! as a JSON object, which serde then moves (not copies) into the model type. Only leaf
//! values are copied out of the raw tree, because one raw value may feed several fields.
//! Field paths and concrete pointers live on the stack as linked [`Trail`]s and [`Scope`]s
//! and become strings only when a record fails.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

use super::decimal::Decimal;
use super::error::Reason;
use super::plan::{Expr, FieldPlan, Leaf, Node};
use super::pointer::{Pointer, Scope};
use super::shape::Shape;
use super::time::{self, DAY_MS};

/// A failed record, before the source and kind are added.
#[derive(Debug)]
pub(crate) struct Fail {
    /// Canonical field path.
    pub(crate) field: Option<String>,
    /// Concrete raw pointer.
    pub(crate) pointer: Option<String>,
    /// What is wrong.
    pub(crate) reason: Reason,
}

/// The canonical field being produced: a stack-allocated linked path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Trail<'a> {
    parent: Option<&'a Trail<'a>>,
    seg: Seg<'a>,
}

#[derive(Debug, Clone, Copy)]
enum Seg<'a> {
    Root,
    Field(&'a str),
    Index(usize),
}

impl<'a> Trail<'a> {
    /// The event itself.
    pub(crate) const ROOT: Trail<'static> = Trail { parent: None, seg: Seg::Root };

    fn field(&'a self, name: &'a str) -> Self {
        Trail { parent: Some(self), seg: Seg::Field(name) }
    }

    fn index(&'a self, index: usize) -> Self {
        Trail { parent: Some(self), seg: Seg::Index(index) }
    }

    /// `header.event_time`, `expected_lots[1].quantity`.
    pub(crate) fn render(&self) -> String {
        let mut segs = Vec::new();
        let mut at = Some(self);
        while let Some(trail) = at {
            segs.push(trail.seg);
            at = trail.parent;
        }
        let mut out = String::new();
        for seg in segs.iter().rev() {
            match seg {
                Seg::Root => {}
                Seg::Field(name) if out.is_empty() => out.push_str(name),
                Seg::Field(name) => {
                    out.push('.');
                    out.push_str(name);
                }
                Seg::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
            }
        }
        out
    }
}

fn fail(
    trail: &Trail<'_>,
    pointer: Option<&Pointer>,
    scope: Option<&Scope<'_>>,
    reason: Reason,
) -> Fail {
    Fail { field: Some(trail.render()), pointer: pointer.map(|p| p.concrete(scope)), reason }
}

/// The JSON object of one event, from `root` and (for a split kind) the line `scope`.
pub(crate) fn event_object(
    fields: &[FieldPlan],
    root: &Value,
    scope: Option<&Scope<'_>>,
) -> Result<Value, Fail> {
    let trail = Trail::ROOT;
    fill(fields, fields.iter().map(|f| node(f, root, scope, &trail)), scope, &trail)
}

fn node(
    field: &FieldPlan,
    root: &Value,
    scope: Option<&Scope<'_>>,
    trail: &Trail<'_>,
) -> Result<Option<Value>, Fail> {
    let at = trail.field(&field.name);
    match &field.node {
        Node::Null => Ok(None),
        Node::Record { fields, nullable } => record(fields, *nullable, root, scope, &at),
        Node::Leaf(leaf) => leaf_value(leaf, root, scope, &at),
    }
}

/// A record; `None` when it is nullable and every mapped field is absent.
fn record(
    fields: &[FieldPlan],
    nullable: bool,
    root: &Value,
    scope: Option<&Scope<'_>>,
    trail: &Trail<'_>,
) -> Result<Option<Value>, Fail> {
    let values = fields.iter().map(|f| node(f, root, scope, trail));
    if !nullable {
        return fill(fields, values, scope, trail).map(Some);
    }
    let values: Vec<Option<Value>> = values.collect::<Result<_, _>>()?;
    if values.iter().all(Option::is_none) {
        return Ok(None);
    }
    fill(fields, values.into_iter().map(Ok), scope, trail).map(Some)
}

/// The object of `fields` from their evaluated values, absent ones filled or refused.
fn fill(
    fields: &[FieldPlan],
    values: impl Iterator<Item = Result<Option<Value>, Fail>>,
    scope: Option<&Scope<'_>>,
    trail: &Trail<'_>,
) -> Result<Value, Fail> {
    let mut map = Map::with_capacity(fields.len());
    for (field, value) in fields.iter().zip(values) {
        let value = match value? {
            Some(value) => value,
            None => absent(field, scope, trail)?,
        };
        map.insert(field.name.clone(), value);
    }
    Ok(Value::Object(map))
}

/// An absent array is empty, an absent nullable field null, an absent required one poison.
fn absent(field: &FieldPlan, scope: Option<&Scope<'_>>, trail: &Trail<'_>) -> Result<Value, Fail> {
    match &field.node {
        Node::Leaf(leaf) if matches!(leaf.shape, Shape::Array(_)) => Ok(Value::Array(Vec::new())),
        Node::Leaf(leaf) if !leaf.nullable => {
            Err(fail(&trail.field(&field.name), leaf.expr.primary(), scope, Reason::Missing))
        }
        _ => Ok(Value::Null),
    }
}

fn leaf_value(
    leaf: &Leaf,
    root: &Value,
    scope: Option<&Scope<'_>>,
    trail: &Trail<'_>,
) -> Result<Option<Value>, Fail> {
    let value = match &leaf.expr {
        Expr::EachRecord { from, fields } => each_record(from, fields, root, scope, trail)?,
        Expr::EachItem { from, item } => each_item(from, item, root, scope, trail)?,
        Expr::Copy(from) if matches!(leaf.shape, Shape::Array(_)) => {
            copy_array(from, &leaf.shape, root, scope, trail)?
        }
        expr => scalar(expr, &leaf.shape, root, scope)
            .map_err(|(reason, at)| fail(trail, at, scope, reason))?,
    };
    if let Some(value) = &value {
        for check in &leaf.checks {
            if let Some(why) = check.violation(value) {
                let reason = Reason::Impossible { value: value.to_string(), why };
                return Err(fail(trail, leaf.expr.primary(), scope, reason));
            }
        }
    }
    Ok(value)
}

/// The raw value at `pointer`, with JSON null meaning absent.
fn get<'v>(pointer: &Pointer, root: &'v Value, scope: Option<&Scope<'v>>) -> Option<&'v Value> {
    pointer.resolve(root, scope).filter(|v| !v.is_null())
}

fn array_at<'v>(
    from: &Pointer,
    root: &'v Value,
    scope: Option<&Scope<'v>>,
    trail: &Trail<'_>,
) -> Result<Option<&'v Vec<Value>>, Fail> {
    match get(from, root, scope) {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(other) => Err(fail(trail, Some(from), scope, wrong_type("array", other))),
    }
}

fn copy_array(
    from: &Pointer,
    shape: &Shape,
    root: &Value,
    scope: Option<&Scope<'_>>,
    trail: &Trail<'_>,
) -> Result<Option<Value>, Fail> {
    let (Shape::Array(item), Some(items)) = (shape, array_at(from, root, scope, trail)?) else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, raw) in items.iter().enumerate() {
        let value = coerce(item, raw).map_err(|reason| Fail {
            field: Some(trail.index(i).render()),
            pointer: Some(format!("{}/{i}", from.concrete(scope))),
            reason,
        })?;
        out.push(value);
    }
    Ok(Some(Value::Array(out)))
}

fn each_item(
    from: &Pointer,
    item: &Leaf,
    root: &Value,
    scope: Option<&Scope<'_>>,
    trail: &Trail<'_>,
) -> Result<Option<Value>, Fail> {
    let Some(items) = array_at(from, root, scope, trail)? else { return Ok(None) };
    let mut out = Vec::with_capacity(items.len());
    for (i, element) in items.iter().enumerate() {
        let inner = Scope::new(element, scope, from, i);
        let at = trail.index(i);
        match leaf_value(item, root, Some(&inner), &at)? {
            Some(value) => out.push(value),
            None => return Err(fail(&at, item.expr.primary(), Some(&inner), Reason::Missing)),
        }
    }
    Ok(Some(Value::Array(out)))
}

fn each_record(
    from: &Pointer,
    fields: &[FieldPlan],
    root: &Value,
    scope: Option<&Scope<'_>>,
    trail: &Trail<'_>,
) -> Result<Option<Value>, Fail> {
    let Some(items) = array_at(from, root, scope, trail)? else { return Ok(None) };
    let mut out = Vec::with_capacity(items.len());
    for (i, element) in items.iter().enumerate() {
        let inner = Scope::new(element, scope, from, i);
        let values = fields.iter().map(|f| node(f, root, Some(&inner), &trail.index(i)));
        out.push(fill(fields, values, Some(&inner), &trail.index(i))?);
    }
    Ok(Some(Value::Array(out)))
}

/// A problem and the pointer whose raw value caused it.
type Bad<'p> = (Reason, Option<&'p Pointer>);

fn scalar<'p>(
    expr: &'p Expr,
    shape: &Shape,
    root: &Value,
    scope: Option<&Scope<'_>>,
) -> Result<Option<Value>, Bad<'p>> {
    match expr {
        Expr::Const(value) => Ok(Some(value.clone())),
        Expr::Copy(p) => get(p, root, scope).map(|v| coerce(shape, v)).transpose().map_err(at(p)),
        Expr::First(pointers) => {
            let found = pointers.iter().find_map(|p| get(p, root, scope).map(|v| (p, v)));
            found.map(|(p, v)| coerce(shape, v).map_err(at(p))).transpose()
        }
        Expr::Number { from, factor } => {
            get(from, root, scope).map(|v| number(v, *factor, shape)).transpose().map_err(at(from))
        }
        Expr::Rfc3339(p) => get(p, root, scope)
            .map(|v| parse_text(v, time::parse_rfc3339).map(Value::from))
            .transpose()
            .map_err(at(p)),
        Expr::EpochMillis(p) => get(p, root, scope)
            .map(|v| epoch(v, Decimal::ONE).map(Value::from))
            .transpose()
            .map_err(at(p)),
        Expr::EpochSeconds(p) => get(p, root, scope)
            .map(|v| epoch(v, Decimal::ONE_THOUSAND).map(Value::from))
            .transpose()
            .map_err(at(p)),
        Expr::IsoDate(p) => get(p, root, scope)
            .map(|v| parse_text(v, time::parse_iso_date).map(Value::from))
            .transpose()
            .map_err(at(p)),
        Expr::Yyyymmdd { date, time, millis } => {
            sap_time(shape, (date, time.as_ref(), millis.as_ref()), root, scope)
        }
        Expr::Map { from, values, passthrough } => get(from, root, scope)
            .map(|v| lookup(v, values, *passthrough, shape))
            .transpose()
            .map_err(at(from)),
        Expr::EachRecord { from, .. } | Expr::EachItem { from, .. } => {
            Err((Reason::Model("array rule on a scalar field".into()), Some(from)))
        }
    }
}

/// Attaches the pointer a problem came from.
fn at<'p>(pointer: &'p Pointer) -> impl Fn(Reason) -> Bad<'p> {
    move |reason| (reason, Some(pointer))
}

/// The JSON type name of a value.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn wrong_type(expected: &str, found: &Value) -> Reason {
    Reason::WrongType { expected: expected.to_owned(), found: type_name(found) }
}

/// A raw value converted to a scalar or array-of-scalar shape, without any implicit
/// conversion between JSON types (text to number is a `number` rule's job).
pub(crate) fn coerce(shape: &Shape, value: &Value) -> Result<Value, Reason> {
    match (shape, value) {
        (Shape::String, Value::String(s)) => Ok(Value::String(s.clone())),
        (Shape::Enum(symbols), Value::String(s)) if symbols.contains(s) => {
            Ok(Value::String(s.clone()))
        }
        (Shape::Enum(symbols), Value::String(s)) => {
            Err(Reason::UnknownEnumValue { value: s.clone(), expected: symbols.join(", ") })
        }
        (Shape::Int | Shape::Date, Value::Number(n)) => {
            let int = n.as_i64().filter(|i| i32::try_from(*i).is_ok());
            int.map(Value::from).ok_or_else(|| not_integer(n, "int"))
        }
        (Shape::Long | Shape::Timestamp, Value::Number(n)) => {
            n.as_i64().map(Value::from).ok_or_else(|| not_integer(n, "long"))
        }
        (Shape::Double, Value::Number(n)) => Ok(Value::Number(n.clone())),
        (Shape::Boolean, Value::Bool(b)) => Ok(Value::Bool(*b)),
        (Shape::Array(item), Value::Array(items)) => {
            items.iter().map(|v| coerce(item, v)).collect::<Result<_, _>>().map(Value::Array)
        }
        _ => Err(wrong_type(&shape.describe(), value)),
    }
}

fn not_integer(n: &Number, target: &str) -> Reason {
    let why = if n.is_f64() {
        "not a whole number".to_owned()
    } else {
        format!("out of range for {target}")
    };
    Reason::BadNumber { text: n.to_string(), why }
}

fn bad_number(value: &Value, why: impl ToString) -> Reason {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Reason::BadNumber { text, why: why.to_string() }
}

fn decimal(value: &Value) -> Result<Decimal, Reason> {
    match value {
        Value::String(s) => Decimal::parse(s).map_err(|e| bad_number(value, e)),
        Value::Number(n) => Decimal::from_json(n).map_err(|e| bad_number(value, e)),
        other => Err(wrong_type("number or decimal string", other)),
    }
}

fn number(value: &Value, factor: Decimal, shape: &Shape) -> Result<Value, Reason> {
    let scaled = decimal(value)?.mul(factor).map_err(|e| bad_number(value, e))?;
    let out_of_int = || bad_number(value, "out of range for int");
    match shape {
        Shape::Int => {
            let n = scaled.to_i64().map_err(|e| bad_number(value, e))?;
            i32::try_from(n).map(Value::from).map_err(|_| out_of_int())
        }
        Shape::Long => scaled.to_i64().map(Value::from).map_err(|e| bad_number(value, e)),
        Shape::Double => {
            let f = scaled.to_f64().map_err(|e| bad_number(value, e))?;
            Number::from_f64(f).map(Value::Number).ok_or_else(|| bad_number(value, "not finite"))
        }
        _ => Err(Reason::Model(format!("number rule on a {} field", shape.describe()))),
    }
}

/// A number-valued time, `unit` milliseconds per raw unit; sub-millisecond precision drops.
fn epoch(value: &Value, unit: Decimal) -> Result<i64, Reason> {
    let millis = decimal(value).and_then(|d| d.mul(unit).map_err(|e| bad_number(value, e)));
    millis.and_then(|d| d.floor_i64().map_err(|e| bad_number(value, e))).map_err(as_time)
}

fn as_time(reason: Reason) -> Reason {
    match reason {
        Reason::BadNumber { text, why } => Reason::BadTime { text, why },
        other => other,
    }
}

fn parse_text<T>(value: &Value, parse: fn(&str) -> Result<T, &'static str>) -> Result<T, Reason> {
    let Value::String(text) = value else { return Err(wrong_type("string", value)) };
    parse(text).map_err(|why| Reason::BadTime { text: text.clone(), why: why.to_owned() })
}

fn sap_time<'p>(
    shape: &Shape,
    (date, clock, millis): (&'p Pointer, Option<&'p Pointer>, Option<&'p Pointer>),
    root: &Value,
    scope: Option<&Scope<'_>>,
) -> Result<Option<Value>, Bad<'p>> {
    let Some(raw) = get(date, root, scope) else { return Ok(None) };
    let Some(days) = parse_text(raw, time::parse_yyyymmdd).map_err(|r| (r, Some(date)))? else {
        return Ok(None);
    };
    if *shape == Shape::Date {
        return i32::try_from(days)
            .map(|d| Some(Value::from(d)))
            .map_err(|_| (bad_number(raw, "out of range for a date"), Some(date)));
    }
    let clock_ms = match clock.and_then(|p| get(p, root, scope).map(|v| (p, v))) {
        Some((p, v)) => parse_text(v, time::parse_hhmmss).map_err(|r| (r, Some(p)))?,
        None => 0,
    };
    let extra_ms = match millis.and_then(|p| get(p, root, scope).map(|v| (p, v))) {
        Some((p, v)) => sub_second(v).map_err(|r| (r, Some(p)))?,
        None => 0,
    };
    Ok(Some(Value::from(days * DAY_MS + clock_ms + extra_ms)))
}

fn sub_second(value: &Value) -> Result<i64, Reason> {
    let ms = decimal(value).and_then(|d| d.to_i64().map_err(|e| bad_number(value, e)));
    match ms.map_err(as_time)? {
        ms @ 0..=999 => Ok(ms),
        _ => Err(as_time(bad_number(value, "milliseconds must be 0 to 999"))),
    }
}

fn lookup(
    value: &Value,
    values: &std::collections::BTreeMap<String, Value>,
    passthrough: bool,
    shape: &Shape,
) -> Result<Value, Reason> {
    let key: Cow<'_, str> = match value {
        Value::String(s) => Cow::Borrowed(s),
        Value::Number(n) => Cow::Owned(n.to_string()),
        Value::Bool(b) => Cow::Owned(b.to_string()),
        other => return Err(wrong_type("string, number or boolean", other)),
    };
    match values.get(key.as_ref()) {
        Some(mapped) => Ok(mapped.clone()),
        None if passthrough => coerce(shape, value),
        None => Err(Reason::UnknownEnumValue {
            value: key.into_owned(),
            expected: values.keys().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", "),
        }),
    }
}
