//! What one call of the engine produces: records for the output topics and an outcome.
//!
//! Outputs are appended in decision order, which is deterministic: the same input sequence and
//! wall-clock values always yield the same records in the same order. The runtime produces
//! them in that order within one transaction. The [`Outcome`] is for metrics and logs only;
//! detectors never emit telemetry themselves.

use invex_model::{ActionCommand, AuditRecord, ExceptionRecord};

use crate::repartition::Repartitioned;

/// Records for the `exceptions`, `actions` and `audit` topics, and for the internal topics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outputs {
    /// Exception record versions, in emission order.
    pub exceptions: Vec<ExceptionRecord>,
    /// Action commands, in emission order.
    pub actions: Vec<ActionCommand>,
    /// Audit records, in emission order.
    pub audit: Vec<AuditRecord>,
    /// Records for the internal topics ([`Repartitioned::topic`]), in emission order; a host
    /// that runs one task over every partition processes them with
    /// [`crate::Engine::loop_back`] instead.
    pub repartitioned: Vec<Repartitioned>,
}

impl Outputs {
    /// Removes every record, keeping the allocations.
    pub fn clear(&mut self) {
        self.exceptions.clear();
        self.actions.clear();
        self.audit.clear();
        self.repartitioned.clear();
    }

    /// True when no record is held.
    pub fn is_empty(&self) -> bool {
        self.exceptions.is_empty()
            && self.actions.is_empty()
            && self.audit.is_empty()
            && self.repartitioned.is_empty()
    }

    pub(crate) fn counts(&self) -> [usize; 3] {
        [self.exceptions.len(), self.actions.len(), self.audit.len()]
    }
}

/// Plain counters describing one call of the engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The event was seen before (same event id): nothing changed.
    pub duplicate: bool,
    /// The event's time is before the stream time (it arrived out of order).
    pub late: bool,
    /// Exception records emitted.
    pub exceptions: usize,
    /// Action commands emitted.
    pub actions: usize,
    /// Audit records emitted.
    pub audit: usize,
    /// Timers fired.
    pub timers_fired: usize,
    /// Expired entries of stores with a TTL that the purge deleted (each a tombstone on the
    /// store's changelog); only [`crate::Engine::on_wall_clock`] purges.
    pub expired: usize,
}

impl Outcome {
    /// Sets the emitted counters from the growth of `out` since `before` was taken.
    pub(crate) fn with_emitted(mut self, before: [usize; 3], out: &Outputs) -> Self {
        let after = out.counts();
        self.exceptions = after[0].saturating_sub(before[0]);
        self.actions = after[1].saturating_sub(before[1]);
        self.audit = after[2].saturating_sub(before[2]);
        self
    }

    /// Adds the counters of `other` (a flag is set when either has it).
    pub(crate) fn absorb(&mut self, other: Self) {
        self.duplicate |= other.duplicate;
        self.late |= other.late;
        self.exceptions += other.exceptions;
        self.actions += other.actions;
        self.audit += other.audit;
        self.timers_fired += other.timers_fired;
        self.expired += other.expired;
    }
}
