//! Which window an input counts in, and counting it there.
//!
//! A transition at event time `t` belongs to the UTC hour `[h, h + 1 h)` holding `t`. While
//! that window has not been emitted it is counted there, however far behind stream time `t`
//! is; once it has (`h < closed_until`), the transition is late: it still changes the state
//! (so the backlog stays right from the next window on) but no window count, and the late
//! counter grows by one. Emitted records are never revised.

use super::state::{self, COUNTS, Group, META, Meta, WindowCounts};
use crate::error::DetectError;
use crate::store::Store;

/// Width of a window.
pub(super) const HOUR_MS: i64 = 3_600_000;

/// Start of the window holding `t`.
pub(super) fn window_of(t: i64) -> i64 {
    t.div_euclid(HOUR_MS) * HOUR_MS
}

/// The window cursor and late counter.
pub(super) fn meta(store: &dyn Store) -> Result<Meta, DetectError> {
    Ok(state::get(store, META, state::meta_key())?.unwrap_or_default())
}

/// Counts one transition of `group` at event time `at` with `apply`: returns `false` (and
/// counts it late) when its window was already emitted.
pub(super) fn count(
    store: &mut dyn Store,
    group: &Group,
    at: i64,
    apply: impl FnOnce(&mut WindowCounts),
) -> Result<bool, DetectError> {
    let start = window_of(at);
    let mut cursor = meta(store)?;
    if cursor.closed_until.is_some_and(|closed| start < closed) {
        cursor.late = cursor.late.saturating_add(1);
        state::put(store, META, state::meta_key(), &cursor)?;
        return Ok(false);
    }
    let key = state::counts_key(start, group);
    let mut counts =
        state::get(store, COUNTS, &key)?.unwrap_or_else(|| WindowCounts::new(group.clone()));
    apply(&mut counts);
    state::put(store, COUNTS, &key, &counts)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_utc_hours_also_before_the_epoch() {
        assert_eq!(window_of(0), 0);
        assert_eq!(window_of(HOUR_MS - 1), 0);
        assert_eq!(window_of(HOUR_MS), HOUR_MS);
        assert_eq!(window_of(-1), -HOUR_MS);
    }
}
