//! Produce and consume through the schema registry; check and register the subjects.

use std::time::Duration;

use invex_model::CanonicalTopic;
use invex_runtime::{
    Output, RegistryResolver, SUBJECTS, SchemaAdmin, SchemaResolver, SubjectState,
};
use libtest_mimic::Failed;

use crate::Stack;
use crate::support::{Cluster, Running, assert_same, expected, sim_events, task_order};

/// Events produced with registry ids are processed to exactly the driver's outputs; a record
/// framed with an id the registry does not know goes to the DLQ, named by its schema id, and
/// its partition goes on.
pub(crate) fn outputs() -> Result<(), Failed> {
    let stack = Stack::from_env()?;
    let env = Cluster::broker(&stack.bootstrap, &stack.registry, &Stack::prefix("registry"), 2);
    let events = sim_events(5, 200, 3);
    let count_topic = env.topics.input(CanonicalTopic::Count).to_owned();
    // Magic byte 0, then schema id 0x7fffff00 (big-endian), then one byte of "payload".
    let unknown_id = [0u8, 0x7f, 0xff, 0xff, 0x00, 0x02];
    env.produce_raw(&count_topic, 1, b"acme|DC1|SKU-9", &unknown_id);
    env.produce(&events);

    let dir = tempfile::tempdir()?;
    let running = Running::start(env.config(dir.path()));
    let mut ends = env.ends(&events);
    *ends.entry((count_topic.clone(), 1)).or_default() += 1;
    running.wait_committed(&ends);
    running.stop();

    let dead = env.read_output(Output::Dlq);
    assert_eq!(dead.len(), 1, "exactly the unknown-id record is dead-lettered");
    assert_eq!(dead[0].key.as_deref(), Some(&b"acme|DC1|SKU-9"[..]), "the original key");
    assert_eq!(dead[0].header("invex.dlq.topic"), count_topic);
    assert_eq!(dead[0].header("invex.dlq.partition"), "1");
    assert_eq!(dead[0].header("invex.dlq.offset"), "0");
    assert_eq!(dead[0].header("invex.dlq.error.class"), "DESERIALIZATION");
    assert_eq!(dead[0].header("invex.dlq.schema.id"), 0x7fff_ff00u32.to_string());

    let (want_exceptions, want_actions) = expected(&env, &task_order(&env, &events));
    assert!(!want_exceptions.is_empty(), "the input must produce exceptions");
    assert_same("exceptions", &env.exceptions(), &want_exceptions);
    assert_same("actions", &env.actions(), &want_actions);
    Ok(())
}

/// `invex schemas check|register` against the registry: every subject starts missing, is
/// registered, then up to date under the same ids; a subject whose latest version our schema
/// cannot read (BACKWARD, the registry default) blocks the whole registration.
pub(crate) fn subjects() -> Result<(), Failed> {
    let stack = Stack::from_env()?;
    let timeout = Duration::from_secs(10);
    let fresh = SchemaAdmin::new(&stack.registry, timeout, &Stack::prefix("subjects"))?;
    let before = fresh.check()?;
    assert_eq!(before.len(), SUBJECTS.len());
    assert!(before.iter().all(|r| r.state == SubjectState::Missing), "{before:?}");
    let registered = fresh.register()?;
    let ids: Vec<u32> = registered
        .iter()
        .map(|r| match r.state {
            SubjectState::Registered { id } => id,
            ref other => panic!("{}: {other:?}", r.subject),
        })
        .collect();
    let after = fresh.check()?;
    let same: Vec<u32> = after
        .iter()
        .map(|r| match r.state {
            SubjectState::UpToDate { id } => id,
            ref other => panic!("{}: {other:?}", r.subject),
        })
        .collect();
    assert_eq!(same, ids, "the registered ids are the ones found up to date");

    let prefix = Stack::prefix("conflict");
    let resolver = RegistryResolver::new(&stack.registry, timeout)?;
    let (first, _) = SUBJECTS[0];
    // A string-valued subject: a record schema cannot read what was written with it.
    resolver.register(&format!("{prefix}{first}"), r#""string""#)?;
    let conflicting = SchemaAdmin::new(&stack.registry, timeout, &prefix)?;
    let refused = conflicting.register()?;
    assert_eq!(refused[0].state, SubjectState::Incompatible, "{refused:?}");
    assert!(
        refused[1..].iter().all(|r| r.state == SubjectState::Missing),
        "nothing is registered when one subject is incompatible: {refused:?}"
    );
    Ok(())
}
