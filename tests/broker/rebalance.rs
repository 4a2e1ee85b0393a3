//! Scaling a group while events flow: two instances, then three, then back to one.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use invex_model::CanonicalEvent;
use libtest_mimic::Failed;

use crate::Stack;
use crate::support::{Cluster, Running, assert_same, expected, sim_events, task_order};

const PARTITIONS: i32 = 4;

/// An instance with dynamic membership: it leaves the group when it stops, so its tasks move
/// at once (a static member's tasks wait for its session to time out, by design, so that a
/// restarting pod gets them back).
fn start(env: &Cluster, dir: &Path) -> Running {
    let mut cfg = env.config(dir);
    cfg.instance_id = None;
    Running::start(cfg)
}

/// Waits until the group has committed every record of `ends`.
fn settle(env: &Cluster, ends: &BTreeMap<(String, i32), i64>, stage: &str) -> Result<(), Failed> {
    let deadline = Instant::now() + Duration::from_secs(180);
    while !env.all_committed(ends) {
        if Instant::now() > deadline {
            let committed = env.committed(ends);
            let behind: Vec<_> = ends
                .iter()
                .filter(|(tp, end)| committed.get(*tp).is_none_or(|c| c < *end))
                .map(|((topic, partition), end)| {
                    format!(
                        "{topic}/{partition} {} of {end}",
                        committed[&(topic.clone(), *partition)]
                    )
                })
                .collect();
            return Err(format!("{stage}: not all committed: {behind:?}").into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// Waits until `instances` run every task between them.
fn all_tasks_running(instances: &[&Running], stage: &str) -> Result<(), Failed> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let running =
        || -> i64 { instances.iter().map(|r| r.handle.metrics.tasks_running.get()).sum() };
    while running() != i64::from(PARTITIONS) {
        if Instant::now() > deadline {
            return Err(format!("{stage}: {} of {PARTITIONS} tasks running", running()).into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// The outputs of a group that grows from two instances to three and shrinks back to one, with
/// a third of the input produced at each size, equal the driver's uninterrupted run.
pub(crate) fn scale() -> Result<(), Failed> {
    let stack = Stack::from_env()?;
    let env =
        Cluster::broker(&stack.bootstrap, &stack.registry, &Stack::prefix("scale"), PARTITIONS);
    let events = sim_events(41, 400, 6);
    let thirds: Vec<&[CanonicalEvent]> = events.chunks(events.len().div_ceil(3)).collect();
    let dirs = [tempfile::tempdir()?, tempfile::tempdir()?, tempfile::tempdir()?];

    let a = start(&env, dirs[0].path());
    let b = start(&env, dirs[1].path());
    env.produce_atomically(thirds[0]);
    settle(&env, &env.ends_by_reading(), "two instances")?;

    let c = start(&env, dirs[2].path());
    env.produce_atomically(thirds[1]);
    settle(&env, &env.ends_by_reading(), "three instances")?;

    // One instance at a time, as a StatefulSet scales down: each departure's rebalance
    // completes (every task running somewhere) before the next instance leaves.
    b.stop();
    all_tasks_running(&[&a, &c], "b left")?;
    c.stop();
    all_tasks_running(&[&a], "c left")?;
    env.produce_atomically(thirds[2]);
    settle(&env, &env.ends_by_reading(), "one instance")?;
    let handle = a.stop();
    assert!(handle.metrics.restored.get() > 0, "instance a took over no task state");

    let (want_exceptions, want_actions) = expected(&env, &task_order(&env, &events));
    assert!(!want_exceptions.is_empty(), "the input must produce exceptions");
    assert_same("exceptions", &env.exceptions(), &want_exceptions);
    assert_same("actions", &env.actions(), &want_actions);
    Ok(())
}
