"""Sold-once, holds and quarantine with the real daemon and a real central (subprocesses).

Two station processes (st-a, st-b) on one central: a package sealed into an order is refused
as `sold` on the same station, the other station, after a station restart, after a central
restart and while central is offline; two stations racing for the last unit; quarantine at A
refused at B until released; a package of three units; a weighed bulk package drawn down; the
packages an order names reserved at central as it is loaded, before any scan."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from central import stock
from central.store import open_store
from drivers.printer.sim import SimPrinter
from edge.cli import run
from edge.journal import Journal
from tests.support.central import CentralProcess, Setup, make_setup
from tests.support.linked import link_to, linked_station_config, wait_until
from tests.support.station import Daemon, tag

pytestmark = pytest.mark.slow  # the daemons and central as subprocesses

X, Y, G, W = tag(11), tag(12), tag(13), tag(14)  # last unit, 3 units, 5 g bulk, other batch
R = tag(15)  # the race's last unit
N = tag(16)  # named by UID lines: claimed ahead as the order loads


def _pkg(label: str, sku: str, quantity: object, **extra: Any) -> dict[str, Any]:
    return {
        "Label": label,
        "Item": {"Name": f"{sku} product", "ProductCategoryName": "Flower"},
        "Sku": sku,
        "Batch": extra.pop("Batch", "B-1"),
        "Category": "flower",
        "NetWeightMg": 3500,
        "ThcMg": 700,  # the exit label prints THC and CBD (config/labels)
        "CbdMg": 20,
        "Quantity": quantity,
        "UnitOfMeasureName": extra.pop("UnitOfMeasureName", "Each"),
        "LabTestingState": "TestPassed",
        "Location": f"vault-a/{sku.lower()}",
        **extra,
    }


INVENTORY = [
    _pkg(X, "ONE", 1),
    _pkg(Y, "THREE", 3),
    _pkg(G, "BULK", 5, UnitOfMeasureName="Grams", NetWeightMg=5000),
    _pkg(W, "ONE", 1, Batch="B-2"),
    _pkg(R, "RACE", 1),
    _pkg(N, "NAMED", 1),
]


def _order(order_id: str, sku: str, **line: Any) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "channel": "pickup",
        "customer": {"id": f"C-{order_id}", "name": "Ada L.", "class": "adult"},
        "lines": [{"line": 1, "sku": sku, **line}],
    }


ORDERS = [
    *(_order(str(n), "ONE") for n in range(2001, 2009)),
    *(_order(str(n), "THREE") for n in range(2011, 2015)),
    *(_order(str(n), "BULK", weigh=True, labelled_weight_mg=3500) for n in (2021, 2022)),
    _order("2031", "ONE", batch="B-1"),
    _order("2032", "ONE", batch="B-2"),
    _order("2033", "ONE", batch="B-2"),  # packs W once released (2032 was cancelled: never reloads)
    _order("2041", "RACE"),
    _order("2042", "RACE"),
    *({**_order(str(n), ""), "lines": [{"line": 1, "uid": N}]} for n in range(2051, 2055)),
]
BADGES = [
    {"badge": "BADGE-ALICE", "name": "Alice"},
    {"badge": "BADGE-BOSS", "name": "Sam", "supervisor": True},
]


def _central(tmp: Path) -> tuple[Setup, list[str]]:
    setup = make_setup(tmp / "central", ["st-a", "st-b"])
    cfg = ["--config", str(setup.config)]
    for kind, payload in (("orders", ORDERS), ("inventory", INVENTORY), ("badges", BADGES)):
        path = tmp / f"{kind}.json"
        path.write_text(json.dumps(payload))
        assert run(["central", "import", kind, str(path), *cfg]) == 0
    return setup, cfg


def _station_config(setup: Setup, root: Path, name: str, printer: str) -> Path:
    # claim_timeout_ms: a loaded test machine still answers in time
    link = link_to(setup, name, timeout_ms=2000, reconnect_max_ms=500, claim_timeout_ms=5000)
    return linked_station_config(root, printer, link, station_id=name)


def _login(d: Daemon) -> None:
    wait_until(lambda: d.send("scan BADGE-ALICE")["phase"] in ("ready", "picking"))


def _load(d: Daemon, order_id: str) -> None:
    assert d.send(f"scan ORD-{order_id}")["phase"] == "picking", d.state()


def _pack(d: Daemon, order_id: str, uid: str, weight: int | None = None) -> None:
    """Pack a one-line order and seal it; the scan must be accepted."""
    _load(d, order_id)
    result = d.send(f"scan {uid}")
    assert "halt" not in [s for s, _ in result["signals"]], d.state()["order"]["halt"]
    if weight is not None:
        d.send(f"weight {weight}")
    seal = d.wait_phase("seal", 15)["order"]["seal_code"]
    assert d.send(f"scan {seal}")["signals"][-1][0] == "sealed"


def _refused(d: Daemon, order_id: str | None, uid: str) -> dict[str, Any]:
    """Scan `uid` (in a fresh order when `order_id` is given), return the halt, cancel the order."""
    if order_id is not None:
        _load(d, order_id)
    d.send(f"scan {uid}")
    state = d.state()
    assert state["phase"] == "halted", state
    halt: dict[str, Any] = state["order"]["halt"]["info"]
    _cancel(d)
    return halt


def _cancel(d: Daemon) -> None:
    order_id = d.state()["order"]["order"]["order_id"]
    d.send("scan BADGE-BOSS")
    d.send(f"scan ORD-{order_id}")
    assert d.state()["phase"] == "ready"


def _store_sold(setup: Setup, label: str) -> int:
    return sum(1 for _, _, state, _ in _store_takes(setup, label) if state == "sold")


def _acked(d: Daemon, setup: Setup, name: str) -> Callable[[], bool]:
    journal = Journal(d.config.parent / "journal.sqlite3", readonly=True)
    last = journal.last_seq()
    journal.close()

    def done() -> bool:
        store = open_store(setup.store)
        try:
            return store.last_committed(name) >= last
        finally:
            store.close()

    return done


@contextmanager
def _stations(setup: Setup, tmp: Path) -> Iterator[tuple[Daemon, Daemon, CentralProcess]]:
    central = CentralProcess(setup)
    with ExitStack() as stack:
        central.start()
        stack.callback(central.kill9)
        daemons = []
        for name in ("st-a", "st-b"):
            printer = stack.enter_context(SimPrinter())
            d = stack.enter_context(
                Daemon(_station_config(setup, tmp / name, name, printer.target))
            )
            wait_until(lambda d=d: "central" not in d.state()["devices_down"])  # type: ignore[misc]
            wait_until(lambda d=d: _replica_counts(d) == FEED)  # type: ignore[misc]
            _login(d)
            # Before the login the state lists no device; the link started before READY
            # reconnects once the station is up, so wait for it again (a race scanned inside that
            # reconnect: the claim went unasked and both stations kept the last unit).
            wait_until(lambda d=d: "central" not in d.state()["devices_down"])  # type: ignore[misc]
            daemons.append(d)
        yield daemons[0], daemons[1], central


def test_a_sealed_package_is_sold_everywhere_after_restarts_and_offline(tmp_path: Path) -> None:
    setup, cfg = _central(tmp_path)
    with _stations(setup, tmp_path) as (a, b, central):
        _pack(a, "2001", X)
        halt = _refused(a, "2002", X)  # same station: from its own journal, at once
        assert halt["code"] == "sold" and "sealed into order 2001" in halt["reason"]
        wait_until(_acked(a, setup, "st-a"))
        halt = _refused(b, "2003", X)  # the other station: central's fold
        assert halt["code"] == "sold" and "order 2001 on station st-a" in halt["reason"]
        # the POS re-imports its morning inventory (X: 1 unit, older than the sale): still sold
        stale = tmp_path / "stale.json"
        stale.write_text(
            json.dumps([{**p, "LastModified": "2026-01-01T08:00:00"} for p in INVENTORY])
        )
        assert run(["central", "import", "inventory", str(stale), *cfg]) == 0
        assert _refused(b, "2004", X)["code"] == "sold"
        b.terminate()  # station restart
        b.start()
        wait_until(lambda: "central" not in b.state()["devices_down"])
        _login(b)
        assert _refused(b, "2005", X)["code"] == "sold"
        central.kill9()  # central restart
        central.start()
        wait_until(lambda: "central" not in b.state()["devices_down"])
        assert _refused(b, "2006", X)["code"] == "sold"
        central.kill9()  # central offline: the journal (A) and the replica (B) still know
        wait_until(lambda: "central" in a.state()["devices_down"])
        assert _refused(a, "2007", X)["code"] == "sold"
        assert _refused(b, "2008", X)["code"] == "sold"
        central.start()
        for d in (a, b):
            wait_until(lambda d=d: "central" not in d.state()["devices_down"])  # type: ignore[misc]
        # three units: three orders each take one, the fourth is refused
        _pack(a, "2011", Y)
        _pack(b, "2012", Y)
        _pack(a, "2013", Y)
        wait_until(_acked(a, setup, "st-a"))  # until then central rightly says "held" by 2013
        halt = _refused(b, "2014", Y)
        assert halt["code"] == "sold" and "order 2013" in halt["reason"]
        # 5 g bulk: 3.5 g weighed out, the next 3.5 g portion is more than is left
        _pack(a, "2021", G, weight=3500)
        wait_until(_acked(a, setup, "st-a"))
        halt = _refused(b, "2022", G)
        assert halt["code"] == "sold" and "only 1500 mg are left" in halt["reason"]
    assert _store_sold(setup, X) == 1 and _store_sold(setup, Y) == 3
    store = open_store(setup.store)
    try:
        assert stock.sold_twice(store)["packages_sold_twice"] == 0
    finally:
        store.close()


def test_two_stations_racing_for_the_last_unit_and_quarantine_across_stations(
    tmp_path: Path,
) -> None:
    setup, cfg = _central(tmp_path)
    with _stations(setup, tmp_path) as (a, b, _):
        _load(a, "2041")
        _load(b, "2042")
        results: dict[str, dict[str, Any]] = {}
        start = threading.Barrier(2)

        def scan(name: str, d: Daemon) -> None:
            start.wait()
            results[name] = d.send(f"scan {R}")

        threads = [threading.Thread(target=scan, args=(n, d)) for n, d in (("a", a), ("b", b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        phases = sorted(results[n]["phase"] for n in ("a", "b"))
        assert phases in (["halted", "label"], ["halted", "seal"]), results
        loser, winner = (a, b) if results["a"]["phase"] == "halted" else (b, a)
        halt = loser.state()["order"]["halt"]["info"]
        assert halt["code"] == "held" and "open order" in halt["reason"], halt
        _cancel(loser)
        seal = winner.wait_phase("seal", 15)["order"]["seal_code"]
        assert winner.send(f"scan {seal}")["signals"][-1][0] == "sealed"
        wait_until(lambda: _store_sold(setup, R) == 1)

        # quarantine: a wrong batch halted at A is refused at B until a supervisor releases it
        halt = _refused(a, "2031", W)
        assert halt["code"] == "wrong_batch"
        wait_until(_acked(a, setup, "st-a"))
        halt = _refused(b, "2032", W)
        assert halt["code"] == "quarantined" and "station st-a" in halt["reason"], halt
        listed = _cli_lines(["central", "quarantine", "list", *cfg])
        assert [row["uid"] for row in listed] == [W]
        assert run(["central", "quarantine", "release", W, "--by", "BADGE-ALICE", *cfg]) == 2
        assert run(["central", "quarantine", "release", W, "--by", "BADGE-BOSS", *cfg]) == 0
        assert run(["central", "quarantine", "release", W, "--by", "BADGE-BOSS", *cfg]) == 3
        wait_until(lambda: _served_block(b, W).get("quarantine") is None)
        _pack(b, "2033", W)
    events = _cli_lines(["central", "export", *cfg])
    central_events = [e["type"] for e in events if e["station_id"] == stock.CENTRAL]
    assert central_events == ["package_quarantined", "package_released"]


def test_an_order_reserves_the_packages_it_names_as_it_is_loaded(tmp_path: Path) -> None:
    setup, _ = _central(tmp_path)
    with _stations(setup, tmp_path) as (a, b, _):
        _load(a, "2051")  # names N: central holds it for the order before any package scan
        wait_until(lambda: _store_takes(setup, N) == [("st-a", "2051", "held", 0)])
        halt = _refused(b, "2052", N)  # b's claim ahead is refused; so is its scan's, asked again
        assert halt["code"] == "held" and "open order 2051 on station st-a" in halt["reason"], halt
        _load(b, "2053")  # refused ahead again, but the hold ends before b's scan...
        _cancel(a)
        wait_until(lambda: _store_takes(setup, N) == [])
        result = b.send(f"scan {N}")  # ...which asks central again instead of taking that answer
        assert "halt" not in [s for s, _ in result["signals"]], b.state()["order"]["halt"]
        seal = b.wait_phase("seal", 15)["order"]["seal_code"]
        assert b.send(f"scan {seal}")["signals"][-1][0] == "sealed"
        wait_until(lambda: _store_takes(setup, N) == [("st-b", "2053", "sold", 1)])
        halt = _refused(a, "2054", N)  # (a cancelled order never loads again)
        assert halt["code"] == "sold" and "order 2053 on station st-b" in halt["reason"], halt


def _store_takes(setup: Setup, label: str) -> list[tuple[str, str, str, int]]:
    """(station, order, state, confirmed) of every sale and hold central has of `label`."""
    store = open_store(setup.store)
    try:
        with store._lock:
            rows = store._x(
                "SELECT station_id, order_id, state, confirmed FROM stock_takes WHERE label = ?"
                " ORDER BY station_id, order_id",
                (label,),
            ).fetchall()
            store._end_read()
        return [(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]
    finally:
        store.close()


FEED = {"order": len(ORDERS), "package": len(INVENTORY), "badge": len(BADGES)}


def _replica_counts(d: Daemon) -> dict[str, int]:
    """What central's feed has given the station so far."""
    import sqlite3

    from edge.link.replica import Replica

    try:
        replica = Replica(d.config.parent / "replica.sqlite3", readonly=True)
    except (sqlite3.Error, OSError):
        return {}
    try:
        return replica.counts()
    except sqlite3.Error:
        return {}
    finally:
        replica.close()


def _served_block(d: Daemon, label: str) -> dict[str, Any]:
    from edge.link.replica import Replica

    replica = Replica(d.config.parent / "replica.sqlite3", readonly=True)
    try:
        pkg = replica.package(label) or {}
    finally:
        replica.close()
    block: dict[str, Any] = pkg.get("Packstation") or {}
    return block


def _cli_lines(argv: list[str]) -> list[dict[str, Any]]:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert run(argv) == 0
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
