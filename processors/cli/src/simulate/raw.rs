//! Raw vendor records: what `invex simulate` produces and `--to-file` writes.
//!
//! Each canonical event of the simulator is rendered by the vendor that would send it
//! ([`vendor_of`]): scans and counts by the RF-scanner gateway (Avro), ERP events (book
//! snapshots, ASN lines, item master, the ERP's acknowledgements) as the ERP's IDoc export,
//! everything else (WMS, people) as the WMS's webhooks. The record goes to that vendor's raw
//! topic (with the deployment's topic prefix), keyed by the event's `tenant|site|sku` (raw
//! topics accept any key; this one keeps an item's records in order).
//!
//! An Avro vendor's datum travels in the Confluent frame with the id its writer schema has in
//! the deployment's resolver ([`AvroIds`]): registered with the schema registry, as a
//! producer's serializer registers its schema, or the embedded id without a registry.
//!
//! The file format is one JSON object per line,
//! `{"source":"wms-webhook","topic":"raw.wms.webhook","key":"acme|DC1|SKU-00001","payload":{...}}`,
//! the payload being the vendor's JSON exactly as it would be sent. Avro has no place in a
//! JSON line that `invex replay` reads, so a file carries every event in a JSON vendor's
//! shape ([`json_vendor_of`]: the gateway's scans and counts as the WMS's webhooks).

use std::collections::BTreeMap;

use anyhow::{Context, anyhow};
use invex_model::{CanonicalEvent, SourceSystem};
use invex_runtime::normalize::framed;
use invex_runtime::{SchemaResolver, embedded_schema_text};
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

/// The JSON vendor that sends `event`.
pub(crate) fn json_vendor_of(event: &CanonicalEvent) -> Vendor {
    match event.header().source_system {
        SourceSystem::Erp => Vendor::ErpIdoc,
        _ => Vendor::WmsWebhook,
    }
}

/// The vendor that sends `event` to a cluster: the RF-scanner gateway for what it carries.
pub(crate) fn vendor_of(event: &CanonicalEvent) -> Vendor {
    if Vendor::RfScanner.carries(event.topic()) { Vendor::RfScanner } else { json_vendor_of(event) }
}

/// Renders `event` as its JSON vendor's raw record on `prefix`'s raw topic.
pub(crate) fn raw_record(
    prefix: &str,
    event: &CanonicalEvent,
) -> Result<RawRecord, serde_json::Error> {
    let vendor = json_vendor_of(event);
    Ok(RawRecord {
        source: vendor.source_name().to_owned(),
        topic: format!("{prefix}{}", vendor.raw_topic()),
        key: event.partition_key().to_string(),
        payload: serde_json::from_slice(&vendor.render(event))?,
    })
}

/// The writer schema id of every Avro vendor in one deployment's resolver.
#[derive(Debug, Clone)]
pub(crate) struct AvroIds(BTreeMap<Vendor, u32>);

impl AvroIds {
    /// Registers the writer schema of every Avro vendor (`schemas/raw/`) under the subject
    /// `<prefix><raw topic>-value` with `resolver` (the registry answers the id it holds; the
    /// embedded resolver its fixed one).
    pub(crate) fn register(resolver: &dyn SchemaResolver, prefix: &str) -> anyhow::Result<Self> {
        let mut ids = BTreeMap::new();
        for vendor in Vendor::EVERY.into_iter().filter(|v| v.is_avro()) {
            let stem = format!("{}-value", vendor.raw_topic());
            let text = embedded_schema_text(&stem)
                .ok_or_else(|| anyhow!("no writer schema {stem} is compiled in"))?;
            let subject = format!("{prefix}{stem}");
            let (id, _) = resolver
                .register(&subject, text)
                .with_context(|| format!("registering the writer schema {subject}"))?;
            ids.insert(vendor, id);
        }
        Ok(Self(ids))
    }

    /// The record value `vendor` sends for `event`: its JSON, or its Avro datum framed with
    /// the writer schema's id.
    pub(crate) fn value(&self, vendor: Vendor, event: &CanonicalEvent) -> anyhow::Result<Vec<u8>> {
        let rendered = vendor.render(event);
        if !vendor.is_avro() {
            return Ok(rendered);
        }
        let id = self.0.get(&vendor).ok_or_else(|| {
            anyhow!("the writer schema of {} was not registered", vendor.source_name())
        })?;
        Ok(framed(*id, &rendered))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use invex_runtime::EmbeddedResolver;
    use invex_runtime::normalize::{Normalizer, WriterSchemas};
    use invex_sim::{SimConfig, Simulator};

    use super::*;

    fn run() -> Simulator {
        let config =
            SimConfig { skus_per_site: 100, duration_ms: 3_600_000, ..SimConfig::default() };
        Simulator::new(config).unwrap()
    }

    #[test]
    fn every_simulated_event_normalizes_back_from_its_raw_record() {
        let normalizer = Normalizer::shipped().unwrap();
        let mut vendors = std::collections::BTreeSet::new();
        for event in run().take(20_000) {
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
        assert_eq!(vendors.len(), 2, "both JSON vendors carry traffic");
    }

    #[test]
    fn every_simulated_event_normalizes_back_from_the_value_its_vendor_produces() {
        let resolver = Arc::new(EmbeddedResolver::new().unwrap());
        let ids = AvroIds::register(resolver.as_ref(), "p.").unwrap();
        let schemas = WriterSchemas::new(resolver);
        let normalizer = Normalizer::shipped().unwrap();
        let mut vendors = BTreeMap::new();
        for event in run().take(20_000) {
            let vendor = vendor_of(&event);
            *vendors.entry(vendor).or_insert(0) += 1;
            let value = ids.value(vendor, &event).unwrap();
            let normalized =
                normalizer.normalize_with(vendor.source_name(), &value, &schemas).unwrap();
            assert_eq!(normalized.len(), 1);
            assert_eq!(normalized[0].event, event);
        }
        assert_eq!(vendors.len(), 3, "every vendor carries traffic: {vendors:?}");
        let none = AvroIds(BTreeMap::new());
        let scan = run().find(|e| vendor_of(e) == Vendor::RfScanner).unwrap();
        assert!(none.value(Vendor::RfScanner, &scan).is_err(), "an Avro value needs its id");
    }
}
