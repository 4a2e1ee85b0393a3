//! Raw vendor records: what `invex simulate` produces and `--to-file` writes.
//!
//! Each canonical event of the simulator is rendered by the vendor that would send it: ERP
//! events (book snapshots, ASN lines, item master, the ERP's acknowledgements) as the ERP's
//! IDoc export, everything else (WMS, edge devices, people) as the WMS's webhooks. The record
//! goes to that vendor's raw topic (with the deployment's topic prefix), keyed by the event's
//! `tenant|site|sku` (raw topics accept any key; this one keeps an item's records in order).
//!
//! The file format is one JSON object per line,
//! `{"source":"wms-webhook","topic":"raw.wms.webhook","key":"acme|DC1|SKU-00001","payload":{...}}`,
//! the payload being the vendor's JSON exactly as it would be sent.

use invex_model::{CanonicalEvent, SourceSystem};
use invex_sim::Vendor;
use serde::{Deserialize, Serialize};

/// One raw record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RawRecord {
    /// Source name of the vendor mapping (`topology/sources/<source>.toml`).
    pub(crate) source: String,
    /// Raw topic, prefix included.
    pub(crate) topic: String,
    /// Record key.
    pub(crate) key: String,
    /// The vendor's JSON.
    pub(crate) payload: serde_json::Value,
}

/// The vendor that sends `event`.
pub(crate) fn vendor_of(event: &CanonicalEvent) -> Vendor {
    match event.header().source_system {
        SourceSystem::Erp => Vendor::ErpIdoc,
        _ => Vendor::WmsWebhook,
    }
}

/// Renders `event` as its vendor's raw record on `prefix`'s raw topic.
pub(crate) fn raw_record(
    prefix: &str,
    event: &CanonicalEvent,
) -> Result<RawRecord, serde_json::Error> {
    let vendor = vendor_of(event);
    Ok(RawRecord {
        source: vendor.source_name().to_owned(),
        topic: format!("{prefix}{}", vendor.raw_topic()),
        key: event.partition_key().to_string(),
        payload: serde_json::from_slice(&vendor.render(event))?,
    })
}

#[cfg(test)]
mod tests {
    use invex_sim::{SimConfig, Simulator};

    use super::*;

    #[test]
    fn every_simulated_event_normalizes_back_from_its_raw_record() {
        let config =
            SimConfig { skus_per_site: 100, duration_ms: 3_600_000, ..SimConfig::default() };
        let normalizer = invex_runtime::normalize::Normalizer::shipped().unwrap();
        let mut vendors = std::collections::BTreeSet::new();
        for event in Simulator::new(config).unwrap().take(20_000) {
            let raw = raw_record("p.", &event).unwrap();
            assert!(raw.topic.starts_with("p.raw."));
            vendors.insert(raw.source.clone());
            let line = serde_json::to_string(&raw).unwrap();
            let back: RawRecord = serde_json::from_str(&line).unwrap();
            let bytes = serde_json::to_vec(&back.payload).unwrap();
            let normalized = normalizer.normalize(&back.source, &bytes).unwrap();
            assert_eq!(normalized.len(), 1);
            assert_eq!(normalized[0].event, event);
            assert_eq!(normalized[0].key, raw.key);
        }
        assert_eq!(vendors.len(), 2, "both vendors carry traffic");
    }
}
