//! Which assigned tasks still restore, and the one restoring now.
//!
//! Tasks restore one at a time, in partition order, a time slice per call of
//! [`Restoring::step`], so ready tasks keep processing in between (see [`crate::restore`]).
//! A restore that makes no progress for [`STALL`] stops the instance with a message naming the
//! task: a changelog that cannot be read is not something to wait out silently. Progress is
//! logged every [`REPORT_EVERY`] with the records restored and the rate, and the rate is
//! published as `invex_restore_rate`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use invex_state::{SharedResources, StoreConfig, TaskStore};

use crate::error::RuntimeError;
use crate::metrics::Metrics;
use crate::restore::{Restorer, Sources};
use crate::task::InputQueue;

const STALL: Duration = Duration::from_secs(60);
const REPORT_EVERY: Duration = Duration::from_secs(5);

/// The task being restored.
struct Active {
    partition: i32,
    store: TaskStore,
    queues: Vec<InputQueue>,
    sources: Sources,
    started: Instant,
    last_progress: Instant,
    last_report: Instant,
    restored: u64,
}

/// A task whose restore has completed, ready to run.
pub(crate) struct Restored {
    pub(crate) partition: i32,
    pub(crate) store: TaskStore,
    pub(crate) queues: Vec<InputQueue>,
}

/// What opening a task's database needs.
pub(crate) struct Opener<'a> {
    pub(crate) store_cfg: &'a StoreConfig,
    pub(crate) shared: &'a SharedResources,
    /// `(store, changelog topic)` of every store.
    pub(crate) changelogs: &'a [(&'static str, String)],
}

/// Assigned tasks that have not restored yet.
#[derive(Default)]
pub(crate) struct Restoring {
    pending: BTreeMap<i32, Vec<InputQueue>>,
    active: Option<Active>,
}

impl Restoring {
    /// Queues `partition` for restore (unless it already restores).
    pub(crate) fn assigned(&mut self, partition: i32, queues: Vec<InputQueue>) {
        if self.active.as_ref().is_none_or(|a| a.partition != partition) {
            self.pending.insert(partition, queues);
        }
    }

    /// Forgets `partition`; a restore in progress stops (what it applied stays: it is
    /// checkpointed, and the next owner on this machine continues from it).
    pub(crate) fn revoked(&mut self, restorer: &Restorer, partition: i32) {
        self.pending.remove(&partition);
        if self.active.as_ref().is_some_and(|a| a.partition == partition) {
            self.stop(restorer);
        }
    }

    /// Forgets every task (shutdown).
    pub(crate) fn clear(&mut self, restorer: &Restorer) {
        self.pending.clear();
        self.stop(restorer);
    }

    fn stop(&mut self, restorer: &Restorer) {
        if let Some(active) = self.active.take() {
            restorer.end(active.sources);
        }
    }

    /// Tasks waiting or restoring.
    pub(crate) fn len(&self) -> usize {
        self.pending.len() + usize::from(self.active.is_some())
    }

    /// True when no task waits for its state.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Restores for about `budget`; returns the task that finished, if one did.
    pub(crate) fn step(
        &mut self,
        restorer: &Restorer,
        opener: &Opener<'_>,
        metrics: &Metrics,
        budget: Duration,
    ) -> Result<Option<Restored>, RuntimeError> {
        if self.active.is_none() && !self.start_next(restorer, opener)? {
            return Ok(None);
        }
        let Some(active) = self.active.as_mut() else { return Ok(None) };
        let advance =
            restorer.advance(&mut active.store, &mut active.sources, active.partition, budget);
        let advance = match advance {
            Ok(a) => a,
            Err(e) => {
                self.stop(restorer);
                return Err(e);
            }
        };
        active.restored += advance.restored;
        metrics.restored.inc_by(advance.restored);
        if advance.progressed {
            active.last_progress = Instant::now();
        }
        if advance.done {
            let active =
                self.active.take().ok_or_else(|| RuntimeError::Setup("restore vanished".into()))?;
            return Ok(Some(finish(restorer, active, metrics)));
        }
        if active.last_progress.elapsed() > STALL {
            let partition = active.partition;
            self.stop(restorer);
            return Err(RuntimeError::Setup(format!(
                "restore of task {partition} made no progress for {}s (changelog unreadable?)",
                STALL.as_secs()
            )));
        }
        if active.last_report.elapsed() >= REPORT_EVERY {
            active.last_report = Instant::now();
            let rate = rate(active.restored, active.started.elapsed());
            metrics.restore_rate.set(rate as i64);
            tracing::info!(
                partition = active.partition,
                restored = active.restored,
                rate,
                waiting = self.pending.len(),
                "restoring"
            );
        }
        Ok(None)
    }

    /// Opens the next pending task's database and assigns its changelogs; false if none waits.
    fn start_next(
        &mut self,
        restorer: &Restorer,
        opener: &Opener<'_>,
    ) -> Result<bool, RuntimeError> {
        let Some((partition, queues)) = self.pending.pop_first() else { return Ok(false) };
        let names: Vec<&str> = opener.changelogs.iter().map(|(s, _)| *s).collect();
        let store = TaskStore::open(opener.store_cfg, opener.shared, partition, &names)?;
        let sources = restorer.begin(&store, opener.changelogs, partition)?;
        let now = Instant::now();
        self.active = Some(Active {
            partition,
            store,
            queues,
            sources,
            started: now,
            last_progress: now,
            last_report: now,
            restored: 0,
        });
        Ok(true)
    }
}

fn finish(restorer: &Restorer, active: Active, metrics: &Metrics) -> Restored {
    restorer.end(active.sources);
    let elapsed = active.started.elapsed();
    let rate = rate(active.restored, elapsed);
    metrics.restore_rate.set(rate as i64);
    tracing::info!(
        partition = active.partition,
        restored = active.restored,
        elapsed_ms = elapsed.as_millis() as u64,
        rate,
        "task restored"
    );
    Restored { partition: active.partition, store: active.store, queues: active.queues }
}

/// Records per second, rounded down; zero for an instant restore.
fn rate(records: u64, elapsed: Duration) -> u64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 { 0 } else { (records as f64 / secs) as u64 }
}

#[cfg(test)]
mod tests {
    use super::rate;
    use std::time::Duration;

    #[test]
    fn rate_is_records_per_second() {
        assert_eq!(rate(300_000, Duration::from_millis(1_500)), 200_000);
        assert_eq!(rate(10, Duration::ZERO), 0);
    }
}
