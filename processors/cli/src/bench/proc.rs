//! Child processes and what the OS says about them: CPU time and peak resident set.
//!
//! Every measured program runs as a child so its CPU time is its own: utime + stime from
//! `/proc/<pid>/stat` (all threads of the process, in clock ticks), sampled while it runs, so a
//! measurement can end at the moment the work is done rather than after shutdown. Peak RSS is
//! `VmHWM` from `/proc/<pid>/status`. Children are stopped with SIGTERM (a clean stop) or
//! SIGKILL (a crash), by pid, never by name; a dropped [`Proc`] is killed so no child outlives
//! the harness.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::error::BenchError;

/// A running child with its log file.
pub(crate) struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    /// Starts `command` with stdout and stderr going to `log`.
    pub(crate) fn spawn(name: &str, mut command: Command, log: &Path) -> Result<Self, BenchError> {
        let out =
            std::fs::File::create(log).map_err(BenchError::io(format!("{}", log.display())))?;
        let err = out.try_clone().map_err(BenchError::io("duplicating a log handle"))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| BenchError::Setup(format!("starting {name}: {e}")))?;
        Ok(Self { name: name.to_owned(), child, log: log.to_path_buf() })
    }

    /// Process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Where the child's output goes.
    pub(crate) fn log(&self) -> &Path {
        &self.log
    }

    /// CPU seconds (user + system) used so far.
    pub(crate) fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.pid()).unwrap_or(0.0)
    }

    /// Peak resident set so far, in KiB.
    pub(crate) fn peak_rss_kib(&self) -> u64 {
        peak_rss_kib(self.pid()).unwrap_or(0)
    }

    /// An error if the child has exited (it should run until stopped).
    pub(crate) fn check_alive(&mut self) -> Result<(), BenchError> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(BenchError::run(
                &self.name,
                format!("exited by itself ({status}); log: {}", self.log.display()),
            )),
            Err(e) => Err(BenchError::io(format!("waiting for {}", self.name))(e)),
        }
    }

    /// Waits for the child to exit by itself within `limit`; an error if it fails or hangs.
    pub(crate) fn wait_success(mut self, limit: Duration) -> Result<(), BenchError> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => {
                    let log = self.log.display();
                    return Err(BenchError::run(
                        &self.name,
                        format!("failed ({status}); log: {log}"),
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => return Err(BenchError::io(format!("waiting for {}", self.name))(e)),
            }
        }
        Err(BenchError::run(&self.name, format!("did not finish within {}s", limit.as_secs())))
    }

    /// SIGTERM, then SIGKILL if it has not exited after `grace`.
    pub(crate) fn terminate(mut self, grace: Duration) {
        let _ = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill_now();
    }

    /// SIGKILL and reap: a crash.
    pub(crate) fn kill_now(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill_now();
        }
    }
}

/// CPU seconds (utime + stime) of a live process.
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(cpu_ticks(&stat)? as f64 / clock_ticks_per_second())
}

/// Peak resident set of a live process, in KiB.
pub(crate) fn peak_rss_kib(pid: u32) -> Option<u64> {
    vm_hwm_kib(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// utime + stime from the text of `/proc/<pid>/stat`. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted after its last `)`.
pub(crate) fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// `VmHWM` in KiB from the text of `/proc/<pid>/status`.
pub(crate) fn vm_hwm_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The kernel's USER_HZ (`getconf CLK_TCK`; 100 on every mainstream Linux build).
fn clock_ticks_per_second() -> f64 {
    static HZ: OnceLock<f64> = OnceLock::new();
    *HZ.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|hz| *hz > 0.0)
            .unwrap_or(100.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_count_fields_after_the_name() {
        let stat = "4242 (tokio (rt) x) S 1 2 3 4 5 6 7 8 9 10 250 35 0 0 20 0 9 0 100 0 0";
        assert_eq!(cpu_ticks(stat), Some(285));
        assert_eq!(cpu_ticks("4242 (short) S 1 2"), None);
        assert_eq!(cpu_ticks("no parenthesis"), None);
    }

    #[test]
    fn vm_hwm_reads_kib() {
        let status = "Name:\tinvex\nVmPeak:\t  900 kB\nVmHWM:\t  123456 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(vm_hwm_kib(status), Some(123_456));
        assert_eq!(vm_hwm_kib("Name:\tx\n"), None);
    }

    #[test]
    fn this_process_has_cpu_time_and_a_peak() {
        let pid = std::process::id();
        let spin = (0..2_000_000u64).fold(0u64, |a, b| a.wrapping_add(b * b));
        assert!(spin > 0);
        assert!(cpu_seconds(pid).is_some_and(|s| s >= 0.0));
        assert!(peak_rss_kib(pid).is_some_and(|k| k > 0));
    }
}
