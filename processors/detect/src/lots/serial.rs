//! Serial checks of one SKU at one site (the task sees every event of the SKU there).
//!
//! - `LS-003` a serial seen at a second location while still recorded at the first, and no
//!   confirmed task moved the SKU out of the first location since it was seen there: subtype
//!   `SERIAL_TWO_LOCATIONS`, subject `sku|serial|<serial>`;
//! - `LS-004` a serial seen (received, scanned, picked) after it was consumed (picked, or
//!   decommissioned by an EPCIS DELETE scan): subtype `SERIAL_AFTER_CONSUMED`, same subject.
//!
//! Both ask quality for a review (QUALITY_REVIEW with the serial and the locations). The
//! serial's record then follows the latest sighting; further sightings while the exception is
//! open belong to it (same subject, same numbers: nothing new is emitted).
//!
//! State: `ls.serial` (item ++ serial -> where and when it was last seen, and whether it was
//! consumed) and `ls.moved` (item ++ location -> event time of the latest confirmed task out
//! of it). Serials of one SKU at other sites live in other tasks: every sighting recorded here
//! is also sent to the serial-keyed task (the cross_site module, `LS-005`), which compares
//! sightings across sites. The same unit under another SKU is not compared anywhere.

use invex_model::{ActionType, EpcisAction, EventHeader, RootCause, RootCauseCategory};
use serde::{Deserialize, Serialize};

use super::{finding, settings};
use crate::cycle_count::item_key;
use crate::detector::{Ctx, Table};
use crate::error::DetectError;
use crate::exceptions::{self, ActionPlan};
use crate::expiry::Ttl;
use crate::key::Key;
use crate::store::StoreName;

/// Last sighting per serial. TTL 365 days: every sighting rewrites it and nothing deletes it;
/// no policy window applies, and a serial no scan, receipt or pick has seen for a year has
/// left the tracked stock (shipped and not returned): seen again, it starts a new history.
pub(super) const SERIALS: Table<Sighting> = Table::expiring(StoreName("ls.serial"), Ttl::days(365));
/// Latest confirmed task out of a location. TTL 372 days: it is only read against a live
/// sighting at most 365 days old whose event time may lag its write by up to the 7-day dedupe
/// horizon, so a move that explains a live sighting is always still there.
pub(super) const MOVED: Table<i64> = Table::expiring(StoreName("ls.moved"), Ttl::days(372));
const RULE_TWO_LOCATIONS: &str = "LS-003";
const RULE_CONSUMED: &str = "LS-004";

/// Where and when a serial was last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Sighting {
    location: String,
    time: i64,
    event_id: String,
    consumed: bool,
}

/// How an event saw a serial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Seen {
    /// Received or scanned: the unit is at the location.
    Present,
    /// Picked or decommissioned: the unit leaves the tracked stock.
    Consumed,
}

impl Seen {
    /// How a scan with this EPCIS action sees its serial.
    pub(super) fn of_scan(action: EpcisAction) -> Self {
        if action == EpcisAction::Delete { Self::Consumed } else { Self::Present }
    }
}

/// Records a confirmed task out of `location` (serials there may now be elsewhere).
pub(super) fn moved_out(
    ctx: &mut Ctx<'_>,
    h: &EventHeader,
    sku: &str,
    location: &str,
) -> Result<(), DetectError> {
    let key = Key::new().raw(&item_key(&h.tenant_id, &h.site_id, sku)).str(location).into_bytes();
    if ctx.get(MOVED, &key)?.is_some_and(|t| t >= h.event_time) {
        return Ok(());
    }
    ctx.put(MOVED, &key, &h.event_time)
}

/// Checks and records one sighting of `serial` (trimmed, not empty) at `location`.
pub(super) fn seen(
    ctx: &mut Ctx<'_>,
    h: &EventHeader,
    sku: &str,
    serial: &str,
    location: &str,
    how: Seen,
) -> Result<(), DetectError> {
    let item = item_key(&h.tenant_id, &h.site_id, sku);
    let key = Key::new().raw(&item).str(serial).into_bytes();
    let before = ctx.get(SERIALS, &key)?;
    let now = Sighting {
        location: location.to_owned(),
        time: h.event_time,
        event_id: h.event_id.clone(),
        consumed: how == Seen::Consumed,
    };
    ctx.put(SERIALS, &key, &now)?;
    let Some(before) = before else { return Ok(()) };
    if before.consumed {
        return report(ctx, h, sku, serial, &before, &now, RULE_CONSUMED);
    }
    if before.location == now.location {
        return Ok(());
    }
    let from = Key::new().raw(&item).str(&before.location).into_bytes();
    let moved = ctx.get(MOVED, &from)?.is_some_and(|t| t >= before.time);
    if moved { Ok(()) } else { report(ctx, h, sku, serial, &before, &now, RULE_TWO_LOCATIONS) }
}

fn report(
    ctx: &mut Ctx<'_>,
    h: &EventHeader,
    sku: &str,
    serial: &str,
    before: &Sighting,
    now: &Sighting,
    rule: &'static str,
) -> Result<(), DetectError> {
    let (item, p) = settings(ctx, &h.tenant_id, &h.site_id, sku)?;
    let (subtype, what) = match rule {
        RULE_CONSUMED => ("SERIAL_AFTER_CONSUMED", "after it was consumed"),
        _ => ("SERIAL_TWO_LOCATIONS", "at a second location"),
    };
    let note = format!(
        "serial {serial} seen at {} {what} (last seen at {})",
        now.location, before.location
    );
    let mut f = finding(h.into(), sku, subject(sku, serial), rule, subtype, &p);
    f.severity = p.serial_severity;
    f.location = Some(now.location.clone());
    f.quantities = exceptions::quantities(1, 2, None, "SERIAL");
    f.valuation = exceptions::valuation(1, item.unit_cost, &item.currency);
    f.inputs = vec![before.event_id.clone(), now.event_id.clone()];
    f.correlation.insert("serial".to_owned(), serial.to_owned());
    f.details.insert("previous_location".to_owned(), before.location.clone());
    f.details.insert("location".to_owned(), now.location.clone());
    f.root_cause = Some(RootCause {
        category: RootCauseCategory::Process,
        code: subtype.to_owned(),
        confidence: 0.5,
        signals: vec![note.clone()],
    });
    f.actions = vec![
        ActionPlan::new(ActionType::QualityReview, &p.quality_group)
            .detail("reason", subtype)
            .detail("serial", serial)
            .detail("locations", format!("{},{}", before.location, now.location)),
    ];
    f.note = note;
    exceptions::open_or_update(ctx, f)
}

/// Subject text of every serial exception of `sku` (LS-003, LS-004 and LS-005): one open
/// exception per serial, whichever rule found it first.
pub(super) fn subject(sku: &str, serial: &str) -> String {
    format!("{sku}|serial|{serial}")
}
