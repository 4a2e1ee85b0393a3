//! TOML text to a validated [`Policy`], collecting every issue with its key path.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;

use invex_model::{OwnerTeam, RootCauseCategory};
use toml::Table;

use super::reader::{Issues, Section, int_in, non_negative, severity, string, symbol};
use super::{ApprovalTier, CycleCountOverride, CycleCountPolicy, Override, Policy, Tolerance};

/// Every root-cause category, each of which needs a routing entry.
const CATEGORIES: [RootCauseCategory; 7] = [
    RootCauseCategory::Process,
    RootCauseCategory::SystemSync,
    RootCauseCategory::Supplier,
    RootCauseCategory::Carrier,
    RootCauseCategory::MasterData,
    RootCauseCategory::Theft,
    RootCauseCategory::Unknown,
];

/// One problem in a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyIssue {
    /// Key path, e.g. `cycle_count.tolerance.A.pct` or `approval_tiers[1].max_value`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PolicyIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Why a policy was refused. Either way the caller must fix the file: nothing is retried.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    /// The text is not TOML.
    #[error("policy is not valid TOML: {0}")]
    Syntax(#[from] toml::de::Error),
    /// The TOML does not describe a valid policy; every issue is listed.
    #[error("policy has {} error(s):\n{}", .0.len(), list(.0))]
    Invalid(Vec<PolicyIssue>),
}

fn list(issues: &[PolicyIssue]) -> String {
    issues.iter().map(|i| format!("  {i}")).collect::<Vec<_>>().join("\n")
}

/// Parses and validates a whole policy.
pub(super) fn parse(text: &str) -> Result<Policy, PolicyError> {
    let table: Table = text.parse()?;
    let mut issues = Issues::default();
    let mut root = Section::root(&table);
    let version = root.required("version", &mut issues, string);
    let cycle_count =
        root.table("cycle_count", &mut issues, true).and_then(|s| cycle_count(s, &mut issues));
    let approval_tiers = tiers(root.array("approval_tiers", &mut issues), &mut issues);
    let routing = root.table("routing", &mut issues, true).map(|s| routing(s, &mut issues));
    let detectors = super::sections::parse(&mut root, &mut issues);
    let override_sections = root.array("overrides", &mut issues);
    let overrides: Vec<Override> =
        override_sections.into_iter().filter_map(|s| override_block(s, &mut issues)).collect();
    root.finish(&mut issues);
    if let Some(cc) = &cycle_count {
        check_overrides(cc, &overrides, &mut issues);
    }
    let mut bounded_tiers = approval_tiers;
    let top_tier = bounded_tiers.pop().filter(|t| t.max_value.is_none());
    match (version, cycle_count, routing, top_tier, detectors, issues.0.is_empty()) {
        (
            Some(version),
            Some(cycle_count),
            Some(routing),
            Some(top_tier),
            Some(detectors),
            true,
        ) => Ok(Policy {
            version,
            cycle_count,
            bounded_tiers,
            top_tier,
            routing,
            detectors,
            overrides,
        }),
        _ => Err(PolicyError::Invalid(issues.0)),
    }
}

fn cycle_count(mut s: Section<'_>, issues: &mut Issues) -> Option<CycleCountPolicy> {
    let tolerances = s.table("tolerance", issues, true).map(|t| tolerances(t, issues));
    let default_class = s.required("default_class", issues, string).map(|c| c.to_uppercase());
    let int = |s: &mut Section<'_>, key, issues: &mut Issues, min, max| {
        s.required(key, issues, int_in(min, max))
    };
    let max_recounts = int(&mut s, "max_recounts", issues, 0, 10);
    let grace = int(&mut s, "evaluation_grace_ms", issues, 0, 86_400_000);
    let window = int(&mut s, "root_cause_window_hours", issues, 0, 720);
    let history = int(&mut s, "history_hours", issues, 1, 2_160);
    let retention = int(&mut s, "resolved_retention_hours", issues, 1, 8_760);
    let recount_due = int(&mut s, "recount_due_minutes", issues, 1, 10_080);
    let recount_group = s.required("recount_target_group", issues, string);
    let adjustment_group = s.required("adjustment_target_group", issues, string);
    let reason = s.required("adjustment_reason_code", issues, string);
    let wt_severity = s.required("within_tolerance_severity", issues, severity);
    let wt_owner = s.required("within_tolerance_owner", issues, symbol::<OwnerTeam>);
    let path = s.path_of("default_class");
    s.finish(issues);
    let (tolerances, default_class) = (tolerances?, default_class?);
    if !tolerances.contains_key(&default_class) {
        issues.push(path, format!("class {default_class:?} has no [tolerance] table"));
    }
    if let (Some(w), Some(h)) = (window, history)
        && h < w
    {
        issues.push("cycle_count.history_hours", "must be >= root_cause_window_hours");
    }
    Some(CycleCountPolicy {
        tolerances,
        default_class,
        max_recounts: u32::try_from(max_recounts?).ok()?,
        evaluation_grace_ms: grace?,
        root_cause_window_hours: window?,
        history_hours: history?,
        resolved_retention_hours: retention?,
        recount_due_minutes: recount_due?,
        recount_target_group: recount_group?,
        adjustment_target_group: adjustment_group?,
        adjustment_reason_code: reason?,
        within_tolerance_severity: wt_severity?,
        within_tolerance_owner: wt_owner?,
    })
}

fn tolerances(mut s: Section<'_>, issues: &mut Issues) -> BTreeMap<String, Tolerance> {
    let mut out = BTreeMap::new();
    for class in s.keys() {
        let Some(mut t) = s.table(class, issues, true) else { continue };
        let pct = t.required("pct", issues, non_negative);
        let value = t.required("value", issues, non_negative);
        t.finish(issues);
        let name = class.trim().to_uppercase();
        match (out.entry(name), pct, value) {
            (Entry::Occupied(_), _, _) => {
                issues.push(s.path_of(class), "class given twice (names are case-insensitive)")
            }
            (Entry::Vacant(slot), Some(pct), Some(value)) => {
                slot.insert(Tolerance { pct, value });
            }
            _ => {}
        }
    }
    if out.is_empty() {
        issues.push(s.path(), "at least one class tolerance is required");
    }
    s.finish(issues);
    out
}

fn tiers(sections: Vec<Section<'_>>, issues: &mut Issues) -> Vec<ApprovalTier> {
    if sections.is_empty() {
        issues.push("approval_tiers", "at least one tier is required");
    }
    let last = sections.len().saturating_sub(1);
    let mut out: Vec<ApprovalTier> = Vec::new();
    for (i, mut s) in sections.into_iter().enumerate() {
        let name = s.required("name", issues, string);
        let max_value = s.optional("max_value", issues, non_negative);
        let group = s.required("approver_group", issues, string);
        let sev = s.required("severity", issues, severity);
        match (i == last, max_value, out.last().and_then(|t| t.max_value)) {
            (true, Some(_), _) => issues.push(s.path_of("max_value"), "the last tier is unbounded"),
            (false, None, _) => {
                issues.push(s.path_of("max_value"), "required except on the last tier")
            }
            (_, Some(v), Some(prev)) if v <= prev => {
                issues.push(s.path_of("max_value"), "must be greater than the previous tier's")
            }
            _ => {}
        }
        s.finish(issues);
        if let (Some(name), Some(approver_group), Some(severity)) = (name, group, sev) {
            out.push(ApprovalTier { name, max_value, approver_group, severity });
        }
    }
    out
}

fn routing(mut s: Section<'_>, issues: &mut Issues) -> BTreeMap<RootCauseCategory, OwnerTeam> {
    let mut out = BTreeMap::new();
    for key in s.keys() {
        let Ok(category) = symbol::<RootCauseCategory>(&toml::Value::String(key.to_owned())) else {
            continue; // reported as an unknown key by finish()
        };
        if let Some(team) = s.required(key, issues, symbol::<OwnerTeam>) {
            out.insert(category, team);
        }
    }
    for category in CATEGORIES {
        if !out.contains_key(&category) && !s.keys().iter().any(|k| is(k, category)) {
            let name = symbol_name(category);
            issues.push(s.path_of(&name), "missing routing for this root-cause category");
        }
    }
    s.finish(issues);
    out
}

fn is(key: &str, category: RootCauseCategory) -> bool {
    symbol::<RootCauseCategory>(&toml::Value::String(key.to_owned())) == Ok(category)
}

fn symbol_name(category: RootCauseCategory) -> String {
    serde_json::to_value(category)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn override_block(mut s: Section<'_>, issues: &mut Issues) -> Option<Override> {
    let name = s.required("name", issues, string);
    let tenant = s.optional("tenant", issues, string);
    let site = s.optional("site", issues, string);
    let class = s.optional("class", issues, string).map(|c| c.trim().to_uppercase());
    let sku = s.optional("sku", issues, string);
    if tenant.is_none() && site.is_none() && class.is_none() && sku.is_none() {
        issues.push(s.path_of("name"), "an override needs tenant, site, class or sku");
    }
    let cycle_count = s.table("cycle_count", issues, false).map(|t| override_values(t, issues));
    let detectors = super::sections::parse_overrides(&mut s, issues);
    if cycle_count.is_none() && detectors.is_empty() {
        issues
            .push(s.path(), "an override needs at least one section, e.g. [overrides.cycle_count]");
    }
    s.finish(issues);
    let cycle_count = cycle_count.unwrap_or_default();
    Some(Override { name: name?, tenant, site, class, sku, cycle_count, detectors })
}

fn override_values(mut s: Section<'_>, issues: &mut Issues) -> CycleCountOverride {
    let values = CycleCountOverride {
        tolerance_pct: s.optional("tolerance_pct", issues, non_negative),
        tolerance_value: s.optional("tolerance_value", issues, non_negative),
        max_recounts: s
            .optional("max_recounts", issues, int_in(0, 10))
            .and_then(|v| u32::try_from(v).ok()),
        evaluation_grace_ms: s.optional("evaluation_grace_ms", issues, int_in(0, 86_400_000)),
        root_cause_window_hours: s.optional("root_cause_window_hours", issues, int_in(0, 720)),
        recount_due_minutes: s.optional("recount_due_minutes", issues, int_in(1, 10_080)),
    };
    if values == CycleCountOverride::default() {
        issues.push(s.path(), "an override must set at least one threshold");
    }
    s.finish(issues);
    values
}

/// Cross-checks overrides against the base policy.
fn check_overrides(cc: &CycleCountPolicy, overrides: &[Override], issues: &mut Issues) {
    for (i, o) in overrides.iter().enumerate() {
        if let Some(class) = &o.class
            && !cc.tolerances.contains_key(class)
        {
            issues.push(format!("overrides[{i}].class"), format!("unknown class {class:?}"));
        }
        if o.cycle_count.root_cause_window_hours.is_some_and(|w| w > cc.history_hours) {
            issues.push(
                format!("overrides[{i}].cycle_count.root_cause_window_hours"),
                "must be <= cycle_count.history_hours",
            );
        }
    }
}
