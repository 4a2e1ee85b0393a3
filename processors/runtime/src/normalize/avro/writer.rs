//! A writer schema made ready once per schema id, and the decoding of one datum with it.
//!
//! apache-avro does the decoding (a `GenericDatumReader` built once per schema); this module
//! decides which schemas it may decode with and what counts as a whole datum.
//!
//! Invariants and why they hold:
//! - Bounded stack: apache-avro decodes recursively with no nesting limit, so a schema whose
//!   values could nest deeper than [`MAX_DEPTH`] levels (a recursive type, or a long chain of
//!   named types) is refused when it is compiled, before any datum of it is read. Decoding
//!   and the tree conversion then recurse at most [`MAX_DEPTH`] levels.
//! - Bounded memory: apache-avro checks every length and collection size against its
//!   process-wide allocation limit before allocating (see `WriterSchemas::MAX_ALLOCATION_BYTES`).
//!   That limit is per collection, so an array of items that take no bytes (`null`, a `fixed`
//!   of size 0, records of only such) could still turn a few bytes into millions of values
//!   per nested array: such a schema is refused too. Every other array item, map entry and
//!   union costs at least one byte, so the values of a datum grow with its length only. A
//!   `fixed` larger than the limit is refused as well: apache-avro allocates its size unchecked.
//! - Exact: a datum is read to its last byte and not past it. apache-avro reads some values
//!   cut short by the end of its input as `null` (a boolean, a string, a union index) instead
//!   of failing, so [`Input`] notes whether it was asked for bytes beyond the end: that, not
//!   apache-avro's result, says the datum was truncated. Bytes left over mean the writer
//!   used another schema than the one its id names.
//! - Total: every failure is a [`Bad`]; nothing panics on a datum or a schema.

use std::collections::HashMap;
use std::io::{self, Read};

use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::schema::{
    DecimalSchema, InnerDecimalSchema, Name, NamesRef, RecordSchema, ResolvedSchema, UuidSchema,
};
use serde_json::Value;

use super::{WriterSchemas, tree};
use crate::normalize::Reason;
use crate::schema::StaticSchema;

/// Deepest nesting of records, arrays, maps and unions a writer schema may have (the
/// top-level value is level 0).
pub(crate) const MAX_DEPTH: usize = 64;

/// A writer schema ready to decode with: apache-avro's reader and the named types the tree
/// conversion looks references up in.
pub(crate) struct Writer {
    schema: StaticSchema,
    names: ResolvedSchema<'static>,
    reader: GenericDatumReader<'static>,
    /// Full name of the top-level type when it is a record.
    pub(crate) record: Option<String>,
}

/// Why a datum did not decode, and the concrete pointer of the value concerned when known
/// (apache-avro's errors do not say where they happened).
#[derive(Debug)]
pub(crate) struct Bad {
    /// [`Reason::Truncated`] or [`Reason::NotItsSchema`].
    pub(crate) reason: Reason,
    /// Concrete JSON pointer of the value that could not be converted.
    pub(crate) pointer: Option<String>,
}

impl Writer {
    /// Checks `schema` against the bounds above and builds apache-avro's reader for it; the
    /// error says why the schema cannot be used.
    pub(crate) fn compile(schema: StaticSchema) -> Result<Self, String> {
        let names = ResolvedSchema::try_from(schema).map_err(|e| e.to_string())?;
        let mut bounds = Bounds { names: names.get_names(), records: HashMap::new(), open: vec![] };
        bounds.extent(schema, 0)?;
        let reader = GenericDatumReader::builder(schema)
            .resolved_writer_schemata(names.clone())
            .build()
            .map_err(|e| e.to_string())?;
        let record = match schema {
            Schema::Record(record) => Some(record.name.fullname(None)),
            _ => None,
        };
        Ok(Self { schema, names, reader, record })
    }

    /// Decodes the whole `datum` into the tree the pointers walk.
    pub(crate) fn read(&self, datum: &[u8]) -> Result<Value, Bad> {
        let bad = |reason| Bad { reason, pointer: None };
        let mut input = Input { rest: datum, short: false };
        let read = self.reader.read_value(&mut input);
        if input.short {
            let len = datum.len();
            let why = match read {
                Ok(_) => format!("its {len} byte(s) end inside a value"),
                Err(e) => format!("its {len} byte(s) end inside a value: {e}"),
            };
            return Err(bad(Reason::Truncated(why)));
        }
        let value = read.map_err(|e| bad(Reason::NotItsSchema(e.to_string())))?;
        if !input.rest.is_empty() {
            let left = input.rest.len();
            let why =
                format!("{left} byte(s) left after the datum: it was written with another schema");
            return Err(bad(Reason::NotItsSchema(why)));
        }
        tree::convert(value, self.schema, self.names.get_names()).map_err(|unfit| Bad {
            pointer: Some(unfit.pointer()),
            reason: Reason::NotItsSchema(unfit.why),
        })
    }
}

/// The datum as apache-avro reads it, remembering whether it was asked for bytes past the
/// end.
struct Input<'b> {
    rest: &'b [u8],
    short: bool,
}

impl Read for Input<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.rest.is_empty() && !buf.is_empty() {
            self.short = true;
        }
        self.rest.read(buf)
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        if buf.len() > self.rest.len() {
            self.short = true;
            self.rest = &[];
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.rest.read_exact(buf)
    }
}

/// How a type nests: the levels below it, and whether its values take no bytes at all.
#[derive(Debug, Clone, Copy)]
struct Extent {
    depth: usize,
    empty: bool,
}

impl Extent {
    const LEAF: Self = Self { depth: 0, empty: false };

    /// A container of `child`, written with at least one byte of its own (a count, an index).
    fn around(child: Self) -> Self {
        Self { depth: child.depth + 1, empty: false }
    }
}

/// Measures a schema against the bounds. Every named record is measured once (a later
/// reference reuses its extent), so the cost is linear in the schema's size.
struct Bounds<'s> {
    names: &'s NamesRef<'s>,
    records: HashMap<&'s Name, Extent>,
    /// Records being measured: a reference to one of them is a recursive type.
    open: Vec<&'s Name>,
}

impl<'s> Bounds<'s> {
    /// The extent of `schema` found at nesting `level`.
    fn extent(&mut self, schema: &'s Schema, level: usize) -> Result<Extent, String> {
        if level > MAX_DEPTH {
            return Err(format!("its values nest deeper than {MAX_DEPTH} levels"));
        }
        let sized = |size: usize| match size {
            // apache-avro allocates a fixed's size without checking it against its limit.
            0..=WriterSchemas::MAX_ALLOCATION_BYTES => Ok(Extent { depth: 0, empty: size == 0 }),
            _ => Err(format!("a fixed of {size} bytes is larger than the allocation limit")),
        };
        match schema {
            Schema::Null => Ok(Extent { depth: 0, empty: true }),
            Schema::Fixed(fixed)
            | Schema::Uuid(UuidSchema::Fixed(fixed))
            | Schema::Decimal(DecimalSchema { inner: InnerDecimalSchema::Fixed(fixed), .. }) => {
                sized(fixed.size)
            }
            Schema::Array(array) => {
                let items = self.extent(&array.items, level + 1)?;
                if items.empty {
                    return Err("an array of items that take no bytes (null, fixed of size 0, \
                                records of such) could expand a few bytes without bound"
                        .into());
                }
                Ok(Extent::around(items))
            }
            Schema::Map(map) => self.extent(&map.types, level + 1).map(Extent::around),
            Schema::Union(union) => {
                let mut deepest = Extent::LEAF;
                for variant in union.variants() {
                    deepest.depth = deepest.depth.max(self.extent(variant, level + 1)?.depth);
                }
                Ok(Extent::around(deepest))
            }
            Schema::Record(record) => self.record(record, level),
            Schema::Ref { name } => match self.names.get(name) {
                Some(named) => self.extent(named, level),
                None => Err(format!("unresolved reference to {}", name.fullname(None))),
            },
            _ => Ok(Extent::LEAF),
        }
    }

    fn record(&mut self, record: &'s RecordSchema, level: usize) -> Result<Extent, String> {
        let name = &record.name;
        if self.open.contains(&name) {
            let name = name.fullname(None);
            return Err(format!(
                "recursive type {name}: apache-avro decodes without a nesting limit, so a \
                 datum of a recursive type could exhaust the stack"
            ));
        }
        if let Some(&known) = self.records.get(name) {
            if level + known.depth > MAX_DEPTH {
                return Err(format!("its values nest deeper than {MAX_DEPTH} levels"));
            }
            return Ok(known);
        }
        self.open.push(name);
        let mut extent = Extent { depth: 0, empty: true };
        for field in &record.fields {
            let inner = self.extent(&field.schema, level + 1)?;
            extent = Extent {
                depth: extent.depth.max(inner.depth + 1),
                empty: extent.empty && inner.empty,
            };
        }
        self.open.pop();
        self.records.insert(name, extent);
        Ok(extent)
    }
}
