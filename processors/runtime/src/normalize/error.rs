//! Errors of the normalize layer, classified by what the caller must do.
//!
//! - [`SourceErrors`]: the source files are wrong. Loading reports every problem of every
//!   file at once, each naming the file and the TOML key path, so a deployment is fixed in
//!   one pass; the instance must not start.
//! - [`NormalizeError`]: one raw record cannot become canonical events. It names the
//!   source, the message kind, the canonical field and the concrete JSON pointer of the
//!   offending raw value. Every reason but [`Reason::UnknownSource`] is poison: dead-letter
//!   the record with [`NormalizeError::error_class`] and continue. An unknown source name is
//!   a bug in the caller's wiring: stop.

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
}

impl Reason {
    /// The dead-letter class: undecodable input versus decodable but impossible content.
    pub fn error_class(&self) -> ErrorClass {
        match self {
            Self::InvalidJson { .. }
            | Self::UnknownKind { .. }
            | Self::WrongType { .. }
            | Self::BadNumber { .. }
            | Self::BadTime { .. }
            | Self::UnknownEnumValue { .. } => ErrorClass::Deserialization,
            Self::Missing | Self::NoLines | Self::Impossible { .. } | Self::Model(_) => {
                ErrorClass::Validation
            }
            Self::UnknownSource => ErrorClass::Processing,
        }
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
#[error("source `{source_name}`{location}: {reason}")]
pub struct NormalizeError {
    /// Source the record was read for.
    pub source_name: String,
    /// Where in the record (boxed: keeps the `Err` of every `Result` small on the hot path).
    pub location: Box<Location>,
    /// What is wrong.
    pub reason: Reason,
}

impl NormalizeError {
    /// True when the record must be dead-lettered and processing continue; false when the
    /// caller itself is wrong and must stop.
    pub fn is_poison(&self) -> bool {
        self.reason != Reason::UnknownSource
    }

    /// The dead-letter class of the record.
    pub fn error_class(&self) -> ErrorClass {
        self.reason.error_class()
    }
}
