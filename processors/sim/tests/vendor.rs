//! Vendor-shaped rendering: deterministic, valid JSON, and in each vendor's conventions.
//! (That the shapes are the exact inverse of the shipped mappings is checked in
//! invex-runtime's `tests/normalize.rs`, which has the normalizer.)

use invex_model::{
    AckStatus, CanonicalEvent, EpcisAction, EventHeader, IntegrationAck, SourceSystem,
};
use invex_sim::{SimConfig, Simulator, Vendor};
use serde_json::Value;

fn run() -> Vec<CanonicalEvent> {
    let config =
        SimConfig { seed: 3, skus_per_site: 60, duration_ms: 7_200_000, ..SimConfig::default() };
    Simulator::new(config).unwrap().collect()
}

fn parse(raw: &[u8]) -> Value {
    serde_json::from_slice(raw).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(raw)))
}

/// Every scalar of `value`, with its pointer.
fn leaves(value: &Value, at: String, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| leaves(v, format!("{at}/{k}"), out)),
        Value::Array(items) => {
            items.iter().enumerate().for_each(|(i, v)| leaves(v, format!("{at}/{i}"), out));
        }
        scalar => out.push((at, scalar.clone())),
    }
}

#[test]
fn rendering_is_deterministic_and_always_valid_json() {
    let events = run();
    assert!(events.len() > 1_000);
    for event in &events {
        for vendor in Vendor::ALL {
            let raw = vendor.render(event);
            assert_eq!(raw, vendor.render(event));
            assert!(parse(&raw).is_object());
        }
    }
    assert_eq!(Vendor::WmsWebhook.source_name(), "wms-webhook");
    assert_eq!(Vendor::ErpIdoc.raw_topic(), "raw.erp.idoc");
}

#[test]
fn wms_webhooks_are_camel_case_nested_with_local_rfc3339_times() {
    for event in run().iter().take(500) {
        let doc = parse(&Vendor::WmsWebhook.render(event));
        let mut all = Vec::new();
        leaves(&doc, String::new(), &mut all);
        for (pointer, _) in &all {
            let keys = pointer.split('/').filter(|k| k.parse::<usize>().is_err());
            assert!(keys.flat_map(str::chars).all(|c| c.is_ascii_alphanumeric()), "{pointer}");
        }
        let occurred = doc["occurredAt"].as_str().unwrap();
        assert!(occurred.len() == 29 && occurred.ends_with("+01:00"), "{occurred}");
        assert_eq!(doc["recordedAt"].as_i64(), Some(event.header().record_time));
        assert_eq!(doc["facility"]["code"].as_str(), Some(event.header().site_id.as_str()));
        assert!(doc["eventType"].as_str().unwrap().contains('.'));
    }
}

#[test]
fn erp_exports_are_flat_uppercase_strings_with_sap_dates_units_and_quantities() {
    for event in run().iter().take(500) {
        let doc = parse(&Vendor::ErpIdoc.render(event));
        let mut all = Vec::new();
        leaves(&doc, String::new(), &mut all);
        for (pointer, value) in &all {
            assert!(value.is_string(), "{pointer} is {value}");
            assert!(!pointer.chars().any(|c| c.is_ascii_lowercase()), "{pointer}");
        }
        let control = &doc["IDOC"]["EDI_DC40"];
        assert!(control["MESTYP"].as_str().unwrap().starts_with('Z'));
        assert_eq!(control["ARCKEY"].as_str(), Some(event.header().event_id.as_str()));
        let header = &doc["IDOC"]["E1EVHDR"];
        assert!(header["EVDAT"].as_str().unwrap().bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(header["EVTIM"].as_str().unwrap().len(), 6);
        for (pointer, value) in &all {
            if pointer.ends_with("/MEINS") {
                assert_eq!(value.as_str(), Some("ST"), "EA is ST in the ERP");
            }
            if pointer.ends_with("/MENGE") {
                assert!(value.as_str().unwrap().ends_with(".000"), "{value}");
            }
        }
    }
}

#[test]
fn negative_quantities_and_awkward_text_survive_both_vendors() {
    let header = EventHeader {
        event_id: "id \"quoted\"\n\u{1}".to_owned(),
        event_time: -1,
        event_tz_offset: "CET".to_owned(),
        record_time: 0,
        tenant_id: "t\\1".to_owned(),
        site_id: "DC1".to_owned(),
        source_system: SourceSystem::Erp,
        source_seq: -7,
        operator_id: None,
        device_id: None,
        action: EpcisAction::Observe,
        biz_step: "other".to_owned(),
        disposition: None,
        error_declaration: None,
    };
    let ack = CanonicalEvent::Ack(IntegrationAck {
        header,
        message_id: "M".to_owned(),
        direction: "WMS_TO_ERP".to_owned(),
        doc_type: "ADJ".to_owned(),
        sku: "é/~".to_owned(),
        quantity: -3,
        related_event_ids: Vec::new(),
        status: AckStatus::Ack,
        error_code: None,
        attempt: 1,
    });
    let erp = parse(&Vendor::ErpIdoc.render(&ack));
    assert_eq!(erp["IDOC"]["E1INTAK"]["MENGE"], "3.000-");
    assert_eq!(erp["IDOC"]["EDI_DC40"]["ARCKEY"], "id \"quoted\"\n\u{1}");
    assert_eq!(erp["IDOC"]["E1EVHDR"]["EVDAT"], "19691231");
    assert_eq!(erp["IDOC"]["E1EVHDR"]["EVTIM_MS"], "999");
    let wms = parse(&Vendor::WmsWebhook.render(&ack));
    assert_eq!(
        wms["occurredAt"], "1969-12-31T23:59:59.999Z",
        "an offset that is not +HH:MM is UTC"
    );
    assert_eq!(
        (wms["tenant"].as_str(), wms["data"]["quantity"].as_i64()),
        (Some("t\\1"), Some(-3))
    );
}
