//! Multi-tenant isolation: tenant A's policy override, events and decisions never change
//! tenant B's outputs.
//!
//! Random sequences of stock events, damaged receipts, counts and human decisions for two
//! tenants on the same site, SKU and event ids (each tenant's n-th event has the same id), in
//! one task. Tenant A has a policy override
//! (tighter count tolerance, no automatic recount, negative books at severity 1 with a
//! one-minute acknowledge SLA). Run B's events alone, then A's and B's interleaved: B's
//! exception, action and audit records must be byte-identical. A's events take the event time
//! of the B event before them, so they never move stream time on their own (B's timers fire at
//! the same points in both runs); wall-clock advances happen in both runs.

use invex_detect::testkit::TestDriver;
use invex_detect::{Outputs, Policy};
use invex_model::{
    ActionType, ApprovalDecision, ApprovalVerdict, BookSnapshot, CanonicalEvent, ConditionCode,
    CountEvent, CountType, EpcisAction, EventHeader, PickEvent, ReceiptLine, SourceSystem,
    StockType,
};
use proptest::prelude::*;

const START: i64 = 1_736_150_400_000;
const OVERRIDE: &str = r#"
[[overrides]]
name = "tenant-a-strict"
tenant = "A"
[overrides.cycle_count]
tolerance_pct = 0.0
max_recounts = 0
[overrides.negative_on_hand]
severity = 1
[overrides.governance]
ack_minutes_sev1 = 1
"#;
const VERDICTS: [ApprovalVerdict; 8] = [
    ApprovalVerdict::Approve,
    ApprovalVerdict::Reject,
    ApprovalVerdict::RequestRecount,
    ApprovalVerdict::Acknowledge,
    ApprovalVerdict::Hold,
    ApprovalVerdict::Release,
    ApprovalVerdict::Resolve,
    ApprovalVerdict::Cancel,
];
const ROLES: [&str; 4] = ["SUPERVISOR", "FINANCE_CONTROLLER", "QUALITY", "FINANCE"];

/// One event of one tenant.
#[derive(Debug, Clone)]
enum Op {
    Book { loc: u8, qty: i64 },
    Pick { loc: u8, qty: i64 },
    Count { loc: u8, counted: i64, seq: i32 },
    Damaged { qty: i64 },
    Decide { verdict: usize, role: usize },
}

/// A step: an event of A, an event of B (seconds after the previous B event), or a
/// wall-clock advance (ms).
#[derive(Debug, Clone)]
enum Step {
    A(Op),
    B(i64, Op),
    Wall(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..2u8, 0..40i64).prop_map(|(loc, qty)| Op::Book { loc, qty }),
        3 => (0..2u8, 0..30i64).prop_map(|(loc, qty)| Op::Pick { loc, qty }),
        3 => (0..2u8, 0..40i64, 1..=2i32).prop_map(|(loc, counted, seq)| Op::Count { loc, counted, seq }),
        1 => (1..5i64).prop_map(|qty| Op::Damaged { qty }),
        3 => (0..VERDICTS.len(), 0..ROLES.len()).prop_map(|(verdict, role)| Op::Decide { verdict, role }),
    ]
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        4 => op().prop_map(Step::A),
        4 => (0..300i64, op()).prop_map(|(gap, op)| Step::B(gap, op)),
        1 => (1_000..7_200_000i64).prop_map(Step::Wall),
    ];
    proptest::collection::vec(step, 1..50)
}

fn header(tenant: &str, id: &str, time: i64, system: SourceSystem) -> EventHeader {
    EventHeader {
        event_id: id.to_owned(),
        event_time: time,
        event_tz_offset: "+00:00".to_owned(),
        record_time: time,
        tenant_id: tenant.to_owned(),
        site_id: "DC1".to_owned(),
        source_system: system,
        source_seq: 1,
        operator_id: None,
        device_id: None,
        action: EpcisAction::Observe,
        biz_step: String::new(),
        disposition: None,
        error_declaration: None,
    }
}

/// Runs the steps, leaving out A's events when `with_a` is false.
struct Run {
    driver: TestDriver,
    log: Outputs,
    time: i64,
}

impl Run {
    fn new() -> Self {
        let policy = format!("{}\n{OVERRIDE}", include_str!("../policy/default.toml"));
        let mut driver = TestDriver::new(Policy::from_toml_str(&policy).unwrap());
        driver.set_wall_clock(START);
        Self { driver, log: Outputs::default(), time: START }
    }

    fn collect(&mut self) {
        let out = self.driver.read_outputs();
        self.log.exceptions.extend(out.exceptions);
        self.log.actions.extend(out.actions);
        self.log.audit.extend(out.audit);
    }

    fn event(&self, tenant: &str, id: &str, op: &Op) -> CanonicalEvent {
        let t = self.time;
        let loc = |l: &u8| format!("L{l}");
        match op {
            Op::Book { loc: l, qty } => CanonicalEvent::Book(BookSnapshot {
                header: header(tenant, id, t, SourceSystem::Erp),
                snapshot_id: format!("snap-{id}"),
                location_id: loc(l),
                sku: "SKU-1".to_owned(),
                lot: None,
                stock_type: StockType::Unrestricted,
                quantity: *qty,
                uom: "EA".to_owned(),
                unit_cost: 10.0,
                currency: "EUR".to_owned(),
            }),
            Op::Pick { loc: l, qty } => CanonicalEvent::Pick(PickEvent {
                header: header(tenant, id, t, SourceSystem::Wms),
                pick_task_id: format!("pick-{id}"),
                order_id: format!("ord-{id}"),
                order_line: 1,
                allocation_id: None,
                location_id: loc(l),
                sku: "SKU-1".to_owned(),
                lot: None,
                serials: Vec::new(),
                qty_requested: *qty,
                qty_picked: *qty,
                uom: "EA".to_owned(),
                short_reason: None,
                confirm_method: "SCAN".to_owned(),
            }),
            Op::Count { loc: l, counted, seq } => CanonicalEvent::Count(CountEvent {
                header: header(tenant, id, t, SourceSystem::Wms),
                count_doc_id: format!("doc-{id}"),
                count_type: if *seq == 1 { CountType::Abc } else { CountType::Demand },
                count_seq: *seq,
                blind: true,
                location_id: loc(l),
                sku: "SKU-1".to_owned(),
                lot: None,
                counted_qty: *counted,
                uom: "EA".to_owned(),
                wms_book_qty_at_freeze: None,
                freeze_time: t,
                counter_id: None,
            }),
            Op::Damaged { qty } => CanonicalEvent::Receipt(damaged(tenant, id, t, *qty)),
            Op::Decide { verdict, role } => {
                CanonicalEvent::Approval(self.decision(tenant, id, *verdict, *role))
            }
        }
    }

    /// A decision on the tenant's latest exception and its latest approval request.
    fn decision(&self, tenant: &str, id: &str, verdict: usize, role: usize) -> ApprovalDecision {
        let latest = self.log.exceptions.iter().rev().find(|e| e.tenant_id == tenant);
        let exception_id =
            latest.map_or_else(|| "exc-none".to_owned(), |e| e.exception_id.0.clone());
        let request = self.log.actions.iter().rev().find(|a| {
            a.action_type == ActionType::ApprovalRequest && a.exception_id.0 == exception_id
        });
        ApprovalDecision {
            header: header(tenant, id, self.time, SourceSystem::Human),
            exception_id,
            approval_request_id: request.map(|a| a.action_id.0.clone()),
            verdict: VERDICTS[verdict],
            actor: "person".to_owned(),
            actor_role: Some(ROLES[role].to_owned()),
            comment: None,
            reason_code: Some("AWAITING_VENDOR".to_owned()),
            sku: "SKU-1".to_owned(),
        }
    }

    fn execute(steps: &[Step], with_a: bool) -> Self {
        let mut run = Self::new();
        // Each tenant numbers its own events: A's n-th event has the id of B's n-th.
        let (mut a, mut b) = (0, 0);
        for step in steps {
            match step {
                Step::A(op) if with_a => {
                    a += 1;
                    let event = run.event("A", &format!("e{a}"), op);
                    run.driver.pipe(event).unwrap();
                }
                Step::A(_) => {}
                Step::B(gap, op) => {
                    b += 1;
                    run.time += gap * 1_000;
                    let event = run.event("B", &format!("e{b}"), op);
                    run.driver.pipe(event).unwrap();
                }
                Step::Wall(ms) => {
                    run.driver.advance_wall_clock(*ms).unwrap();
                }
            }
            run.collect();
        }
        run.driver.advance_wall_clock(86_400_000).unwrap();
        run.collect();
        run
    }

    /// Every record of `tenant`, one JSON line each, in emission order per kind.
    fn lines(&self, tenant: &str) -> Vec<String> {
        let log = &self.log;
        let json = |v: serde_json::Result<String>| v.unwrap();
        let exceptions = log.exceptions.iter().filter(|r| r.tenant_id == tenant);
        let actions = log.actions.iter().filter(|r| r.tenant_id == tenant);
        let audit = log.audit.iter().filter(|r| r.tenant_id == tenant);
        (exceptions.map(|r| json(serde_json::to_string(r))))
            .chain(actions.map(|r| json(serde_json::to_string(r))))
            .chain(audit.map(|r| json(serde_json::to_string(r))))
            .collect()
    }
}

fn damaged(tenant: &str, id: &str, t: i64, qty: i64) -> ReceiptLine {
    ReceiptLine {
        header: header(tenant, id, t, SourceSystem::Wms),
        receipt_id: format!("rcpt-{id}"),
        line_no: 1,
        asn_id: None,
        po_id: None,
        po_line: None,
        supplier_id: Some("SUP-1".to_owned()),
        carrier_id: None,
        sku: "SKU-1".to_owned(),
        gtin: None,
        lot: None,
        expiry_date: None,
        serials: Vec::new(),
        location_id: "DOCK".to_owned(),
        qty_received: qty,
        qty_accepted: qty,
        uom: "EA".to_owned(),
        condition_code: ConditionCode::Damaged,
        stock_type: StockType::Blocked,
        lpn: None,
        receipt_closed: false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    #[test]
    fn tenant_a_never_changes_tenant_b_outputs(steps in steps()) {
        let alone = Run::execute(&steps, false);
        let together = Run::execute(&steps, true);
        prop_assert_eq!(alone.lines("B"), together.lines("B"));
        prop_assert!(alone.lines("A").is_empty());
    }
}

#[test]
fn the_override_changes_tenant_a_but_not_tenant_b() {
    let steps = vec![
        Step::B(0, Op::Book { loc: 0, qty: 100 }),
        Step::A(Op::Book { loc: 0, qty: 100 }),
        Step::B(60, Op::Count { loc: 0, counted: 99, seq: 1 }),
        Step::A(Op::Count { loc: 0, counted: 99, seq: 1 }),
        Step::B(60, Op::Pick { loc: 1, qty: 1 }),
    ];
    let run = Run::execute(&steps, true);
    let statuses = |tenant: &str| -> Vec<String> {
        run.log
            .audit
            .iter()
            .filter(|a| a.tenant_id == tenant)
            .map(|a| format!("{:?}", a.decision))
            .collect()
    };
    assert_eq!(statuses("B"), ["AcceptedWithinTolerance"], "1 % is within B's 5 %");
    assert_eq!(
        statuses("A")[..3],
        ["Opened", "Triaged", "ApprovalRequested"],
        "A: 0 %, no recount"
    );
}
