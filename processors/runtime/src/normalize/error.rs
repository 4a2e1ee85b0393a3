//! Errors of the normalize layer, classified by what the caller must do.
//!
//! - [`SourceErrors`]: the source files are wrong. Loading reports every problem of every
//!   file at once, each naming the file and the TOML key path, so a deployment is fixed in
//!   one pass; the instance must not start.
//! - [`NormalizeError`]: one raw record cannot become canonical events. It names the
//!   source, the writer schema id (Avro), the message kind, the canonical field and the
//!   concrete JSON pointer of the offending raw value. Three reasons are not the record's
//!   fault: [`Reason::SchemaUnavailable`] is transient (retry the record after a pause,
//!   [`NormalizeError::is_transient`]); [`Reason::UnknownSource`] and
//!   [`Reason::SchemasRequired`] are bugs in the caller's wiring (stop). Every other reason is
//!   poison: dead-letter the record with [`NormalizeError::error_class`] and continue.
//!
//! Classes: bytes that do not decode (invalid JSON; a bad frame, an unknown schema id, a
//! datum that does not match its writer schema) are DESERIALIZATION. What a mapping refuses
//! in a decoded record is VALIDATION, except that a JSON value of the wrong type or an
//! unparsable text value is DESERIALIZATION (the sender wrote the document wrong); an Avro
//! datum that decoded is well formed by construction, so everything its mapping refuses is
//! VALIDATION.

use std::fmt;

use invex_model::ErrorClass;

/// One problem in one source file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{file}: {key}: {message}")]
pub struct SourceError {
    /// File name, as given to the loader.
    pub file: String,
    /// Dotted TOML key path (`kinds.receipt.fields.qty_received`), or `(file)` for the file
    /// as a whole.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// Every problem found while loading source files; the normalizer was not built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} problem(s) in source files:\n{}", .0.len(), lines(.0))]
pub struct SourceErrors(pub Vec<SourceError>);

fn shown(found: Option<&str>) -> String {
    found.map_or_else(|| "(absent)".to_owned(), |f| format!("{f:?}"))
}

fn lines(errors: &[SourceError]) -> String {
    errors.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n")
}

/// Why a raw record could not be normalized.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Reason {
    /// The caller named a source no file defines (a wiring bug, not poison).
    #[error("no such source")]
    UnknownSource,
    /// The bytes are not one JSON document.
    #[error("invalid JSON at byte {offset}: {message}")]
    InvalidJson {
        /// Byte offset of the error in the record value.
        offset: usize,
        /// What the parser said.
        message: String,
    },
    /// The discriminator value names no message kind of this source.
    #[error("unknown message kind {}", shown(found.as_deref()))]
    UnknownKind {
        /// The discriminator value found, when there was a string there.
        found: Option<String>,
    },
    /// A required value is absent or null.
    #[error("missing required field")]
    Missing,
    /// A document that must be split into lines has none.
    #[error("document has no lines")]
    NoLines,
    /// The raw value has the wrong JSON type.
    #[error("wrong type: expected {expected}, found {found}")]
    WrongType {
        /// What the mapping needs.
        expected: String,
        /// The JSON type found.
        found: &'static str,
    },
    /// A number that does not parse or does not fit.
    #[error("unparsable number {text:?}: {why}")]
    BadNumber {
        /// The raw text (or JSON number).
        text: String,
        /// What is wrong with it.
        why: String,
    },
    /// A time or date that does not parse or does not exist.
    #[error("unparsable time {text:?}: {why}")]
    BadTime {
        /// The raw text.
        text: String,
        /// What is wrong with it.
        why: String,
    },
    /// A value an enum map or a canonical enum does not know.
    #[error("unknown enum value {value:?} (expected one of: {expected})")]
    UnknownEnumValue {
        /// The raw value.
        value: String,
        /// The values that are known.
        expected: String,
    },
    /// A value the canonical model forbids (negative quantity, empty id).
    #[error("impossible value {value}: {why}")]
    Impossible {
        /// The mapped value.
        value: String,
        /// The rule it breaks.
        why: &'static str,
    },
    /// The mapped event does not fit the model type (the schemas and the model disagree).
    #[error("mapped event does not fit the model: {0}")]
    Model(String),
    /// The value is not in the Confluent wire format.
    #[error(
        "not Confluent-framed Avro: {len} byte(s), first byte {} (expected magic byte 0x00 and a 4-byte schema id)",
        first.map_or_else(|| "(none)".to_owned(), |b| format!("{b:#04x}"))
    )]
    NotFramed {
        /// Length of the value.
        len: usize,
        /// Its first byte.
        first: Option<u8>,
    },
    /// The frame names a schema id the resolver does not know.
    #[error("unknown writer schema id {0}")]
    UnknownSchema(u32),
    /// The writer schema of the id cannot be used: it does not parse, or its values could
    /// nest or expand without bound (see `normalize::avro`).
    #[error("writer schema cannot be used: {0}")]
    UnusableSchema(String),
    /// The writer schema is not the record the source accepts (`[avro] record`).
    #[error("writer schema is {} but this source accepts only {expected}", shown(found.as_deref()))]
    WrongRecord {
        /// Full name of the writer's top-level record, when it is a record.
        found: Option<String>,
        /// The record the source pins.
        expected: String,
    },
    /// The datum ends inside a value: its length and apache-avro's error, when it raised one
    /// (apache-avro does not say at which byte).
    #[error("truncated datum: {0}")]
    Truncated(String),
    /// The datum is not a value of its writer schema: apache-avro's error, or what is left
    /// over or cannot be represented exactly.
    #[error("datum does not match its writer schema: {0}")]
    NotItsSchema(String),
    /// The schema registry could not be asked for the writer schema (transient: retry).
    #[error("schema registry unavailable: {0}")]
    SchemaUnavailable(String),
    /// An Avro source was asked to normalize without writer schemas (a wiring bug).
    #[error("an Avro source needs writer schemas: call `normalize_with`")]
    SchemasRequired,
}

impl Reason {
    /// The dead-letter class of a JSON record (or of a failure to decode an Avro one):
    /// undecodable input versus decodable but impossible content.
    pub fn error_class(&self) -> ErrorClass {
        match self {
            Self::InvalidJson { .. }
            | Self::UnknownKind { .. }
            | Self::WrongType { .. }
            | Self::BadNumber { .. }
            | Self::BadTime { .. }
            | Self::UnknownEnumValue { .. }
            | Self::NotFramed { .. }
            | Self::UnknownSchema(_)
            | Self::UnusableSchema(_)
            | Self::WrongRecord { .. }
            | Self::Truncated(_)
            | Self::NotItsSchema(_) => ErrorClass::Deserialization,
            Self::Missing | Self::NoLines | Self::Impossible { .. } | Self::Model(_) => {
                ErrorClass::Validation
            }
            Self::UnknownSource | Self::SchemasRequired | Self::SchemaUnavailable(_) => {
                ErrorClass::Processing
            }
        }
    }

    /// True for what a mapping refuses in a decoded record (as opposed to bytes that do not
    /// decode and to the caller's own problems).
    fn is_mapping(&self) -> bool {
        matches!(
            self,
            Self::UnknownKind { .. }
                | Self::WrongType { .. }
                | Self::BadNumber { .. }
                | Self::BadTime { .. }
                | Self::UnknownEnumValue { .. }
                | Self::Missing
                | Self::NoLines
                | Self::Impossible { .. }
                | Self::Model(_)
        )
    }
}

/// Where in a record a problem is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// Message kind (as named in the source file), once recognised.
    pub kind: Option<String>,
    /// Canonical field path (`header.event_time`, `expected_lots[1].quantity`).
    pub field: Option<String>,
    /// Concrete JSON pointer of the raw value (`/data/lines/0/quantity`).
    pub pointer: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(kind) = &self.kind {
            write!(f, ", kind `{kind}`")?;
        }
        if let Some(field) = &self.field {
            write!(f, ", field `{field}`")?;
        }
        if let Some(pointer) = &self.pointer {
            write!(f, " (raw {pointer:?})")?;
        }
        Ok(())
    }
}

/// A raw record that cannot be normalized.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("source `{source_name}`{}{location}: {reason}", schema(*schema_id))]
pub struct NormalizeError {
    /// Source the record was read for.
    pub source_name: String,
    /// Writer schema id of an Avro record, once its frame was read.
    pub schema_id: Option<u32>,
    /// Where in the record (boxed: keeps the `Err` of every `Result` small on the hot path).
    pub location: Box<Location>,
    /// What is wrong.
    pub reason: Reason,
}

fn schema(id: Option<u32>) -> String {
    id.map(|id| format!(", schema id {id}")).unwrap_or_default()
}

impl NormalizeError {
    /// True when the record must be dead-lettered and processing continue; false when the
    /// caller must retry ([`NormalizeError::is_transient`]) or is itself wrong and must stop.
    pub fn is_poison(&self) -> bool {
        !matches!(
            self.reason,
            Reason::UnknownSource | Reason::SchemasRequired | Reason::SchemaUnavailable(_)
        )
    }

    /// True when the same record may succeed later (the schema registry was unreachable):
    /// retry it after a pause, never dead-letter it.
    pub fn is_transient(&self) -> bool {
        matches!(self.reason, Reason::SchemaUnavailable(_))
    }

    /// The dead-letter class of the record (see the module docs).
    pub fn error_class(&self) -> ErrorClass {
        match self.schema_id {
            Some(_) if self.reason.is_mapping() => ErrorClass::Validation,
            _ => self.reason.error_class(),
        }
    }
}
