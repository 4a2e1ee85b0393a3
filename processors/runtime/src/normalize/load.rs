//! Loading source files: TOML text to validated [`Source`]s, every problem reported.
//!
//! The file is parsed into a plain TOML table and walked by hand rather than through serde
//! derives, because `deny_unknown_fields` stops at the first problem and cannot say which
//! key path it was at; here every unknown key, missing key, bad pointer and rule that does
//! not fit its canonical field is reported, and a file with any problem yields no source.

use std::collections::HashMap;

use invex_model::CanonicalTopic;

use super::error::SourceError;
use super::plan::Kind;
use super::pointer::Pointer;
use super::rules::{Diag, Planner, Rules};
use super::shape::{self, Field};
use super::source::{Format, Source};

const SOURCE_KEYS: [&str; 8] =
    ["name", "topic", "format", "description", "discriminator", "avro", "envelope", "kinds"];
const AVRO_KEYS: [&str; 1] = ["record"];
const KIND_KEYS: [&str; 5] = ["when", "event", "split", "description", "fields"];

/// Canonical event shapes, read from the schemas once per load.
#[derive(Debug, Default)]
pub(crate) struct Shapes(HashMap<CanonicalTopic, Result<Vec<Field>, String>>);

impl Shapes {
    fn get(&mut self, topic: CanonicalTopic) -> &Result<Vec<Field>, String> {
        self.0.entry(topic).or_insert_with(|| shape::event_fields(topic))
    }
}

/// Loads one file; `None` when it has problems (they are in `errors`).
pub(crate) fn load_source(
    file: &str,
    text: &str,
    shapes: &mut Shapes,
    errors: &mut Vec<SourceError>,
) -> Option<Source> {
    let before = errors.len();
    let mut diag = Diag { file, errors };
    let table = match text.parse::<toml::Table>() {
        Ok(table) => table,
        Err(e) => {
            diag.error("(file)", syntax_message(text, &e));
            return None;
        }
    };
    unknown_keys(&mut diag, &table, "", &SOURCE_KEYS);
    let name = string(&mut diag, &table, "", "name");
    let topic = string(&mut diag, &table, "", "topic");
    let format = format(&mut diag, &table);
    let record = avro(&mut diag, &table, format);
    let discriminator = discriminator(&mut diag, &table);
    let envelope = optional_table(&mut diag, &table, "", "envelope");
    let envelope = Rules { table: envelope, key: "envelope".into() };
    let kinds = kinds(&mut diag, &table, &envelope, shapes);
    if diag.errors.len() > before {
        return None;
    }
    let (name, topic, format, discriminator, kinds) =
        (name?, topic?, format?, discriminator?, kinds?);
    let by_value = kinds.iter().enumerate().map(|(i, (value, _))| (value.clone(), i)).collect();
    let kinds = kinds.into_iter().map(|(_, kind)| kind).collect();
    Some(Source {
        name: name.to_owned(),
        topic: topic.to_owned(),
        format,
        record,
        discriminator,
        kinds,
        by_value,
    })
}

fn syntax_message(text: &str, error: &toml::de::Error) -> String {
    let line = error.span().map(|span| {
        let before = &text.as_bytes()[..span.start.min(text.len())];
        before.iter().filter(|b| **b == b'\n').count() + 1
    });
    match line {
        Some(line) => format!("TOML syntax error at line {line}: {}", error.message()),
        None => format!("TOML syntax error: {}", error.message()),
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_owned() } else { format!("{prefix}.{name}") }
}

fn unknown_keys(diag: &mut Diag<'_>, table: &toml::Table, prefix: &str, allowed: &[&str]) {
    for key in table.keys().filter(|k| !allowed.contains(&k.as_str())) {
        diag.error(&join(prefix, key), format!("unknown key (allowed: {})", allowed.join(", ")));
    }
}

/// A required non-empty string.
fn string<'t>(
    diag: &mut Diag<'_>,
    table: &'t toml::Table,
    prefix: &str,
    key: &str,
) -> Option<&'t str> {
    match table.get(key) {
        Some(toml::Value::String(s)) if !s.is_empty() => Some(s),
        Some(_) => {
            diag.error(&join(prefix, key), "must be a non-empty string");
            None
        }
        None => {
            diag.error(&join(prefix, key), "missing");
            None
        }
    }
}

fn optional_table<'t>(
    diag: &mut Diag<'_>,
    table: &'t toml::Table,
    prefix: &str,
    key: &str,
) -> Option<&'t toml::Table> {
    match table.get(key) {
        Some(toml::Value::Table(t)) => Some(t),
        Some(_) => {
            diag.error(&join(prefix, key), "must be a table");
            None
        }
        None => None,
    }
}

fn format(diag: &mut Diag<'_>, table: &toml::Table) -> Option<Format> {
    match string(diag, table, "", "format")? {
        "json" => Some(Format::Json),
        "avro" => Some(Format::Avro),
        other => {
            diag.error("format", format!("unsupported format {other:?} (supported: json, avro)"));
            None
        }
    }
}

/// The `[avro]` table: only for Avro sources, and optional; its `record` pins the writer
/// record the source accepts.
fn avro(diag: &mut Diag<'_>, table: &toml::Table, format: Option<Format>) -> Option<String> {
    let avro = optional_table(diag, table, "", "avro")?;
    if format == Some(Format::Json) {
        diag.error("avro", "only a source with format = \"avro\" has an `[avro]` table");
        return None;
    }
    unknown_keys(diag, avro, "avro", &AVRO_KEYS);
    let record = string(diag, avro, "avro", "record")?;
    let valid = record.split('.').all(|part| {
        let mut chars = part.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    if !valid {
        diag.error(
            "avro.record",
            format!("{record:?} is not an Avro full name (`namespace.Name`)"),
        );
        return None;
    }
    Some(record.to_owned())
}

fn discriminator(diag: &mut Diag<'_>, table: &toml::Table) -> Option<Pointer> {
    let text = string(diag, table, "", "discriminator")?;
    match Pointer::parse(text) {
        Ok(p) if !p.is_relative() => Some(p),
        Ok(_) => {
            diag.error("discriminator", "must be an absolute pointer (`/...`)");
            None
        }
        Err(message) => {
            diag.error("discriminator", message);
            None
        }
    }
}

/// The kinds with their discriminator values.
fn kinds(
    diag: &mut Diag<'_>,
    table: &toml::Table,
    envelope: &Rules<'_>,
    shapes: &mut Shapes,
) -> Option<Vec<(String, Kind)>> {
    let Some(kinds) = optional_table(diag, table, "", "kinds").filter(|k| !k.is_empty()) else {
        diag.error("kinds", "a source needs at least one `[kinds.<name>]` table");
        return None;
    };
    let mut seen: HashMap<&str, &str> = HashMap::new();
    let mut out = Vec::with_capacity(kinds.len());
    for (name, value) in kinds {
        let prefix = join("kinds", name);
        let Some(kind) = value.as_table() else {
            diag.error(&prefix, "must be a table");
            continue;
        };
        if let Some(when) = string(diag, kind, &prefix, "when")
            && let Some(other) = seen.insert(when, name)
        {
            diag.error(
                &join(&prefix, "when"),
                format!("same discriminator value as kind `{other}`"),
            );
        }
        if let Some(planned) = load_kind(diag, name, kind, envelope, shapes) {
            out.push(planned);
        }
    }
    (out.len() == kinds.len()).then_some(out)
}

fn load_kind(
    diag: &mut Diag<'_>,
    name: &str,
    kind: &toml::Table,
    envelope: &Rules<'_>,
    shapes: &mut Shapes,
) -> Option<(String, Kind)> {
    let prefix = join("kinds", name);
    unknown_keys(diag, kind, &prefix, &KIND_KEYS);
    let when = kind.get("when").and_then(toml::Value::as_str);
    let topic = match string(diag, kind, &prefix, "event")?.parse::<CanonicalTopic>() {
        Ok(topic) => topic,
        Err(e) => {
            let names: Vec<_> = CanonicalTopic::ALL.iter().map(|t| t.name()).collect();
            diag.error(&join(&prefix, "event"), format!("{e}; one of: {}", names.join(", ")));
            return None;
        }
    };
    let split = split(diag, kind, &prefix);
    let fields_key = join(&prefix, "fields");
    let own = Rules { table: optional_table(diag, kind, &prefix, "fields"), key: fields_key };
    if own.table.is_none() {
        diag.error(&own.key, "missing: the field rules of this kind");
    }
    let shape = match shapes.get(topic) {
        Ok(fields) => fields,
        Err(message) => {
            diag.error(&join(&prefix, "event"), message.clone());
            return None;
        }
    };
    let mut planner = Planner { diag, topic, kind: name };
    let fields =
        planner.record(shape, &own, envelope, "", split.as_ref().is_some_and(Option::is_some));
    let kind = Kind { name: name.to_owned(), topic, split: split?, fields };
    Some((when?.to_owned(), kind))
}

/// `Some(None)` without a split, `None` when the split pointer is bad.
fn split(diag: &mut Diag<'_>, kind: &toml::Table, prefix: &str) -> Option<Option<Pointer>> {
    let key = join(prefix, "split");
    match kind.get("split") {
        None => Some(None),
        Some(toml::Value::String(text)) => match Pointer::parse(text) {
            Ok(p) if !p.is_relative() => Some(Some(p)),
            Ok(_) => {
                diag.error(&key, "must be an absolute pointer (`/...`)");
                None
            }
            Err(message) => {
                diag.error(&key, message);
                None
            }
        },
        Some(_) => {
            diag.error(&key, "must be a JSON pointer string");
            None
        }
    }
}
