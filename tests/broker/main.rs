//! The real-broker suite: invex against a Kafka-protocol broker and a Confluent-compatible
//! schema registry on loopback, started by `tests/broker/stack` (`make test-broker`).
//!
//! - `registry`: canonical events produced through the registry (Confluent wire format with
//!   registry ids) are processed to exactly the test driver's outputs; a record whose schema id
//!   the registry does not know is dead-lettered with its id in the headers;
//! - `crash`: the processor, in a child process, is killed with SIGKILL at random points many
//!   times during one run and restarted on the same state directory; every run progresses and
//!   the last finishes, and where the broker hides aborted transactions (`conformance` probes
//!   that first) the outputs equal the test driver's uninterrupted run;
//! - `rebalance`: instances join and leave the group while events flow; the outputs equal the
//!   driver's (ignored for now: tansu's cooperative rebalances with three members are not
//!   reliable, see `main`).
//!
//! The suite needs `INVEX_TEST_BOOTSTRAP` and `INVEX_TEST_REGISTRY` (printed by
//! `tests/broker/stack env`) and fails, rather than skips, without them. Every test uses its
//! own topic prefix, so tests never see each other's records. This binary has its own harness
//! (libtest-mimic) because the crash test re-executes it as the processor child.

mod cluster;
mod conformance;
mod crash;
mod rebalance;
mod registry;
#[path = "../support/mod.rs"]
mod support;

use libtest_mimic::{Arguments, Failed, Trial};

/// Where the stack runs, from the environment.
pub(crate) struct Stack {
    pub(crate) bootstrap: String,
    pub(crate) registry: String,
}

impl Stack {
    pub(crate) fn from_env() -> Result<Self, Failed> {
        let read = |name: &str| {
            std::env::var(name).map_err(|_| {
                Failed::from(format!(
                    "{name} is not set: start the stack with `tests/broker/stack start` and \
                     export the variables of `tests/broker/stack env` (or run `make test-broker`)"
                ))
            })
        };
        Ok(Self {
            bootstrap: read("INVEX_TEST_BOOTSTRAP")?,
            registry: read("INVEX_TEST_REGISTRY")?,
        })
    }

    /// A topic prefix no other test or run uses.
    pub(crate) fn prefix(test: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        format!("t{}-{test}-{}.", std::process::id(), nanos % 1_000_000_000)
    }
}

fn main() {
    if let Some(code) = crash::child_main() {
        std::process::exit(code);
    }
    // Processor logs (warnings by default; INVEX_LOG=info for rebalances and restores).
    let filter = tracing_subscriber::EnvFilter::try_from_env("INVEX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let mut args = Arguments::from_args();
    // One test at a time unless asked otherwise: the tests share one broker and two cores,
    // and the crash test's timing should not depend on its neighbours.
    args.test_threads = args.test_threads.or(Some(1));
    // Probed once, before any test: whether this broker hides aborted transactions.
    let hides_aborts = match Stack::from_env().map(|s| conformance::hides_aborted_records(&s)) {
        Ok(Ok(hides)) => hides,
        Ok(Err(e)) => panic!("probing the broker's transactions: {e}"),
        Err(_) => false, // every test then fails on the missing stack, with the reason
    };
    if !hides_aborts {
        eprintln!(
            "note: the broker shows aborted transactional records to read_committed readers; \
             the crash test reports its differences from the uninterrupted run instead of \
             asserting none"
        );
    }
    let trials = vec![
        Trial::test("registry::outputs_equal_the_driver_through_the_registry", registry::outputs),
        Trial::test("registry::subjects_are_checked_and_registered", registry::subjects),
        Trial::test("crash::sigkill_at_random_points", move || crash::sigkill(hides_aborts)),
        // Ignored until the group rebalances on tansu are understood: with three members and
        // cooperative-sticky assignment, tansu 0.6.0 left revoked partitions unassigned in two
        // of three runs (run it with `cargo test --test broker -- --ignored rebalance`).
        Trial::test("rebalance::instances_join_and_leave_while_events_flow", rebalance::scale)
            .with_ignored_flag(true),
    ];
    libtest_mimic::run(&args, trials).exit();
}
