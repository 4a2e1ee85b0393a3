//! Recovery: the exactly-once instance of the throughput run, killed with SIGKILL when it has
//! finished its input, restarted on the same state directory (only the changelog tail after
//! its checkpoint is restored), killed again and restarted on an empty state directory (the
//! whole state is restored from the changelogs). Ready is `/health/ready` with every task
//! running. Restore figures come from invex's own `task restored` log lines (records and
//! milliseconds per task; tasks restore one after another on the processing thread). The
//! state's size is counted from the changelogs: distinct keys whose latest record is not a
//! tombstone.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use invex_detect::Engine;
use invex_runtime::ReaderContext;
use invex_runtime::Topics;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::contenders::{Ctx, Input};
use super::error::BenchError;
use super::input::client;
use super::invex::Running;
use super::report::Recovery;

/// invex's default memory budget (`state.memory_budget_mb`), which these runs keep.
const DEFAULT_BUDGET_MIB: u64 = 256;

/// Kills `measured` (done with its input) and measures both restarts.
pub(crate) fn recovery(
    ctx: &Ctx,
    input: &Input,
    mut measured: Running,
) -> Result<Recovery, BenchError> {
    let limit = ctx.limit;
    let logs = ctx.dir("logs")?;
    let peak_rss_mib = measured.proc.peak_rss_kib() as f64 / 1024.0;
    let app = measured.instance.app.clone();

    measured.proc.kill_now();
    let killed = Instant::now();
    let mut warm = measured.instance.spawn(&format!("{app}-warm"), &logs)?;
    let warm_ready = warm.wait_ready("restart on the same state", input.partitions, limit)?;
    let (warm_restored, _) = restores(&read(warm.proc.log()));

    let mut cold_instance = warm.instance.clone();
    cold_instance.state_dir = ctx.dir(&format!("state/{app}-cold"))?;
    warm.proc.kill_now();
    // Counted while no instance runs: exactly what the cold restart has to restore (a count
    // after it also held the records the restarted instance wrote itself). The count is not
    // timed: the restart is timed from its spawn, the kill being already complete.
    let (changelog_records, state_keys) = changelog_keys(ctx, input, &app)?;
    let respawned = Instant::now();
    let mut cold = cold_instance.spawn(&format!("{app}-cold"), &logs)?;
    let cold_ready = cold.wait_ready("restart on an empty state", input.partitions, limit)?;
    let (restored, restore_ms) = restores(&read(cold.proc.log()));
    cold.proc.terminate(Duration::from_secs(10));

    Ok(Recovery {
        changelog_records,
        state_keys,
        restored,
        restore_s: restore_ms as f64 / 1000.0,
        cold_ready_s: (cold_ready - respawned).as_secs_f64(),
        warm_ready_s: (warm_ready - killed).as_secs_f64(),
        warm_restored,
        peak_rss_mib,
        budget_mib: DEFAULT_BUDGET_MIB,
    })
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Records and milliseconds of every `task restored` line of a JSON log.
pub(crate) fn restores(log: &str) -> (u64, u64) {
    let mut total = (0, 0);
    for line in log.lines() {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let fields = &value["fields"];
        if fields["message"] == "task restored" {
            total.0 += fields["restored"].as_u64().unwrap_or(0);
            total.1 += fields["elapsed_ms"].as_u64().unwrap_or(0);
        }
    }
    total
}

/// Records in the changelogs of `app`, and distinct keys whose latest record is live.
fn changelog_keys(ctx: &Ctx, input: &Input, app: &str) -> Result<(u64, u64), BenchError> {
    let setup = |e: KafkaError| BenchError::Setup(format!("changelog reader: {e}"));
    let consumer: BaseConsumer<ReaderContext> = client(&ctx.bootstrap)
        .set("group.id", "invex-bench-changelogs")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed")
        .create_with_context(ReaderContext)
        .map_err(setup)?;
    let topics = Topics::new(&input.prefix, app);
    let mut tpl = TopicPartitionList::new();
    for store in Engine::store_names() {
        for p in 0..input.partitions {
            tpl.add_partition_offset(&topics.changelog(store.as_str()), p, Offset::Beginning)
                .map_err(setup)?;
        }
    }
    consumer.assign(&tpl).map_err(setup)?;
    let mut live: HashMap<u64, bool> = HashMap::new();
    let (mut records, mut eof) = (0u64, 0);
    let deadline = Instant::now() + ctx.limit;
    while eof < tpl.count() {
        if Instant::now() > deadline {
            return Err(BenchError::run("changelog count", "did not reach the changelog ends"));
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                records += 1;
                let mut h = DefaultHasher::new();
                (m.topic(), m.partition(), m.key()).hash(&mut h);
                live.insert(h.finish(), m.payload().is_some());
            }
            Some(Err(KafkaError::PartitionEOF(_))) => eof += 1,
            Some(Err(e)) => return Err(BenchError::run("changelog count", e.to_string())),
            None => {}
        }
    }
    Ok((records, live.values().filter(|l| **l).count() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restores_sum_the_task_restored_lines() {
        let log = r#"{"fields":{"message":"task restored","partition":0,"restored":10,"elapsed_ms":5}}
not json
{"fields":{"message":"topics verified"}}
{"fields":{"message":"task restored","partition":1,"restored":32,"elapsed_ms":7}}"#;
        assert_eq!(restores(log), (42, 12));
        assert_eq!(restores(""), (0, 0));
    }
}
