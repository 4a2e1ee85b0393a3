//! PUTAWAY_FAILURE: received stock not put away in time, or put away wrongly.
//!
//! Received quantity waits at its receiving location (the receipt line's location, per lot)
//! until confirmed PUTAWAY tasks take it away from there, first in, first out:
//!
//! ```text
//! pf.dock   item ++ location ++ lot   -> DockState   receipts waiting, quantity put away
//! ```
//!
//! Every receipt line with an accepted quantity schedules an SLA check, persisted, on both
//! clocks: stream time at its event time plus `dock_to_stock_minutes`, wall clock at its
//! arrival plus the same (so it fires on a quiet key after a restart). A check makes every
//! receipt up to a cutoff "due" (stream time minus the SLA, or the receipt itself on the wall
//! clock); fully put-away receipts are pruned.
//!
//! Rules:
//! - `PF-001` due quantity not put away: one exception per receiving location and lot
//!   (subject `sku|location|lot`, expected = due quantity, observed = put away of it), an
//!   ESCALATION (level 1, reason `DOCK_TO_STOCK_SLA`) to the ops group; more overdue receipts
//!   update it (REDETECTED);
//! - `PF-002` a PUTAWAY confirmed at another location than suggested without an override
//!   reason: subtype `WRONG_LOCATION`, subject `sku|task`, a RECOUNT_TASK of the actual
//!   location;
//! - `PF-003` a PUTAWAY task (confirmed or cancelled) whose reason is one of
//!   `blocked_location_reasons`: the WMS suggested a locked, errored or full location; subtype
//!   `BLOCKED_LOCATION`, root cause MASTER_DATA, a RECOUNT_TASK of the suggested location;
//! - `PF-004` the putaways catch up with every due receipt: RESOLVED / PUT_AWAY.
//!
//! There is no poison of its own: the cycle-count rule refuses impossible receipts and tasks
//! before any detector processes them. Location status is not a canonical topic here, so a
//! blocked location is known from the task's reason code.
//!
//! Policy keys (`[putaway_failure]`, overridable): `dock_to_stock_minutes`,
//! `blocked_location_reasons`, `sla_severity`, `wrong_location_severity`,
//! `blocked_location_severity`, `owner`, `ops_group`, `recount_due_minutes`.

mod rules;

use invex_model::{CanonicalEvent, TaskStatus, TaskType};

use self::rules::{DOCK, SLA};
use crate::detector::{Ctx, Detector, FiredTimer};
use crate::error::DetectError;
use crate::exceptions;
use crate::expiry::StoreTtl;
use crate::store::{StoreName, join};

const STORES: [StoreName; 6] =
    join(&[&[DOCK.name(), crate::cycle_count::STORES[0]], &crate::governance::GOVERNED]);

/// This detector's own stores.
pub(crate) const OWN_STORES: [StoreTtl; 1] = [DOCK.spec()];

/// The putaway-failure detector; its parameters come from the policy.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PutawayFailure;

impl Detector for PutawayFailure {
    fn name(&self) -> &'static str {
        "pf"
    }

    fn stores(&self) -> &'static [StoreName] {
        &STORES
    }

    fn process(&mut self, event: &CanonicalEvent, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        match event {
            CanonicalEvent::Receipt(r) if r.qty_accepted > 0 => rules::on_receipt(ctx, r),
            CanonicalEvent::Task(t) if t.task_type == TaskType::Putaway => {
                rules::check_reasons(ctx, t)?;
                if t.status == TaskStatus::Confirmed {
                    rules::on_putaway(ctx, t)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn on_timer(&mut self, timer: &FiredTimer, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        match timer.key.split_first() {
            Some((&SLA, rest)) => rules::on_sla(ctx, rest, timer.kind),
            Some((&exceptions::PURGE, key)) => exceptions::purge(ctx, key),
            _ => Ok(()),
        }
    }
}
