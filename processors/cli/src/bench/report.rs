//! The result of one harness run: a JSON document and a markdown table built from it.
//!
//! Ratios are computed here, from the measured figures only, so the table and the JSON never
//! disagree. A contender is compared with the passthrough of the same guarantee
//! (at-least-once with at-least-once, exactly-once with the transactional passthrough).

use std::fmt::Write as _;

use serde::Serialize;

use super::input::SimSize;
use super::latency::Latency;
use super::measure::{Throughput, ratio};

/// Where and on what the figures were measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Machine {
    /// Host name.
    pub(crate) host: String,
    /// CPU model.
    pub(crate) cpu: String,
    /// Logical cores available.
    pub(crate) cores: usize,
    /// Memory, MiB.
    pub(crate) memory_mib: u64,
    /// Kernel release.
    pub(crate) kernel: String,
    /// Cargo profile of the measured binary (`release`, or `dev` at the workspace's opt-level 1).
    pub(crate) profile: String,
}

impl Machine {
    /// This machine, from `/proc`.
    pub(crate) fn this() -> Self {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
            .unwrap_or_default();
        let memory_kib: u64 = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        Self {
            host: read("/proc/sys/kernel/hostname").trim().to_owned(),
            cpu,
            cores: std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            memory_mib: memory_kib / 1024,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            profile: if cfg!(debug_assertions) { "dev" } else { "release" }.to_owned(),
        }
    }
}

/// Restore and restart figures.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Recovery {
    /// Changelog records written by the measured run.
    pub(crate) changelog_records: u64,
    /// Distinct live keys in the changelogs (the state's size).
    pub(crate) state_keys: u64,
    /// Records restored on an empty state directory.
    pub(crate) restored: u64,
    /// Time the restores took (as logged by invex), seconds.
    pub(crate) restore_s: f64,
    /// SIGKILL to `/health/ready`, empty state directory, seconds.
    pub(crate) cold_ready_s: f64,
    /// SIGKILL to `/health/ready`, same state directory, seconds.
    pub(crate) warm_ready_s: f64,
    /// Records restored on the same state directory (the changelog tail).
    pub(crate) warm_restored: u64,
    /// Peak RSS of the measured exactly-once run, MiB.
    pub(crate) peak_rss_mib: f64,
    /// Memory budget of the runs, MiB.
    pub(crate) budget_mib: u64,
}

impl Recovery {
    /// Records restored per second.
    pub(crate) fn rate(&self) -> f64 {
        ratio(self.restored as f64, self.restore_s)
    }
}

/// The run of invex with only the cycle-count rule (what the peer runs), exactly-once.
pub(crate) const CYCLE_COUNT_EOS: &str = "invex cycle count only exactly-once";
/// The same, at-least-once.
pub(crate) const CYCLE_COUNT_ALOS: &str = "invex cycle count only at-least-once";

/// Everything one run of the harness measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    /// Start of the run, UTC, RFC 3339.
    pub(crate) started: String,
    /// Wall time of the whole harness run, seconds.
    pub(crate) total_s: f64,
    /// The machine.
    pub(crate) machine: Machine,
    /// The simulated input.
    pub(crate) input: SimSize,
    /// Input records on all canonical topics.
    pub(crate) input_events: i64,
    /// Partitions of the throughput input.
    pub(crate) partitions: i32,
    /// Contenders on the same input.
    pub(crate) throughput: Vec<Throughput>,
    /// Latency at the offered rate.
    pub(crate) latency: Vec<Latency>,
    /// Restore and restart.
    pub(crate) recovery: Option<Recovery>,
    /// invex exactly-once by partitions and instances.
    pub(crate) scaling: Vec<Throughput>,
}

impl Report {
    fn find(&self, name: &str) -> Option<&Throughput> {
        self.throughput.iter().find(|t| t.name == name)
    }

    /// The passthrough of the same guarantee as `name`.
    fn limit_of(&self, name: &str) -> Option<&Throughput> {
        let eos = name.ends_with("exactly-once");
        self.find(if eos { "passthrough exactly-once" } else { "passthrough at-least-once" })
    }

    /// Per-core throughput of the invex run `run` (`"invex"`, or `"invex cycle count only"`)
    /// over the peer's, for one guarantee.
    pub(crate) fn invex_over_peer(&self, run: &str, guarantee: &str) -> Option<f64> {
        let invex = self.find(&format!("{run} {guarantee}"))?;
        let peer = self.find(&format!("peer {guarantee}"))?;
        Some(ratio(invex.per_core(), peer.per_core()))
    }

    /// The markdown table.
    pub(crate) fn markdown(&self) -> String {
        let mut md = String::new();
        let m = &self.machine;
        let _ = writeln!(md, "# invex end-to-end benchmark, {}\n", self.started);
        let _ = writeln!(
            md,
            "Machine: {} ({} cores, {} MiB, Linux {}), host {}; invex built with the {} profile. \
             Broker: tansu 0.6.0 (memory storage) on loopback, on the same cores. Whole run: \
             {:.0} s.\n",
            m.cpu, m.cores, m.memory_mib, m.kernel, m.host, m.profile, self.total_s
        );
        let s = &self.input;
        let _ = writeln!(
            md,
            "Input: simulator seed {}, {} sites x {} SKUs, {} h: {} records on the canonical \
             topics, {} partitions.\n",
            s.seed, s.sites, s.skus, s.hours, self.input_events, self.partitions
        );
        self.throughput_table(&mut md);
        self.latency_table(&mut md);
        self.recovery_table(&mut md);
        self.scaling_table(&mut md);
        md
    }

    fn throughput_table(&self, md: &mut String) {
        if self.throughput.is_empty() {
            return;
        }
        md.push_str("## Throughput (same input, one after another)\n\n");
        md.push_str(
            "| run | events | wall s | events/s | CPU s | events/s per core | per core vs limit \
             | events/s vs limit | peak RSS MiB | broker CPU s |\n|---|---:|---:|---:|---:|---:|\
             ---:|---:|---:|---:|\n",
        );
        for t in &self.throughput {
            let limit = self.limit_of(&t.name);
            let core = limit.map_or(0.0, |l| ratio(t.per_core(), l.per_core()));
            let wall = limit.map_or(0.0, |l| ratio(t.per_second(), l.per_second()));
            let _ = writeln!(
                md,
                "| {} | {} | {:.2} | {:.0} | {:.2} | {:.0} | {:.2} | {:.2} | {:.0} | {:.2} |",
                t.name,
                t.events,
                t.wall_s,
                t.per_second(),
                t.cpu_s,
                t.per_core(),
                core,
                wall,
                t.peak_rss_mib,
                t.broker_cpu_s
            );
        }
        let runs = [("invex", "every detector"), ("invex cycle count only", "the peer's rule")];
        for (run, what) in runs {
            for g in ["exactly-once", "at-least-once"] {
                if let Some(r) = self.invex_over_peer(run, g) {
                    let _ =
                        writeln!(md, "\ninvex ({what}) / peer, events per core, {g}: **{r:.1}x**");
                }
            }
        }
        md.push('\n');
    }

    fn latency_table(&self, md: &mut String) {
        if self.latency.is_empty() {
            return;
        }
        md.push_str("## Latency, count produced -> exception visible (read_committed), ms\n\n");
        md.push_str(
            "| guarantee | commit interval ms | offered ev/s | achieved ev/s | samples | p50 | p99 \
             | max | p99 to CreateTime |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for l in &self.latency {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} |",
                l.guarantee,
                l.commit_ms,
                l.offered_rate,
                l.achieved_rate,
                l.samples,
                l.visible.p50,
                l.visible.p99,
                l.visible.max,
                l.created.p99
            );
        }
        md.push('\n');
    }

    fn recovery_table(&self, md: &mut String) {
        let Some(r) = &self.recovery else { return };
        md.push_str("## Recovery (exactly-once instance killed with SIGKILL)\n\n");
        md.push_str("| figure | value |\n|---|---:|\n");
        let rows = [
            ("state: distinct live keys in the changelogs", format!("{}", r.state_keys)),
            ("changelog records", format!("{}", r.changelog_records)),
            ("restored on an empty state directory, records", format!("{}", r.restored)),
            ("restore time, s", format!("{:.2}", r.restore_s)),
            ("restore rate, records/s", format!("{:.0}", r.rate())),
            ("SIGKILL -> ready, empty state directory, s", format!("{:.2}", r.cold_ready_s)),
            ("SIGKILL -> ready, same state directory, s", format!("{:.2}", r.warm_ready_s)),
            ("restored on the same state directory, records", format!("{}", r.warm_restored)),
            ("peak RSS of the measured run, MiB", format!("{:.0}", r.peak_rss_mib)),
            ("memory budget (default), MiB", format!("{}", r.budget_mib)),
        ];
        for (k, v) in rows {
            let _ = writeln!(md, "| {k} | {v} |");
        }
        md.push('\n');
    }

    fn scaling_table(&self, md: &mut String) {
        if self.scaling.is_empty() {
            return;
        }
        md.push_str("## Scaling, invex exactly-once\n\n");
        md.push_str(
            "| setup | events | wall s | events/s | CPU s | events/s per core |\n\
             |---|---:|---:|---:|---:|---:|\n",
        );
        for t in &self.scaling {
            let _ = writeln!(
                md,
                "| {} | {} | {:.2} | {:.0} | {:.2} | {:.0} |",
                t.name,
                t.events,
                t.wall_s,
                t.per_second(),
                t.cpu_s,
                t.per_core()
            );
        }
        md.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, events: i64, cpu_s: f64) -> Throughput {
        Throughput {
            name: name.into(),
            events,
            wall_s: 1.0,
            cpu_s,
            broker_cpu_s: 0.5,
            peak_rss_mib: 10.0,
        }
    }

    fn report() -> Report {
        Report {
            started: "2026-01-01T00:00:00Z".into(),
            total_s: 1.0,
            machine: Machine {
                host: "h".into(),
                cpu: "c".into(),
                cores: 2,
                memory_mib: 1,
                kernel: "k".into(),
                profile: "release".into(),
            },
            input: SimSize { seed: 1, sites: 1, skus: 1, hours: 1 },
            input_events: 100,
            partitions: 4,
            throughput: vec![
                run("passthrough exactly-once", 100, 1.0),
                run("invex exactly-once", 100, 2.0),
                run("peer exactly-once", 100, 40.0),
                run(CYCLE_COUNT_EOS, 100, 1.0),
            ],
            latency: Vec::new(),
            recovery: None,
            scaling: Vec::new(),
        }
    }

    #[test]
    fn ratios_compare_with_the_same_guarantee() {
        let r = report();
        assert_eq!(r.invex_over_peer("invex", "exactly-once"), Some(20.0));
        assert_eq!(r.invex_over_peer("invex", "at-least-once"), None);
        assert_eq!(r.invex_over_peer("invex cycle count only", "exactly-once"), Some(40.0));
        let md = r.markdown();
        assert!(
            md.contains("| invex exactly-once | 100 | 1.00 | 100 | 2.00 | 50 | 0.50 | 1.00 |"),
            "{md}"
        );
        assert!(md.contains("(every detector) / peer, events per core, exactly-once: **20.0x**"));
        assert!(md.contains("(the peer's rule) / peer, events per core, exactly-once: **40.0x**"));
        assert!(!md.contains("## Recovery"));
    }

    #[test]
    fn recovery_rate_is_records_over_restore_time() {
        let r = Recovery { restored: 1_000_000, restore_s: 4.0, ..Recovery::default() };
        assert_eq!(r.rate(), 250_000.0);
    }
}
