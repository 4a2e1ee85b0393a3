//! A validating reader over TOML tables that collects every issue instead of stopping at the
//! first one (serde's `deny_unknown_fields` stops at the first): each key that is read is
//! marked, and [`Section::finish`] reports every key that nobody read as unknown.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde::de::IntoDeserializer;
use toml::{Table, Value};

use super::parse::PolicyIssue;

/// Issues found so far.
#[derive(Debug, Default)]
pub(super) struct Issues(pub(super) Vec<PolicyIssue>);

impl Issues {
    pub(super) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(PolicyIssue { path: path.into(), message: message.into() });
    }
}

/// One table being read, with its key path.
#[derive(Debug)]
pub(super) struct Section<'a> {
    table: &'a Table,
    path: String,
    used: BTreeSet<&'a str>,
}

impl<'a> Section<'a> {
    /// The document root.
    pub(super) fn root(table: &'a Table) -> Self {
        Self { table, path: String::new(), used: BTreeSet::new() }
    }

    /// The path of this section.
    pub(super) fn path(&self) -> String {
        self.path.clone()
    }

    /// The path of `key` in this section.
    pub(super) fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_owned() } else { format!("{}.{key}", self.path) }
    }

    /// A key that must be present.
    pub(super) fn required<T>(
        &mut self,
        key: &'a str,
        issues: &mut Issues,
        convert: impl Fn(&Value) -> Result<T, String>,
    ) -> Option<T> {
        if !self.table.contains_key(key) {
            issues.push(self.path_of(key), "missing required key");
        }
        self.optional(key, issues, convert)
    }

    /// A key that may be absent.
    pub(super) fn optional<T>(
        &mut self,
        key: &'a str,
        issues: &mut Issues,
        convert: impl Fn(&Value) -> Result<T, String>,
    ) -> Option<T> {
        self.used.insert(key);
        let value = self.table.get(key)?;
        convert(value).map_err(|message| issues.push(self.path_of(key), message)).ok()
    }

    /// A sub-table; a missing required one is reported.
    pub(super) fn table(
        &mut self,
        key: &'a str,
        issues: &mut Issues,
        required: bool,
    ) -> Option<Section<'a>> {
        self.used.insert(key);
        let path = self.path_of(key);
        match self.table.get(key) {
            Some(Value::Table(table)) => Some(Section { table, path, used: BTreeSet::new() }),
            Some(_) => {
                issues.push(path, "expected a table");
                None
            }
            None if required => {
                issues.push(path, "missing required table");
                None
            }
            None => None,
        }
    }

    /// An array of tables (`[[key]]`); absent means empty.
    pub(super) fn array(&mut self, key: &'a str, issues: &mut Issues) -> Vec<Section<'a>> {
        self.used.insert(key);
        let path = self.path_of(key);
        let Some(value) = self.table.get(key) else { return Vec::new() };
        let Value::Array(items) = value else {
            issues.push(path, "expected an array of tables");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::Table(table) => {
                    out.push(Section { table, path: format!("{path}[{i}]"), used: BTreeSet::new() })
                }
                _ => issues.push(format!("{path}[{i}]"), "expected a table"),
            }
        }
        out
    }

    /// Every key of this section, for tables whose keys are data (class names, categories).
    pub(super) fn keys(&self) -> Vec<&'a str> {
        self.table.keys().map(String::as_str).collect()
    }

    /// Reports every key that was not read.
    pub(super) fn finish(self, issues: &mut Issues) {
        for key in self.table.keys() {
            if !self.used.contains(key.as_str()) {
                issues.push(self.path_of(key), "unknown key");
            }
        }
    }
}

/// A non-empty string.
pub(super) fn string(value: &Value) -> Result<String, String> {
    match value.as_str() {
        Some(s) if !s.trim().is_empty() => Ok(s.to_owned()),
        Some(_) => Err("must not be empty".into()),
        None => Err(format!("expected a string, found {}", value.type_str())),
    }
}

/// A boolean.
pub(super) fn boolean(value: &Value) -> Result<bool, String> {
    value.as_bool().ok_or_else(|| format!("expected a boolean, found {}", value.type_str()))
}

/// A finite number >= 0 (integers are accepted).
pub(super) fn non_negative(value: &Value) -> Result<f64, String> {
    let n = match value {
        Value::Float(f) => *f,
        Value::Integer(i) => *i as f64,
        other => return Err(format!("expected a number, found {}", other.type_str())),
    };
    if n.is_finite() && n >= 0.0 { Ok(n) } else { Err(format!("must be >= 0, found {n}")) }
}

/// An integer within `min..=max`.
pub(super) fn int_in(min: i64, max: i64) -> impl Fn(&Value) -> Result<i64, String> {
    move |value| match value {
        Value::Integer(i) if (min..=max).contains(i) => Ok(*i),
        Value::Integer(i) => Err(format!("must be between {min} and {max}, found {i}")),
        other => Err(format!("expected an integer, found {}", other.type_str())),
    }
}

/// A severity, 1 (critical) to 5 (informational).
pub(super) fn severity(value: &Value) -> Result<i32, String> {
    // The range check makes the narrowing exact.
    int_in(1, 5)(value).map(|s| s as i32)
}

/// An enum symbol of the model (`OPS`, `SYSTEM_SYNC`, ...).
pub(super) fn symbol<T: for<'de> Deserialize<'de>>(value: &Value) -> Result<T, String> {
    let text = string(value)?;
    let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
        text.as_str().into_deserializer();
    T::deserialize(de).map_err(|_| format!("unknown symbol {text:?}"))
}
