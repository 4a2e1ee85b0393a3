//! apache-avro's decoded value as the JSON tree the pointer mapping walks.
//!
//! One mapping language and one evaluator serve JSON and Avro sources alike, so a decoded
//! datum becomes a `serde_json::Value`. How each Avro type appears is documented in
//! `topology/sources/README.md`; in short: records are objects, a union is its branch's
//! value, enums are their symbol, bytes and fixed are text with one character per byte,
//! decimals are exact decimal text, dates are days, times and timestamps of every unit are
//! milliseconds (UTC for timestamps), floats read as their shortest decimal form, and NaN and
//! the infinities, which JSON numbers cannot hold, are text.
//!
//! The conversion walks the writer schema next to the value because a decimal's scale is in
//! the schema only. It recurses as deep as the value nests, which the writer schema's bounds
//! (`writer`) limit. It fails only on a decimal it cannot render exactly (more than 16 bytes
//! or a scale beyond [`MAX_SCALE`]) and, defensively, on a value that does not fit its
//! schema, which apache-avro does not produce.

use apache_avro::Schema;
use apache_avro::schema::{NamesRef, SchemaKind};
use apache_avro::types::Value as Avro;
use serde_json::{Map, Number, Value};

/// Largest decimal scale rendered: 128 bits hold 39 digits, so any larger scale only adds
/// zeros, and a schema asking for millions of them must not make every record huge.
const MAX_SCALE: u64 = 76;

/// A value the tree cannot hold, and where it is.
#[derive(Debug)]
pub(crate) struct Unfit {
    /// What is wrong.
    pub(crate) why: String,
    /// Pointer tokens from the value up to the root (filled while the error unwinds).
    steps: Vec<String>,
}

impl Unfit {
    fn new(why: String) -> Self {
        Self { why, steps: Vec::new() }
    }

    /// The same, inside the container step `step` (called while the error unwinds).
    fn within(mut self, step: impl ToString) -> Self {
        self.steps.push(step.to_string());
        self
    }

    /// The concrete JSON pointer of the value (`/payload/lines/2/qty`).
    pub(crate) fn pointer(&self) -> String {
        let mut out = String::new();
        for step in self.steps.iter().rev() {
            out.push('/');
            for c in step.chars() {
                match c {
                    '~' => out.push_str("~0"),
                    '/' => out.push_str("~1"),
                    c => out.push(c),
                }
            }
        }
        out
    }
}

/// `value`, decoded with `schema` whose named types are `names`, as a JSON tree.
pub(crate) fn convert(value: Avro, schema: &Schema, names: &NamesRef<'_>) -> Result<Value, Unfit> {
    Tree { names }.value(value, schema)
}

struct Tree<'a, 's> {
    names: &'a NamesRef<'s>,
}

impl<'a, 's: 'a> Tree<'a, 's> {
    fn value(&self, value: Avro, schema: &'a Schema) -> Result<Value, Unfit> {
        Ok(match value {
            Avro::Null => Value::Null,
            Avro::Boolean(b) => Value::Bool(b),
            Avro::Int(n) | Avro::Date(n) | Avro::TimeMillis(n) => Value::from(n),
            Avro::Long(n) | Avro::TimestampMillis(n) | Avro::LocalTimestampMillis(n) => {
                Value::from(n)
            }
            Avro::TimeMicros(n) | Avro::TimestampMicros(n) | Avro::LocalTimestampMicros(n) => {
                Value::from(n.div_euclid(1_000))
            }
            Avro::TimestampNanos(n) | Avro::LocalTimestampNanos(n) => {
                Value::from(n.div_euclid(1_000_000))
            }
            Avro::Float(f) => float32(f),
            Avro::Double(d) => float(d),
            Avro::Bytes(bytes) | Avro::Fixed(_, bytes) => Value::String(latin1(&bytes)),
            Avro::String(text) | Avro::Enum(_, text) => Value::String(text),
            Avro::Uuid(uuid) => Value::String(uuid.hyphenated().to_string()),
            Avro::Duration(d) => {
                let mut map = Map::new();
                map.insert("months".into(), Value::from(u32::from(d.months())));
                map.insert("days".into(), Value::from(u32::from(d.days())));
                map.insert("millis".into(), Value::from(u32::from(d.millis())));
                Value::Object(map)
            }
            Avro::BigDecimal(d) => {
                let (unscaled, scale) = d.as_bigint_and_exponent();
                let text = decimal_text(&unscaled.to_signed_bytes_be(), scale);
                Value::String(text.map_err(Unfit::new)?)
            }
            composite => self.composite(composite, self.resolve(schema)?)?,
        })
    }

    /// A value whose conversion needs its schema: a decimal (its scale) or a container (the
    /// schemas of its children).
    fn composite(&self, value: Avro, schema: &'a Schema) -> Result<Value, Unfit> {
        Ok(match (value, schema) {
            (Avro::Decimal(d), Schema::Decimal(decimal)) => {
                let unscaled = Vec::<u8>::try_from(&d).map_err(|e| Unfit::new(e.to_string()))?;
                let scale = i64::try_from(decimal.scale).unwrap_or(i64::MAX);
                Value::String(decimal_text(&unscaled, scale).map_err(Unfit::new)?)
            }
            (Avro::Union(index, inner), Schema::Union(union)) => {
                let branch = usize::try_from(index).ok().and_then(|i| union.variants().get(i));
                self.value(*inner, branch.ok_or_else(|| misfit(SchemaKind::Union, schema))?)?
            }
            (Avro::Array(items), Schema::Array(array)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    out.push(self.value(item, &array.items).map_err(|u| u.within(i))?);
                }
                Value::Array(out)
            }
            (Avro::Map(entries), Schema::Map(map)) => {
                let mut out = Map::new();
                for (key, item) in entries {
                    let item = self.value(item, &map.types).map_err(|u| u.within(&key))?;
                    out.insert(key, item);
                }
                Value::Object(out)
            }
            (Avro::Record(fields), Schema::Record(record))
                if record.fields.len() == fields.len() =>
            {
                let mut out = Map::new();
                for ((name, item), field) in fields.into_iter().zip(&record.fields) {
                    let item = self.value(item, &field.schema).map_err(|u| u.within(&name))?;
                    out.insert(name, item);
                }
                Value::Object(out)
            }
            (value, schema) => return Err(misfit(SchemaKind::from(&value), schema)),
        })
    }

    /// The schema a reference names (a named type is defined once and referred to after).
    fn resolve(&self, schema: &'a Schema) -> Result<&'a Schema, Unfit> {
        match schema {
            Schema::Ref { name } => self.names.get(name).copied().ok_or_else(|| {
                Unfit::new(format!("unresolved reference to {}", name.fullname(None)))
            }),
            other => Ok(other),
        }
    }
}

fn misfit(value: SchemaKind, schema: &Schema) -> Unfit {
    let kind = SchemaKind::from(schema);
    Unfit::new(format!("a decoded {value:?} where the writer schema has {kind:?}"))
}

/// Exact decimal text of the big-endian two's complement `unscaled` with `scale` digits
/// after the point (`-12.50` for -1250 at scale 2; a negative scale appends zeros).
fn decimal_text(unscaled: &[u8], scale: i64) -> Result<String, String> {
    let shift = scale.unsigned_abs();
    if unscaled.len() > 16 || shift > MAX_SCALE {
        let n = unscaled.len();
        return Err(format!(
            "decimal of {n} bytes at scale {scale}: at most 16 bytes and scale {MAX_SCALE} are read"
        ));
    }
    let shift = shift as usize; // at most MAX_SCALE
    let negative = unscaled.first().is_some_and(|b| b & 0x80 != 0);
    let mut wide = [if negative { 0xff } else { 0 }; 16];
    wide[16 - unscaled.len()..].copy_from_slice(unscaled);
    let magnitude = i128::from_be_bytes(wide).unsigned_abs();
    let sign = if negative { "-" } else { "" };
    if scale <= 0 {
        let zeros = if magnitude == 0 { String::new() } else { "0".repeat(shift) };
        return Ok(format!("{sign}{magnitude}{zeros}"));
    }
    let digits = format!("{magnitude:0>width$}", width = shift + 1);
    let (whole, fraction) = digits.split_at(digits.len() - shift);
    Ok(format!("{sign}{whole}.{fraction}"))
}

/// A `float` through its shortest decimal form, so that a writer's `0.1f` reads as 0.1 and
/// not as 0.10000000149011612.
fn float32(value: f32) -> Value {
    let wide = f64::from(value);
    float(if value.is_finite() { value.to_string().parse().unwrap_or(wide) } else { wide })
}

/// A double as a JSON number; non-finite values, which JSON numbers cannot hold, are the
/// text `NaN`, `Infinity` or `-Infinity`.
fn float(value: f64) -> Value {
    match Number::from_f64(value) {
        Some(n) => Value::Number(n),
        None if value.is_nan() => Value::String("NaN".into()),
        None if value > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

/// Bytes as text with one character per byte (U+0000 to U+00FF), as Avro's JSON encoding
/// writes `bytes` and `fixed`: ASCII content reads as itself.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|b| char::from(*b)).collect()
}
