//! Runs every scenario file under `tests/scenarios/` at the repository root, each straight
//! through and again with a restore from the changelog after every step; both runs must pass
//! their expectations and emit identical records. A failure names the file and the step.

use std::path::{Path, PathBuf};

use invex_detect::testkit::scenario::{RunMode, Scenario, ScenarioError};

fn scenario_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            scenario_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "toml") {
            out.push(path);
        }
    }
}

#[test]
fn every_scenario_passes_straight_and_with_a_restore_after_every_step() {
    // The crate directory as cargo names it when the test runs, not when it was built: a
    // test binary reused from another checkout must read this checkout's scenarios.
    let root =
        Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").unwrap()).join("../../tests/scenarios");
    let mut files = Vec::new();
    scenario_files(&root, &mut files);
    assert!(files.len() >= 20, "expected the scenario files in {}", root.display());
    let failures: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let result = Scenario::load(path).and_then(|s| s.check());
            result.err().map(|e| format!("{}: {e}", path.display()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

#[test]
fn a_failing_expectation_names_the_scenario_and_the_step() {
    let text = r#"
[[step]]
pipe = "erp.book"
at = 0
quantity = 10

[[step]]
pipe = "wh.count"
at = 1
counted_qty = 9

[[step]]
advance_wall_clock = "2s"

[[step]]
expect.exceptions = [{ status = "RESOLVED" }]
"#;
    let scenario = Scenario::parse("broken", text).unwrap();
    let err = scenario.run(RunMode::Straight).unwrap_err();
    let ScenarioError::Step { scenario, step, kind, message, .. } = &err else {
        panic!("expected a step failure, got {err}");
    };
    assert_eq!((scenario.as_str(), *step, *kind), ("broken", 4, "expect"));
    assert!(message.contains("exceptions[0].status"), "{message}");
    assert!(message.contains("AWAITING_RECOUNT"), "{message}");
}

#[test]
fn malformed_scenarios_are_refused_with_a_reason() {
    for (text, reason) in [
        (
            "[[step]]\npipe = \"wh.count\"\nat = 1\ncountedqty = 3\n",
            "unknown event field countedqty",
        ),
        ("[[step]]\nrestore = true\nat = 1\n", "a restore step has no other keys"),
        ("[[step]]\npipe = \"wh.nothing\"\nat = 1\n", "not a canonical topic"),
        ("surprise = 1\n[[step]]\nrestore = true\n", "unknown key"),
    ] {
        let result = Scenario::parse("bad", text).and_then(|s| s.run(RunMode::Straight));
        let message = result.expect_err("must be refused").to_string();
        assert!(message.contains(reason), "{message:?} should mention {reason:?}");
    }
}
