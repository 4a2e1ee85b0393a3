//! Per-store TTLs seen from the detectors: for every detector with a store that expires, an
//! entry older than the TTL (in stream time) no longer influences detection, and one younger
//! than the TTL still does. Each case is a scenario run straight through and again with a
//! restore from the changelog after every step (`Scenario::check`), with wall-clock advances
//! that run the purge in between.

use invex_detect::testkit::scenario::Scenario;

/// The last step of a case whose old entry no longer counts: nothing is emitted.
const NOTHING: &str = "[[step]]\nexpect = {}\n";

/// The last step of a case whose entry still counts: `exception` (its fields) opens and is
/// triaged, asking for one `action`.
fn opened(exception: &str, action: &str) -> String {
    format!(
        "[[step]]\nexpect.exceptions = [{{ {exception} }}]\n\
         expect.actions = [{{ type = \"{action}\" }}]\n\
         expect.audit = [\"OPENED\", \"TRIAGED\"]\n"
    )
}

/// Runs the scenario `base` followed by `tail`, with `{AT}` replaced by `at`.
fn check(name: &str, base: &str, tail: &str, at: &str) {
    let text = format!("{base}{tail}").replace("{AT}", at);
    let scenario = Scenario::parse(name, &text).unwrap_or_else(|e| panic!("{name} at {at}: {e}"));
    scenario.check().unwrap_or_else(|e| panic!("{name} at {at}: {e}"));
}

const PICK_LINE: &str = r#"
[[step]]
pipe = "erp.book"
at = 0
location_id = "L1"
quantity = 100

[[step]]
pipe = "wh.pick"
at = 10
pick_task_id = "T1"
order_id = "O1"
location_id = "L1"
qty_picked = 5

[[step]]
pipe = "wh.pick"
at = "{AT}"
pick_task_id = "T1"
order_id = "O1"
location_id = "L1"
qty_picked = 4
"#;

#[test]
fn a_pick_line_confirmed_again_after_its_ttl_is_a_new_line() {
    check(
        "dp.line expired",
        PICK_LINE,
        r#"
[[step]]
expect = {}

[[step]]
advance_wall_clock = "1s"

[[step]]
expect.stores = { "dp.line" = 1 }
"#,
        "31d",
    );
}

#[test]
fn a_pick_line_confirmed_again_within_its_ttl_is_a_duplicate() {
    check(
        "dp.line live",
        PICK_LINE,
        &opened(
            r#"type = "DUPLICATE_PICK", subtype = "DOUBLE_CONFIRMATION", observed = 9"#,
            "RECOUNT_TASK",
        ),
        "29d",
    );
}

const ALLOCATION_PICK: &str = r#"
[[step]]
pipe = "oms.allocation"
at = 0
allocation_id = "A1"
qty_allocated = 4

[[step]]
advance_wall_clock = "1s"

[[step]]
pipe = "wh.pick"
at = "{AT}"
allocation_id = "A1"
qty_picked = 6
"#;

#[test]
fn a_pick_against_an_allocation_quiet_for_longer_than_its_ttl_counts_against_nothing() {
    check("dp.alloc expired", ALLOCATION_PICK, NOTHING, "91d");
}

#[test]
fn a_pick_against_an_allocation_within_its_ttl_is_checked_against_it() {
    check(
        "dp.alloc live",
        ALLOCATION_PICK,
        &opened(
            r#"type = "DUPLICATE_PICK", subtype = "OVER_ALLOCATION", expected = 4, observed = 6"#,
            "RECOUNT_TASK",
        ),
        "89d",
    );
}

/// No-reads at minutes 0 and 4, stream time moved on by a scan elsewhere, then a no-read of
/// minute 7 arrives late: the third of the window only if the first two are still live.
const NO_READS: &str = r#"
[[step]]
pipe = "wh.scan"
at = 0
scan_result = "NO_READ"

[[step]]
pipe = "wh.scan"
at = 4
scan_result = "NO_READ"

[[step]]
pipe = "wh.scan"
at = "{AT}"
location_id = "L9"

[[step]]
advance_wall_clock = "1s"

[[step]]
pipe = "wh.scan"
at = 7
scan_result = "NO_READ"
"#;

#[test]
fn no_reads_older_than_their_ttl_no_longer_count() {
    check("bm.noread expired", NO_READS, NOTHING, "8d");
}

#[test]
fn no_reads_within_their_ttl_still_count() {
    check(
        "bm.noread live",
        NO_READS,
        &opened(
            r#"type = "BARCODE_MISMATCH", subtype = "REPEATED_NO_READ", observed = 3"#,
            "QUALITY_REVIEW",
        ),
        "6d",
    );
}

/// A goods issue of 4 the ERP never acknowledges (ACK_MISSING at minute 25), then an ERP
/// snapshot that has not booked it: explained while the message counts as in flight.
const UNACKNOWLEDGED: &str = r#"
[[step]]
pipe = "erp.book"
at = 0
location_id = "L1"
quantity = 100

[[step]]
pipe = "integration.ack"
at = 10
message_id = "GI-1"
quantity = -4
status = "SENT"

[[step]]
pipe = "wh.pick"
at = 30
location_id = "L1"
qty_picked = 4

[[step]]
expect.exceptions = [{ type = "SYNC_FAILURE", subtype = "ACK_MISSING" }]
expect.counts = { actions = 1, audit = 2 }

[[step]]
pipe = "erp.book"
at = "{AT}"
location_id = "L1"
quantity = 100
"#;

#[test]
fn a_message_unacknowledged_for_longer_than_its_ttl_no_longer_explains_a_divergence() {
    check(
        "sf.msg expired",
        UNACKNOWLEDGED,
        r#"
[[step]]
expect.exceptions = [{ type = "SYNC_FAILURE", subtype = "BOOK_DIVERGENCE", expected = 96, observed = 100 }]
expect.counts = { actions = 1, audit = 2 }
"#,
        "31d",
    );
}

#[test]
fn a_message_in_flight_within_its_ttl_explains_a_divergence() {
    check("sf.msg live", UNACKNOWLEDGED, NOTHING, "29d");
}

/// An open allocation of 10 at L1, untouched; a pick takes the book from 100 to 5.
const OPEN_ALLOCATION: &str = r#"
[[step]]
pipe = "erp.book"
at = 0
location_id = "L1"
quantity = 100

[[step]]
pipe = "oms.allocation"
at = 1
allocation_id = "A1"
location_id = "L1"
qty_allocated = 10

[[step]]
expect = {}

[[step]]
pipe = "wh.pick"
at = "{AT}"
location_id = "L1"
qty_picked = 95
"#;

#[test]
fn an_allocation_quiet_for_longer_than_its_ttl_holds_nothing() {
    check("oac.alloc expired", OPEN_ALLOCATION, NOTHING, "401d");
}

#[test]
fn an_allocation_within_its_ttl_still_holds_stock() {
    check(
        "oac.alloc live",
        OPEN_ALLOCATION,
        r#"
[[step]]
expect.exceptions = [{ type = "ORDER_ALLOCATION_CONFLICT", subtype = "OVER_ALLOCATED", expected = 5, observed = 10 }]
expect.counts = { actions = 1, audit = 2 }
"#,
        "399d",
    );
}

/// No purge runs between the two sightings: the first is hidden, not deleted.
const SERIAL: &str = r#"
[[step]]
pipe = "wh.scan"
at = 0
serial = "SN-1"
location_id = "L1"

[[step]]
pipe = "wh.scan"
at = "{AT}"
serial = "SN-1"
location_id = "L2"
"#;

#[test]
fn a_serial_unseen_for_longer_than_its_ttl_starts_a_new_history() {
    check("ls.serial expired", SERIAL, NOTHING, "366d");
}

#[test]
fn a_serial_seen_within_its_ttl_at_a_second_location_is_inconsistent() {
    check(
        "ls.serial live",
        SERIAL,
        &opened(
            r#"type = "LOT_SERIAL_INCONSISTENCY", subtype = "SERIAL_TWO_LOCATIONS""#,
            "QUALITY_REVIEW",
        ),
        "364d",
    );
}

/// A serial seen at DC1; stream time moves on by a scan elsewhere and the purge runs; then
/// DC2 sees the serial (the cross-site check of the serial-keyed task).
const SERIAL_ACROSS_SITES: &str = r#"
[[step]]
pipe = "wh.scan"
at = 0
serial = "SN-1"
location_id = "L1"

[[step]]
pipe = "wh.scan"
at = "{AT}"
location_id = "L9"

[[step]]
advance_wall_clock = "1s"

[[step]]
pipe = "wh.scan"
at = "{AT}"
serial = "SN-1"
location_id = "L2"
header = { site_id = "DC2" }
"#;

#[test]
fn a_serial_no_site_saw_for_longer_than_its_ttl_starts_a_new_history_across_sites() {
    check("ls.xsite expired", SERIAL_ACROSS_SITES, NOTHING, "366d");
}

#[test]
fn a_serial_seen_within_its_ttl_at_a_second_site_is_inconsistent() {
    check(
        "ls.xsite live",
        SERIAL_ACROSS_SITES,
        &opened(
            r#"type = "LOT_SERIAL_INCONSISTENCY", subtype = "SERIAL_TWO_SITES", site = "DC2""#,
            "QUALITY_REVIEW",
        ),
        "364d",
    );
}

/// 30 received at the dock miss the SLA (PF-001, 30 due); 5 more arrive later and miss it too.
const DOCK: &str = r#"
[[step]]
pipe = "wh.receipt"
at = 0
qty_accepted = 30

[[step]]
pipe = "wh.scan"
at = 240

[[step]]
expect.exceptions = [{ name = "P", type = "PUTAWAY_FAILURE", rule = "PF-001", expected = 30 }]
expect.counts = { actions = 1, audit = 2 }

[[step]]
pipe = "wh.receipt"
at = "{AT}"
qty_accepted = 5

[[step]]
advance_wall_clock = "1s"

[[step]]
pipe = "wh.scan"
at = "{AT}"
location_id = "L9"
"#;

#[test]
fn stock_waiting_at_a_dock_quiet_for_longer_than_its_ttl_is_forgotten() {
    // The second receipt's SLA falls due 240 minutes after it (days 31 + 240 minutes).
    let old = DOCK.replace("at = \"{AT}\"\nlocation_id", "at = 44880\nlocation_id");
    check(
        "pf.dock expired",
        &old,
        r#"
[[step]]
expect.exceptions = [{ name = "P", rule = "PF-001", expected = 5 }]
expect.counts = { actions = 0, audit = 1 }
"#,
        "31d",
    );
}

#[test]
fn stock_waiting_at_a_dock_within_its_ttl_still_counts() {
    let young = DOCK.replace("at = \"{AT}\"\nlocation_id", "at = 42000\nlocation_id");
    check(
        "pf.dock live",
        &young,
        r#"
[[step]]
expect.exceptions = [{ name = "P", rule = "PF-001", expected = 35 }]
expect.counts = { actions = 0, audit = 1 }
"#,
        "29d",
    );
}
