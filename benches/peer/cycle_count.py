"""The benchmark peer: invex's cycle-count discrepancy rule written for Quix Streams.

It reads the canonical topics the cycle-count detector needs (wh.count, erp.book, wh.receipt,
wh.pick, wh.task, md.item) under a topic prefix, keeps per-key state in Quix Streams' RocksDB
store (key = "tenant|site|sku", as in invex), and writes exception records and actions (JSON)
to <prefix>peer.out. Exactly-once or at-least-once through Quix Streams' processing_guarantee.

Same rule as invex (processors/detect/src/cycle_count): a ledger per (location, lot) made of
the latest ERP snapshot as baseline plus receipts, picks and confirmed task legs; the book at
the count's time; tolerance by ABC class (percentage AND value); one recount, then an approval
request. What it simplifies is listed in benches/README.md.

Usage: cycle_count.py BOOTSTRAP PREFIX GROUP GUARANTEE COMMIT_SECONDS STATE_DIR SCHEMA_DIR
"""

import io
import json
import sys
from pathlib import Path

import fastavro
from quixstreams import Application
from quixstreams.models.serializers import Deserializer

TOPICS = ["md.item", "erp.book", "wh.receipt", "wh.task", "wh.pick", "wh.count"]
# Default policy (processors/detect/policy/default.toml): class -> (pct, value).
TOLERANCE = {"A": (1.0, 100.0), "B": (3.0, 100.0), "C": (5.0, 100.0)}
DEFAULT_CLASS = "C"
MAX_RECOUNTS = 1
HISTORY_MS = 72 * 3_600_000


def without_logical_types(node):
    """Avro timestamps stay integers (milliseconds), as in invex's model."""
    if isinstance(node, dict):
        return {k: without_logical_types(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [without_logical_types(v) for v in node]
    return node


class ConfluentAvro(Deserializer):
    """Confluent framing (magic byte, 4-byte schema id) around an Avro body."""

    def __init__(self, schema_path, topic):
        super().__init__()
        raw = json.loads(Path(schema_path).read_text())
        self.schema = fastavro.parse_schema(without_logical_types(raw))
        self.topic = topic

    def __call__(self, value, ctx):
        record = fastavro.schemaless_reader(io.BytesIO(value[5:]), self.schema)
        record["_topic"] = self.topic
        return record


def event_time(value, headers, timestamp, timestamp_type):
    return value["header"]["event_time"]


def subject_key(loc, lot):
    return "s|" + loc + "|" + (lot or "")


def add_movement(state, loc, lot, time, delta, event_id):
    key = subject_key(loc, lot)
    ledger = state.get(key, {"as_of": None, "rows": {}, "moves": {}})
    ledger["moves"][event_id] = [time, delta]
    state.set(key, ledger)


def fold(ledger, now):
    """Forgets movements older than the history window, folding them into the baseline."""
    cutoff = now - HISTORY_MS
    old = {k: m for k, m in ledger["moves"].items() if m[0] <= cutoff}
    if not old:
        return
    if ledger["as_of"] is None or ledger["as_of"] < cutoff:
        qty = book_at(ledger, cutoff)
        ledger["as_of"], ledger["rows"] = cutoff, {"FOLDED": qty}
    for k in old:
        del ledger["moves"][k]


def book_at(ledger, t):
    qty = sum(ledger["rows"].values())
    as_of = ledger["as_of"]
    for time, delta in ledger["moves"].values():
        if as_of is None:
            qty += delta if time <= t else 0
        elif as_of < time <= t:
            qty += delta
        elif t < time <= as_of:
            qty -= delta
    return qty


def on_book(state, e):
    item = state.get("item", {})
    if "book_cost" not in item or item["book_as_of"] <= e["header"]["event_time"]:
        item["book_cost"], item["book_as_of"] = e["unit_cost"], e["header"]["event_time"]
        state.set("item", item)
    key = subject_key(e["location_id"], e.get("lot"))
    ledger = state.get(key, {"as_of": None, "rows": {}, "moves": {}})
    as_of = e["header"]["event_time"]
    if ledger["as_of"] is not None and as_of < ledger["as_of"]:
        return
    if ledger["as_of"] != as_of or "FOLDED" in ledger["rows"]:
        ledger["as_of"], ledger["rows"] = as_of, {}
    ledger["rows"][e["stock_type"]] = e["quantity"]
    state.set(key, ledger)


def on_item(state, e):
    item = state.get("item", {})
    if item.get("master_as_of", -1) > e["header"]["event_time"]:
        return
    item["class"] = (e["abc_class"] or "").strip().upper() or None
    item["cost"], item["master_as_of"] = e["unit_cost"], e["header"]["event_time"]
    state.set("item", item)


def on_task(state, e):
    to = e.get("actual_location_id") or e.get("suggested_location_id")
    if e["status"] != "CONFIRMED" or not to:
        return
    t, q, lot, eid = e["header"]["event_time"], e["quantity"], e.get("lot"), e["header"]["event_id"]
    add_movement(state, e["from_location_id"], lot, t, -q, eid + "#0")
    add_movement(state, to, lot, t, q, eid + "#1")


def on_count(state, e):
    h = e["header"]
    key = subject_key(e["location_id"], e.get("lot"))
    ledger = state.get(key, {"as_of": None, "rows": {}, "moves": {}})
    fold(ledger, h["event_time"])
    state.set(key, ledger)
    item = state.get("item", {})
    cls = item.get("class") or DEFAULT_CLASS
    pct_tol, value_tol = TOLERANCE.get(cls, TOLERANCE[DEFAULT_CLASS])
    cost = item.get("cost", item.get("book_cost", 0.0))
    expected = book_at(ledger, h["event_time"])
    variance = e["counted_qty"] - expected
    pct = variance / expected * 100.0 if expected else None
    value = variance * cost
    within = variance == 0 or (pct is not None and abs(pct) <= pct_tol and abs(value) <= value_tol)
    return decide(state, e, key, expected, variance, pct, value, within)


def decide(state, e, key, expected, variance, pct, value, within):
    open_key = "open|" + key
    exc = state.get(open_key)
    base = {"subject": key, "count_event_id": e["header"]["event_id"], "expected": expected,
            "observed": e["counted_qty"], "variance": variance, "variance_pct": pct,
            "variance_value": value}
    if exc is None:
        if variance == 0:
            return []
        if within:
            return [dict(base, kind="exception", status="RESOLVED", reason="WITHIN_TOLERANCE")]
        exc = {"id": e["header"]["event_id"], "recounts": 1, "status": "AWAITING_RECOUNT"}
        state.set(open_key, exc)
        return [dict(base, kind="exception", status="AWAITING_RECOUNT", id=exc["id"]),
                {"kind": "action", "type": "RECOUNT_TASK", "exception_id": exc["id"], "attempt": 1}]
    if exc["status"] == "AWAITING_APPROVAL":
        return [dict(base, kind="exception", status=exc["status"], reason="REDETECTED",
                     id=exc["id"])]
    if within:
        state.delete(open_key)
        return [dict(base, kind="exception", status="RESOLVED", reason="COUNT_ERROR", id=exc["id"])]
    if exc["recounts"] < MAX_RECOUNTS:
        exc["recounts"] += 1
        state.set(open_key, exc)
        return [dict(base, kind="exception", status="AWAITING_RECOUNT", id=exc["id"]),
                {"kind": "action", "type": "RECOUNT_TASK", "exception_id": exc["id"],
                 "attempt": exc["recounts"]}]
    exc["status"] = "AWAITING_APPROVAL"
    state.set(open_key, exc)
    return [dict(base, kind="exception", status="AWAITING_APPROVAL", id=exc["id"]),
            {"kind": "action", "type": "APPROVAL_REQUEST", "exception_id": exc["id"],
             "proposed_adjustment": variance}]


def process(e, state):
    topic = e["_topic"]
    h = e["header"]
    if topic == "wh.count":
        return on_count(state, e)
    if topic == "erp.book":
        on_book(state, e)
    elif topic == "md.item":
        on_item(state, e)
    elif topic == "wh.receipt" and e["qty_accepted"] != 0:
        add_movement(state, e["location_id"], e.get("lot"), h["event_time"], e["qty_accepted"],
                     h["event_id"])
    elif topic == "wh.pick":
        add_movement(state, e["location_id"], e.get("lot"), h["event_time"], -e["qty_picked"],
                     h["event_id"])
    elif topic == "wh.task":
        on_task(state, e)
    return []


def main(argv):
    bootstrap, prefix, group, guarantee, commit_s, state_dir, schema_dir = argv[1:8]
    app = Application(
        broker_address=bootstrap,
        consumer_group=group,
        auto_offset_reset="earliest",
        processing_guarantee=guarantee,
        commit_interval=float(commit_s),
        state_dir=state_dir,
        loglevel="WARNING",
        consumer_extra_config={"session.timeout.ms": 6000},
    )
    frames = []
    for name in TOPICS:
        schema = Path(schema_dir) / (name + "-value.avsc")
        topic = app.topic(prefix + name, value_deserializer=ConfluentAvro(schema, name),
                          timestamp_extractor=event_time)
        # tansu 0.6.0 answers DescribeConfigs with no entries; Quix Streams derives its
        # changelog topics' retention from the input's and needs one.
        topic.broker_config.extra_config.setdefault("retention.ms", "-1")
        frames.append(app.dataframe(topic))
    sdf = frames[0]
    for other in frames[1:]:
        sdf = sdf.concat(other)
    sdf = sdf.apply(process, stateful=True, expand=True)
    sdf.to_topic(app.topic(prefix + "peer.out", value_serializer="json"))
    app.run()


if __name__ == "__main__":
    main(sys.argv)
