//! Live gauges between window closes.
//!
//! Open count and value at risk are kept per group as exceptions open, change and close, so a
//! reading costs one entry per group plus one single-entry scan for the oldest open exception
//! (the open index is ordered by the start of each exception's age): it does not grow with the
//! backlog, and it can run every few seconds.

use invex_model::MoneyAmount;

use super::LiveGauge;
use super::state::{self, LIVE, OPEN};
use crate::error::DetectError;
use crate::store::Store;

/// Every group's gauges at wall-clock or stream time `now`.
pub(super) fn gauges(store: &dyn Store, now: i64) -> Result<Vec<LiveGauge>, DetectError> {
    let mut out = Vec::new();
    for (_, live) in state::scan(store, LIVE, &state::live_prefix())? {
        let oldest = if live.open > 0 {
            state::first(store, OPEN, &state::open_prefix(&live.group))?
                .map(|(_, episode)| now.saturating_sub(episode.open_since).max(0))
        } else {
            None
        };
        out.push(LiveGauge {
            tenant_id: live.group.tenant_id,
            site_id: live.group.site_id,
            exception_type: live.group.exception_type,
            open: live.open,
            oldest_open_age_ms: oldest,
            value_at_risk: live
                .value
                .into_iter()
                .map(|(currency, micros)| MoneyAmount { currency, amount: micros as f64 / 1e6 })
                .collect(),
        });
    }
    Ok(out)
}
