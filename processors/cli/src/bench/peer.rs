//! The peer: invex's cycle-count rule written for Quix Streams (`benches/peer/cycle_count.py`),
//! run as a Python child on the same input. It reads only the topics that rule needs, so its
//! events are counted on those topics; see benches/README.md for what it simplifies.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::error::BenchError;
use super::proc::Proc;

/// Canonical topics the peer reads.
pub(crate) const PEER_TOPICS: [&str; 6] =
    ["md.item", "erp.book", "wh.receipt", "wh.task", "wh.pick", "wh.count"];

/// Where the peer's program and interpreter are.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    /// Bootstrap servers.
    pub(crate) bootstrap: String,
    /// Python interpreter with quixstreams installed.
    pub(crate) python: PathBuf,
    /// The peer program.
    pub(crate) script: PathBuf,
    /// Directory of the `.avsc` files.
    pub(crate) schemas: PathBuf,
}

impl Peer {
    /// Fails early, with what to do, when the interpreter cannot import quixstreams.
    pub(crate) fn check(&self) -> Result<(), BenchError> {
        let ok = Command::new(&self.python)
            .args(["-c", "import quixstreams, fastavro"])
            .status()
            .is_ok_and(|s| s.success());
        if !ok || !self.script.is_file() {
            return Err(BenchError::Setup(format!(
                "the peer needs {} with quixstreams (run `tests/broker/stack install-peer`) and \
                 {}",
                self.python.display(),
                self.script.display()
            )));
        }
        Ok(())
    }

    /// Starts the peer on `prefix` in group `group`, with its state under `state_dir` and its
    /// output in `log_dir`.
    pub(crate) fn spawn(
        &self,
        prefix: &str,
        group: &str,
        exactly_once: bool,
        commit_ms: u64,
        state_dir: &Path,
        log_dir: &Path,
    ) -> Result<Proc, BenchError> {
        let guarantee = if exactly_once { "exactly-once" } else { "at-least-once" };
        let mut command = Command::new(&self.python);
        command
            .arg(&self.script)
            .arg(&self.bootstrap)
            .arg(prefix)
            .arg(group)
            .arg(guarantee)
            .arg(format!("{:.3}", commit_ms as f64 / 1000.0))
            .arg(state_dir)
            .arg(&self.schemas);
        Proc::spawn(group, command, &log_dir.join(format!("{group}.log")))
    }
}
