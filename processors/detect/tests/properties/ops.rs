//! The random steps: the site they play at (locations, roles, start time) and the `Op`/`Step`
//! strategies the properties draw from.

use invex_model::ApprovalVerdict;
use proptest::prelude::*;

pub(crate) const LOCATIONS: [&str; 2] = ["L1", "L2"];
/// Roles a decision may carry (index `ROLES.len()`: none): the default tiers, lowest first,
/// then the two roles of the dual approval.
pub(crate) const ROLES: [&str; 5] =
    ["SUPERVISOR", "INVENTORY_MANAGER", "FINANCE_CONTROLLER", "QUALITY", "FINANCE"];
pub(crate) const TIERS: usize = 3;
pub(crate) const DUAL: [&str; 2] = ["QUALITY", "FINANCE"];
pub(crate) const START: i64 = 1_736_150_400_000;

/// Which exception a decision names.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    Latest,
    Unknown,
}

/// Which approval request a decision answers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Request {
    Outstanding,
    Wrong,
    Missing,
}

/// One random step. `Retry` re-sends an earlier event with identical content under a new
/// event id; `Expiring` is a lot with an expiry `days` after the first day, scanned (kind 0),
/// received (1: 3 at the dock) or allocated (2: shipping ten days after the first day).
#[derive(Debug, Clone)]
pub(crate) enum Op {
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
pub(crate) type Step = (i64, Op);

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

pub(crate) fn steps(with_approve: bool) -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec((-20..600i64, op(with_approve)), 1..60)
}

/// Like [`steps`], with jumps of days to a year that let entries of every store with a TTL
/// expire.
pub(crate) fn ttl_steps() -> impl Strategy<Value = Vec<Step>> {
    let jump = prop_oneof![3 => 1..45i64, 1 => 45..400i64].prop_map(|days| Op::Jump { days });
    let step = prop_oneof![12 => op(true), 1 => jump];
    proptest::collection::vec((-20..600i64, step), 1..60)
}
