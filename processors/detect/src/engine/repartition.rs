//! Records of the internal topics (see the repartition module).
//!
//! An internal record is derived data: every detector's [`crate::Detector::on_repartitioned`]
//! hook processes it like an event, but it is not checked against the dedupe store (it has
//! no id of its own: it carries the id of the canonical event it comes from), it does not move
//! the task's stream time and it fires no stream-time timers. So the stream time a restored
//! task reaches depends only on its canonical events, and a detector makes its effect
//! idempotent instead. Reads and TTL stamps use the task's stream time; a task that has not
//! seen a canonical event yet uses the record's event time for that call only.

use std::collections::VecDeque;

use super::Engine;
use crate::detector::{Ctx, Owner, Times};
use crate::error::DetectError;
use crate::output::{Outcome, Outputs};
use crate::repartition::Repartitioned;
use crate::store::Store;

impl Engine {
    /// Processes a record of an internal topic (see above). `wall_clock` as in `process`.
    pub fn process_repartitioned(
        &mut self,
        record: &Repartitioned,
        wall_clock: i64,
        store: &mut dyn Store,
        out: &mut Outputs,
    ) -> Result<Outcome, DetectError> {
        let before = out.counts();
        self.load(store)?;
        self.env.items.clear();
        check(record)?;
        let event_time = record.event_time();
        let stream_time = self.stream_time.unwrap_or(event_time);
        let times = Times { event_time, stream_time, wall_clock };
        for detector in &mut self.detectors {
            let mut ctx =
                Ctx::new(store, &mut self.timers, out, &self.env, times, Owner::of(&**detector));
            detector.on_repartitioned(record, &mut ctx)?;
        }
        Ok(Outcome::default().with_emitted(before, out))
    }

    /// For hosts that run ONE task over every partition (the test driver, `invex replay`):
    /// drains `out.repartitioned` and processes each record (and whatever that emits in turn)
    /// as if it had come back from its topic. Returns the summed outcome.
    pub fn loop_back(
        &mut self,
        wall_clock: i64,
        store: &mut dyn Store,
        out: &mut Outputs,
    ) -> Result<Outcome, DetectError> {
        let mut total = Outcome::default();
        let mut pending: VecDeque<Repartitioned> = out.repartitioned.drain(..).collect();
        // First in, first out: records are processed in the order they were emitted. A
        // sighting emits at most one finding and a finding emits nothing, so this ends.
        while let Some(record) = pending.pop_front() {
            total.absorb(self.process_repartitioned(&record, wall_clock, store, out)?);
            pending.extend(out.repartitioned.drain(..));
        }
        Ok(total)
    }
}

/// An internal record without a tenant, site, SKU, serial or event id cannot be processed:
/// poison, like a canonical event without a key.
fn check(record: &Repartitioned) -> Result<(), DetectError> {
    match record.blank_field() {
        Some(field) => Err(DetectError::InvalidEvent {
            topic: record.topic().name(),
            event_id: record.event_id().to_owned(),
            reason: format!("{field} is empty"),
        }),
        None => Ok(()),
    }
}
