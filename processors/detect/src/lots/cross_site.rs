//! Serial checks across sites (`LS-005`), through the internal topics of the repartition
//! module.
//!
//! ```text
//! item task tenant|A|sku  a serial seen (serial module)  -> SerialSighting, key tenant|sku|serial
//! serial task             sighting vs the stored one     -> SerialFinding, key tenant|B|sku
//! item task tenant|B|sku  finding                        -> LS-005 SERIAL_TWO_SITES
//! ```
//!
//! The serial task keeps one entry per serial in `ls.xsite` (tenant ++ sku ++ serial -> the
//! latest sighting across sites: site, location, event time, event id, consumed). A sighting is
//! compared with the stored one, whichever arrived first: the earlier of the two by event time
//! (ties by event id, so the order is total) was at site A and not consumed, the later one is
//! at site B != A -> a finding for `tenant|B|sku`. Consumed at A (a pick, an EPCIS DELETE) then
//! seen at B is a transfer; two sightings at one site are the serial module's business. The
//! entry keeps the later sighting: a late, older one never overwrites it.
//!
//! The item task of site B opens `LOT_SERIAL_INCONSISTENCY`, subtype `SERIAL_TWO_SITES`,
//! subject `sku|serial|<serial>` (the subject of LS-003 and LS-004, so an open serial exception
//! of the site takes the finding as a re-detection), with a QUALITY_REVIEW; the audit details
//! name both sites, locations, event times and event ids. The policy of B's scope decides
//! severity, owner and groups; `cross_site_serials = false` for a scope stops its sightings from
//! leaving the item task (step 1) and its findings from opening anything (step 3).
//!
//! Idempotence (internal records are not deduplicated by the engine): the entry remembers the
//! event ids of the last [`APPLIED`] sightings it applied, and a sighting among them changes
//! nothing. At-least-once redelivery replays the records since the last commit, which for one
//! serial are a handful at most; beyond that window a repeat compares like a late sighting, and
//! the item task absorbs the finding (same subject, same numbers: nothing is emitted). A finding
//! processed twice is a re-detection with unchanged numbers, which emits nothing.
//!
//! What the stored sighting cannot tell: the serial task sees sightings in the order their
//! tasks forwarded them. When site A's partition lags, a sighting at B can be compared with A's
//! presence before A's consumption (the pick) arrives; the finding then stands for a person to
//! resolve, as LS-003 does for a putaway confirmed late.

use invex_model::{ActionType, EventHeader, RootCause, RootCauseCategory};
use serde::{Deserialize, Serialize};

use super::{Origin, finding, serial, settings};
use crate::detector::{Ctx, Table};
use crate::error::DetectError;
use crate::exceptions::{self, ActionPlan};
use crate::expiry::Ttl;
use crate::key::Key;
use crate::repartition::{Repartitioned, SerialFinding, SerialSighting};
use crate::store::StoreName;

/// Latest sighting per serial across sites, kept by the serial task. TTL 365 days, as
/// `ls.serial`: every sighting rewrites it and nothing deletes it, and a serial no site has
/// seen for a year has left the tracked stock; seen again, it starts a new history.
pub(super) const XSITE: Table<Latest> = Table::expiring(StoreName("ls.xsite"), Ttl::days(365));
const RULE_TWO_SITES: &str = "LS-005";
const SUBTYPE: &str = "SERIAL_TWO_SITES";
/// Event ids of sightings a serial's entry remembers having applied.
const APPLIED: usize = 4;

/// The latest sighting of a serial across sites.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Latest {
    site: String,
    location: String,
    time: i64,
    event_id: String,
    consumed: bool,
    /// Event ids of the last sightings applied, oldest first (this one's among them).
    applied: Vec<String>,
}

impl Latest {
    fn of(s: &SerialSighting) -> Self {
        Self {
            site: s.site_id.clone(),
            location: s.location_id.clone(),
            time: s.event_time,
            event_id: s.event_id.clone(),
            consumed: s.consumed,
            applied: vec![s.event_id.clone()],
        }
    }
}

/// The sighting an item task sends for `serial` (trimmed, not empty) seen by the event `h`.
pub(super) fn sighting(
    h: &EventHeader,
    sku: &str,
    serial: &str,
    location: &str,
    consumed: bool,
) -> Repartitioned {
    Repartitioned::Sighting(SerialSighting {
        tenant_id: h.tenant_id.clone(),
        site_id: h.site_id.clone(),
        sku: sku.to_owned(),
        serial: serial.to_owned(),
        location_id: location.to_owned(),
        event_time: h.event_time,
        event_id: h.event_id.clone(),
        consumed,
    })
}

/// Serial task: compares a sighting with the stored one and keeps the later.
pub(super) fn on_sighting(ctx: &mut Ctx<'_>, s: &SerialSighting) -> Result<(), DetectError> {
    let key = Key::new().str(&s.tenant_id).str(&s.sku).str(&s.serial).into_bytes();
    let incoming = Latest::of(s);
    let Some(mut stored) = ctx.get(XSITE, &key)? else {
        return ctx.put(XSITE, &key, &incoming);
    };
    if stored.applied.contains(&s.event_id) {
        return Ok(());
    }
    let incoming_later = (incoming.time, &incoming.event_id) > (stored.time, &stored.event_id);
    let (earlier, later) = if incoming_later { (&stored, &incoming) } else { (&incoming, &stored) };
    if earlier.site != later.site && !earlier.consumed {
        ctx.repartition(Repartitioned::Finding(two_sites(s, earlier, later)));
    }
    let mut applied = std::mem::take(&mut stored.applied);
    applied.push(s.event_id.clone());
    let forgotten = applied.len().saturating_sub(APPLIED);
    applied.drain(..forgotten);
    let kept = if incoming_later { incoming } else { stored };
    ctx.put(XSITE, &key, &Latest { applied, ..kept })
}

fn two_sites(s: &SerialSighting, earlier: &Latest, later: &Latest) -> SerialFinding {
    SerialFinding {
        tenant_id: s.tenant_id.clone(),
        site_id: later.site.clone(),
        sku: s.sku.clone(),
        serial: s.serial.clone(),
        location_id: later.location.clone(),
        event_time: later.time,
        event_id: later.event_id.clone(),
        other_site_id: earlier.site.clone(),
        other_location_id: earlier.location.clone(),
        other_event_time: earlier.time,
        other_event_id: earlier.event_id.clone(),
    }
}

/// Item task of the later sighting's site: opens (or re-detects) the serial's exception.
pub(super) fn on_finding(ctx: &mut Ctx<'_>, f: &SerialFinding) -> Result<(), DetectError> {
    let (item, p) = settings(ctx, &f.tenant_id, &f.site_id, &f.sku)?;
    if !p.cross_site_serials {
        return Ok(());
    }
    let note = format!(
        "serial {} seen at site {} ({}) while site {} never consumed it (seen there at {})",
        f.serial, f.site_id, f.location_id, f.other_site_id, f.other_location_id
    );
    let at = Origin {
        tenant: &f.tenant_id,
        site: &f.site_id,
        time: f.event_time,
        event_id: &f.event_id,
    };
    let text = serial::subject(&f.sku, &f.serial);
    let mut found = finding(at, &f.sku, text, RULE_TWO_SITES, SUBTYPE, &p);
    found.severity = p.serial_severity;
    found.location = Some(f.location_id.clone());
    found.quantities = exceptions::quantities(1, 2, None, "SERIAL");
    found.valuation = exceptions::valuation(1, item.unit_cost, &item.currency);
    found.inputs = vec![f.other_event_id.clone(), f.event_id.clone()];
    found.correlation.insert("serial".to_owned(), f.serial.clone());
    found.details = [
        ("site", f.site_id.clone()),
        ("location", f.location_id.clone()),
        ("event_time", f.event_time.to_string()),
        ("event_id", f.event_id.clone()),
        ("previous_site", f.other_site_id.clone()),
        ("previous_location", f.other_location_id.clone()),
        ("previous_event_time", f.other_event_time.to_string()),
        ("previous_event_id", f.other_event_id.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    found.root_cause = Some(RootCause {
        category: RootCauseCategory::Process,
        code: SUBTYPE.to_owned(),
        confidence: 0.5,
        signals: vec![note.clone()],
    });
    found.actions = vec![
        ActionPlan::new(ActionType::QualityReview, &p.quality_group)
            .detail("reason", SUBTYPE)
            .detail("serial", f.serial.as_str())
            .detail("sites", format!("{},{}", f.other_site_id, f.site_id))
            .detail("locations", format!("{},{}", f.other_location_id, f.location_id)),
    ];
    found.note = note;
    exceptions::open_or_update(ctx, found)
}
