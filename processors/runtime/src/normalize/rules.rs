//! Compiling field rules (TOML) against the canonical event's shape.
//!
//! The rules table of a kind mirrors the canonical event: `header.event_id = "/id"` is a
//! TOML dotted key, so the table nests like the event, and a record-typed field is always a
//! table of its own fields. The envelope table of the source supplies rules the kind does
//! not map itself (per field, never merged inside one expression). Every problem is
//! collected with its key path; a field that fails to compile compiles to nothing and the
//! whole source is rejected, so no partial mapping ever runs.

use std::collections::BTreeMap;

use invex_model::CanonicalTopic;
use serde_json::Value;

use super::checks::{Check, checks_for};
use super::decimal::Decimal;
use super::error::SourceError;
use super::eval::coerce;
use super::plan::{Expr, FieldPlan, Leaf, Node};
use super::pointer::Pointer;
use super::shape::{Field, Shape};

/// Collects the problems of one file.
pub(crate) struct Diag<'a> {
    /// File name.
    pub(crate) file: &'a str,
    /// Problems so far (of every file).
    pub(crate) errors: &'a mut Vec<SourceError>,
}

impl Diag<'_> {
    /// Records a problem at a key path.
    pub(crate) fn error(&mut self, key: &str, message: impl Into<String>) {
        self.errors.push(SourceError {
            file: self.file.to_owned(),
            key: key.to_owned(),
            message: message.into(),
        });
    }
}

/// The expression keys of a rule table and the option keys each allows.
const EXPRESSIONS: [(&str, &[&str]); 10] = [
    ("const", &[]),
    ("first", &[]),
    ("number", &["factor"]),
    ("rfc3339", &[]),
    ("epoch_millis", &[]),
    ("epoch_seconds", &[]),
    ("iso_date", &[]),
    ("yyyymmdd", &["hhmmss", "millis"]),
    ("map", &["values", "passthrough"]),
    ("each", &["fields", "item"]),
];

/// The rules for one record (absent when nothing is mapped) and their key path.
#[derive(Debug, Clone)]
pub(crate) struct Rules<'t> {
    /// The table.
    pub(crate) table: Option<&'t toml::Table>,
    /// Its key path.
    pub(crate) key: String,
}

impl<'t> Rules<'t> {
    /// The rule for field `name`, with its key path.
    fn get(&self, name: &str) -> (Option<&'t toml::Value>, String) {
        (self.table.and_then(|t| t.get(name)), join(&self.key, name))
    }
}

/// Compiles the rules of one kind.
pub(crate) struct Planner<'d, 'a> {
    /// Problem collector.
    pub(crate) diag: &'d mut Diag<'a>,
    /// The kind's canonical event.
    pub(crate) topic: CanonicalTopic,
    /// The kind's name (for envelope messages).
    pub(crate) kind: &'d str,
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_owned() } else { format!("{prefix}.{name}") }
}

impl Planner<'_, '_> {
    /// The plans of `fields` (canonical path `path`) from the kind's own and the
    /// envelope's rules; `scoped` says whether `@` pointers have an element to refer to.
    pub(crate) fn record(
        &mut self,
        fields: &[Field],
        own: &Rules<'_>,
        envelope: &Rules<'_>,
        path: &str,
        scoped: bool,
    ) -> Vec<FieldPlan> {
        self.unknown_fields(fields, own, path, "");
        self.unknown_fields(fields, envelope, path, &format!(" (kind `{}`)", self.kind));
        fields
            .iter()
            .map(|field| {
                let path = join(path, &field.name);
                let node = self.field(
                    field,
                    own.get(&field.name),
                    envelope.get(&field.name),
                    &path,
                    scoped,
                );
                FieldPlan { name: field.name.clone(), node }
            })
            .collect()
    }

    fn unknown_fields(&mut self, fields: &[Field], rules: &Rules<'_>, path: &str, note: &str) {
        let Some(table) = rules.table else { return };
        for name in table.keys() {
            if !fields.iter().any(|f| &f.name == name) {
                let place = if path.is_empty() {
                    self.topic.name().to_owned()
                } else {
                    format!("{}.{path}", self.topic.name())
                };
                self.diag
                    .error(&join(&rules.key, name), format!("{place} has no field `{name}`{note}"));
            }
        }
    }

    fn field(
        &mut self,
        field: &Field,
        own: (Option<&toml::Value>, String),
        envelope: (Option<&toml::Value>, String),
        path: &str,
        scoped: bool,
    ) -> Node {
        if let Shape::Record(fields) = &field.shape {
            let own = self.record_rules(own, path);
            let envelope = self.record_rules(envelope, path);
            if own.table.is_none() && envelope.table.is_none() && field.nullable {
                return Node::Null;
            }
            let fields = self.record(fields, &own, &envelope, path, scoped);
            return Node::Record { fields, nullable: field.nullable };
        }
        let missing_key = own.1.clone();
        match (own, envelope) {
            ((Some(value), key), _) | ((None, _), (Some(value), key)) => self
                .leaf(value, field, &key, path, scoped)
                .map_or(Node::Null, |l| Node::Leaf(Box::new(l))),
            _ if field.nullable => Node::Null,
            _ => {
                let message = format!(
                    "required field `{path}` ({}) is not mapped in kind `{}`",
                    field.shape.describe(),
                    self.kind
                );
                self.diag.error(&missing_key, message);
                Node::Null
            }
        }
    }

    fn record_rules<'t>(
        &mut self,
        (value, key): (Option<&'t toml::Value>, String),
        path: &str,
    ) -> Rules<'t> {
        match value {
            None => Rules { table: None, key },
            Some(toml::Value::Table(table)) => Rules { table: Some(table), key },
            Some(_) => {
                let message = format!(
                    "`{path}` is a record: map its fields one by one (`{path}.<field> = ...`)"
                );
                self.diag.error(&key, message);
                Rules { table: None, key }
            }
        }
    }

    fn leaf(
        &mut self,
        value: &toml::Value,
        field: &Field,
        key: &str,
        path: &str,
        scoped: bool,
    ) -> Option<Leaf> {
        let checks = checks_for(self.topic, path);
        let expr = self.expr(value, &field.shape, key, path, scoped)?;
        if let Expr::Const(constant) = &expr {
            self.check_constant(constant, &checks, key);
        }
        Some(Leaf { expr, shape: field.shape.clone(), nullable: field.nullable, checks })
    }

    fn check_constant(&mut self, constant: &Value, checks: &[Check], key: &str) {
        for check in checks {
            if let Some(why) = check.violation(constant) {
                self.diag.error(key, format!("constant {constant} {why}"));
            }
        }
    }

    fn expr(
        &mut self,
        value: &toml::Value,
        shape: &Shape,
        key: &str,
        path: &str,
        scoped: bool,
    ) -> Option<Expr> {
        match value {
            toml::Value::String(text) => {
                if matches!(shape, Shape::Array(item) if matches!(**item, Shape::Record(_))) {
                    self.diag.error(
                        key,
                        "an array of records is mapped with { each = \"...\", fields = { ... } }",
                    );
                    return None;
                }
                self.pointer(text, key, scoped).map(Expr::Copy)
            }
            toml::Value::Table(table) => self.expression(table, shape, key, path, scoped),
            _ => {
                let message = "a rule is a JSON pointer string or an expression table \
                               ({ const = ... }, { number = \"/p\" }, ...)";
                self.diag.error(key, message);
                None
            }
        }
    }

    fn pointer(&mut self, text: &str, key: &str, scoped: bool) -> Option<Pointer> {
        match Pointer::parse(text) {
            Ok(pointer) if pointer.is_relative() && !scoped => {
                let message = format!(
                    "{text:?}: `@` pointers need an array element: use them inside `each` \
                     or in a kind with `split`"
                );
                self.diag.error(key, message);
                None
            }
            Ok(pointer) => Some(pointer),
            Err(message) => {
                self.diag.error(key, message);
                None
            }
        }
    }

    fn pointer_at(
        &mut self,
        table: &toml::Table,
        name: &str,
        key: &str,
        scoped: bool,
    ) -> Option<Pointer> {
        let key = join(key, name);
        match table.get(name) {
            Some(toml::Value::String(text)) => self.pointer(text, &key, scoped),
            Some(_) => {
                self.diag.error(&key, "must be a JSON pointer string");
                None
            }
            None => None,
        }
    }

    fn expression(
        &mut self,
        table: &toml::Table,
        shape: &Shape,
        key: &str,
        path: &str,
        scoped: bool,
    ) -> Option<Expr> {
        let present: Vec<_> =
            EXPRESSIONS.iter().filter(|(name, _)| table.contains_key(*name)).collect();
        let [(name, options)] = present[..] else {
            let names: Vec<_> = EXPRESSIONS.iter().map(|(n, _)| *n).collect();
            self.diag.error(
                key,
                format!("an expression table has exactly one of: {}", names.join(", ")),
            );
            return None;
        };
        for other in table.keys() {
            if other != name && !options.contains(&other.as_str()) {
                let allowed =
                    if options.is_empty() { "none".to_owned() } else { options.join(", ") };
                self.diag.error(
                    &join(key, other),
                    format!("unknown key in a `{name}` rule (options: {allowed})"),
                );
            }
        }
        let ok = |shapes: &[Shape]| shapes.contains(shape);
        match *name {
            "const" => self.constant(&table["const"], shape, &join(key, "const")).map(Expr::Const),
            "first" => self.first(&table["first"], shape, &join(key, "first"), scoped),
            "number" if ok(&[Shape::Int, Shape::Long, Shape::Double]) => {
                let from = self.pointer_at(table, "number", key, scoped)?;
                let factor = self.factor(table.get("factor"), key)?;
                Some(Expr::Number { from, factor })
            }
            "rfc3339" if ok(&[Shape::Timestamp]) => {
                self.pointer_at(table, name, key, scoped).map(Expr::Rfc3339)
            }
            "epoch_millis" if ok(&[Shape::Timestamp]) => {
                self.pointer_at(table, name, key, scoped).map(Expr::EpochMillis)
            }
            "epoch_seconds" if ok(&[Shape::Timestamp]) => {
                self.pointer_at(table, name, key, scoped).map(Expr::EpochSeconds)
            }
            "iso_date" if ok(&[Shape::Date]) => {
                self.pointer_at(table, name, key, scoped).map(Expr::IsoDate)
            }
            "yyyymmdd" if ok(&[Shape::Timestamp, Shape::Date]) => {
                self.yyyymmdd(table, shape, key, scoped)
            }
            "map" if !matches!(shape, Shape::Array(_) | Shape::Record(_)) => {
                self.map(table, shape, key, scoped)
            }
            "each" if matches!(shape, Shape::Array(_)) => {
                self.each(table, shape, key, path, scoped)
            }
            _ => {
                self.diag.error(
                    key,
                    format!("a `{name}` rule cannot produce a {} field", shape.describe()),
                );
                None
            }
        }
    }

    fn constant(&mut self, value: &toml::Value, shape: &Shape, key: &str) -> Option<Value> {
        let json = match serde_json::to_value(value) {
            Ok(json) if !matches!(value, toml::Value::Datetime(_)) => json,
            _ => {
                self.diag.error(key, "TOML dates are not constants: write the canonical value");
                return None;
            }
        };
        match coerce(shape, &json) {
            Ok(constant) => Some(constant),
            Err(reason) => {
                self.diag.error(key, format!("constant does not fit the field: {reason}"));
                None
            }
        }
    }

    fn first(
        &mut self,
        value: &toml::Value,
        shape: &Shape,
        key: &str,
        scoped: bool,
    ) -> Option<Expr> {
        let texts: Option<Vec<&str>> =
            value.as_array().and_then(|a| a.iter().map(toml::Value::as_str).collect());
        match texts {
            Some(texts)
                if !texts.is_empty()
                    && !matches!(shape, Shape::Array(i) if matches!(**i, Shape::Record(_))) =>
            {
                let pointers: Vec<_> =
                    texts.iter().filter_map(|t| self.pointer(t, key, scoped)).collect();
                (pointers.len() == texts.len()).then_some(Expr::First(pointers))
            }
            _ => {
                self.diag.error(
                    key,
                    "`first` takes a non-empty array of JSON pointers (not for arrays of records)",
                );
                None
            }
        }
    }

    fn factor(&mut self, value: Option<&toml::Value>, key: &str) -> Option<Decimal> {
        let parsed = match value {
            None => Ok(Decimal::ONE),
            Some(toml::Value::Integer(i)) => Decimal::parse(&i.to_string()),
            Some(toml::Value::Float(f)) => Decimal::from_f64(*f),
            Some(toml::Value::String(s)) => Decimal::parse(s),
            Some(_) => Err(super::decimal::NumberError::Syntax),
        };
        parsed.map_err(|e| self.diag.error(&join(key, "factor"), format!("factor: {e}"))).ok()
    }

    fn yyyymmdd(
        &mut self,
        table: &toml::Table,
        shape: &Shape,
        key: &str,
        scoped: bool,
    ) -> Option<Expr> {
        let date = self.pointer_at(table, "yyyymmdd", key, scoped)?;
        let time = self.pointer_at(table, "hhmmss", key, scoped);
        let millis = self.pointer_at(table, "millis", key, scoped);
        if *shape == Shape::Date && (table.contains_key("hhmmss") || table.contains_key("millis")) {
            self.diag.error(key, "a date field takes no `hhmmss` or `millis`");
            return None;
        }
        Some(Expr::Yyyymmdd { date, time, millis })
    }

    fn map(&mut self, table: &toml::Table, shape: &Shape, key: &str, scoped: bool) -> Option<Expr> {
        let from = self.pointer_at(table, "map", key, scoped);
        let passthrough = match table.get("passthrough") {
            None => false,
            Some(toml::Value::Boolean(b))
                if !*b || matches!(shape, Shape::String | Shape::Enum(_)) =>
            {
                *b
            }
            Some(_) => {
                self.diag.error(
                    &join(key, "passthrough"),
                    "a boolean, and true only for string or enum fields",
                );
                false
            }
        };
        let Some(toml::Value::Table(raw)) = table.get("values") else {
            self.diag.error(
                &join(key, "values"),
                "a `map` rule needs a `values` table (raw value = canonical value)",
            );
            return None;
        };
        let mut values = BTreeMap::new();
        for (raw_value, canonical) in raw {
            let at = join(&join(key, "values"), raw_value);
            if let Some(constant) = self.constant(canonical, shape, &at) {
                values.insert(raw_value.clone(), constant);
            }
        }
        (values.len() == raw.len()).then_some(Expr::Map { from: from?, values, passthrough })
    }

    fn each(
        &mut self,
        table: &toml::Table,
        shape: &Shape,
        key: &str,
        path: &str,
        scoped: bool,
    ) -> Option<Expr> {
        let from = self.pointer_at(table, "each", key, scoped);
        let Shape::Array(item) = shape else { return None };
        match (&**item, table.get("fields"), table.get("item")) {
            (Shape::Record(fields), Some(toml::Value::Table(rules)), None) => {
                let own = Rules { table: Some(rules), key: join(key, "fields") };
                let none = Rules { table: None, key: String::new() };
                let fields = self.record(fields, &own, &none, path, true);
                Some(Expr::EachRecord { from: from?, fields })
            }
            (Shape::Record(_), _, _) => {
                self.diag
                    .error(key, "an array of records needs `fields = { ... }` (and no `item`)");
                None
            }
            (_, None, rule) => {
                let rule = rule.cloned().unwrap_or_else(|| toml::Value::String("@".into()));
                let field = Field { name: String::new(), shape: (**item).clone(), nullable: false };
                let item = self.leaf(&rule, &field, &join(key, "item"), path, true)?;
                Some(Expr::EachItem { from: from?, item: Box::new(item) })
            }
            (_, Some(_), _) => {
                self.diag.error(key, "an array of values takes `item = <rule>`, not `fields`");
                None
            }
        }
    }
}
