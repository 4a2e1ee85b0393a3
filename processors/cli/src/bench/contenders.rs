//! The measured runs on a preloaded input: the passthrough limit, invex and the peer, each a
//! child process in a consumer group of its own, measured by [`measure`] from the group's
//! committed offsets and the children's CPU time.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::error::BenchError;
use super::input::{Ends, GroupOffsets, create_app_topics, only};
use super::invex::{Instance, Running};
use super::measure::{Throughput, measure};
use super::peer::{PEER_TOPICS, Peer};
use super::proc::Proc;

/// Commit interval of every exactly-once run (invex's default).
pub(crate) const EOS_COMMIT_MS: u64 = 100;
/// Commit interval of every at-least-once run (short, so the end of a run is seen promptly).
pub(crate) const ALOS_COMMIT_MS: u64 = 1_000;

/// What every run shares.
pub(crate) struct Ctx {
    /// Bootstrap servers.
    pub(crate) bootstrap: String,
    /// Schema registry URL.
    pub(crate) registry: String,
    /// The broker's pid, when known (its CPU is reported separately).
    pub(crate) broker: Option<u32>,
    /// Directory for configurations, logs and state of this harness run.
    pub(crate) work: PathBuf,
    /// Stem of every topic prefix of this run.
    pub(crate) run_id: String,
    /// Longest a single run may take.
    pub(crate) limit: Duration,
}

impl Ctx {
    /// A topic prefix of this run.
    pub(crate) fn prefix(&self, name: &str) -> String {
        format!("{}-{name}.", self.run_id)
    }

    /// A fresh directory under the work directory.
    pub(crate) fn dir(&self, name: &str) -> Result<PathBuf, BenchError> {
        let dir = self.work.join(name);
        std::fs::create_dir_all(&dir).map_err(BenchError::io(format!("{}", dir.display())))?;
        Ok(dir)
    }
}

/// A preloaded input.
#[derive(Debug, Clone)]
pub(crate) struct Input {
    /// Topic prefix.
    pub(crate) prefix: String,
    /// Partitions of every canonical topic.
    pub(crate) partitions: i32,
    /// End offsets.
    pub(crate) ends: Ends,
}

/// Which detectors an invex run runs, and which input records it is credited with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rules {
    /// Every detector, credited with every input record.
    All,
    /// The cycle-count rule (and what it reads from: the item master, the exception lifecycle,
    /// the allocation ledger), as the peer runs it. Credited with the records of the peer's
    /// topics only: invex still reads the other canonical topics, so the ratio favours the peer.
    CycleCount,
}

impl Rules {
    fn detectors(self) -> &'static [&'static str] {
        match self {
            Self::All => &[],
            Self::CycleCount => &["cycle_count"],
        }
    }
}

fn guarantee(exactly_once: bool) -> &'static str {
    if exactly_once { "exactly-once" } else { "at-least-once" }
}

/// The passthrough limit on `input`.
pub(crate) fn passthrough(
    ctx: &Ctx,
    input: &Input,
    exactly_once: bool,
) -> Result<Throughput, BenchError> {
    let name = format!("passthrough {}", guarantee(exactly_once));
    let group = format!("{}passthrough-{}", input.prefix, guarantee(exactly_once));
    let exe = std::env::current_exe().map_err(BenchError::io("locating the invex binary"))?;
    let commit = if exactly_once { EOS_COMMIT_MS } else { ALOS_COMMIT_MS };
    let mut command = Command::new(exe);
    command
        .args(["bench", "passthrough", "--bootstrap", &ctx.bootstrap, "--prefix", &input.prefix])
        .args(["--group", &group, "--commit-ms", &commit.to_string()]);
    if exactly_once {
        command.arg("--transactional");
    }
    let mut proc = Proc::spawn(&name, command, &ctx.dir("logs")?.join(format!("{group}.log")))?;
    let offsets = GroupOffsets::new(&ctx.bootstrap, &group, &input.ends)?;
    let result = measure(&name, &mut [&mut proc], &offsets, ctx.broker, ctx.limit);
    proc.terminate(Duration::from_secs(5));
    result
}

/// invex instances running `rules`, one per id of `instances`, in an application of their own
/// on `input`: measured until done, and left running (the caller stops or kills them).
pub(crate) fn invex(
    ctx: &Ctx,
    input: &Input,
    name: &str,
    exactly_once: bool,
    rules: Rules,
    instances: &[&str],
) -> Result<(Throughput, Vec<Running>), BenchError> {
    let app = format!("{}invex-{}", input.prefix, slug(name));
    create_app_topics(&ctx.bootstrap, &input.prefix, &app, input.partitions)?;
    let mut running = Vec::new();
    for id in instances {
        let instance = Instance {
            bootstrap: ctx.bootstrap.clone(),
            registry: ctx.registry.clone(),
            prefix: input.prefix.clone(),
            app: app.clone(),
            exactly_once,
            commit_ms: if exactly_once { EOS_COMMIT_MS } else { ALOS_COMMIT_MS },
            instance: (*id).to_owned(),
            state_dir: ctx.dir(&format!("state/{app}-{id}"))?,
            detectors: rules.detectors(),
        };
        running.push(instance.spawn(&format!("{app}-{id}"), &ctx.dir("logs")?)?);
    }
    let credited = match rules {
        Rules::All => input.ends.clone(),
        Rules::CycleCount => only(&input.ends, &input.prefix, &PEER_TOPICS),
    };
    let offsets = GroupOffsets::new(&ctx.bootstrap, &app, &credited)?;
    let mut procs: Vec<&mut Proc> = running.iter_mut().map(|r| &mut r.proc).collect();
    let throughput = measure(name, &mut procs, &offsets, ctx.broker, ctx.limit)?;
    Ok((throughput, running))
}

/// The peer on `input`; its events are those of the topics it reads.
pub(crate) fn peer(
    ctx: &Ctx,
    peer: &Peer,
    input: &Input,
    exactly_once: bool,
) -> Result<Throughput, BenchError> {
    let name = format!("peer {}", guarantee(exactly_once));
    let group = format!("{}peer-{}", input.prefix, guarantee(exactly_once));
    let ends = only(&input.ends, &input.prefix, &PEER_TOPICS);
    let commit = if exactly_once { EOS_COMMIT_MS } else { ALOS_COMMIT_MS };
    let state = ctx.dir(&format!("state/{group}"))?;
    let mut proc =
        peer.spawn(&input.prefix, &group, exactly_once, commit, &state, &ctx.dir("logs")?)?;
    let offsets = GroupOffsets::new(&ctx.bootstrap, &group, &ends)?;
    let result = measure(&name, &mut [&mut proc], &offsets, ctx.broker, ctx.limit);
    proc.terminate(Duration::from_secs(10));
    result
}

/// `name` reduced to what an application id may hold (`[A-Za-z0-9._-]`): other characters
/// become `-`, runs of them one `-`. "1 instance, 2 partition(s)" is `1-instance-2-partition-s`.
fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_') {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::slug;

    #[test]
    fn slugs_are_valid_application_ids() {
        assert_eq!(slug("1 instance, 2 partition(s)"), "1-instance-2-partition-s");
        assert_eq!(slug("invex exactly-once"), "invex-exactly-once");
    }
}
