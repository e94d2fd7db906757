"""Central folds sales, holds and quarantines into the inventory it serves (real SQLite store)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from central import stock
from central.store.sqlite import SqliteStore
from edge.common import protocol as p
from edge.common.stock import block_of
from tests.support.stock import T0, Bench, import_packages, package, served

TAG = "1A4060300002C9B0000{:05d}"
X = TAG.format(1)
Y = TAG.format(2)


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore(tmp_path / "central.sqlite3")
    yield s
    s.close()


def test_a_sealed_order_takes_its_units_off_the_served_quantity(store: SqliteStore) -> None:
    import_packages(store, [package(X, 3)])
    a = Bench(store, "st-a")
    a.pick("2001", X)
    held = block_of(served(store, X)).held
    assert [(t.station, t.order_id, t.amount) for t in held] == [("st-a", "2001", 1)]
    assert served(store, X)["Quantity"] == 3  # a hold is not a sale
    a.seal("2001", "2026-11-22T16:42:00+00:00")
    body = served(store, X)
    assert body["Quantity"] == 2
    block = block_of(body)
    assert [(t.order_id, t.at) for t in block.sold] == [("2001", "2026-11-22T16:42:00+00:00")]
    assert block.held == [] and block.imported == "3"


def test_a_cancelled_order_releases_its_holds(store: SqliteStore) -> None:
    import_packages(store, [package(X, 1)])
    a, b = Bench(store, "st-a"), Bench(store, "st-b")
    assert a.claim("2001", X).ok  # type: ignore[union-attr]
    refused = b.claim("2003", X)
    assert refused is not None and not refused.ok
    assert (refused.verdict, refused.order_id, refused.station) == ("held", "2001", "st-a")
    a.cancel("2001")
    assert block_of(served(store, X)).held == []
    assert b.claim("2003", X).ok  # type: ignore[union-attr]


def test_of_two_claims_on_the_last_unit_exactly_one_wins(store: SqliteStore) -> None:
    import_packages(store, [package(X, 2)])
    a, b = Bench(store, "st-a"), Bench(store, "st-b")
    answers = [a.claim("1", X), b.claim("2", X), b.claim("3", X)]
    assert [x.ok for x in answers if x] == [True, True, False]
    a.pick("1", X)
    a.seal("1")
    last = b.claim("4", X)
    assert last is not None and not last.ok and last.verdict == "held"
    b.pick("2", X)
    b.seal("2")
    sold = a.claim("5", X)
    assert sold is not None and (sold.verdict, sold.order_id) == ("sold", "2")
    assert stock.sold_twice(store) == {"packages_sold_twice": 0, "sales": 2}


def test_claims_queued_together_are_decided_in_turn_and_one_that_fails_fails_alone(
    store: SqliteStore,
) -> None:
    import_packages(store, [package(X, 1), package(Y, 1)])

    def ask(station: str, order_id: str, uid: str, amount: int = 1) -> tuple[str, p.Claim]:
        req = p.Claim(
            claim_id=uuid.uuid4().hex, order_id=order_id, uid=uid, amount=amount, unit=None, at=T0
        )
        return station, req

    too_big = 2**70  # no store column takes it: this claim's insert fails
    answers = stock.claim_all(
        store,
        [
            ask("st-a", "1", X),
            ask("st-b", "2", X),
            ask("st-b", "3", Y, too_big),
            ask("st-b", "4", Y),
        ],
    )
    assert [None if a is None else a.ok for a in answers] == [True, False, None, True]
    refused = answers[1]
    assert refused is not None and (refused.verdict, refused.order_id) == ("held", "1")
    held = {uid: block_of(served(store, uid)).held for uid in (X, Y)}
    assert [(t.station, t.order_id) for t in held[X]] == [("st-a", "1")]
    assert [(t.station, t.order_id, t.amount) for t in held[Y]] == [("st-b", "4", 1)]


def test_an_accepted_scan_confirming_its_claims_hold_changes_nothing_in_the_feed(
    store: SqliteStore,
) -> None:
    import_packages(store, [package(X, 3)])
    a = Bench(store, "st-a")
    assert a.claim("2001", X).ok  # type: ignore[union-attr]
    before = store.feed_after("st-a", 0, 1000)
    a.pick("2001", X)  # the hold is confirmed: what every station is served stays the same
    assert store.feed_after("st-a", 0, 1000) == before
    a.seal("2001")  # a sale changes it
    after = store.feed_after("st-a", before[-1][0], 1000)
    assert [
        (item.key, block_of(json.loads(bytes(item.body or b""))).sold[0].order_id)
        for _, item in after
    ] == [(X, "2001")]


def test_a_stale_import_does_not_resurrect_sold_units(store: SqliteStore) -> None:
    """Imports are ordered against sales by the package's METRC LastModified."""
    import_packages(store, [package(X, 3, LastModified="2026-11-22T15:00:00+00:00")])
    a = Bench(store, "st-a")
    a.pick("2001", X)
    a.seal("2001", "2026-11-22T16:00:00+00:00")
    assert served(store, X)["Quantity"] == 2
    # the POS re-sends its 15:30 view (3 units): older than the 16:00 sale, so the sale still counts
    import_packages(store, [package(X, 3, LastModified="2026-11-22T15:30:00+00:00")])
    assert served(store, X)["Quantity"] == 2
    # no LastModified: the import knows none of central's sales, all are subtracted
    import_packages(store, [package(X, 3)])
    assert served(store, X)["Quantity"] == 2
    # METRC after the sale was reported (LastModified 16:05, Quantity 2): taken as it is
    import_packages(store, [package(X, 2, LastModified="2026-11-22T10:05:00-06:00")])
    assert served(store, X)["Quantity"] == 2
    assert [t.order_id for t in block_of(served(store, X)).sold] == ["2001"]


def test_a_weighed_bulk_package_is_drawn_down_by_what_was_weighed(store: SqliteStore) -> None:
    bulk = package(X, 10, UnitOfMeasureName="Grams")
    import_packages(store, [bulk])
    a = Bench(store, "st-a")
    a.pick("2001", X)
    a.event(
        "weight",
        order_id="2001",
        uid=X,
        line=1,
        net_mg=3512,
        labelled_mg=None,
        min_mg=3400,
        max_mg=3600,
        ok=True,
        reason="",
    )
    a.seal("2001")
    body = served(store, X)
    assert body["Quantity"] == pytest.approx(6.488)
    assert json.dumps(body["Quantity"]) == "6.488"


def test_quarantine_is_served_to_every_station_and_released_by_a_supervisor(
    store: SqliteStore,
) -> None:
    import_packages(store, [package(X, 1)])
    a, b = Bench(store, "st-a"), Bench(store, "st-b")
    a.event("quarantine", order_id="2001", uid=X, code="expired", reason="Expired on 2026-11-01.")
    mark = block_of(served(store, X)).quarantine
    assert mark is not None and (mark.station, mark.code, mark.key) == ("st-a", "expired", "st-a:1")
    assert stock.quarantine_list(store)[0]["uid"] == X
    refused = b.claim("2003", X)
    assert refused is not None and refused.verdict == "quarantined" and "expired" in refused.reason
    assert stock.release(store, X, "BADGE-BOSS") == 1
    assert stock.release(store, X, "BADGE-BOSS") == 0
    block = block_of(served(store, X))
    assert block.quarantine is None and block.seen == ["st-a:1"]
    events = [(e.station_id, e.type, json.loads(e.body)) for e in store.events_after(0, 100)]
    central = [(t, body["uid"]) for s, t, body in events if s == stock.CENTRAL]
    assert central == [("package_quarantined", X), ("package_released", X)]
    assert stock.quarantine_list(store) == []
    assert b.claim("2003", X).ok  # type: ignore[union-attr]


def test_a_reimport_marked_released_releases_the_quarantine(store: SqliteStore) -> None:
    import_packages(store, [package(X, 1)])
    Bench(store, "st-a").event("quarantine", order_id="1", uid=X, code="wrong_batch", reason="r")
    import_packages(store, [package(X, 1, Quarantine="released")])
    body = served(store, X)
    assert block_of(body).quarantine is None and "Quarantine" not in body


def test_sales_two_offline_stations_made_of_one_unit_are_counted(store: SqliteStore) -> None:
    """Offline, each station knows only its own journal: the store still shows the double sale."""
    import_packages(store, [package(X, 1)])
    a, b = Bench(store, "st-a", online=False), Bench(store, "st-b", online=False)
    for bench, order in ((a, "1"), (b, "2")):
        bench.pick(order, X, unit=1)
        bench.seal(order)
    a.flush()
    b.flush()
    assert stock.sold_twice(store)["packages_sold_twice"] == 2  # over the quantity, unit 1 twice


def test_an_event_central_cannot_fold_is_still_stored(store: SqliteStore) -> None:
    import_packages(store, [package(X, 1)])
    a = Bench(store, "st-a")
    a.event("verdict", order_id="1", uid={"not": "a tag"}, outcome="accepted", unit=2**70)
    a.event("weight", order_id="1", uid=X, net_mg="heavy", ok=True)
    a.pick("1", X, unit=2**40)  # a unit out of range is folded as no unit
    a.seal("1")
    assert store.last_committed("st-a") == 4
    assert [t.unit for t in block_of(served(store, X)).sold] == [None]


def test_a_fold_that_fails_leaves_the_events_stored(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_packages(store, [package(X, 1)])

    def broken(*_: object) -> None:
        raise RuntimeError("disk says no")

    monkeypatch.setattr(stock, "_fold_one", broken)
    a = Bench(store, "st-a")
    a.pick("1", X)
    assert store.last_committed("st-a") == 1
    assert block_of(served(store, X)).held == []
