//! Property tests over random event sequences of one item at one site (two storage locations
//! and a dock): book snapshots, picks (free, or on a few task lines and allocations, so lines
//! get confirmed twice and allocations overrun), allocations, task moves, ASN lines, receipts
//! against the ASN (some damaged, some closing the receipt), putaways, damaged scans, lots with
//! expiry dates, no-reads and wrong scans, ERP acknowledgements, item master versions (lot
//! control, shelf life), counts and recounts, human decisions, producer retries (same content,
//! new event id), wall-clock advances, redeliveries and out-of-order event times. Every
//! detector sees them.
//!
//! - a crash, restore from the changelog and continue, at any point, changes no output byte;
//!   nor does it with jumps of stream time past the stores' TTLs and the purge of expired
//!   entries run after every few steps (reads hide what the purge deletes, so when it runs
//!   cannot matter);
//! - delivering every event twice changes no output byte;
//! - no STOCK_ADJUSTMENT or RELEASE_HOLD without an APPROVE decision, and every one names (in
//!   `approval_ref`) an APPROVE decision that answered that exception's approval request;
//! - an exception resolves as ADJUSTED or RELEASED only after an ACK naming its gated action
//!   (acks name the latest one half of the time), and every gated action puts its exception in
//!   ACTIONING first;
//! - every one passed the approval gate: the approvals it lists are APPROVEs of its request by
//!   a role at or above the requested tier, or by both roles of the dual approval (always the
//!   dual approval for lot/serial and expiry exceptions). Decisions carry random roles (or
//!   none) and every lifecycle verdict (hold, release, resolve, cancel, acknowledge) occurs.

use std::collections::BTreeMap;

use invex_detect::testkit::TestDriver;
use invex_detect::{Outputs, Policy};
use invex_model::{
    AckStatus, ActionType, ApprovalDecision, ApprovalVerdict, AsnLine, BookSnapshot,
    CanonicalEvent, ConditionCode, CountEvent, CountType, EpcisAction, EventHeader, ExceptionType,
    IntegrationAck, ItemMaster, OrderAllocation, PickEvent, ReceiptLine, ScanEvent, ScanResult,
    SourceSystem, StockType, TaskEvent, TaskStatus, TaskType,
};
use proptest::prelude::*;

const LOCATIONS: [&str; 2] = ["L1", "L2"];
/// Roles a decision may carry (index `ROLES.len()`: none): the default tiers, lowest first,
/// then the two roles of the dual approval.
const ROLES: [&str; 5] =
    ["SUPERVISOR", "INVENTORY_MANAGER", "FINANCE_CONTROLLER", "QUALITY", "FINANCE"];
const TIERS: usize = 3;
const DUAL: [&str; 2] = ["QUALITY", "FINANCE"];
const START: i64 = 1_736_150_400_000;

/// Which exception a decision names.
#[derive(Debug, Clone, Copy)]
enum Target {
    Latest,
    Unknown,
}

/// Which approval request a decision answers.
#[derive(Debug, Clone, Copy)]
enum Request {
    Outstanding,
    Wrong,
    Missing,
}

/// One random step. `Retry` re-sends an earlier event with identical content under a new
/// event id; `Expiring` is a lot with an expiry `days` after the first day, scanned (kind 0),
/// received (1: 3 at the dock) or allocated (2: shipping ten days after the first day).
#[derive(Debug, Clone)]
enum Op {
    Book {
        loc: usize,
        qty: i64,
    },
    Pick {
        loc: usize,
        qty: i64,
    },
    Move {
        from: usize,
        qty: i64,
    },
    Count {
        loc: usize,
        counted: i64,
        seq: i32,
        wms: Option<i64>,
    },
    Decide {
        verdict: ApprovalVerdict,
        target: Target,
        request: Request,
        role: usize,
    },
    Wall {
        ms: i64,
    },
    Redeliver {
        back: usize,
    },
    Retry {
        back: usize,
    },
    Allocate {
        id: usize,
        qty: i64,
    },
    PickLine {
        line: usize,
        qty: i64,
        alloc: Option<usize>,
    },
    Asn {
        qty: i64,
    },
    Receive {
        qty: i64,
        closed: bool,
        damaged: bool,
    },
    Putaway {
        qty: i64,
        elsewhere: bool,
    },
    DamagedScan {
        loc: usize,
        qty: i64,
    },
    Expiring {
        lot: usize,
        days: i32,
        kind: u8,
    },
    Scan {
        loc: usize,
        result: u8,
    },
    Ack {
        message: usize,
        status: u8,
        names_action: bool,
    },
    Master {
        lot_controlled: bool,
        min_shelf_life: Option<i32>,
    },
    /// Event time jumps `days` ahead (past the TTLs of stores); only in [`ttl_steps`].
    Jump {
        days: i64,
    },
}

/// An op with the event-time step before it (seconds, may be negative: out of order).
type Step = (i64, Op);

fn verdicts(with_approve: bool) -> BoxedStrategy<ApprovalVerdict> {
    let others = prop_oneof![
        Just(ApprovalVerdict::Reject),
        Just(ApprovalVerdict::RequestRecount),
        Just(ApprovalVerdict::Acknowledge),
        Just(ApprovalVerdict::Hold),
        Just(ApprovalVerdict::Release),
        Just(ApprovalVerdict::Resolve),
        Just(ApprovalVerdict::Cancel),
    ];
    if with_approve {
        prop_oneof![2 => Just(ApprovalVerdict::Approve), 3 => others].boxed()
    } else {
        others.boxed()
    }
}

fn op(with_approve: bool) -> impl Strategy<Value = Op> {
    let target = prop_oneof![9 => Just(Target::Latest), 1 => Just(Target::Unknown)];
    let request = prop_oneof![
        8 => Just(Request::Outstanding),
        1 => Just(Request::Wrong),
        1 => Just(Request::Missing)
    ];
    prop_oneof![
        2 => (0..2usize, 50..150i64).prop_map(|(loc, qty)| Op::Book { loc, qty }),
        3 => (0..2usize, 0..60i64).prop_map(|(loc, qty)| Op::Pick { loc, qty }),
        1 => (0..2usize, 0..15i64).prop_map(|(from, qty)| Op::Move { from, qty }),
        5 => (0..2usize, 40..160i64, 1..=3i32, proptest::option::of(40..160i64))
            .prop_map(|(loc, counted, seq, wms)| Op::Count { loc, counted, seq, wms }),
        3 => (verdicts(with_approve), target, request, 0..=ROLES.len())
            .prop_map(|(verdict, target, request, role)| Op::Decide { verdict, target, request, role }),
        2 => (0..4_000i64).prop_map(|ms| Op::Wall { ms }),
        // Long quiet spells: SLA deadlines pass and the escalation ladder climbs.
        1 => (600_000..10_800_000i64).prop_map(|ms| Op::Wall { ms }),
        1 => (1..6usize).prop_map(|back| Op::Redeliver { back }),
        1 => (1..4usize).prop_map(|back| Op::Retry { back }),
        1 => (0..2usize, 0..160i64).prop_map(|(id, qty)| Op::Allocate { id, qty }),
        2 => (0..2usize, 0..8i64, proptest::option::of(0..2usize))
            .prop_map(|(line, qty, alloc)| Op::PickLine { line, qty, alloc }),
        1 => (0..60i64).prop_map(|qty| Op::Asn { qty }),
        2 => (0..40i64, any::<bool>(), proptest::bool::weighted(0.3))
            .prop_map(|(qty, closed, damaged)| Op::Receive { qty, closed, damaged }),
        1 => (0..40i64, proptest::bool::weighted(0.2))
            .prop_map(|(qty, elsewhere)| Op::Putaway { qty, elsewhere }),
        1 => (0..2usize, 1..5i64).prop_map(|(loc, qty)| Op::DamagedScan { loc, qty }),
        2 => (0..2usize, -2..12i32, 0..3u8)
            .prop_map(|(lot, days, kind)| Op::Expiring { lot, days, kind }),
        2 => (0..2usize, 0..3u8).prop_map(|(loc, result)| Op::Scan { loc, result }),
        2 => (0..3usize, 0..4u8, any::<bool>())
            .prop_map(|(message, status, names_action)| Op::Ack { message, status, names_action }),
        1 => (any::<bool>(), proptest::option::of(0..20i32)).prop_map(|(lot_controlled, days)| {
            Op::Master { lot_controlled, min_shelf_life: days }
        }),
    ]
}

fn steps(with_approve: bool) -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec((-20..600i64, op(with_approve)), 1..60)
}

/// Like [`steps`], with jumps of days to a year that let entries of every store with a TTL
/// expire.
fn ttl_steps() -> impl Strategy<Value = Vec<Step>> {
    let jump = prop_oneof![3 => 1..45i64, 1 => 45..400i64].prop_map(|days| Op::Jump { days });
    let step = prop_oneof![12 => op(true), 1 => jump];
    proptest::collection::vec((-20..600i64, step), 1..60)
}

fn header(id: &str, time: i64, system: SourceSystem) -> EventHeader {
    EventHeader {
        event_id: id.to_owned(),
        event_time: time,
        event_tz_offset: "+00:00".to_owned(),
        record_time: time,
        tenant_id: "t1".to_owned(),
        site_id: "DC1".to_owned(),
        source_system: system,
        source_seq: 0,
        operator_id: None,
        device_id: None,
        action: EpcisAction::Observe,
        biz_step: String::new(),
        disposition: None,
        error_declaration: None,
    }
}

/// Runs the steps; returns every output (in order, serialized) and the decisions piped.
struct Run {
    driver: TestDriver,
    log: Outputs,
    lines: Vec<String>,
    delivered: Vec<CanonicalEvent>,
    decisions: Vec<ApprovalDecision>,
    time: i64,
    /// Entries the explicit purges deleted.
    purged: usize,
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

/// The same event under another event id (a producer retry).
fn with_event_id(mut event: CanonicalEvent, id: &str) -> CanonicalEvent {
    event.header_mut().event_id = id.to_owned();
    event
}

fn allocate(id: &str, t: i64, a: usize, qty: i64) -> CanonicalEvent {
    CanonicalEvent::Allocation(allocation_event(id, t, a, qty))
}

fn allocation_event(id: &str, t: i64, a: usize, qty: i64) -> OrderAllocation {
    OrderAllocation {
        header: header(id, t, SourceSystem::Oms),
        allocation_id: format!("A{a}"),
        order_id: format!("O{a}"),
        order_line: 1,
        channel: None,
        sku: "SKU-1".to_owned(),
        location_id: Some(LOCATIONS[0].to_owned()),
        lot: None,
        qty_ordered: qty,
        qty_allocated: qty,
        uom: "EA".to_owned(),
        status: "RELEASED".to_owned(),
        promised_ship_time: None,
    }
}

fn pick_line(id: &str, t: i64, line: usize, qty: i64, alloc: Option<usize>) -> CanonicalEvent {
    let mut p = pick_event(id, t, LOCATIONS[line % 2], qty);
    p.pick_task_id = format!("T{line}");
    p.order_id = format!("O{line}");
    p.qty_requested = 4;
    p.allocation_id = alloc.map(|a| format!("A{a}"));
    CanonicalEvent::Pick(p)
}

fn asn(id: &str, t: i64, qty: i64) -> CanonicalEvent {
    CanonicalEvent::Asn(AsnLine {
        header: header(id, t, SourceSystem::Erp),
        asn_id: "ASN-1".to_owned(),
        po_id: "PO-1".to_owned(),
        line_no: 1,
        supplier_id: "SUP-1".to_owned(),
        sku: "SKU-1".to_owned(),
        gtin: None,
        qty_expected: qty,
        uom: "EA".to_owned(),
        expected_lots: Vec::new(),
        ssccs: Vec::new(),
        under_tolerance_pct: None,
        over_tolerance_pct: Some(5.0),
        unlimited_over: false,
        min_remaining_shelf_life_days: None,
        eta: None,
    })
}

fn receive(id: &str, t: i64, qty: i64, closed: bool, damaged: bool) -> CanonicalEvent {
    CanonicalEvent::Receipt(receipt_event(id, t, qty, closed, damaged))
}

fn receipt_event(id: &str, t: i64, qty: i64, closed: bool, damaged: bool) -> ReceiptLine {
    ReceiptLine {
        header: header(id, t, SourceSystem::Wms),
        receipt_id: "GR-1".to_owned(),
        line_no: 1,
        asn_id: Some("ASN-1".to_owned()),
        po_id: Some("PO-1".to_owned()),
        po_line: Some(1),
        supplier_id: Some("SUP-1".to_owned()),
        carrier_id: Some("CAR-1".to_owned()),
        sku: "SKU-1".to_owned(),
        gtin: None,
        lot: None,
        expiry_date: None,
        serials: Vec::new(),
        location_id: "DOCK".to_owned(),
        qty_received: qty,
        qty_accepted: qty,
        uom: "EA".to_owned(),
        condition_code: if damaged { ConditionCode::Damaged } else { ConditionCode::Good },
        stock_type: StockType::Unrestricted,
        lpn: None,
        receipt_closed: closed,
    }
}

fn putaway(id: &str, t: i64, qty: i64, elsewhere: bool) -> CanonicalEvent {
    let mut task = task_event(id, t, "DOCK", LOCATIONS[0], qty);
    task.task_type = TaskType::Putaway;
    task.actual_location_id = Some(LOCATIONS[usize::from(elsewhere)].to_owned());
    CanonicalEvent::Task(task)
}

fn damaged_scan(id: &str, t: i64, loc: &str, qty: i64) -> CanonicalEvent {
    let mut scan = scan_event(id, t, loc, qty);
    scan.header.disposition = Some("damaged".to_owned());
    CanonicalEvent::Scan(scan)
}

fn scan_event(id: &str, t: i64, loc: &str, qty: i64) -> ScanEvent {
    ScanEvent {
        header: header(id, t, SourceSystem::Edge),
        raw_barcode: "0".to_owned(),
        symbology: None,
        sku: "SKU-1".to_owned(),
        gtin: None,
        sscc: None,
        lpn: None,
        lot: None,
        expiry_date: None,
        serial: None,
        location_id: loc.to_owned(),
        quantity: qty,
        uom: "EA".to_owned(),
        scan_result: ScanResult::Ok,
        task_id: None,
        task_type: None,
        expected_gtin: None,
        expected_lot: None,
        expected_location_id: None,
    }
}

fn master(id: &str, t: i64, lot_controlled: bool, min_shelf_life: Option<i32>) -> CanonicalEvent {
    CanonicalEvent::Item(ItemMaster {
        header: header(id, t, SourceSystem::Erp),
        sku: "SKU-1".to_owned(),
        gtins: Vec::new(),
        base_uom: "EA".to_owned(),
        case_pack: None,
        abc_class: "B".to_owned(),
        unit_cost: 4.0,
        currency: "EUR".to_owned(),
        lot_controlled,
        serial_controlled: false,
        min_remaining_shelf_life_days: min_shelf_life,
    })
}

/// Status SENT (0), ACK (1), ERROR (2) or RETRYING (3) of posting M<message>.
fn ack(id: &str, t: i64, message: usize, status: u8) -> CanonicalEvent {
    CanonicalEvent::Ack(IntegrationAck {
        header: header(id, t, SourceSystem::Erp),
        message_id: format!("M{message}"),
        direction: "WMS_TO_ERP".to_owned(),
        doc_type: "GI".to_owned(),
        sku: "SKU-1".to_owned(),
        quantity: -3,
        related_event_ids: Vec::new(),
        status: match status {
            0 => AckStatus::Sent,
            1 => AckStatus::Ack,
            2 => AckStatus::Error,
            _ => AckStatus::Retrying,
        },
        error_code: None,
        attempt: 1,
    })
}

/// A no-read (0), a wrong item for task T<loc> (1) or an item the device does not know (2).
fn scan(id: &str, t: i64, loc: usize, result: u8) -> CanonicalEvent {
    let mut scan = scan_event(id, t, LOCATIONS[loc], 1);
    scan.scan_result = match result {
        0 => ScanResult::NoRead,
        1 => ScanResult::Mismatch,
        _ => ScanResult::UnknownItem,
    };
    scan.task_id = Some(format!("T{loc}"));
    scan.expected_gtin = Some("0400".to_owned());
    scan.gtin = Some("0999".to_owned());
    CanonicalEvent::Scan(scan)
}

fn expiring(id: &str, t: i64, lot: usize, days: i32, kind: u8) -> CanonicalEvent {
    let lot_id = format!("LOT{lot}");
    let expiry = i32::try_from(START / 86_400_000).unwrap_or(0) + days;
    match kind {
        0 => {
            let mut scan = scan_event(id, t, LOCATIONS[lot], 1);
            scan.lot = Some(lot_id);
            scan.expiry_date = Some(expiry);
            CanonicalEvent::Scan(scan)
        }
        1 => {
            let mut r = receipt_event(id, t, 3, false, false);
            r.asn_id = None;
            r.lot = Some(lot_id);
            r.expiry_date = Some(expiry);
            CanonicalEvent::Receipt(r)
        }
        _ => {
            let mut a = allocation_event(id, t, lot + 2, 2);
            a.lot = Some(lot_id);
            a.promised_ship_time = Some(START + 10 * 86_400_000);
            CanonicalEvent::Allocation(a)
        }
    }
}

fn book(id: &str, t: i64, loc: &str, qty: i64) -> CanonicalEvent {
    CanonicalEvent::Book(BookSnapshot {
        header: header(id, t, SourceSystem::Erp),
        snapshot_id: format!("snap-{id}"),
        location_id: loc.to_owned(),
        sku: "SKU-1".to_owned(),
        lot: None,
        stock_type: StockType::Unrestricted,
        quantity: qty,
        uom: "EA".to_owned(),
        unit_cost: 4.0,
        currency: "EUR".to_owned(),
    })
}

fn pick(id: &str, t: i64, loc: &str, qty: i64) -> CanonicalEvent {
    CanonicalEvent::Pick(pick_event(id, t, loc, qty))
}

fn pick_event(id: &str, t: i64, loc: &str, qty: i64) -> PickEvent {
    PickEvent {
        header: header(id, t, SourceSystem::Wms),
        pick_task_id: format!("pick-{id}"),
        order_id: format!("ord-{id}"),
        order_line: 1,
        allocation_id: None,
        location_id: loc.to_owned(),
        sku: "SKU-1".to_owned(),
        lot: None,
        serials: Vec::new(),
        qty_requested: qty,
        qty_picked: qty,
        uom: "EA".to_owned(),
        short_reason: None,
        confirm_method: "SCAN".to_owned(),
    }
}

fn move_task(id: &str, t: i64, from: &str, to: &str, qty: i64) -> CanonicalEvent {
    CanonicalEvent::Task(task_event(id, t, from, to, qty))
}

fn task_event(id: &str, t: i64, from: &str, to: &str, qty: i64) -> TaskEvent {
    TaskEvent {
        header: header(id, t, SourceSystem::Wms),
        task_id: format!("task-{id}"),
        task_type: TaskType::Move,
        status: TaskStatus::Confirmed,
        sku: "SKU-1".to_owned(),
        lot: None,
        quantity: qty,
        uom: "EA".to_owned(),
        from_location_id: from.to_owned(),
        suggested_location_id: Some(to.to_owned()),
        actual_location_id: None,
        override_reason: None,
        lpn: None,
    }
}

fn count(id: &str, t: i64, loc: &str, counted: i64, seq: i32, wms: Option<i64>) -> CanonicalEvent {
    CanonicalEvent::Count(CountEvent {
        header: header(id, t, SourceSystem::Wms),
        count_doc_id: format!("doc-{id}"),
        count_type: if seq == 1 { CountType::Abc } else { CountType::Demand },
        count_seq: seq,
        blind: true,
        location_id: loc.to_owned(),
        sku: "SKU-1".to_owned(),
        lot: None,
        counted_qty: counted,
        uom: "EA".to_owned(),
        wms_book_qty_at_freeze: wms,
        freeze_time: t - 60_000,
        counter_id: None,
    })
}

/// Runs `steps`, restoring from the changelog before step `restore_at` (`steps.len()`: after
/// the last step, before the final wall-clock advance).
fn run(steps: &[Step], restore_at: Option<usize>, twice: bool) -> Run {
    run_purging(steps, restore_at, twice, None)
}

/// [`run`], with the purge of expired entries after every `purge_every`-th step as well.
fn run_purging(
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

/// Checks the approval invariant; returns how many adjustments were checked.
fn check_adjustments(run: &Run) -> Result<usize, TestCaseError> {
    let approves: BTreeMap<&str, &ApprovalDecision> = run
        .decisions
        .iter()
        .filter(|d| d.verdict == ApprovalVerdict::Approve)
        .map(|d| (d.header.event_id.as_str(), d))
        .collect();
    let gated = [ActionType::StockAdjustment, ActionType::ReleaseHold];
    let adjustments: Vec<_> =
        run.log.actions.iter().filter(|a| gated.contains(&a.action_type)).collect();
    for adjustment in &adjustments {
        let reference = adjustment.approval_ref.as_deref();
        let decision = reference.and_then(|r| approves.get(r));
        prop_assert!(decision.is_some(), "adjustment without APPROVE: {adjustment:?}");
        let Some(decision) = decision else { continue };
        prop_assert_eq!(&decision.exception_id, &adjustment.exception_id.0);
        let answered = run.log.actions.iter().any(|a| {
            a.action_type == ActionType::ApprovalRequest
                && Some(&a.action_id.0) == decision.approval_request_id.as_ref()
                && a.exception_id == adjustment.exception_id
        });
        prop_assert!(answered, "the APPROVE did not answer a request of that exception");
        check_gate(run, adjustment, &approves)?;
    }
    let mut per_exception = BTreeMap::new();
    for a in &adjustments {
        *per_exception.entry(&a.exception_id).or_insert(0) += 1;
    }
    prop_assert!(per_exception.values().all(|&n| n == 1), "one gated action per exception");
    Ok(adjustments.len())
}

/// The approvals an adjustment lists passed the gate: one APPROVE of its request by a role at
/// or above the requested tier, or one by each role of the dual approval.
fn check_gate(
    run: &Run,
    adjustment: &invex_model::ActionCommand,
    approves: &BTreeMap<&str, &ApprovalDecision>,
) -> Result<(), TestCaseError> {
    let listed = adjustment.details.get("approvals").cloned().unwrap_or_default();
    let mut roles = Vec::new();
    for given in listed.split(',') {
        let event_id = given.rsplit(':').next().unwrap_or_default();
        let decision = approves.get(event_id);
        prop_assert!(decision.is_some(), "approval {given} is no APPROVE");
        let Some(decision) = decision else { continue };
        prop_assert_eq!(
            &decision.approval_request_id,
            &adjustment.details.get("approval_request_id").cloned()
        );
        roles.push(decision.actor_role.clone().unwrap_or_default());
    }
    roles.sort();
    let rank = |role: &str| ROLES[..TIERS].iter().position(|r| *r == role);
    let tier = adjustment.approval_tier.as_deref().unwrap_or_default();
    let single = roles.len() == 1 && rank(&roles[0]).zip(rank(tier)).is_some_and(|(h, n)| h >= n);
    let mut dual: Vec<String> = DUAL.iter().map(|r| (*r).to_owned()).collect();
    dual.sort();
    let kind = run.log.exceptions.iter().find(|e| e.exception_id == adjustment.exception_id);
    let must_be_dual = kind.is_some_and(|e| {
        matches!(
            e.exception_type,
            ExceptionType::LotSerialInconsistency | ExceptionType::ExpiredInventory
        )
    });
    prop_assert!(
        roles == dual || (single && !must_be_dual),
        "gate not met: {roles:?}, tier {tier}"
    );
    Ok(())
}

/// ACTIONING: an exception resolves as ADJUSTED or RELEASED only after an ACK that names one of
/// its gated actions, and every gated action leaves its exception ACTIONING first; returns how
/// many such resolutions were checked.
fn check_actioning(run: &Run) -> Result<usize, TestCaseError> {
    let gated = [ActionType::StockAdjustment, ActionType::ReleaseHold];
    let acked: Vec<&str> = run
        .delivered
        .iter()
        .filter_map(|e| match e {
            CanonicalEvent::Ack(a) if a.status == AckStatus::Ack => Some(a),
            _ => None,
        })
        .flat_map(|a| a.related_event_ids.iter().map(String::as_str))
        .collect();
    let mut resolved = 0;
    for e in &run.log.exceptions {
        let by_action = matches!(e.resolution.as_deref(), Some("ADJUSTED" | "RELEASED"));
        if !by_action || e.rule_id != "GOV-005" {
            prop_assert!(!by_action, "resolved as {:?} by {}", e.resolution, e.rule_id);
            continue;
        }
        let named = run.log.actions.iter().any(|a| {
            a.exception_id == e.exception_id
                && gated.contains(&a.action_type)
                && acked.contains(&a.action_id.0.as_str())
        });
        prop_assert!(named, "resolved without an ACK of its action: {e:?}");
        resolved += 1;
    }
    for a in run.log.actions.iter().filter(|a| gated.contains(&a.action_type)) {
        let actioning = run.log.audit.iter().any(|r| {
            r.exception_id == a.exception_id
                && r.to_status == invex_model::ExceptionStatus::Actioning
                && r.action_ids.contains(&a.action_id.0)
        });
        prop_assert!(actioning, "no ACTIONING for {a:?}");
    }
    Ok(resolved)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn restoring_at_any_point_changes_no_output(
        steps in steps(true),
        point in any::<prop::sample::Index>(),
    ) {
        let straight = run(&steps, None, false);
        let restore_at = point.index(steps.len() + 1);
        let restored = run(&steps, Some(restore_at), false);
        prop_assert_eq!(&straight.lines, &restored.lines, "restore before step {}", restore_at);
    }

    #[test]
    fn restoring_and_purging_at_any_point_changes_no_output(
        steps in ttl_steps(),
        point in any::<prop::sample::Index>(),
        purge_every in 1..4usize,
    ) {
        let straight = run(&steps, None, false);
        let restore_at = point.index(steps.len() + 1);
        let purged = run_purging(&steps, Some(restore_at), false, Some(purge_every));
        prop_assert_eq!(
            &straight.lines,
            &purged.lines,
            "restore before step {}, purge every {} steps",
            restore_at,
            purge_every
        );
    }

    #[test]
    fn delivering_every_event_twice_changes_no_output(steps in steps(true)) {
        let once = run(&steps, None, false);
        let twice = run(&steps, None, true);
        prop_assert_eq!(&once.lines, &twice.lines);
    }

    #[test]
    fn no_stock_adjustment_without_an_approve_decision(steps in steps(false)) {
        let run = run(&steps, None, false);
        prop_assert_eq!(check_adjustments(&run)?, 0);
    }

    #[test]
    fn every_stock_adjustment_follows_an_approve_of_its_request(steps in steps(true)) {
        let run = run(&steps, None, false);
        check_adjustments(&run)?;
    }

    #[test]
    fn only_an_ack_of_the_approved_action_resolves_it(steps in steps(true)) {
        let run = run(&steps, None, false);
        check_actioning(&run)?;
    }
}

#[test]
fn the_generated_ttl_shape_purges_expired_entries() {
    let steps = vec![
        (0, Op::PickLine { line: 0, qty: 3, alloc: Some(0) }),
        (0, Op::Scan { loc: 0, result: 0 }),
        (0, Op::Ack { message: 0, status: 0, names_action: false }),
        (0, Op::Jump { days: 100 }),
        (0, Op::Book { loc: 0, qty: 10 }),
    ];
    let purged = run_purging(&steps, None, false, Some(1));
    assert!(purged.purged >= 3, "the line, the no-read and the message: {}", purged.purged);
    assert_eq!(run(&steps, None, false).lines, purged.lines);
}

/// A count 30 % short, recounted the same, then approved at the top tier: the generated
/// shape of an approved adjustment.
fn approved_adjustment() -> Vec<Step> {
    let approve = Op::Decide {
        verdict: ApprovalVerdict::Approve,
        target: Target::Latest,
        request: Request::Outstanding,
        role: TIERS - 1,
    };
    vec![
        (0, Op::Book { loc: 0, qty: 100 }),
        (60, Op::Count { loc: 0, counted: 70, seq: 1, wms: None }),
        (60, Op::Count { loc: 0, counted: 70, seq: 2, wms: None }),
        (60, Op::Pick { loc: 1, qty: 1 }),
        (60, approve),
    ]
}

#[test]
fn the_generated_shape_reaches_an_adjustment() {
    let run = run(&approved_adjustment(), None, false);
    assert_eq!(check_adjustments(&run).unwrap(), 1);
}

#[test]
fn the_generated_shape_resolves_an_adjustment_by_its_ack() {
    let mut steps = approved_adjustment();
    steps.push((60, Op::Ack { message: 0, status: 2, names_action: true }));
    steps.push((60, Op::Ack { message: 0, status: 1, names_action: true }));
    let run = run(&steps, None, false);
    assert_eq!(check_adjustments(&run).unwrap(), 1);
    assert_eq!(check_actioning(&run).unwrap(), 1);
    let refused = run.log.exceptions.iter().any(|e| {
        e.exception_type == ExceptionType::CycleCountDiscrepancy
            && e.status_reason.as_deref() == Some("ACTION_REFUSED")
    });
    assert!(refused, "the ERROR sent the exception back to work");
}

#[test]
fn the_generated_shape_reaches_a_write_off_of_damaged_goods() {
    let approve = Op::Decide {
        verdict: ApprovalVerdict::Approve,
        target: Target::Latest,
        request: Request::Outstanding,
        role: TIERS - 1,
    };
    let steps = vec![
        (0, Op::Book { loc: 0, qty: 100 }),
        (0, Op::Asn { qty: 30 }),
        (60, Op::Receive { qty: 30, closed: true, damaged: true }),
        (60, approve),
    ];
    let run = run(&steps, None, false);
    let types: Vec<_> = run.log.exceptions.iter().map(|e| e.exception_type).collect();
    assert!(types.contains(&invex_model::ExceptionType::DamagedGoods), "{types:?}");
    assert_eq!(check_adjustments(&run).unwrap(), 1);
}

#[test]
fn the_generated_shape_reaches_a_release_of_held_stock() {
    let decide = |verdict| Op::Decide {
        verdict,
        target: Target::Latest,
        request: Request::Outstanding,
        role: TIERS - 1,
    };
    let steps = vec![
        (0, Op::Book { loc: 0, qty: 100 }),
        (60, Op::DamagedScan { loc: 0, qty: 1 }),
        (60, decide(ApprovalVerdict::Resolve)),
        (60, decide(ApprovalVerdict::Approve)),
    ];
    let run = run(&steps, None, false);
    let released = run.log.actions.iter().filter(|a| a.action_type == ActionType::ReleaseHold);
    assert_eq!(released.count(), 1);
    assert_eq!(check_adjustments(&run).unwrap(), 1);
}
