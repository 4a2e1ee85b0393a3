//! Runs a scenario's steps on a [`TestDriver`].

use std::collections::BTreeMap;

use invex_model::{ActionType, CanonicalEvent, CanonicalTopic, ExceptionId};
use serde::Serialize;

use super::events::{self, EventSpec};
use super::expect::verify;
use super::{PipeStep, RunMode, Scenario, ScenarioError, Step, Transcript};
use crate::engine::Engine;
use crate::output::Outputs;
use crate::testkit::TestDriver;

/// Runs every step of `scenario` in `mode`.
pub(super) fn run(scenario: &Scenario, mode: RunMode) -> Result<Transcript, ScenarioError> {
    let mut runner = Runner::new(scenario);
    for (i, step) in scenario.steps.iter().enumerate() {
        runner.step(step).map_err(|message| ScenarioError::Step {
            scenario: scenario.name.clone(),
            step: i + 1,
            kind: kind(step),
            mode,
            message,
        })?;
        runner.collect();
        if mode == RunMode::RestoreAfterEveryStep {
            runner.driver = runner.driver.restore_from_changelog();
        }
    }
    Ok(runner.transcript)
}

fn kind(step: &Step) -> &'static str {
    match step {
        Step::Pipe(_) => "pipe",
        Step::AdvanceWallClock(_) => "advance_wall_clock",
        Step::SetWallClock(_) => "set_wall_clock",
        Step::Restore => "restore",
        Step::Redeliver(_) => "redeliver",
        Step::Expect(_) => "expect",
    }
}

struct Runner<'s> {
    scenario: &'s Scenario,
    driver: TestDriver,
    delivered: Vec<CanonicalEvent>,
    log: Outputs,
    since_expect: Outputs,
    names: BTreeMap<String, ExceptionId>,
    transcript: Transcript,
}

impl<'s> Runner<'s> {
    fn new(scenario: &'s Scenario) -> Self {
        let mut driver = TestDriver::new(scenario.policy.clone());
        driver.set_wall_clock(scenario.start);
        Self {
            scenario,
            driver,
            delivered: Vec::new(),
            log: Outputs::default(),
            since_expect: Outputs::default(),
            names: BTreeMap::new(),
            transcript: Transcript::default(),
        }
    }

    fn step(&mut self, step: &Step) -> Result<(), String> {
        match step {
            Step::Pipe(p) => self.pipe(p),
            Step::AdvanceWallClock(ms) => {
                self.driver.advance_wall_clock(*ms).map(drop).map_err(|e| e.to_string())
            }
            Step::SetWallClock(at) => {
                self.driver.set_wall_clock(*at);
                Ok(())
            }
            Step::Restore => {
                self.driver = self.driver.restore_from_changelog();
                Ok(())
            }
            Step::Redeliver(ids) => self.redeliver(ids.as_deref()),
            Step::Expect(expect) => {
                self.collect();
                let got = std::mem::take(&mut self.since_expect);
                let driver = &self.driver;
                verify(expect, &got, &mut self.names, &|name| store_len(driver, name))
            }
        }
    }

    fn pipe(&mut self, p: &PipeStep) -> Result<(), String> {
        let mut spec = p.event.clone();
        if spec.topic == CanonicalTopic::Approvals {
            self.resolve_references(&mut spec, p)?;
        }
        if let Some(kind) = p.acks {
            self.name_action(&mut spec, p, kind)?;
        }
        let event = events::build(&spec, &self.scenario.defaults)?;
        match self.driver.pipe(event.clone()) {
            Err(e) if p.expect_poison && e.is_poison() => return Ok(()),
            Err(e) => return Err(format!("event {}: {e}", spec.id)),
            Ok(_) if p.expect_poison => return Err(format!("event {} was not refused", spec.id)),
            Ok(_) => {}
        }
        self.delivered.push(event.clone());
        if self.scenario.deliver_twice {
            self.duplicate(&event)?;
        }
        Ok(())
    }

    /// Delivers an event again: it must be recognised as a duplicate and change nothing.
    fn duplicate(&mut self, event: &CanonicalEvent) -> Result<(), String> {
        self.collect();
        let id = &event.header().event_id;
        let outcome =
            self.driver.pipe(event.clone()).map_err(|e| format!("redelivery of {id}: {e}"))?;
        let emitted = self.driver.read_outputs();
        if !outcome.duplicate || !emitted.is_empty() {
            return Err(format!("redelivery of {id} was not a silent duplicate: {outcome:?}"));
        }
        Ok(())
    }

    fn redeliver(&mut self, ids: Option<&[String]>) -> Result<(), String> {
        let events: Vec<CanonicalEvent> = match ids {
            None => self.delivered.clone(),
            Some(ids) => ids
                .iter()
                .map(|id| {
                    self.delivered
                        .iter()
                        .find(|e| &e.header().event_id == id)
                        .cloned()
                        .ok_or_else(|| format!("no delivered event has id {id}"))
                })
                .collect::<Result<_, _>>()?,
        };
        events.iter().try_for_each(|event| self.duplicate(event))
    }

    /// Fills `exception_id`, `approval_request_id` and (with the request's tier) `actor_role`
    /// of a decision from what was emitted.
    fn resolve_references(&self, spec: &mut EventSpec, p: &PipeStep) -> Result<(), String> {
        let given = spec.fields.get("exception_id").and_then(|v| v.as_str()).map(str::to_owned);
        let id = match (p.exception.as_deref(), given) {
            (Some(name), _) => self.names.get(name).map(|id| id.0.clone()),
            (None, Some(id)) => Some(id),
            (None, None) => self.log.exceptions.last().map(|e| e.exception_id.0.clone()),
        }
        .ok_or("no exception to decide on (name it in an expect step first)")?;
        if !spec.fields.contains_key("approval_request_id") {
            let request = self.log.actions.iter().rev().find(|a| {
                a.action_type == ActionType::ApprovalRequest
                    && a.exception_id.0 == id
                    && p.request_attempt.is_none_or(|n| a.attempt == n)
            });
            match (request, p.request_attempt) {
                (Some(request), _) => {
                    let request_id = request.action_id.0.clone();
                    spec.fields.insert("approval_request_id".to_owned(), request_id.into());
                    // Like an approval tool, the approver decides in the tier asked for.
                    if !spec.fields.contains_key("actor_role")
                        && let Some(tier) = &request.approval_tier
                    {
                        spec.fields.insert("actor_role".to_owned(), tier.clone().into());
                    }
                }
                (None, Some(n)) => return Err(format!("no approval request attempt {n}")),
                (None, None) => {}
            }
        }
        spec.fields.insert("exception_id".to_owned(), id.into());
        Ok(())
    }

    /// Puts the id of the latest emitted action of `kind` (of the named exception, if any) in
    /// the `related_event_ids` of an acknowledgement, as the connector that posted it would.
    fn name_action(
        &self,
        spec: &mut EventSpec,
        p: &PipeStep,
        kind: ActionType,
    ) -> Result<(), String> {
        let exception = match p.exception.as_deref() {
            Some(name) => Some(self.names.get(name).ok_or(format!("no exception named {name}"))?),
            None => None,
        };
        let action = self
            .log
            .actions
            .iter()
            .rev()
            .find(|a| a.action_type == kind && exception.is_none_or(|e| *e == a.exception_id))
            .ok_or(format!("no {} action to acknowledge", kind.as_str()))?;
        spec.fields.insert("related_event_ids".to_owned(), vec![action.action_id.0.clone()].into());
        Ok(())
    }

    /// Moves what the driver emitted into the log, the pending expectations and the transcript.
    fn collect(&mut self) {
        let out = self.driver.read_outputs();
        let t = &mut self.transcript.lines;
        t.extend(out.exceptions.iter().map(|r| line("exception", r)));
        t.extend(out.actions.iter().map(|r| line("action", r)));
        t.extend(out.audit.iter().map(|r| line("audit", r)));
        for target in [&mut self.log, &mut self.since_expect] {
            target.exceptions.extend(out.exceptions.iter().cloned());
            target.actions.extend(out.actions.iter().cloned());
            target.audit.extend(out.audit.iter().cloned());
        }
    }
}

fn line<T: Serialize>(kind: &str, record: &T) -> String {
    match serde_json::to_string(record) {
        Ok(json) => format!("{kind} {json}"),
        Err(e) => format!("{kind} <not serializable: {e}>"),
    }
}

fn store_len(driver: &TestDriver, name: &str) -> Result<usize, String> {
    Engine::store_names()
        .iter()
        .find(|s| s.as_str() == name)
        .map(|s| driver.store(*s).len())
        .ok_or_else(|| format!("stores: unknown store {name}"))
}
