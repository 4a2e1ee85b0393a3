use invex_model::{CountEvent, CountType, EpcisAction, EventHeader, SourceSystem};

use super::*;
use crate::store::MemStore;

const TENANT: &str = "t";

fn count(id: &str, time: i64, counted: i64) -> CanonicalEvent {
    CanonicalEvent::Count(CountEvent {
        header: EventHeader {
            event_id: id.into(),
            event_time: time,
            event_tz_offset: "+00:00".into(),
            record_time: time,
            tenant_id: TENANT.into(),
            site_id: "s".into(),
            source_system: SourceSystem::Wms,
            source_seq: 1,
            operator_id: None,
            device_id: None,
            action: EpcisAction::Observe,
            biz_step: "cycle_counting".into(),
            disposition: None,
            error_declaration: None,
        },
        count_doc_id: format!("doc-{id}"),
        count_type: CountType::Abc,
        count_seq: 1,
        blind: true,
        location_id: "L1".into(),
        sku: "k".into(),
        lot: None,
        counted_qty: counted,
        uom: "EA".into(),
        wms_book_qty_at_freeze: None,
        freeze_time: time,
        counter_id: None,
    })
}

struct Harness {
    engine: Engine,
    store: MemStore,
    out: Outputs,
}

impl Harness {
    fn new() -> Self {
        Self {
            engine: Engine::new(Arc::new(Policy::default_policy())),
            store: MemStore::with_stores(Engine::store_names()),
            out: Outputs::default(),
        }
    }

    fn process(&mut self, event: &CanonicalEvent, wall: i64) -> Result<Outcome, DetectError> {
        self.engine.process(event, wall, &mut self.store, &mut self.out)
    }
}

#[test]
fn detector_stores_are_declared() {
    let engine = Engine::new(Arc::new(Policy::default_policy()));
    for detector in &engine.detectors {
        for store in detector.stores() {
            assert!(Engine::store_names().contains(store), "{store} is not declared");
        }
    }
    let mut owners: Vec<&str> = engine.detectors.iter().map(|d| d.name()).collect();
    owners.sort_unstable();
    owners.dedup();
    assert_eq!(owners.len(), engine.detectors.len(), "detector names (timer owners) are unique");
    assert!(Engine::store_names().iter().all(|s| !s.as_str().is_empty()));
    let mut names: Vec<&str> = Engine::store_names().iter().map(|s| s.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Engine::store_names().len(), "store names are unique");
}

#[test]
fn every_store_has_one_owner() {
    let mut owned: Vec<StoreTtl> = selection::owned_stores().collect();
    owned.extend([META, SEEN, TIMERS].map(StoreTtl::none));
    owned.sort_by_key(|s| s.store);
    let mut all = ALL_STORES.to_vec();
    all.sort_by_key(|s| s.store);
    assert_eq!(owned, all, "every store is owned by one built-in detector or by the engine");
}

#[test]
fn duplicates_change_nothing() {
    let mut h = Harness::new();
    let first = h.process(&count("c1", 1_000, 5), 0).unwrap();
    assert!(!first.duplicate);
    let writes = h.store.changelog().len();
    let again = h.process(&count("c1", 1_000, 5), 0).unwrap();
    assert_eq!(again, Outcome { duplicate: true, ..Outcome::default() });
    assert_eq!(h.store.changelog().len(), writes, "a duplicate writes nothing");
}

#[test]
fn stream_time_is_the_highest_event_time_and_survives_restarts() {
    let mut h = Harness::new();
    h.process(&count("c1", 5_000, 0), 0).unwrap();
    let late = h.process(&count("c2", 4_000, 0), 0).unwrap();
    assert!(late.late);
    assert_eq!(h.engine.stream_time(), Some(5_000));
    let mut fresh = Engine::new(Arc::new(Policy::default_policy()));
    assert_eq!(fresh.stream_time(), None);
    fresh.on_wall_clock(0, &mut h.store, &mut h.out).unwrap();
    assert_eq!(fresh.stream_time(), Some(5_000));
}

#[test]
fn poison_is_refused_before_any_write() {
    let mut h = Harness::new();
    let err = h.process(&count("bad", 1_000, -1), 0).unwrap_err();
    assert!(err.is_poison(), "{err}");
    let mut no_id = count("", 1_000, 1);
    assert!(h.process(&no_id, 0).unwrap_err().is_poison());
    if let CanonicalEvent::Count(c) = &mut no_id {
        c.header.event_id = "ok".into();
        c.count_seq = 0;
    }
    assert!(h.process(&no_id, 0).unwrap_err().is_poison());
    assert!(h.store.changelog().is_empty());
}

#[test]
fn stream_timers_fire_on_later_events_and_wall_timers_on_the_clock() {
    let mut h = Harness::new();
    h.process(&count("c1", 10_000, 5), 100).unwrap();
    assert_eq!(h.store.entries(TIMERS).len(), 3, "purge, stream and wall timers");
    let quiet = h.engine.on_wall_clock(2_099, &mut h.store, &mut h.out).unwrap();
    assert_eq!(quiet.timers_fired, 0);
    let fired = h.engine.on_wall_clock(2_100, &mut h.store, &mut h.out).unwrap();
    assert_eq!(fired.timers_fired, 1);
    assert_eq!(fired.exceptions, 1, "counted 5 against an empty book");
    // The stream timer was cancelled (marked until due); the opened exception's two SLA
    // clocks are running.
    let live = h.store.entries(TIMERS).into_iter().filter(|(_, v)| v.is_empty()).count();
    assert_eq!(live, 3, "dedupe purge and two SLA timers");
}

#[test]
fn dedupe_buckets_are_purged_after_the_ttl() {
    let mut h = Harness::new();
    h.process(&count("c1", 0, 0), 0).unwrap();
    let later = dedupe::purge_due(0);
    h.process(&count("c2", later, 0), 0).unwrap();
    assert!(!dedupe::is_seen(&h.store, TENANT, "c1").unwrap(), "c1 was purged");
    assert!(dedupe::is_seen(&h.store, TENANT, "c2").unwrap());
}

#[test]
fn store_ttls_list_every_store_in_order() {
    let names: Vec<StoreName> = Engine::store_ttls().iter().map(|s| s.store).collect();
    assert_eq!(names, Engine::store_names());
    let ttl =
        |name: &str| Engine::store_ttls().iter().find(|s| s.store.as_str() == name).unwrap().ttl;
    for kept in
        ["engine.seen", "engine.meta", "engine.timers", "cc.ledger", "exc.case", "md.master"]
    {
        assert_eq!(ttl(kept), None, "{kept} must not expire");
    }
    assert_eq!(ttl("bm.noread"), Some(expiry::Ttl::days(7)));
    assert_eq!(ttl("ls.xsite"), Some(expiry::Ttl::days(365)));
}

#[test]
fn the_purge_runs_on_the_wall_clock_only_and_resumes_after_a_restart() {
    const NO_READ: StoreName = StoreName("bm.noread");
    let ttl = Engine::store_ttls().iter().find(|s| s.store == NO_READ).unwrap().ttl.unwrap();
    let mut h = Harness::new();
    h.process(&count("c1", 0, 0), 0).unwrap();
    let total = expiry::SWEEP_BATCH + 10;
    let value = [&expiry::stamp(0)[..], b"\x01[]"].concat();
    for i in 0..total {
        h.store.put(NO_READ, &u32::try_from(i).unwrap().to_be_bytes(), &value).unwrap();
    }
    h.process(&count("c2", ttl.millis(), 0), 0).unwrap();
    assert_eq!(h.store.entries(NO_READ).len(), total, "processing an event purges nothing");
    let first = h.engine.on_wall_clock(1, &mut h.store, &mut h.out).unwrap();
    assert_eq!(first.expired, expiry::SWEEP_BATCH, "one bounded batch per call");
    let mut restarted = Engine::new(Arc::new(Policy::default_policy()));
    let second = restarted.on_wall_clock(2, &mut h.store, &mut h.out).unwrap();
    assert_eq!(second.expired, 10, "the restarted engine resumes where the batch stopped");
    assert!(h.store.entries(NO_READ).is_empty());
    let tombstones =
        h.store.changelog().iter().filter(|e| e.store == NO_READ && e.value.is_none()).count();
    assert_eq!(tombstones, total, "each expired entry deleted once, through the port");
}
