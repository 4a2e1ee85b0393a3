use super::*;

fn scope<'a>(site: &'a str, class: Option<&'a str>, sku: &'a str) -> Scope<'a> {
    Scope { tenant: "t1", site, class, sku }
}

fn issues(text: &str) -> Vec<String> {
    match Policy::from_toml_str(text) {
        Err(PolicyError::Invalid(list)) => list.into_iter().map(|i| i.to_string()).collect(),
        other => panic!("expected validation issues, got {other:?}"),
    }
}

fn with_overrides(extra: &str) -> Policy {
    Policy::from_toml_str(&format!("{DEFAULT_POLICY}\n{extra}")).unwrap()
}

#[test]
fn default_policy_is_valid() {
    let policy = Policy::default_policy();
    assert_eq!(policy.version(), "2026.1-default");
    assert_eq!(policy.cycle_count().max_recounts, 1);
    assert_eq!(policy.cycle_count().evaluation_grace_ms, 2000);
    assert_eq!(policy.owner_for(RootCauseCategory::SystemSync), OwnerTeam::ItIntegration);
    assert_eq!(policy.owner_for(RootCauseCategory::Process), OwnerTeam::Ops);
    assert_eq!(policy.owner_for(RootCauseCategory::Unknown), OwnerTeam::InventoryControl);
    let tiers: Vec<_> = policy.approval_tiers().map(|t| (t.name.as_str(), t.max_value)).collect();
    assert_eq!(
        tiers,
        vec![
            ("SUPERVISOR", Some(1000.0)),
            ("INVENTORY_MANAGER", Some(10_000.0)),
            ("FINANCE_CONTROLLER", None)
        ]
    );
}

#[test]
fn class_tolerances_and_fallback_class() {
    let policy = Policy::default_policy();
    let a = policy.cycle_count_thresholds(&scope("DC1", Some("a"), "S"));
    assert_eq!((a.class.as_str(), a.tolerance_pct, a.tolerance_value), ("A", 1.0, 100.0));
    let b = policy.cycle_count_thresholds(&scope("DC1", Some("B"), "S"));
    assert_eq!(b.tolerance_pct, 3.0);
    let unknown = policy.cycle_count_thresholds(&scope("DC1", Some("Z"), "S"));
    assert_eq!((unknown.class.as_str(), unknown.tolerance_pct), ("C", 5.0));
    let none = policy.cycle_count_thresholds(&scope("DC1", None, "S"));
    assert_eq!(none.class, "C");
    assert_eq!(none.root_cause_window_ms, 24 * 3_600_000);
    assert!(none.overrides.is_empty());
}

#[test]
fn tiers_by_absolute_value() {
    let policy = Policy::default_policy();
    assert_eq!(policy.tier_for(-1000.0).name, "SUPERVISOR");
    assert_eq!(policy.tier_for(1000.01).name, "INVENTORY_MANAGER");
    assert_eq!(policy.tier_for(10_000.0).name, "INVENTORY_MANAGER");
    assert_eq!(policy.tier_for(-50_000.0).name, "FINANCE_CONTROLLER");
}

#[test]
fn most_specific_override_wins_per_threshold() {
    let policy = with_overrides(
        r#"
[[overrides]]
name = "sku"
sku = "S1"
[overrides.cycle_count]
tolerance_pct = 0.1

[[overrides]]
name = "site"
site = "DC2"
[overrides.cycle_count]
tolerance_pct = 9.0
max_recounts = 3

[[overrides]]
name = "site-later"
site = "DC2"
[overrides.cycle_count]
max_recounts = 2
"#,
    );
    let t = policy.cycle_count_thresholds(&scope("DC2", Some("C"), "S1"));
    assert_eq!(t.tolerance_pct, 0.1, "sku beats site even though the site block comes later");
    assert_eq!(t.max_recounts, 2, "equally specific: the later block wins");
    assert_eq!(t.tolerance_value, 100.0, "unset thresholds keep the class value");
    assert_eq!(t.overrides, vec!["site", "site-later", "sku"]);
    let other = policy.cycle_count_thresholds(&scope("DC1", Some("C"), "S2"));
    assert_eq!((other.tolerance_pct, other.max_recounts), (5.0, 1));
}

#[test]
fn class_override_matches_the_effective_class() {
    let policy = with_overrides(
        "[[overrides]]\nname = \"c\"\nclass = \"c\"\n[overrides.cycle_count]\nrecount_due_minutes = 30\n",
    );
    let t = policy.cycle_count_thresholds(&scope("DC1", None, "S"));
    assert_eq!(t.recount_due_ms, 30 * 60_000);
}

#[test]
fn every_issue_is_reported_with_its_path() {
    let text = DEFAULT_POLICY
        .replace("max_recounts = 1", "max_recounts = -1\nsurprise = true")
        .replace("pct = 3.0", "pct = \"three\"")
        .replace("UNKNOWN = \"INVENTORY_CONTROL\"", "UNKNOWN = \"NOBODY\"")
        .replace("max_value = 10000.0", "max_value = 500.0");
    let found = issues(&text);
    let expected = [
        "cycle_count.max_recounts: must be between 0 and 10, found -1",
        "cycle_count.surprise: unknown key",
        "cycle_count.tolerance.B.pct: expected a number, found string",
        "routing.UNKNOWN: unknown symbol \"NOBODY\"",
        "approval_tiers[1].max_value: must be greater than the previous tier's",
    ];
    for e in expected {
        assert!(found.iter().any(|f| f == e), "missing {e:?} in {found:#?}");
    }
    assert_eq!(found.len(), expected.len(), "{found:#?}");
}

#[test]
fn structural_issues_are_reported() {
    let found = issues("version = \"v\"\n[routing]\nPROCESS = \"OPS\"\nBOGUS = \"OPS\"\n");
    for e in [
        "cycle_count: missing required table",
        "approval_tiers: at least one tier is required",
        "routing.BOGUS: unknown key",
        "routing.SYSTEM_SYNC: missing routing for this root-cause category",
    ] {
        assert!(found.iter().any(|f| f == e), "missing {e:?} in {found:#?}");
    }
}

#[test]
fn override_blocks_are_validated() {
    let text = format!(
        "{DEFAULT_POLICY}\n[[overrides]]\nname = \"x\"\nclass = \"D\"\n[overrides.cycle_count]\n\
         root_cause_window_hours = 100\ntolerance = 1\n\n[[overrides]]\nname = \"y\"\n\
         [overrides.cycle_count]\nmax_recounts = 1\n"
    );
    let found = issues(&text);
    for e in [
        "overrides[0].class: unknown class \"D\"",
        "overrides[0].cycle_count.root_cause_window_hours: must be <= cycle_count.history_hours",
        "overrides[0].cycle_count.tolerance: unknown key",
        "overrides[1].name: an override needs tenant, site, class or sku",
    ] {
        assert!(found.iter().any(|f| f == e), "missing {e:?} in {found:#?}");
    }
}

#[test]
fn syntax_errors_are_their_own_class() {
    assert!(matches!(Policy::from_toml_str("version = "), Err(PolicyError::Syntax(_))));
}

#[test]
fn detector_sections_take_their_overrides() {
    let policy = with_overrides(
        r#"
[[overrides]]
name = "s1-noh"
sku = "S1"
[overrides.negative_on_hand]
severity = 1

[[overrides]]
name = "dc2-receiving"
site = "DC2"
[overrides.receiving_variance]
under_tolerance_pct = 12.5
[overrides.cycle_count]
max_recounts = 3
"#,
    );
    let s1 = policy.negative_on_hand(&scope("DC1", None, "S1"));
    assert_eq!((s1.settings.severity, s1.overrides.as_slice()), (1, &["s1-noh".to_owned()][..]));
    assert_eq!(policy.negative_on_hand(&scope("DC1", None, "S2")).settings.severity, 3);
    let dc2 = policy.receiving_variance(&scope("DC2", Some("a"), "S1"));
    assert_eq!((dc2.settings.under_tolerance_pct, dc2.class.as_str()), (12.5, "A"));
    assert_eq!(policy.cycle_count_thresholds(&scope("DC2", None, "S1")).max_recounts, 3);
    let d = policy.detectors();
    assert!(!d.duplicate_pick.allow_partial_confirmations);
    assert_eq!(d.putaway_failure.dock_to_stock_minutes, 240);
    assert_eq!(d.damaged_goods.carrier_fault_conditions, vec![invex_model::ConditionCode::Damaged]);
}

#[test]
fn detector_section_issues_are_reported() {
    let text = DEFAULT_POLICY
        .replace("allow_partial_confirmations = false", "allow_partial_confirmations = 1")
        .replace("inactivity_timeout_minutes = 120", "inactivity_timeout = 120")
        .replace(
            "carrier_fault_conditions = [\"DAMAGED\"]",
            "carrier_fault_conditions = [\"DENTED\"]",
        )
        .replace("[putaway_failure]", "[putaway_failure_x]");
    let text = format!(
        "{text}\n[[overrides]]\nname = \"x\"\nsite = \"DC1\"\n[overrides.damaged_goods]\n\n\
         [[overrides]]\nname = \"y\"\nsite = \"DC1\"\n"
    );
    let found = issues(&text);
    for e in [
        "duplicate_pick.allow_partial_confirmations: expected a boolean, found integer",
        "receiving_variance.inactivity_timeout_minutes: missing required key",
        "receiving_variance.inactivity_timeout: unknown key",
        "damaged_goods.carrier_fault_conditions: unknown symbol \"DENTED\"",
        "putaway_failure: missing required table",
        "putaway_failure_x: unknown key",
        "overrides[0].damaged_goods: an override must set at least one threshold",
        "overrides[1]: an override needs at least one section, e.g. [overrides.cycle_count]",
    ] {
        assert!(found.iter().any(|f| f == e), "missing {e:?} in {found:#?}");
    }
}

#[test]
fn the_cross_site_serial_check_is_on_by_default_and_overridable_per_site() {
    let policy = with_overrides(
        "[[overrides]]\nname = \"dc2\"\nsite = \"DC2\"\n\
         [overrides.lot_serial_inconsistency]\ncross_site_serials = false\n",
    );
    assert!(policy.lot_serial_inconsistency(&scope("DC1", None, "S1")).settings.cross_site_serials);
    let dc2 = policy.lot_serial_inconsistency(&scope("DC2", None, "S1"));
    assert!(!dc2.settings.cross_site_serials);
    assert_eq!(dc2.overrides, ["dc2"]);
    let text = DEFAULT_POLICY.replace("cross_site_serials = true", "cross_site_serials = \"yes\"");
    let found = issues(&text);
    let e = "lot_serial_inconsistency.cross_site_serials: expected a boolean, found string";
    assert!(found.iter().any(|f| f == e), "missing {e:?} in {found:#?}");
}
