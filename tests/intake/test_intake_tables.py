"""The intake's own tables over both stores: idempotency keys and the order tracker."""

from __future__ import annotations

from central.intake.tables import IntakeTables
from central.store.base import SqlStore
from edge.common.chain import canonical_json
from edge.common.protocol import FeedItem
from tests.support.events import chain


def test_tables_are_created_idempotently_and_remember_answers(store: SqlStore) -> None:
    tables = IntakeTables(store)
    IntakeTables(store)  # a second central on the same store
    assert tables.recall("POST", "/v1/orders", "k1") is None
    tables.remember("POST", "/v1/orders", "k1", "d1", 200, {"accepted": 1, "qseq": 1})
    tables.remember("POST", "/v1/orders", "k1", "d1", 200, {"accepted": 1, "qseq": 1})
    seen = tables.recall("POST", "/v1/orders", "k1")
    assert seen is not None and (seen.digest, seen.status, seen.response["qseq"]) == ("d1", 200, 1)
    assert tables.recall("PUT", "/v1/orders", "k1") is None  # keys are per method and path


def test_the_tracker_follows_orders_through_the_events(store: SqlStore) -> None:
    tables = IntakeTables(store)
    order = canonical_json({"order_id": "9"})
    store.feed_put([(FeedItem(kind="order", key="9", body=order), "station-01")])
    queued = tables.queued("9")
    assert queued is not None and queued[0] == "station-01"
    base = {"station": "station-01", "order_id": "9"}
    events = chain(
        [
            (
                "scan",
                {
                    **base,
                    "kind": "ticket",
                    "raw": "ORD-9",
                    "aim_id": None,
                    "device": "d",
                    "phase": "ready",
                },
            ),
            (
                "order_loaded",
                {
                    **base,
                    "source": "ticket",
                    "channel": "pickup",
                    "customer_id": "C",
                    "lines": 1,
                    "order": {},
                },
            ),
            (
                "halt",
                {
                    **base,
                    "code": "wrong_batch",
                    "reason": "r",
                    "raw": "x",
                    "uid": None,
                    "line": 1,
                    "candidates": [],
                    "step": "picking",
                },
            ),
            (
                "override",
                {**base, "action": "cancel", "supervisor": "S", "halt_code": "wrong_batch"},
            ),
            ("order_status", {**base, "status": "cancelled", "channel": "pickup"}),
        ]
    )
    store.commit_batch([("station-01", e) for e in events[:3]], [])
    assert tables.catch_up() == 3
    halted = tables.tracked("9")
    assert halted is not None and (halted.status, halted.gseq) == ("halted", 3)
    store.commit_batch([("station-01", e) for e in events[3:]], [])
    tables.catch_up()
    done = tables.tracked("9")
    assert done is not None and (done.status, done.event, done.gseq) == (
        "cancelled",
        "order_status",
        5,
    )
    assert tables.withdrawn("9") is None
    store.feed_put([(FeedItem(kind="order", key="9", body=None), None)])
    assert tables.queued("9") is None and tables.withdrawn("9") is not None
