//! Throughput of one run: events per second of wall time and per second of CPU time.
//!
//! The window opens at the first committed progress of the group and closes when the group has
//! committed every input record: group joins, restores and interpreter start-up stay outside
//! it, for every contender alike. CPU time is read from `/proc` at both ends of the window, for
//! the measured children (summed when a run has two instances) and, separately, for the
//! broker; events per core-second divide by the children's CPU only (the broker serves every
//! contender alike and is reported on its own).

use std::time::{Duration, Instant};

use serde::Serialize;

use super::error::BenchError;
use super::input::GroupOffsets;
use super::proc::{Proc, cpu_seconds};

/// One measured run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Throughput {
    /// Which contender and guarantee.
    pub(crate) name: String,
    /// Input records inside the window.
    pub(crate) events: i64,
    /// Window length, seconds.
    pub(crate) wall_s: f64,
    /// CPU seconds of the measured processes inside the window.
    pub(crate) cpu_s: f64,
    /// CPU seconds of the broker inside the window (0 when its pid is unknown).
    pub(crate) broker_cpu_s: f64,
    /// Peak resident set of the measured processes (the largest one), MiB.
    pub(crate) peak_rss_mib: f64,
}

impl Throughput {
    /// Events per second of wall time.
    pub(crate) fn per_second(&self) -> f64 {
        ratio(self.events as f64, self.wall_s)
    }

    /// Events per CPU second of the measured processes.
    pub(crate) fn per_core(&self) -> f64 {
        ratio(self.events as f64, self.cpu_s)
    }
}

/// `a / b`, 0 when `b` is not positive.
pub(crate) fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

struct Mark {
    at: Instant,
    committed: i64,
    cpu: f64,
    broker: f64,
}

/// Watches `procs` until `offsets` says the whole input is committed.
pub(crate) fn measure(
    name: &str,
    procs: &mut [&mut Proc],
    offsets: &GroupOffsets,
    broker: Option<u32>,
    limit: Duration,
) -> Result<Throughput, BenchError> {
    let deadline = Instant::now() + limit;
    let mark = |procs: &[&mut Proc], committed| Mark {
        at: Instant::now(),
        committed,
        cpu: procs.iter().map(|p| p.cpu_seconds()).sum(),
        broker: broker.and_then(cpu_seconds).unwrap_or(0.0),
    };
    let mut start: Option<Mark> = None;
    let mut peak = 0;
    loop {
        let committed = offsets.committed();
        peak = peak.max(procs.iter().map(|p| p.peak_rss_kib()).max().unwrap_or(0));
        if start.is_none() && committed > 0 {
            start = Some(mark(procs, committed));
        }
        if committed >= offsets.total() {
            break;
        }
        for p in procs.iter_mut() {
            p.check_alive()?;
        }
        if Instant::now() > deadline {
            let total = offsets.total();
            let message = format!("committed {committed} of {total} within {}s", limit.as_secs());
            return Err(BenchError::run(name, message));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let end = mark(procs, offsets.total());
    let start = start.ok_or_else(|| BenchError::run(name, "no progress seen"))?;
    if end.committed <= start.committed {
        let message = "the input was committed in one step: make it larger (--hours, --skus)";
        return Err(BenchError::run(name, message));
    }
    Ok(Throughput {
        name: name.to_owned(),
        events: end.committed - start.committed,
        wall_s: (end.at - start.at).as_secs_f64(),
        cpu_s: end.cpu - start.cpu,
        broker_cpu_s: end.broker - start.broker,
        peak_rss_mib: peak as f64 / 1024.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_divide_events_by_time() {
        let t = Throughput {
            name: "x".into(),
            events: 1000,
            wall_s: 2.0,
            cpu_s: 4.0,
            broker_cpu_s: 1.0,
            peak_rss_mib: 0.0,
        };
        assert_eq!((t.per_second(), t.per_core()), (500.0, 250.0));
        assert_eq!(ratio(1.0, 0.0), 0.0);
    }
}
