//! The versioned detection policy: thresholds, routing, severities, SLAs and approval tiers.
//!
//! A policy is a TOML file ([`Policy::from_toml_str`]); the default one is embedded from
//! `processors/detect/policy/default.toml` ([`Policy::default_policy`]), which documents every
//! key. A policy is validated as a whole: unknown keys, wrong types and out-of-range values are
//! all reported at once, each with its key path. Every record the detectors emit carries the
//! policy's `version`, so a decision can always be traced to the thresholds it ran with.
//!
//! # Overrides and their precedence
//!
//! `[[overrides]]` blocks match on any of `tenant`, `site`, `class` (effective ABC class) and
//! `sku`; each may set any cycle-count threshold (`[overrides.cycle_count]`) and any key of
//! the other detectors' sections (`[overrides.negative_on_hand]`, ...; see the sections
//! module). For every threshold separately, the value
//! comes from the most specific matching block that sets it, else from the class defaults.
//! Specificity ranks the criteria `sku` > `class` > `site` > `tenant`: a block naming the SKU
//! beats any block that does not, then one naming the class, and so on (the set of criteria is
//! compared as a bit mask sku=8, class=4, site=2, tenant=1). Between equally specific blocks,
//! the later one in the file wins.

mod parse;
mod reader;
mod sections;

use std::collections::BTreeMap;

use invex_model::{OwnerTeam, RootCauseCategory};

pub use parse::{PolicyError, PolicyIssue};
pub use sections::{
    BarcodeMismatchOverride, BarcodeMismatchPolicy, DamagedGoodsOverride, DamagedGoodsPolicy,
    DetectorOverrides, DetectorPolicies, DuplicatePickOverride, DuplicatePickPolicy,
    ExpiredInventoryOverride, ExpiredInventoryPolicy, GovernanceOverride, GovernancePolicy,
    LotSerialOverride, LotSerialPolicy, NegativeOnHandOverride, NegativeOnHandPolicy,
    OrderAllocationConflictOverride, OrderAllocationConflictPolicy, PutawayFailureOverride,
    PutawayFailurePolicy, ReceivingVarianceOverride, ReceivingVariancePolicy, SyncFailureOverride,
    SyncFailurePolicy,
};

/// The embedded default policy.
pub(crate) const DEFAULT_POLICY: &str = include_str!("../../policy/default.toml");

/// A validated detection policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    version: String,
    cycle_count: CycleCountPolicy,
    /// Tiers with a `max_value`, ascending.
    bounded_tiers: Vec<ApprovalTier>,
    /// The unbounded last tier (a field of its own, so there always is one).
    top_tier: ApprovalTier,
    routing: BTreeMap<RootCauseCategory, OwnerTeam>,
    detectors: DetectorPolicies,
    overrides: Vec<Override>,
}

/// Cycle-count settings (`[cycle_count]`).
#[derive(Debug, Clone, PartialEq)]
pub struct CycleCountPolicy {
    /// Tolerance per ABC class (`[cycle_count.tolerance.<class>]`).
    pub tolerances: BTreeMap<String, Tolerance>,
    /// Class used when an item has no master data or a class without tolerances.
    pub default_class: String,
    /// Recounts requested before an approval is asked for.
    pub max_recounts: u32,
    /// Delay after a count's event time before it is evaluated (late movements), in ms.
    pub evaluation_grace_ms: i64,
    /// Window before a count in which movements at the location point to a process error.
    pub root_cause_window_hours: i64,
    /// How long movements are kept (event time) before they are folded into the baseline.
    pub history_hours: i64,
    /// How long a resolved exception is remembered (late decisions are audited against it).
    pub resolved_retention_hours: i64,
    /// Due offset of a recount task after the count (or decision) that asked for it.
    pub recount_due_minutes: i64,
    /// Group that receives recount tasks.
    pub recount_target_group: String,
    /// Group that posts approved stock adjustments.
    pub adjustment_target_group: String,
    /// Reason code of an adjustment when the decision names none (EDIFACT 4499 `4`).
    pub adjustment_reason_code: String,
    /// Severity of a record accepted within tolerance.
    pub within_tolerance_severity: i32,
    /// Owner of a record accepted within tolerance (accuracy KPIs).
    pub within_tolerance_owner: OwnerTeam,
}

/// Tolerance of one ABC class: within when `|pct| <= pct` and `|value| <= value`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Quantity variance in percent of the expected quantity.
    pub pct: f64,
    /// Variance value in the item's currency.
    pub value: f64,
}

/// One approval tier (`[[approval_tiers]]`), ascending by `max_value`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalTier {
    /// Tier name (`SUPERVISOR`, ...), also the approver role.
    pub name: String,
    /// Highest absolute adjustment value this tier approves; `None` for the last tier.
    pub max_value: Option<f64>,
    /// Group asked to approve.
    pub approver_group: String,
    /// Severity of an exception whose value falls in this tier.
    pub severity: i32,
}

/// One override block (`[[overrides]]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// Name, recorded in audit details when the block applied.
    pub name: String,
    /// Tenant matched, if any.
    pub tenant: Option<String>,
    /// Site matched, if any.
    pub site: Option<String>,
    /// Effective ABC class matched, if any.
    pub class: Option<String>,
    /// SKU matched, if any.
    pub sku: Option<String>,
    /// Cycle-count thresholds set by the block (empty when it has no `cycle_count` table).
    pub cycle_count: CycleCountOverride,
    /// Thresholds of the other detectors set by the block.
    pub detectors: DetectorOverrides,
}

/// The settings of one detector section for one scope, overrides applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved<T> {
    /// The settings.
    pub settings: T,
    /// Effective ABC class the overrides were matched with.
    pub class: String,
    /// Names of the override blocks that set at least one value, in precedence order.
    pub overrides: Vec<String>,
}

/// Cycle-count thresholds an override may set (`[overrides.cycle_count]`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CycleCountOverride {
    /// Replaces the class tolerance percentage.
    pub tolerance_pct: Option<f64>,
    /// Replaces the class tolerance value.
    pub tolerance_value: Option<f64>,
    /// Replaces `max_recounts`.
    pub max_recounts: Option<u32>,
    /// Replaces `evaluation_grace_ms`.
    pub evaluation_grace_ms: Option<i64>,
    /// Replaces `root_cause_window_hours`.
    pub root_cause_window_hours: Option<i64>,
    /// Replaces `recount_due_minutes`.
    pub recount_due_minutes: Option<i64>,
}

/// What a threshold lookup is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope<'a> {
    /// Tenant.
    pub tenant: &'a str,
    /// Site.
    pub site: &'a str,
    /// ABC class from the item master, if known.
    pub class: Option<&'a str>,
    /// SKU.
    pub sku: &'a str,
}

/// The cycle-count thresholds in force for one scope, overrides applied.
#[derive(Debug, Clone, PartialEq)]
pub struct CycleCountThresholds {
    /// Effective ABC class (the default class when unknown).
    pub class: String,
    /// Tolerance in percent.
    pub tolerance_pct: f64,
    /// Tolerance value.
    pub tolerance_value: f64,
    /// Recounts before approval.
    pub max_recounts: u32,
    /// Evaluation grace, ms.
    pub evaluation_grace_ms: i64,
    /// Root-cause window, ms.
    pub root_cause_window_ms: i64,
    /// Recount due offset, ms.
    pub recount_due_ms: i64,
    /// Names of the override blocks that set at least one value, in precedence order.
    pub overrides: Vec<String>,
}

const HOUR_MS: i64 = 3_600_000;
const MINUTE_MS: i64 = 60_000;

impl Policy {
    /// Parses and validates a policy, reporting every error with its key path.
    pub fn from_toml_str(text: &str) -> Result<Self, PolicyError> {
        parse::parse(text)
    }

    /// The embedded default policy (`processors/detect/policy/default.toml`).
    pub fn default_policy() -> Self {
        // The embedded file is part of the build, not input data; the unit test
        // `default_policy_is_valid` proves it parses, so this branch is unreachable.
        Self::from_toml_str(DEFAULT_POLICY).expect("embedded default policy is valid")
    }

    /// The policy version recorded on every output.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Cycle-count settings without overrides.
    pub fn cycle_count(&self) -> &CycleCountPolicy {
        &self.cycle_count
    }

    /// Approval tiers, ascending; the last one is unbounded.
    pub fn approval_tiers(&self) -> impl Iterator<Item = &ApprovalTier> {
        self.bounded_tiers.iter().chain(std::iter::once(&self.top_tier))
    }

    /// Override blocks, in file order.
    pub fn overrides(&self) -> &[Override] {
        &self.overrides
    }

    /// The team that owns exceptions of a root-cause category.
    pub fn owner_for(&self, category: RootCauseCategory) -> OwnerTeam {
        self.routing.get(&category).copied().unwrap_or(OwnerTeam::InventoryControl)
    }

    /// The lowest tier whose `max_value` covers `|value|` (the last tier when none does).
    pub fn tier_for(&self, value: f64) -> &ApprovalTier {
        let magnitude = value.abs();
        let fits = |t: &&ApprovalTier| t.max_value.is_some_and(|max| magnitude <= max);
        self.bounded_tiers.iter().find(fits).unwrap_or(&self.top_tier)
    }

    /// The detector sections without overrides.
    pub fn detectors(&self) -> &DetectorPolicies {
        &self.detectors
    }

    /// NEGATIVE_ON_HAND settings for `scope`, overrides applied.
    pub fn negative_on_hand(&self, scope: &Scope<'_>) -> Resolved<NegativeOnHandPolicy> {
        let base = &self.detectors.negative_on_hand;
        self.resolve(scope, base, |o| o.negative_on_hand.as_ref(), NegativeOnHandPolicy::apply)
    }

    /// DUPLICATE_PICK settings for `scope`, overrides applied.
    pub fn duplicate_pick(&self, scope: &Scope<'_>) -> Resolved<DuplicatePickPolicy> {
        let base = &self.detectors.duplicate_pick;
        self.resolve(scope, base, |o| o.duplicate_pick.as_ref(), DuplicatePickPolicy::apply)
    }

    /// RECEIVING_VARIANCE settings for `scope`, overrides applied.
    pub fn receiving_variance(&self, scope: &Scope<'_>) -> Resolved<ReceivingVariancePolicy> {
        let base = &self.detectors.receiving_variance;
        self.resolve(scope, base, |o| o.receiving_variance.as_ref(), ReceivingVariancePolicy::apply)
    }

    /// PUTAWAY_FAILURE settings for `scope`, overrides applied.
    pub fn putaway_failure(&self, scope: &Scope<'_>) -> Resolved<PutawayFailurePolicy> {
        let base = &self.detectors.putaway_failure;
        self.resolve(scope, base, |o| o.putaway_failure.as_ref(), PutawayFailurePolicy::apply)
    }

    /// DAMAGED_GOODS settings for `scope`, overrides applied.
    pub fn damaged_goods(&self, scope: &Scope<'_>) -> Resolved<DamagedGoodsPolicy> {
        let base = &self.detectors.damaged_goods;
        self.resolve(scope, base, |o| o.damaged_goods.as_ref(), DamagedGoodsPolicy::apply)
    }

    /// EXPIRED_INVENTORY settings for `scope`, overrides applied.
    pub fn expired_inventory(&self, scope: &Scope<'_>) -> Resolved<ExpiredInventoryPolicy> {
        let base = &self.detectors.expired_inventory;
        self.resolve(scope, base, |o| o.expired_inventory.as_ref(), ExpiredInventoryPolicy::apply)
    }

    /// BARCODE_MISMATCH settings for `scope`, overrides applied.
    pub fn barcode_mismatch(&self, scope: &Scope<'_>) -> Resolved<BarcodeMismatchPolicy> {
        let base = &self.detectors.barcode_mismatch;
        self.resolve(scope, base, |o| o.barcode_mismatch.as_ref(), BarcodeMismatchPolicy::apply)
    }

    /// ORDER_ALLOCATION_CONFLICT settings for `scope`, overrides applied.
    pub fn order_allocation_conflict(
        &self,
        scope: &Scope<'_>,
    ) -> Resolved<OrderAllocationConflictPolicy> {
        let base = &self.detectors.order_allocation_conflict;
        let apply = OrderAllocationConflictPolicy::apply;
        self.resolve(scope, base, |o| o.order_allocation_conflict.as_ref(), apply)
    }

    /// SYNC_FAILURE settings for `scope`, overrides applied.
    pub fn sync_failure(&self, scope: &Scope<'_>) -> Resolved<SyncFailurePolicy> {
        let base = &self.detectors.sync_failure;
        self.resolve(scope, base, |o| o.sync_failure.as_ref(), SyncFailurePolicy::apply)
    }

    /// LOT_SERIAL_INCONSISTENCY settings for `scope`, overrides applied.
    pub fn lot_serial_inconsistency(&self, scope: &Scope<'_>) -> Resolved<LotSerialPolicy> {
        let base = &self.detectors.lot_serial_inconsistency;
        let apply = LotSerialPolicy::apply;
        self.resolve(scope, base, |o| o.lot_serial_inconsistency.as_ref(), apply)
    }

    /// Governance settings (SLAs, escalation, triage, approval gate) for `scope`, overrides
    /// applied.
    pub fn governance(&self, scope: &Scope<'_>) -> Resolved<GovernancePolicy> {
        let base = &self.detectors.governance;
        self.resolve(scope, base, |o| o.governance.as_ref(), GovernancePolicy::apply)
    }

    /// Where an approval tier ranks (0 = lowest); `None` for a role that is no tier.
    pub fn tier_rank(&self, role: &str) -> Option<usize> {
        self.approval_tiers().position(|t| t.name.eq_ignore_ascii_case(role.trim()))
    }

    /// Applies the matching overrides of one section to its base settings.
    fn resolve<T: Clone, O>(
        &self,
        scope: &Scope<'_>,
        base: &T,
        pick: impl Fn(&DetectorOverrides) -> Option<&O>,
        apply: impl Fn(&mut T, &O) -> bool,
    ) -> Resolved<T> {
        let class = self.effective_class(scope);
        let mut settings = base.clone();
        let mut names = Vec::new();
        for o in self.matching_overrides(scope, &class) {
            if pick(&o.detectors).is_some_and(|values| apply(&mut settings, values)) {
                names.push(o.name.clone());
            }
        }
        Resolved { settings, class, overrides: names }
    }

    /// The scope's ABC class when the policy knows it, else the default class.
    fn effective_class(&self, scope: &Scope<'_>) -> String {
        let cc = &self.cycle_count;
        scope
            .class
            .map(str::trim)
            .map(str::to_ascii_uppercase)
            .filter(|c| cc.tolerances.contains_key(c))
            .unwrap_or_else(|| cc.default_class.clone())
    }

    /// The cycle-count thresholds for `scope`, overrides applied (see the module docs).
    pub fn cycle_count_thresholds(&self, scope: &Scope<'_>) -> CycleCountThresholds {
        let cc = &self.cycle_count;
        let class = self.effective_class(scope);
        let tolerance =
            cc.tolerances.get(&class).copied().unwrap_or(Tolerance { pct: 0.0, value: 0.0 });
        let mut t = CycleCountThresholds {
            tolerance_pct: tolerance.pct,
            tolerance_value: tolerance.value,
            max_recounts: cc.max_recounts,
            evaluation_grace_ms: cc.evaluation_grace_ms,
            root_cause_window_ms: cc.root_cause_window_hours * HOUR_MS,
            recount_due_ms: cc.recount_due_minutes * MINUTE_MS,
            overrides: Vec::new(),
            class,
        };
        for o in self.matching_overrides(scope, &t.class) {
            if apply(&mut t, &o.cycle_count) {
                t.overrides.push(o.name.clone());
            }
        }
        t
    }

    /// Matching overrides, least specific first, so that later ones take precedence.
    fn matching_overrides<'a>(&'a self, scope: &Scope<'_>, class: &str) -> Vec<&'a Override> {
        let mut matching: Vec<(u8, usize, &Override)> = self
            .overrides
            .iter()
            .enumerate()
            .filter(|(_, o)| o.matches(scope, class))
            .map(|(i, o)| (o.specificity(), i, o))
            .collect();
        matching.sort_by_key(|&(specificity, index, _)| (specificity, index));
        matching.into_iter().map(|(_, _, o)| o).collect()
    }
}

impl Override {
    fn matches(&self, scope: &Scope<'_>, class: &str) -> bool {
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        eq(&self.tenant, scope.tenant)
            && eq(&self.site, scope.site)
            && eq(&self.class, class)
            && eq(&self.sku, scope.sku)
    }

    fn specificity(&self) -> u8 {
        u8::from(self.sku.is_some()) << 3
            | u8::from(self.class.is_some()) << 2
            | u8::from(self.site.is_some()) << 1
            | u8::from(self.tenant.is_some())
    }
}

/// Applies the values an override sets; true when it set at least one.
fn apply(t: &mut CycleCountThresholds, o: &CycleCountOverride) -> bool {
    let mut changed = false;
    changed |= o.tolerance_pct.inspect(|&v| t.tolerance_pct = v).is_some();
    changed |= o.tolerance_value.inspect(|&v| t.tolerance_value = v).is_some();
    changed |= o.max_recounts.inspect(|&v| t.max_recounts = v).is_some();
    changed |= o.evaluation_grace_ms.inspect(|&v| t.evaluation_grace_ms = v).is_some();
    changed |=
        o.root_cause_window_hours.inspect(|&v| t.root_cause_window_ms = v * HOUR_MS).is_some();
    changed |= o.recount_due_minutes.inspect(|&v| t.recount_due_ms = v * MINUTE_MS).is_some();
    changed
}

#[cfg(test)]
mod tests;
