//! Policy sections of the detectors other than cycle count, one table each.
//!
//! Every section is declared once with [`section!`], which generates: the validated settings
//! struct (every key required in the base policy), the matching override struct (every key
//! optional, at least one set), their parsers (unknown keys are errors, every issue reported
//! with its key path) and the merge of an override into the settings. So a key added to a
//! section is automatically overridable per tenant, site, class and SKU, and cannot be
//! misspelt in a policy file without an error.

use invex_model::{ConditionCode, OwnerTeam};

use super::reader::{Issues, Section, boolean, int_in, non_negative, severity, string, symbol};

/// Declares one policy section (see the module docs).
macro_rules! section {
    (
        $(#[$meta:meta])*
        $name:ident / $over:ident = $key:literal {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty = $conv:expr, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        #[doc = concat!("Values an `[overrides.", $key, "]` block may set; `None` keeps the base.")]
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $over {
            $( #[doc = concat!("Replaces `", stringify!($field), "`.")] pub $field: Option<$ty>, )*
        }

        impl $name {
            /// Table name in the policy file.
            pub(super) const KEY: &'static str = $key;

            pub(super) fn parse(mut s: Section<'_>, issues: &mut Issues) -> Option<Self> {
                $( let $field = s.required(stringify!($field), issues, $conv); )*
                s.finish(issues);
                Some(Self { $( $field: $field?, )* })
            }

            /// Applies the values `o` sets; true when it set at least one.
            pub(super) fn apply(&mut self, o: &$over) -> bool {
                let mut changed = false;
                $(
                    if let Some(v) = &o.$field {
                        self.$field = v.clone();
                        changed = true;
                    }
                )*
                changed
            }
        }

        impl $over {
            pub(super) fn parse(mut s: Section<'_>, issues: &mut Issues) -> Self {
                let values = Self { $( $field: s.optional(stringify!($field), issues, $conv), )* };
                if values == Self::default() {
                    issues.push(s.path(), "an override must set at least one threshold");
                }
                s.finish(issues);
                values
            }
        }
    };
}

section! {
    /// NEGATIVE_ON_HAND settings (`[negative_on_hand]`).
    NegativeOnHandPolicy / NegativeOnHandOverride = "negative_on_hand" {
        /// Delay after the movement that changed a book before it is checked (late events).
        evaluation_grace_ms: i64 = int_in(0, 86_400_000),
        /// Severity of an open exception.
        severity: i32 = severity,
        /// Team that owns it.
        owner: OwnerTeam = symbol::<OwnerTeam>,
        /// Group that receives the verifying RECOUNT_TASK.
        recount_target_group: String = string,
        /// Due offset of that recount task.
        recount_due_minutes: i64 = int_in(1, 10_080),
    }
}

section! {
    /// DUPLICATE_PICK settings (`[duplicate_pick]`).
    DuplicatePickPolicy / DuplicatePickOverride = "duplicate_pick" {
        /// When true, a task line may be confirmed in several parts: a further confirmation
        /// is a duplicate only once the line's picked total exceeds its requested quantity.
        allow_partial_confirmations: bool = boolean,
        /// Units a pick may exceed its allocation by before it is an exception.
        over_allocation_tolerance: i64 = int_in(0, 1_000_000),
        /// Severity of an open exception.
        severity: i32 = severity,
        /// Team that owns it.
        owner: OwnerTeam = symbol::<OwnerTeam>,
        /// Group that receives the RECOUNT_TASK of the pick face.
        recount_target_group: String = string,
        /// Due offset of that recount task.
        recount_due_minutes: i64 = int_in(1, 10_080),
    }
}

section! {
    /// RECEIVING_VARIANCE settings (`[receiving_variance]`).
    ReceivingVariancePolicy / ReceivingVarianceOverride = "receiving_variance" {
        /// A receipt with no line for this long (event time, or wall clock on a quiet
        /// partition) is decided as if it had been closed.
        inactivity_timeout_minutes: i64 = int_in(1, 10_080),
        /// Under-delivery tolerance when the ASN line gives none.
        under_tolerance_pct: f64 = non_negative,
        /// Over-delivery tolerance when the ASN line gives none.
        over_tolerance_pct: f64 = non_negative,
        /// Severity of a shortfall beyond tolerance.
        short_severity: i32 = severity,
        /// Severity of an over-delivery beyond tolerance.
        over_severity: i32 = severity,
        /// Severity of an item received against an ASN that does not announce it.
        not_on_asn_severity: i32 = severity,
        /// Severity of a lot or expiry that differs from the ASN.
        lot_severity: i32 = severity,
        /// Severity of a variance accepted within tolerance (recorded resolved).
        within_tolerance_severity: i32 = severity,
        /// Team that owns the exceptions.
        owner: OwnerTeam = symbol::<OwnerTeam>,
        /// Group that receives SUPPLIER_CASE actions.
        supplier_case_group: String = string,
        /// Group that receives ERP_STATUS_UPDATE actions.
        erp_group: String = string,
        /// Group that receives INVENTORY_HOLD actions (excess, goods not announced).
        hold_group: String = string,
    }
}

section! {
    /// PUTAWAY_FAILURE settings (`[putaway_failure]`).
    PutawayFailurePolicy / PutawayFailureOverride = "putaway_failure" {
        /// Dock-to-stock SLA: a received quantity must be put away within this time.
        dock_to_stock_minutes: i64 = int_in(1, 10_080),
        /// Reason codes (`override_reason` of a putaway task) saying the suggested location
        /// was blocked: locked, errored or full.
        blocked_location_reasons: Vec<String> = string_list,
        /// Severity of a missed SLA.
        sla_severity: i32 = severity,
        /// Severity of a confirmation elsewhere than suggested without an override reason.
        wrong_location_severity: i32 = severity,
        /// Severity of a putaway that met a blocked suggested location.
        blocked_location_severity: i32 = severity,
        /// Team that owns the exceptions.
        owner: OwnerTeam = symbol::<OwnerTeam>,
        /// Group that receives RECOUNT_TASK and ESCALATION actions.
        ops_group: String = string,
        /// Due offset of the recount task of a wrong or blocked location.
        recount_due_minutes: i64 = int_in(1, 10_080),
    }
}

section! {
    /// DAMAGED_GOODS settings (`[damaged_goods]`).
    DamagedGoodsPolicy / DamagedGoodsOverride = "damaged_goods" {
        /// Receiving condition codes that mean damaged goods.
        damaged_conditions: Vec<ConditionCode> = condition_list,
        /// Of those, the codes that put the fault with the carrier (when the receipt names one);
        /// the others put it with the supplier.
        carrier_fault_conditions: Vec<ConditionCode> = condition_list,
        /// A write-off of damaged stock worth more than this (absolute, item currency) is
        /// proposed for approval; below it, only the hold and the claim are issued.
        approval_min_value: f64 = non_negative,
        /// Severity of an exception.
        severity: i32 = severity,
        /// Team that owns damage found at receiving.
        owner: OwnerTeam = symbol::<OwnerTeam>,
        /// Team that owns damage found in the warehouse (scans, picks).
        warehouse_owner: OwnerTeam = symbol::<OwnerTeam>,
        /// Group that receives INVENTORY_HOLD actions.
        hold_group: String = string,
        /// Group that receives SUPPLIER_CASE actions (supplier and carrier claims).
        claim_group: String = string,
    }
}

section! {
    /// EXPIRED_INVENTORY settings (`[expired_inventory]`).
    ExpiredInventoryPolicy / ExpiredInventoryOverride = "expired_inventory" {
        /// Minimum remaining shelf life at receipt when the item master gives none (0: only
        /// goods already expired are refused).
        min_remaining_shelf_life_days: i64 = int_in(0, 36_500),
        /// A scrap write-off of expired stock worth more than this is proposed for approval.
        approval_min_value: f64 = non_negative,
        /// Severity of expired stock on hand.
        on_hand_severity: i32 = severity,
        /// Severity of a receipt below the minimum remaining shelf life.
        short_dated_severity: i32 = severity,
        /// Severity of an allocation of a lot that expires before the ship date.
        allocation_severity: i32 = severity,
        /// Team that owns the exceptions.
        owner: OwnerTeam = symbol::<OwnerTeam>,
        /// Group that receives INVENTORY_HOLD actions.
        hold_group: String = string,
        /// Group that receives SUPPLIER_CASE actions (short-dated deliveries).
        supplier_case_group: String = string,
        /// Group that receives CUSTOMER_SERVICE_NOTIFICATION actions.
        customer_service_group: String = string,
    }
}

section! {
    /// BARCODE_MISMATCH settings (`[barcode_mismatch]`).
    BarcodeMismatchPolicy / BarcodeMismatchOverride = "barcode_mismatch" {
        /// No-reads of one item at one location within the window that make an exception.
        no_read_threshold: i64 = int_in(1, 1_000),
        /// Width of the no-read window (event time).
        no_read_window_minutes: i64 = int_in(1, 1_440),
        /// Severity of a scan that differs from its task's expectation.
        mismatch_severity: i32 = severity,
        /// Severity of a GTIN the item master does not know.
        unknown_gtin_severity: i32 = severity,
        /// Severity of repeated no-reads.
        no_read_severity: i32 = severity,
        /// Team that owns mismatches and no-reads.
        owner: OwnerTeam = symbol::<OwnerTeam>,
        /// Team that owns unknown GTINs (master data).
        master_data_owner: OwnerTeam = symbol::<OwnerTeam>,
        /// Group that receives RECOUNT_TASK and QUALITY_REVIEW (relabel) actions.
        ops_group: String = string,
        /// Group that receives the IT_INCIDENT of an unknown GTIN.
        master_data_group: String = string,
    }
}

section! {
    /// ORDER_ALLOCATION_CONFLICT settings (`[order_allocation_conflict]`).
    OrderAllocationConflictPolicy / OrderAllocationConflictOverride = "order_allocation_conflict" {
        /// Order statuses of allocations that no longer hold stock (compared upper case).
        closed_statuses: Vec<String> = string_list,
        /// An order whose promised ship time is within this many hours of the conflict is at
        /// risk: customer service is notified.
        ship_risk_hours: i64 = int_in(0, 8_760),
        /// Hours of stream time after its last change that an allocation holding nothing
        /// (closed or completely picked) is forgotten.
        forget_after_hours: i64 = int_in(1, 8_760),
        /// Severity of allocations above what a location holds.
        over_allocation_severity: i32 = severity,
        /// Severity of a short pick where the book shows stock.
        ghost_stock_severity: i32 = severity,
        /// Severity when an order's ship date is at risk (the more severe of the two applies).
        at_risk_severity: i32 = severity,
        /// Team that owns the exceptions.
        owner: OwnerTeam = symbol::<OwnerTeam>,
        /// Group that receives RECOUNT_TASK actions.
        recount_target_group: String = string,
        /// Due offset of that recount task.
        recount_due_minutes: i64 = int_in(1, 10_080),
        /// Group that receives CUSTOMER_SERVICE_NOTIFICATION actions.
        customer_service_group: String = string,
    }
}

section! {
    /// SYNC_FAILURE settings (`[sync_failure]`).
    SyncFailurePolicy / SyncFailureOverride = "sync_failure" {
        /// A WMS posting not acknowledged by the ERP within this time is an exception.
        ack_timeout_minutes: i64 = int_in(1, 10_080),
        /// WMS movements this recent may not have reached the ERP snapshot yet.
        settle_window_minutes: i64 = int_in(0, 10_080),
        /// Severity of a missing or refused acknowledgement.
        ack_severity: i32 = severity,
        /// Severity of an ERP book that differs from the WMS movements.
        divergence_severity: i32 = severity,
        /// Team that owns the exceptions.
        owner: OwnerTeam = symbol::<OwnerTeam>,
        /// Group that receives IT_INCIDENT (resync) actions.
        it_group: String = string,
        /// Distinct SKUs of a site with a sync failure within the window that signal an
        /// integration outage (per task: see the sync module).
        outage_sku_threshold: i64 = int_in(2, 1_000_000),
        /// Window of the outage count.
        outage_window_minutes: i64 = int_in(1, 10_080),
    }
}

section! {
    /// LOT_SERIAL_INCONSISTENCY settings (`[lot_serial_inconsistency]`).
    LotSerialPolicy / LotSerialOverride = "lot_serial_inconsistency" {
        /// Severity of a lot-controlled item moved without a lot.
        missing_lot_severity: i32 = severity,
        /// Severity of one lot seen with two expiry dates.
        expiry_conflict_severity: i32 = severity,
        /// Severity of a serial seen at two locations or sites, or after it was consumed.
        serial_severity: i32 = severity,
        /// Whether serials are checked across sites (LS-005): the scope's sightings are sent
        /// to the serial-keyed task, and its findings open exceptions.
        cross_site_serials: bool = boolean,
        /// Team that owns the exceptions.
        owner: OwnerTeam = symbol::<OwnerTeam>,
        /// Group that receives QUALITY_REVIEW actions.
        quality_group: String = string,
        /// Group that receives INVENTORY_HOLD (compliance hold) actions.
        hold_group: String = string,
    }
}

section! {
    /// Lifecycle governance settings (`[governance]`): SLA deadlines per severity, the
    /// escalation ladder, hold reasons, triage weights and the approval gate.
    GovernancePolicy / GovernanceOverride = "governance" {
        /// Acknowledge deadline of a severity 1 exception, minutes after it opened.
        ack_minutes_sev1: i64 = int_in(1, 525_600),
        /// Acknowledge deadline, severity 2.
        ack_minutes_sev2: i64 = int_in(1, 525_600),
        /// Acknowledge deadline, severity 3.
        ack_minutes_sev3: i64 = int_in(1, 525_600),
        /// Acknowledge deadline, severity 4.
        ack_minutes_sev4: i64 = int_in(1, 525_600),
        /// Acknowledge deadline, severity 5.
        ack_minutes_sev5: i64 = int_in(1, 525_600),
        /// Resolve deadline of a severity 1 exception, minutes after it opened.
        resolve_minutes_sev1: i64 = int_in(1, 525_600),
        /// Resolve deadline, severity 2.
        resolve_minutes_sev2: i64 = int_in(1, 525_600),
        /// Resolve deadline, severity 3.
        resolve_minutes_sev3: i64 = int_in(1, 525_600),
        /// Resolve deadline, severity 4.
        resolve_minutes_sev4: i64 = int_in(1, 525_600),
        /// Resolve deadline, severity 5.
        resolve_minutes_sev5: i64 = int_in(1, 525_600),
        /// Escalation ladder: the team notified at level 1, 2, 3, ...
        escalation_teams: Vec<String> = string_list,
        /// While a deadline stays breached, the next level follows after this long.
        escalation_interval_minutes: i64 = int_in(1, 525_600),
        /// Reasons a HOLD decision may give (`reason_code`).
        hold_reasons: Vec<String> = string_list,
        /// Weight (points of 100) of customer impact in the priority score.
        customer_weight: i64 = int_in(0, 100),
        /// Weight of value at risk.
        value_weight: i64 = int_in(0, 100),
        /// Weight of compliance risk.
        compliance_weight: i64 = int_in(0, 100),
        /// Value at risk that earns the full value weight (linear below).
        value_at_risk_full: f64 = non_negative,
        /// Open allocations shipping within this many hours are at risk.
        ship_risk_hours: i64 = int_in(0, 8_760),
        /// A root cause at least this confident routes the exception to the category's team.
        route_min_confidence: f64 = non_negative,
        /// Exception types that always need the dual (quality and finance) approval.
        dual_approval_types: Vec<String> = string_list,
        /// The roles of the dual approval, each of which must approve.
        dual_approval_roles: Vec<String> = string_list,
        /// Types whose held stock is released (RELEASE_HOLD) only after an approval.
        release_approval_types: Vec<String> = string_list,
        /// Group that receives approved RELEASE_HOLD actions.
        release_target_group: String = string,
    }
}

/// A list of receiving condition codes (`DAMAGED`, `QUALITY_PROBLEM`, ...).
fn condition_list(value: &toml::Value) -> Result<Vec<ConditionCode>, String> {
    let Some(items) = value.as_array() else {
        return Err(format!("expected an array of strings, found {}", value.type_str()));
    };
    items.iter().map(symbol::<ConditionCode>).collect()
}

/// A list of non-empty strings, compared case-insensitively (stored upper case).
fn string_list(value: &toml::Value) -> Result<Vec<String>, String> {
    let Some(items) = value.as_array() else {
        return Err(format!("expected an array of strings, found {}", value.type_str()));
    };
    items.iter().map(|v| string(v).map(|s| s.trim().to_ascii_uppercase())).collect()
}

/// Every section of the detectors other than cycle count.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorPolicies {
    /// `[negative_on_hand]`.
    pub negative_on_hand: NegativeOnHandPolicy,
    /// `[duplicate_pick]`.
    pub duplicate_pick: DuplicatePickPolicy,
    /// `[receiving_variance]`.
    pub receiving_variance: ReceivingVariancePolicy,
    /// `[putaway_failure]`.
    pub putaway_failure: PutawayFailurePolicy,
    /// `[damaged_goods]`.
    pub damaged_goods: DamagedGoodsPolicy,
    /// `[expired_inventory]`.
    pub expired_inventory: ExpiredInventoryPolicy,
    /// `[barcode_mismatch]`.
    pub barcode_mismatch: BarcodeMismatchPolicy,
    /// `[order_allocation_conflict]`.
    pub order_allocation_conflict: OrderAllocationConflictPolicy,
    /// `[sync_failure]`.
    pub sync_failure: SyncFailurePolicy,
    /// `[lot_serial_inconsistency]`.
    pub lot_serial_inconsistency: LotSerialPolicy,
    /// `[governance]`.
    pub governance: GovernancePolicy,
}

/// The sections an override block sets (`[overrides.<section>]`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DetectorOverrides {
    /// `[overrides.negative_on_hand]`.
    pub negative_on_hand: Option<NegativeOnHandOverride>,
    /// `[overrides.duplicate_pick]`.
    pub duplicate_pick: Option<DuplicatePickOverride>,
    /// `[overrides.receiving_variance]`.
    pub receiving_variance: Option<ReceivingVarianceOverride>,
    /// `[overrides.putaway_failure]`.
    pub putaway_failure: Option<PutawayFailureOverride>,
    /// `[overrides.damaged_goods]`.
    pub damaged_goods: Option<DamagedGoodsOverride>,
    /// `[overrides.expired_inventory]`.
    pub expired_inventory: Option<ExpiredInventoryOverride>,
    /// `[overrides.barcode_mismatch]`.
    pub barcode_mismatch: Option<BarcodeMismatchOverride>,
    /// `[overrides.order_allocation_conflict]`.
    pub order_allocation_conflict: Option<OrderAllocationConflictOverride>,
    /// `[overrides.sync_failure]`.
    pub sync_failure: Option<SyncFailureOverride>,
    /// `[overrides.lot_serial_inconsistency]`.
    pub lot_serial_inconsistency: Option<LotSerialOverride>,
    /// `[overrides.governance]`.
    pub governance: Option<GovernanceOverride>,
}

impl DetectorOverrides {
    /// True when the block sets no detector section.
    pub(super) fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Reads every detector section of the policy root (all of them, so every issue is reported).
pub(super) fn parse(root: &mut Section<'_>, issues: &mut Issues) -> Option<DetectorPolicies> {
    let mut read = |key| root.table(key, issues, true);
    let (noh, dp, rv) = (
        read(NegativeOnHandPolicy::KEY),
        read(DuplicatePickPolicy::KEY),
        read(ReceivingVariancePolicy::KEY),
    );
    let (pf, dg, ex) = (
        read(PutawayFailurePolicy::KEY),
        read(DamagedGoodsPolicy::KEY),
        read(ExpiredInventoryPolicy::KEY),
    );
    let bm = read(BarcodeMismatchPolicy::KEY);
    let oac = read(OrderAllocationConflictPolicy::KEY);
    let sf = read(SyncFailurePolicy::KEY);
    let ls = read(LotSerialPolicy::KEY);
    let gv = read(GovernancePolicy::KEY);
    let negative_on_hand = noh.and_then(|s| NegativeOnHandPolicy::parse(s, issues));
    let duplicate_pick = dp.and_then(|s| DuplicatePickPolicy::parse(s, issues));
    let receiving_variance = rv.and_then(|s| ReceivingVariancePolicy::parse(s, issues));
    let putaway_failure = pf.and_then(|s| PutawayFailurePolicy::parse(s, issues));
    let damaged_goods = dg.and_then(|s| DamagedGoodsPolicy::parse(s, issues));
    let expired_inventory = ex.and_then(|s| ExpiredInventoryPolicy::parse(s, issues));
    let barcode_mismatch = bm.and_then(|s| BarcodeMismatchPolicy::parse(s, issues));
    let order_allocation_conflict =
        oac.and_then(|s| OrderAllocationConflictPolicy::parse(s, issues));
    let sync_failure = sf.and_then(|s| SyncFailurePolicy::parse(s, issues));
    let lot_serial_inconsistency = ls.and_then(|s| LotSerialPolicy::parse(s, issues));
    let governance = gv.and_then(|s| GovernancePolicy::parse(s, issues));
    Some(DetectorPolicies {
        negative_on_hand: negative_on_hand?,
        duplicate_pick: duplicate_pick?,
        receiving_variance: receiving_variance?,
        putaway_failure: putaway_failure?,
        damaged_goods: damaged_goods?,
        expired_inventory: expired_inventory?,
        barcode_mismatch: barcode_mismatch?,
        order_allocation_conflict: order_allocation_conflict?,
        sync_failure: sync_failure?,
        lot_serial_inconsistency: lot_serial_inconsistency?,
        governance: governance?,
    })
}

/// Reads the detector sections of one override block.
pub(super) fn parse_overrides(block: &mut Section<'_>, issues: &mut Issues) -> DetectorOverrides {
    let mut read = |key| block.table(key, issues, false);
    let noh = read(NegativeOnHandPolicy::KEY);
    let dp = read(DuplicatePickPolicy::KEY);
    let rv = read(ReceivingVariancePolicy::KEY);
    let pf = read(PutawayFailurePolicy::KEY);
    let dg = read(DamagedGoodsPolicy::KEY);
    let ex = read(ExpiredInventoryPolicy::KEY);
    let bm = read(BarcodeMismatchPolicy::KEY);
    let oac = read(OrderAllocationConflictPolicy::KEY);
    let sf = read(SyncFailurePolicy::KEY);
    let ls = read(LotSerialPolicy::KEY);
    let gv = read(GovernancePolicy::KEY);
    DetectorOverrides {
        negative_on_hand: noh.map(|s| NegativeOnHandOverride::parse(s, issues)),
        duplicate_pick: dp.map(|s| DuplicatePickOverride::parse(s, issues)),
        receiving_variance: rv.map(|s| ReceivingVarianceOverride::parse(s, issues)),
        putaway_failure: pf.map(|s| PutawayFailureOverride::parse(s, issues)),
        damaged_goods: dg.map(|s| DamagedGoodsOverride::parse(s, issues)),
        expired_inventory: ex.map(|s| ExpiredInventoryOverride::parse(s, issues)),
        barcode_mismatch: bm.map(|s| BarcodeMismatchOverride::parse(s, issues)),
        order_allocation_conflict: oac.map(|s| OrderAllocationConflictOverride::parse(s, issues)),
        sync_failure: sf.map(|s| SyncFailureOverride::parse(s, issues)),
        lot_serial_inconsistency: ls.map(|s| LotSerialOverride::parse(s, issues)),
        governance: gv.map(|s| GovernanceOverride::parse(s, issues)),
    }
}
