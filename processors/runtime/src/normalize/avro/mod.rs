//! Avro raw sources: Confluent-framed datums, decoded by their writer schema into the tree
//! the pointer mapping walks.
//!
//! A raw value of a `format = "avro"` source is in the Confluent wire format: magic byte 0, the
//! writer schema's id as a 4-byte big-endian integer, then the Avro binary datum. The id is
//! resolved through the deployment's [`SchemaResolver`] (the registry in production, the
//! embedded schemas in the demo and tests, both handing out schemas apache-avro parsed) and
//! made ready for decoding once per id ([`WriterSchemas`]); every later record with that id
//! costs a read lock and a map lookup, no registry call and no schema walk. What a failed
//! lookup means is cached as well (an id the registry does not know is refused without
//! asking again: registries never reuse or withdraw an id a producer could have used), except
//! a transient failure, which is retried.
//!
//! apache-avro decodes the datum (`writer`, which also says which writer schemas are refused
//! as unbounded and how a truncated datum is told from a mismatched one); our own conversion
//! turns its value into a `serde_json::Value` (`tree`), so one mapping language and one
//! evaluator serve JSON and Avro sources alike.
//!
//! Hostile input is bounded by the writer schema checks (nesting at most
//! [`writer::MAX_DEPTH`] levels, no recursive types, no arrays of zero-width items) and by
//! apache-avro's allocation limit, which [`WriterSchemas::new`] sets to
//! [`WriterSchemas::MAX_ALLOCATION_BYTES`]: a length or collection size in a datum beyond it
//! is refused before anything is allocated.

mod tree;
mod writer;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_source;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;

use super::error::Reason;
use crate::schema::{ResolveError, SchemaResolver};
use writer::Writer;

/// Length of the Confluent frame: the magic byte and the schema id.
const FRAME: usize = 5;

/// `datum` in the Confluent wire format under `schema_id`: what a producer that registered
/// its writer schema and got `schema_id` back sends.
pub fn framed(schema_id: u32, datum: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME + datum.len());
    out.push(0);
    out.extend_from_slice(&schema_id.to_be_bytes());
    out.extend_from_slice(datum);
    out
}

/// The writer schema of an id ready to decode with, or why the id cannot be used.
type Compiled = Result<Arc<Writer>, Reason>;

/// The writer schemas of Avro raw records, by id: resolved through a [`SchemaResolver`],
/// checked and made ready for apache-avro the first time an id is seen, then reused. Share
/// one per processor.
pub struct WriterSchemas {
    resolver: Arc<dyn SchemaResolver>,
    compiled: RwLock<HashMap<u32, Compiled>>,
}

impl std::fmt::Debug for WriterSchemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids = self.compiled.read().map(|m| m.len()).unwrap_or_default();
        f.debug_struct("WriterSchemas").field("ids", &ids).finish_non_exhaustive()
    }
}

/// A decoded datum.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// The writer schema id of the frame.
    pub(crate) schema_id: u32,
    /// Full name of the writer's top-level record, when it is one.
    pub(crate) record: Option<String>,
    /// The datum as the tree pointers walk.
    pub(crate) tree: Value,
}

/// Why a raw value did not decode: the schema id once known, the concrete pointer of the
/// value concerned when known, and the reason.
#[derive(Debug)]
pub(crate) struct Undecodable {
    /// Schema id of the frame, if it had one.
    pub(crate) schema_id: Option<u32>,
    /// Concrete pointer of the value that could not be converted (apache-avro's own errors
    /// do not say where they happened).
    pub(crate) pointer: Option<String>,
    /// What is wrong.
    pub(crate) reason: Reason,
}

impl WriterSchemas {
    /// The allocation limit set on apache-avro: the largest `bytes`, `string` or collection
    /// a datum may declare (a collection counted at the in-memory size of its values). Far
    /// above any real record (a broker's default `message.max.bytes` is 1 MiB), far below
    /// apache-avro's default of 512 MiB, which a hostile 10-byte datum could ask for.
    pub const MAX_ALLOCATION_BYTES: usize = 16 * 1024 * 1024;

    /// Writer schemas found through `resolver`. Also sets apache-avro's process-wide
    /// allocation limit to [`Self::MAX_ALLOCATION_BYTES`]: apache-avro keeps the first limit
    /// set (explicitly, or its default on the first decoding), so a process that decodes Avro
    /// before building this should set it first (a warning says when it did not).
    pub fn new(resolver: Arc<dyn SchemaResolver>) -> Self {
        let limit = apache_avro::util::max_allocation_bytes(Self::MAX_ALLOCATION_BYTES);
        if limit != Self::MAX_ALLOCATION_BYTES {
            tracing::warn!(
                limit,
                wanted = Self::MAX_ALLOCATION_BYTES,
                "apache-avro's allocation limit was set before the normalize processor's"
            );
        }
        Self { resolver, compiled: RwLock::default() }
    }

    /// Decodes one raw value: frame, writer schema, datum.
    pub(crate) fn decode(&self, raw: &[u8]) -> Result<Decoded, Undecodable> {
        let fail = |schema_id, pointer, reason| Undecodable { schema_id, pointer, reason };
        let (schema_id, datum) = match raw {
            [0, a, b, c, d, datum @ ..] => (u32::from_be_bytes([*a, *b, *c, *d]), datum),
            _ => {
                let reason = Reason::NotFramed { len: raw.len(), first: raw.first().copied() };
                return Err(fail(None, None, reason));
            }
        };
        let writer =
            self.writer(schema_id).map_err(|reason| fail(Some(schema_id), None, reason))?;
        let tree =
            writer.read(datum).map_err(|bad| fail(Some(schema_id), bad.pointer, bad.reason))?;
        Ok(Decoded { schema_id, record: writer.record.clone(), tree })
    }

    /// The writer schema of `id`, from the cache or resolved and made ready now.
    fn writer(&self, id: u32) -> Compiled {
        if let Some(found) = self.compiled.read().ok().and_then(|m| m.get(&id).cloned()) {
            return found;
        }
        let compiled = match self.resolver.schema_by_id(id) {
            Ok(schema) => Writer::compile(schema).map(Arc::new).map_err(Reason::UnusableSchema),
            Err(ResolveError::Transient(message)) => {
                return Err(Reason::SchemaUnavailable(message));
            }
            Err(ResolveError::Unknown(id)) => Err(Reason::UnknownSchema(id)),
            Err(invalid @ ResolveError::Invalid { .. }) => {
                Err(Reason::UnusableSchema(invalid.to_string()))
            }
        };
        if let Ok(mut cache) = self.compiled.write() {
            cache.insert(id, compiled.clone());
        }
        compiled
    }
}
