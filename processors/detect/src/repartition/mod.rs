//! Records one detect task sends to another through an internal (repartition) topic.
//!
//! A detect task owns the key `tenant|site|sku`, so no task sees one serial unit at two sites.
//! As Kafka Streams does for a foreign-key join (a subscription topic and a response topic),
//! two internal topics re-key the serial checks:
//!
//! ```text
//! item task tenant|A|sku  serial seen          -> SerialSighting (ls-sightings, tenant|sku|serial)
//! serial task             two sightings, sites
//!                         A != B, the earlier
//!                         one not consumed     -> SerialFinding (ls-findings, tenant|B|sku)
//! item task tenant|B|sku  finding              -> LS-005 SERIAL_TWO_SITES
//! ```
//!
//! The lots module decides what each record means (see its `cross_site` module); this module
//! only defines the records, their topics, keys and ordering times. Records are JSON on the
//! wire (`{"kind": "sighting", ...}`), and [`crate::Engine::process_repartitioned`] processes
//! one that came back from its topic.
//!
//! Invariants of internal records, which the engine relies on:
//! - they are derived data: they carry the event id and event time of the canonical event they
//!   come from, have no id of their own, are not deduplicated by event id, do not move the
//!   task's stream time and fire no stream-time timers; so their effect is idempotent instead
//!   (a sighting processed twice emits one finding, a finding processed twice opens one
//!   exception);
//! - a sighting's key never needs parsing back (the value carries every field): a `|` inside a
//!   SKU or serial only changes which partition the key hashes to, never which state it touches.

use invex_model::PartitionKey;
use serde::{Deserialize, Serialize};

/// The internal topics of the detect processor (their names, behind the deployment's prefix and
/// application id, are the runtime's business).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RepartitionTopic {
    /// Serial sightings keyed `tenant|sku|serial`: every sighting of a serial reaches one task.
    SerialSightings,
    /// Cross-site findings keyed `tenant|site|sku`: back to the task of the item they concern.
    SerialFindings,
}

impl RepartitionTopic {
    /// Every internal topic, in a fixed order.
    pub const ALL: [Self; 2] = [Self::SerialSightings, Self::SerialFindings];

    /// Stem of the topic name: "ls-sightings" and "ls-findings".
    pub const fn name(self) -> &'static str {
        match self {
            Self::SerialSightings => "ls-sightings",
            Self::SerialFindings => "ls-findings",
        }
    }
}

/// A record one detect task sends to another through an internal topic (JSON on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Repartitioned {
    /// An item task saw a serial (to the serial task).
    Sighting(SerialSighting),
    /// The serial task found a serial at two sites (to the item task of the later sighting).
    Finding(SerialFinding),
}

impl Repartitioned {
    /// The topic it goes to.
    pub fn topic(&self) -> RepartitionTopic {
        match self {
            Self::Sighting(_) => RepartitionTopic::SerialSightings,
            Self::Finding(_) => RepartitionTopic::SerialFindings,
        }
    }

    /// Its Kafka key: `tenant|sku|serial` for a sighting, `tenant|site|sku` for a finding
    /// (the key of the canonical topics, so it reaches the item's task).
    pub fn key(&self) -> String {
        match self {
            Self::Sighting(s) => format!("{}|{}|{}", s.tenant_id, s.sku, s.serial),
            Self::Finding(f) => PartitionKey::new(&*f.tenant_id, &*f.site_id, &*f.sku).to_string(),
        }
    }

    /// Event time of the sighting it is about (the record timestamp and ordering time).
    pub fn event_time(&self) -> i64 {
        match self {
            Self::Sighting(s) => s.event_time,
            Self::Finding(f) => f.event_time,
        }
    }

    /// Event id of the sighting it is about (for errors and logs; not a dedupe key).
    pub(crate) fn event_id(&self) -> &str {
        match self {
            Self::Sighting(s) => &s.event_id,
            Self::Finding(f) => &f.event_id,
        }
    }

    /// The name of the first field that must not be blank and is, if any.
    pub(crate) fn blank_field(&self) -> Option<&'static str> {
        let fields: &[(&'static str, &str)] = match self {
            Self::Sighting(s) => &[
                ("tenant_id", &s.tenant_id),
                ("site_id", &s.site_id),
                ("sku", &s.sku),
                ("serial", &s.serial),
                ("event_id", &s.event_id),
            ],
            Self::Finding(f) => &[
                ("tenant_id", &f.tenant_id),
                ("site_id", &f.site_id),
                ("sku", &f.sku),
                ("serial", &f.serial),
                ("event_id", &f.event_id),
                ("other_site_id", &f.other_site_id),
            ],
        };
        fields.iter().find(|(_, value)| value.trim().is_empty()).map(|(name, _)| *name)
    }
}

/// One sighting of a serial unit by an item task: the canonical event that carried it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SerialSighting {
    /// Tenant of the event.
    pub tenant_id: String,
    /// Site where the serial was seen.
    pub site_id: String,
    /// SKU of the unit.
    pub sku: String,
    /// Serial number (trimmed, never empty).
    pub serial: String,
    /// Location where it was seen.
    pub location_id: String,
    /// Event time of the event that saw it.
    pub event_time: i64,
    /// Event id of the event that saw it.
    pub event_id: String,
    /// True when the event consumed the unit (a pick, or an EPCIS DELETE scan): it left the
    /// site's stock, so a later sighting elsewhere is a transfer.
    pub consumed: bool,
}

/// A serial seen at a second site while the first never consumed it, for the item task of the
/// later sighting's site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SerialFinding {
    /// Tenant.
    pub tenant_id: String,
    /// Site of the later sighting (the exception opens there).
    pub site_id: String,
    /// SKU of the unit.
    pub sku: String,
    /// Serial number.
    pub serial: String,
    /// Location of the later sighting.
    pub location_id: String,
    /// Event time of the later sighting.
    pub event_time: i64,
    /// Event id of the later sighting.
    pub event_id: String,
    /// Site of the earlier sighting, where the unit was never consumed.
    pub other_site_id: String,
    /// Location of the earlier sighting.
    pub other_location_id: String,
    /// Event time of the earlier sighting.
    pub other_event_time: i64,
    /// Event id of the earlier sighting.
    pub other_event_id: String,
}

#[cfg(test)]
mod tests;
