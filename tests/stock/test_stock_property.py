"""Property: for any interleaving of scans, seals and cancels on two stations (their events
reaching central late, in any order of flushes), the units sold never exceed the quantity."""

from __future__ import annotations

import tempfile
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from central import stock
from central.store.sqlite import SqliteStore
from edge.scan.availability import Rules, judge
from edge.workflow.ports import Order, ScanVerdict
from tests.support.stock import Bench, import_packages, package, served

TAGS = [f"1A4060300002C9B0000{n:05d}" for n in range(1, 4)]
QUANTITIES = [1, 2, 3]
RULES = Rules(today="2026-11-22", lab_passed=frozenset({"TestPassed"}))

ops = st.lists(
    st.tuples(
        st.sampled_from(["scan", "scan", "seal", "cancel", "flush"]),
        st.integers(0, 1),  # station
        st.integers(0, len(TAGS) - 1),  # package
    ),
    max_size=40,
)


def _order(order_id: str) -> Order:
    return msgspec.convert(
        {
            "order_id": order_id,
            "channel": "pickup",
            "customer": {"id": "C"},
            "lines": [{"line": 1, "sku": "SKU-1", "quantity": 9}],
        },
        Order,
    )


@pytest.mark.slow  # 300 interleavings, about 6 s
@settings(max_examples=300)
@given(ops)
def test_units_sold_never_exceed_the_quantity(steps: list[tuple[str, int, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "central.sqlite3")
        try:
            _play(store, steps)
        finally:
            store.close()


def _play(store: SqliteStore, steps: list[tuple[str, int, int]]) -> None:
    import_packages(store, [package(t, q) for t, q in zip(TAGS, QUANTITIES, strict=True)])
    benches = [Bench(store, "st-a"), Bench(store, "st-b")]
    for bench in benches:
        bench.online = False  # events reach central only on "flush" (the link's lag)
    counter = 0
    current: list[str | None] = [None, None]
    picked: list[set[str]] = [set(), set()]
    for op, s, k in steps:
        bench = benches[s]
        if op == "flush":
            bench.flush()
            continue
        if current[s] is None:
            counter += 1
            current[s] = f"{s}-{counter}"
            picked[s] = set()
        order_id = current[s]
        assert order_id is not None
        if op == "scan":
            uid = TAGS[k]
            if uid in picked[s]:
                continue  # the core's duplicate
            core = ScanVerdict(verdict="match", reason="", uid=uid, line=1, accepted=True)
            v = judge(core, _order(order_id), lambda label: served(store, label), bench.book, RULES)
            if not v.accepted:
                continue
            answer = stock.claim(store, bench.station, _claim(order_id, uid))
            if not answer.ok:
                continue
            bench.pick(order_id, uid)
            picked[s].add(uid)
        else:
            (bench.seal if op == "seal" else bench.cancel)(order_id)
            current[s] = None
    for bench in benches:
        bench.flush()
    assert stock.sold_twice(store)["packages_sold_twice"] == 0
    for uid, quantity in zip(TAGS, QUANTITIES, strict=True):
        with store._lock:
            (units,) = store._x(
                "SELECT COALESCE(SUM(amount), 0) FROM stock_takes WHERE label = ? AND state = 'sold'",
                (uid,),
            ).fetchone()
            store._end_read()
        assert units <= quantity


def _claim(order_id: str, uid: str) -> object:
    from edge.common import protocol as p

    return p.Claim(claim_id=f"{order_id}-{uid}", order_id=order_id, uid=uid)
