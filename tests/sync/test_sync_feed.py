"""Central -> station feed: order queue, inventory and badges as snapshot + sequenced updates."""

from __future__ import annotations

import asyncio
import http.client
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from central.store import open_store
from edge.cli import run
from edge.common.errors import ExitCode
from edge.link.replica import Replica
from tests.support.central import LinkRunner, Setup, make_setup, running_central, until
from tests.support.core_scan import dump, order


def _order(oid: str, station: str | None = None) -> dict[str, Any]:
    order: dict[str, Any] = {
        "order_id": oid,
        "channel": "pickup",
        "customer": {"id": "C-1"},
        "lines": [{"line": 1, "sku": "FLW"}],
    }
    if station:
        order["station"] = station
    return order


def _package(label: str) -> dict[str, Any]:
    return {"Label": label, "Item": {"Name": "Blue Dream 3.5g"}, "Sku": "FLW", "Batch": "B-1"}


def _write(tmp: Path, name: str, data: object) -> Path:
    path = tmp / name
    path.write_text(json.dumps(data))
    return path


def _central_view(setup: Setup, station: str) -> list[tuple[str, str, bytes]]:
    store = open_store(setup.store)
    try:
        snap = store.feed_snapshot(station)
    finally:
        store.close()
    return sorted((i.kind, i.key, i.body or b"") for i in snap.items)


def _http(
    setup: Setup, method: str, path: str, body: object = None, token: str | None = None
) -> tuple[int, Any]:
    host, port = setup.intake.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = {
        "Authorization": f"Bearer {token or setup.token}",
        "Content-Type": "application/json",
    }
    payload = (
        body
        if isinstance(body, bytes)
        else (json.dumps(body).encode() if body is not None else None)
    )
    conn.request(method, path, body=payload, headers=headers)
    resp = conn.getresponse()
    data = json.loads(resp.read())
    conn.close()
    return resp.status, data


@pytest.mark.slow
def test_imports_reach_the_station_replica(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01", "station-02"])
    cfg = ["--config", str(setup.config)]
    orders = [_order("1001"), _order("1002", "station-01"), _order("1003", "station-02")]
    assert run(["central", "import", "orders", str(_write(tmp_path, "o.json", orders)), *cfg]) == 0
    inventory = {
        "Data": [_package("1A4000000000000000000001"), _package("1A4000000000000000000002")]
    }
    assert (
        run(["central", "import", "inventory", str(_write(tmp_path, "i.json", inventory)), *cfg])
        == 0
    )
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    badges = [
        {"badge": "BADGE-AAAA", "name": "Ann", "supervisor": True, "expires_at": soon},
        {"badge": "BADGE-BBBB", "name": "Bob"},
        {"badge": "BADGE-OLD1", "name": "Old", "expires_at": "2020-01-01T00:00:00+00:00"},
    ]
    assert run(["central", "import", "badges", str(_write(tmp_path, "b.json", badges)), *cfg]) == 0

    async def scenario() -> None:
        runner = LinkRunner(setup, "station-01", tmp_path)
        runner.start()
        await until(lambda: len(runner.replica.fingerprint()) == 7)
        assert {o["order_id"] for o in runner.replica.orders()} == {"1001", "1002"}
        assert len(runner.replica.inventory()) == 2
        ann = runner.replica.badge("BADGE-AAAA")
        assert ann is not None and ann.supervisor and ann.name == "Ann"
        bob = runner.replica.badge("BADGE-BBBB")
        assert bob is not None and not bob.supervisor
        assert runner.replica.badge("BADGE-OLD1") is None  # expired
        assert runner.replica.badge("BADGE-NONE") is None
        assert runner.replica.fingerprint() == _central_view(setup, "station-01")
        await runner.stop()

    with running_central(setup):
        asyncio.run(scenario())


@pytest.mark.slow
def test_intake_api_updates_live_stations_in_order(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01", "station-02"])

    async def scenario() -> None:
        runner = LinkRunner(setup, "station-01", tmp_path)
        runner.start()
        await until(lambda: runner.link.status().state == "connected")
        status, body = await asyncio.to_thread(
            _http, setup, "POST", "/v1/orders", [_order("2001"), _order("2002", "station-01")]
        )
        assert (status, body["accepted"]) == (200, 2)
        await until(lambda: runner.replica.order("2002") is not None)
        inv = [_package("1A4000000000000000000001"), _package("1A4000000000000000000002")]
        assert (await asyncio.to_thread(_http, setup, "PUT", "/v1/inventory", inv))[0] == 200
        await until(lambda: len(runner.replica.inventory()) == 2)
        # a full inventory without package 2 removes it; the order moves to another station
        assert (await asyncio.to_thread(_http, setup, "PUT", "/v1/inventory", inv[:1]))[0] == 200
        moved = _order("2002", "station-02")
        assert (await asyncio.to_thread(_http, setup, "POST", "/v1/orders", moved))[0] == 200
        assert (await asyncio.to_thread(_http, setup, "DELETE", "/v1/orders/2001"))[0] == 200
        await until(
            lambda: runner.replica.order("2002") is None and runner.replica.order("2001") is None
        )
        await until(lambda: runner.replica.package("1A4000000000000000000002") is None)
        assert runner.replica.package("1A4000000000000000000001") is not None
        assert runner.replica.fingerprint() == _central_view(setup, "station-01")
        await runner.stop()

    with running_central(setup):
        asyncio.run(scenario())


@pytest.mark.slow
def test_intake_api_refuses_bad_requests_clearly(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01"])
    with running_central(setup):
        assert (
            _http(setup, "POST", "/v1/orders", [_order("1")], token="wrong-token-wrong")[0] == 401
        )
        status, body = _http(setup, "POST", "/v1/orders", b"{not json")
        assert status == 400 and "invalid JSON" in body["error"]
        status, body = _http(setup, "POST", "/v1/orders", [{"order_id": "", "lines": []}])
        assert (status, body["path"]) == (400, "$[0].order_id")
        assert body["error"] == "$[0].order_id: Expected `str` of length >= 1"
        status, body = _http(setup, "PUT", "/v1/inventory", [{"Label": "X", "Item": {"Name": "n"}}])
        assert (status, body["error"]) == (400, "$[0]: Object missing required field `Sku`")
        assert _http(setup, "GET", "/v1/nothing")[0] == 404
        status, body = _http(setup, "GET", "/v1/health")
        assert status == 200 and body["status"] == "ok"


def test_import_of_a_bad_file_names_the_problem(tmp_path: Path, capsys: Any) -> None:
    setup = make_setup(tmp_path, ["station-01"])
    bad = _write(tmp_path, "orders.json", [_order("1"), {"order_id": "2"}])
    code = run(["central", "import", "orders", str(bad), "--config", str(setup.config)])
    assert code == ExitCode.USAGE
    assert f"{bad}: $[1]: Object missing required field `channel`" in capsys.readouterr().err
    store = open_store(setup.store)
    assert store.feed_keys("order") == set()  # nothing half-imported
    store.close()


@pytest.mark.slow
def test_feed_gap_makes_the_station_take_a_new_snapshot(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01"])

    async def scenario() -> None:
        runner = LinkRunner(setup, "station-01", tmp_path)
        runner.start()
        await until(lambda: runner.link.status().state == "connected")
        for i in range(3):
            await asyncio.to_thread(_http, setup, "POST", "/v1/orders", _order(f"30{i}"))
        await until(lambda: len(runner.replica.orders()) == 3)
        # the replica misses an update: its position falls behind what central sends next
        conn = sqlite3.connect(tmp_path / "station-01" / "replica.sqlite3")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'last_qseq'")
        conn.execute("DELETE FROM items WHERE key = '302'")
        conn.commit()
        conn.close()
        await asyncio.to_thread(_http, setup, "POST", "/v1/orders", _order("303"))
        await until(lambda: len(runner.replica.orders()) == 4)  # 302 back: a full snapshot came
        assert runner.replica.fingerprint() == _central_view(setup, "station-01")
        await runner.stop()

    with running_central(setup) as central:
        asyncio.run(scenario())
        assert central.log.read_text().count("feed snapshot sent") == 2


def test_replica_applies_updates_only_in_order(tmp_path: Path) -> None:
    from edge.common.protocol import FeedItem, QueueUpdate, Snap

    replica = Replica(tmp_path / "r.sqlite3")
    item = FeedItem(kind="order", key="1", body=dump(order({"sku": "FLW"}, order_id="1")))
    assert replica.apply_update(QueueUpdate(qseq=5, prev_qseq=4, item=item)) is False  # gap
    assert replica.last_qseq() == 0
    assert replica.apply_update(QueueUpdate(qseq=5, prev_qseq=0, item=item))
    assert replica.order("1") == order({"sku": "FLW"}, order_id="1")
    part0 = Snap(snap_id="a", qseq=9, part=0, last=False, items=[item])
    part2 = Snap(snap_id="a", qseq=9, part=2, last=True, items=[])
    assert replica.apply_snapshot_part(part0)
    assert replica.apply_snapshot_part(part2) is False  # part 1 missing: not swapped in
    assert replica.last_qseq() == 5
    replica.close()


def test_replica_counts_items_per_kind_read_only_beside_the_writer(tmp_path: Path) -> None:
    from edge.common.protocol import FeedItem, QueueUpdate

    path = tmp_path / "r.sqlite3"
    replica = Replica(path)
    items = [
        FeedItem(kind="order", key="1", body=dump(order({"sku": "FLW"}, order_id="1"))),
        FeedItem(kind="badge", key="B", body=b'{"badge":"B","name":"Alice"}'),
        FeedItem(kind="order", key="2", body=dump(order({"sku": "FLW"}, order_id="2"))),
    ]
    for qseq, item in enumerate(items, start=1):
        assert replica.apply_update(QueueUpdate(qseq=qseq, prev_qseq=qseq - 1, item=item))
    before = path.stat().st_mtime_ns, sorted(p.name for p in tmp_path.iterdir())
    reader = Replica(path, readonly=True)
    assert reader.counts() == {"order": 2, "badge": 1} == replica.counts()
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.apply_update(QueueUpdate(qseq=4, prev_qseq=3, item=items[0]))
    reader.close()
    assert (path.stat().st_mtime_ns, sorted(p.name for p in tmp_path.iterdir())) == before
    replica.close()
    with pytest.raises(sqlite3.OperationalError):
        Replica(tmp_path / "missing.sqlite3", readonly=True)
    assert not (tmp_path / "missing.sqlite3").exists()
