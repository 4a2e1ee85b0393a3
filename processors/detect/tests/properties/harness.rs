//! The harness: `Run` pipes the steps through a `TestDriver` (each event twice, a restore from
//! the changelog, purges, if asked) and keeps every output, serialized in order and typed.

use invex_detect::testkit::TestDriver;
use invex_detect::{Outputs, Policy};
use invex_model::{ActionType, ApprovalDecision, ApprovalVerdict, CanonicalEvent, SourceSystem};

use crate::events::{
    ack, allocate, asn, book, count, damaged_scan, expiring, header, master, move_task, pick,
    pick_line, putaway, receive, scan, with_event_id,
};
use crate::ops::{LOCATIONS, Op, ROLES, Request, START, Step, Target};

/// Runs the steps; returns every output (in order, serialized) and the decisions piped.
pub(crate) struct Run {
    driver: TestDriver,
    pub(crate) log: Outputs,
    pub(crate) lines: Vec<String>,
    pub(crate) delivered: Vec<CanonicalEvent>,
    pub(crate) decisions: Vec<ApprovalDecision>,
    time: i64,
    /// Entries the explicit purges deleted.
    pub(crate) purged: usize,
}

impl Run {
    fn new() -> Self {
        let mut driver = TestDriver::new(Policy::default_policy());
        driver.set_wall_clock(START);
        Self {
            driver,
            log: Outputs::default(),
            lines: Vec::new(),
            delivered: Vec::new(),
            decisions: Vec::new(),
            time: START,
            purged: 0,
        }
    }

    fn collect(&mut self) {
        let out = self.driver.read_outputs();
        for e in &out.exceptions {
            self.lines.push(format!("exception {}", serde_json::to_string(e).unwrap()));
        }
        for a in &out.actions {
            self.lines.push(format!("action {}", serde_json::to_string(a).unwrap()));
        }
        for a in &out.audit {
            self.lines.push(format!("audit {}", serde_json::to_string(a).unwrap()));
        }
        self.log.exceptions.extend(out.exceptions);
        self.log.actions.extend(out.actions);
        self.log.audit.extend(out.audit);
    }

    fn pipe(&mut self, event: CanonicalEvent, twice: bool) {
        self.driver.pipe(event.clone()).unwrap();
        self.collect();
        if twice {
            let outcome = self.driver.pipe(event.clone()).unwrap();
            assert!(outcome.duplicate);
            self.collect();
        }
        self.delivered.push(event);
    }

    fn step(&mut self, index: usize, (dt, op): &Step, twice: bool) {
        self.time += dt * 1_000;
        let id = format!("e{index}");
        let t = self.time;
        let event = match op {
            Op::Wall { ms } => {
                self.driver.advance_wall_clock(*ms).unwrap();
                return self.collect();
            }
            Op::Jump { days } => {
                self.time += days * 86_400_000;
                // Beyond the dedupe horizon a redelivery is no longer a duplicate.
                self.delivered.clear();
                return;
            }
            Op::Redeliver { back } => {
                let Some(event) = self.delivered.iter().rev().nth(back - 1).cloned() else {
                    return;
                };
                assert!(self.driver.pipe(event).unwrap().duplicate);
                return self.collect();
            }
            Op::Retry { back } => {
                let Some(event) = self.delivered.iter().rev().nth(back - 1).cloned() else {
                    return;
                };
                let retried = with_event_id(event, &id);
                if let CanonicalEvent::Approval(d) = &retried {
                    self.decisions.push(d.clone());
                }
                retried
            }
            Op::Allocate { id: a, qty } => allocate(&id, t, *a, *qty),
            Op::PickLine { line, qty, alloc } => pick_line(&id, t, *line, *qty, *alloc),
            Op::Asn { qty } => asn(&id, t, *qty),
            Op::Receive { qty, closed, damaged } => receive(&id, t, *qty, *closed, *damaged),
            Op::Putaway { qty, elsewhere } => putaway(&id, t, *qty, *elsewhere),
            Op::DamagedScan { loc, qty } => damaged_scan(&id, t, LOCATIONS[*loc], *qty),
            Op::Expiring { lot, days, kind } => expiring(&id, t, *lot, *days, *kind),
            Op::Scan { loc, result } => scan(&id, t, *loc, *result),
            Op::Ack { message, status, names_action } => {
                let mut event = ack(&id, t, *message, *status);
                if *names_action && let CanonicalEvent::Ack(a) = &mut event {
                    a.related_event_ids.extend(self.latest_gated_action());
                }
                event
            }
            Op::Master { lot_controlled, min_shelf_life } => {
                master(&id, t, *lot_controlled, *min_shelf_life)
            }
            Op::Book { loc, qty } => book(&id, t, LOCATIONS[*loc], *qty),
            Op::Pick { loc, qty } => pick(&id, t, LOCATIONS[*loc], *qty),
            Op::Move { from, qty } => {
                move_task(&id, t, LOCATIONS[*from], LOCATIONS[1 - from], *qty)
            }
            Op::Count { loc, counted, seq, wms } => {
                count(&id, t, LOCATIONS[*loc], *counted, *seq, *wms)
            }
            Op::Decide { verdict, target, request, role } => {
                let mut decision = self.decision(&id, t, *verdict, *target, *request);
                decision.actor_role = ROLES.get(*role).map(|r| (*r).to_owned());
                if *verdict == ApprovalVerdict::Hold {
                    decision.reason_code = Some("AWAITING_VENDOR".to_owned());
                }
                self.decisions.push(decision.clone());
                CanonicalEvent::Approval(decision)
            }
        };
        self.pipe(event, twice);
    }

    /// The id of the latest STOCK_ADJUSTMENT or RELEASE_HOLD, as its connector acknowledges it.
    fn latest_gated_action(&self) -> Option<String> {
        let gated = [ActionType::StockAdjustment, ActionType::ReleaseHold];
        let latest = self.log.actions.iter().rev().find(|a| gated.contains(&a.action_type));
        latest.map(|a| a.action_id.0.clone())
    }

    fn decision(
        &self,
        id: &str,
        t: i64,
        verdict: ApprovalVerdict,
        target: Target,
        request: Request,
    ) -> ApprovalDecision {
        let exception_id = match (target, self.log.exceptions.last()) {
            (Target::Latest, Some(e)) => e.exception_id.0.clone(),
            _ => "exc-unknown".to_owned(),
        };
        let outstanding = self
            .log
            .actions
            .iter()
            .rev()
            .find(|a| {
                a.action_type == ActionType::ApprovalRequest && a.exception_id.0 == exception_id
            })
            .map(|a| a.action_id.0.clone());
        let approval_request_id = match request {
            Request::Outstanding => outstanding,
            Request::Wrong => Some("act-wrong".to_owned()),
            Request::Missing => None,
        };
        ApprovalDecision {
            header: header(id, t, SourceSystem::Human),
            exception_id,
            approval_request_id,
            verdict,
            actor: "approver".to_owned(),
            actor_role: None,
            comment: None,
            reason_code: None,
            sku: "SKU-1".to_owned(),
        }
    }
}

/// Runs `steps`, restoring from the changelog before step `restore_at` (`steps.len()`: after
/// the last step, before the final wall-clock advance).
pub(crate) fn run(steps: &[Step], restore_at: Option<usize>, twice: bool) -> Run {
    run_purging(steps, restore_at, twice, None)
}

/// [`run`], with the purge of expired entries after every `purge_every`-th step as well.
pub(crate) fn run_purging(
    steps: &[Step],
    restore_at: Option<usize>,
    twice: bool,
    purge_every: Option<usize>,
) -> Run {
    let mut run = Run::new();
    for (i, step) in steps.iter().enumerate() {
        if restore_at == Some(i) {
            run.driver = run.driver.restore_from_changelog();
        }
        run.step(i, step, twice);
        if purge_every.is_some_and(|n| i % n == 0) {
            run.purged += run.driver.purge_expired().unwrap();
        }
    }
    if restore_at == Some(steps.len()) {
        run.driver = run.driver.restore_from_changelog();
    }
    // Let every pending count be evaluated.
    run.driver.advance_wall_clock(60_000).unwrap();
    run.collect();
    run
}
