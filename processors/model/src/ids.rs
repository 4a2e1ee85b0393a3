//! Keys and deterministic identifiers.
//!
//! Ids are content hashes so that replaying the same input yields the same ids, byte for byte:
//! an exception id is BLAKE3 over (type, tenant, site, subject, opening event id) and an action
//! id BLAKE3 over (exception id, action type, attempt). Fields are length-prefixed before
//! hashing so that no two different tuples can produce the same byte string.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Kafka key of every canonical topic: `tenant|site|sku`.
///
/// The separator is `|`; a tenant or site id containing `|` is rejected because the key could
/// no longer be split back into its parts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey {
    /// Tenant (a legal entity or customer of a 3PL).
    pub tenant: String,
    /// Site (warehouse, distribution centre).
    pub site: String,
    /// Stock-keeping unit.
    pub sku: String,
}

/// Why a string is not a valid [`PartitionKey`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionKeyError {
    /// The key does not have exactly three `|`-separated parts.
    WrongShape(String),
    /// One part is empty.
    EmptyPart(String),
}

impl fmt::Display for PartitionKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongShape(k) => write!(f, "key {k:?} is not of the form tenant|site|sku"),
            Self::EmptyPart(k) => write!(f, "key {k:?} has an empty tenant, site or sku"),
        }
    }
}

impl std::error::Error for PartitionKeyError {}

impl PartitionKey {
    /// Builds a key from its parts.
    pub fn new(tenant: impl Into<String>, site: impl Into<String>, sku: impl Into<String>) -> Self {
        Self { tenant: tenant.into(), site: site.into(), sku: sku.into() }
    }

    /// Parses `tenant|site|sku`.
    pub fn parse(raw: &str) -> Result<Self, PartitionKeyError> {
        let mut parts = raw.splitn(3, '|');
        let (Some(tenant), Some(site), Some(sku)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(PartitionKeyError::WrongShape(raw.to_owned()));
        };
        if tenant.is_empty() || site.is_empty() || sku.is_empty() {
            return Err(PartitionKeyError::EmptyPart(raw.to_owned()));
        }
        Ok(Self::new(tenant, site, sku))
    }
}

impl fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}|{}|{}", self.tenant, self.site, self.sku)
    }
}

/// Feeds length-prefixed fields into a BLAKE3 hasher and returns the first 16 bytes as hex.
fn digest(fields: &[&[u8]]) -> String {
    let mut hasher = blake3::Hasher::new();
    for field in fields {
        hasher.update(&(field.len() as u64).to_be_bytes());
        hasher.update(field);
    }
    hex::encode(&hasher.finalize().as_bytes()[..16])
}

/// Deterministic id of an exception.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExceptionId(pub String);

impl ExceptionId {
    /// Hash of (type, tenant, site, subject, opening event id), prefixed `exc-`.
    pub fn derive(
        kind: &str,
        tenant: &str,
        site: &str,
        subject: &str,
        opening_event: &str,
    ) -> Self {
        let parts: [&[u8]; 5] = [
            kind.as_bytes(),
            tenant.as_bytes(),
            site.as_bytes(),
            subject.as_bytes(),
            opening_event.as_bytes(),
        ];
        Self(format!("exc-{}", digest(&parts)))
    }
}

impl fmt::Display for ExceptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Deterministic id of an action command; also its idempotency key and CloudEvents `id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActionId(pub String);

impl ActionId {
    /// Hash of (exception id, action type, attempt), prefixed `act-`.
    pub fn derive(exception: &ExceptionId, action_type: &str, attempt: u32) -> Self {
        let parts: [&[u8]; 3] =
            [exception.0.as_bytes(), action_type.as_bytes(), &attempt.to_be_bytes()];
        Self(format!("act-{}", digest(&parts)))
    }
}

impl fmt::Display for ActionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_round_trips_and_rejects_bad_shapes() {
        let key = PartitionKey::parse("t1|DC1|SKU-9").unwrap();
        assert_eq!(key, PartitionKey::new("t1", "DC1", "SKU-9"));
        assert_eq!(key.to_string(), "t1|DC1|SKU-9");
        assert!(matches!(PartitionKey::parse("t1|DC1"), Err(PartitionKeyError::WrongShape(_))));
        assert!(matches!(PartitionKey::parse("t1||x"), Err(PartitionKeyError::EmptyPart(_))));
    }

    #[test]
    fn ids_are_stable_and_field_boundaries_matter() {
        let a = ExceptionId::derive("CYCLE_COUNT_DISCREPANCY", "t", "s", "sku|L1", "e1");
        let b = ExceptionId::derive("CYCLE_COUNT_DISCREPANCY", "t", "s", "sku|L1", "e1");
        let shifted = ExceptionId::derive("CYCLE_COUNT_DISCREPANCY", "ts", "", "sku|L1", "e1");
        assert_eq!(a, b);
        assert_ne!(a, shifted);
        assert!(a.0.starts_with("exc-") && a.0.len() == 36);
        assert_ne!(
            ActionId::derive(&a, "RECOUNT_TASK", 1),
            ActionId::derive(&a, "RECOUNT_TASK", 2)
        );
    }
}
