"""The dashboard's fold and its HTTP side against a real SQLite store and a real aiohttp server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from central.config import CentralConfig, DashboardSection, IntakeSection
from central.dashboard import DashboardServer, build_dashboard
from central.dashboard.model import DashboardModel
from central.store import open_store
from central.store.base import SqlStore
from edge.common.chain import canonical_json
from edge.common.errors import ConfigError
from edge.common.protocol import FeedItem
from tests.support.events import Chain

TOKEN = "viewer-token-0123456789"


def order(oid: str, station: str | None = None) -> tuple[FeedItem, str | None]:
    body = {"order_id": oid, "channel": "pickup", "lines": [{"sku": "A", "qty": 1}]}
    return FeedItem(kind="order", key=oid, body=canonical_json(body)), station


@pytest.fixture
def store(tmp_path: Path) -> SqlStore:
    return open_store(f"sqlite:///{tmp_path / 'central.sqlite3'}")


def test_halt_waiting_then_cleared_and_finished(store: SqlStore) -> None:
    store.feed_put([order("A1"), order("A2", "st-1")])
    model = DashboardModel(store, online=lambda: {"st-1", "st-2"})
    st = Chain(store, "st-1")
    st.add("login", agent="BADGE-1", name="Ana", supervisor=False)
    st.add("order_loaded", order_id="A1", source="queue", channel="pickup", lines=1)
    st.add("halt", order_id="A1", code="wrong_batch", reason="batch B2, order wants B1",
           uid="1A4000000000000000000001", step="picking")  # fmt: skip
    st.add("quarantine", order_id="A1", uid="1A4000000000000000000001", code="wrong_batch",
           reason="batch B2")  # fmt: skip
    assert model.refresh()
    snap = model.snapshot()
    by_id = {s["station_id"]: s for s in snap["stations"]}
    assert set(by_id) == {"st-1", "st-2"}
    assert by_id["st-2"] == {**by_id["st-2"], "online": True, "events": 0, "order_id": None}
    one = by_id["st-1"]
    assert (one["agent"], one["order_id"], one["step"]) == ("BADGE-1", "A1", "halted")
    assert one["last_event"]["type"] == "quarantine" and one["last_event"]["seq"] == 4
    assert [(h["station_id"], h["order_id"], h["code"]) for h in snap["halts"]] == [
        ("st-1", "A1", "wrong_batch")
    ]
    queue = {o["order_id"]: o for o in snap["orders"]["queue"]}
    assert queue["A1"]["status"] == "halted" and queue["A1"]["where"] == "at st-1"
    assert queue["A2"]["status"] == "queued" and queue["A2"]["assigned"] == "st-1"
    assert [q["uid"] for q in snap["quarantine"]["packages"]] == ["1A4000000000000000000001"]
    assert snap["quarantine"]["frames"]["count"] == 0
    assert snap["statesys"] == {"configured": False}
    # the station's 4 events, then central's own (central/stock.py), which is no station
    assert [(e.station_id, e.type) for e in store.events_after(4, 10)] == [
        ("@central", "package_quarantined")
    ]
    assert snap["head"] == 5
    assert not model.refresh()  # nothing new: no change, no update sent

    st.add("supervisor_present", order_id="A1", supervisor="BADGE-S", name="Sam")
    assert model.refresh() and model.snapshot()["stations"][0]["step"] == "override"
    st.add("override", order_id="A1", action="clear", supervisor="BADGE-S", halt_code="wrong_batch")
    st.add("label_requested", order_id="A1", job_id="A1-label-1", attempt=1)
    model.refresh()
    snap = model.snapshot()
    assert snap["halts"] == [] and snap["stations"][0]["step"] == "label"
    st.add("seal", order_id="A1", code="S", expected="S", ok=True)
    st.add("order_status", order_id="A1", status="ready_for_pickup", channel="pickup")
    model.refresh()
    snap = model.snapshot()
    assert snap["stations"][0]["order_id"] is None and snap["stations"][0]["step"] == "ready"
    assert [o["order_id"] for o in snap["orders"]["queue"]] == ["A2"]
    assert snap["orders"]["finished"][0]["status"] == "ready_for_pickup"
    assert snap["orders"]["counts"] == {"ready_for_pickup": 1, "queued": 1}


def test_state_system_queue_shown_when_its_table_exists(store: SqlStore) -> None:
    with store._lock:
        store._x(
            "CREATE TABLE statesys_jobs (id INTEGER PRIMARY KEY, kind TEXT, station TEXT,"
            " order_id TEXT, state TEXT, reason TEXT, attempts INTEGER, created_at TEXT)"
        )
        store._x(
            "INSERT INTO statesys_jobs VALUES (1, 'sale', 'st-1', 'A1', 'failed', 'HTTP 500', 3,"
            " 't'), (2, 'sale', 'st-1', 'A2', 'confirmed', '', 1, 't')"
        )
        store.conn.commit()
    model = DashboardModel(store)
    model.refresh()
    ss = model.snapshot()["statesys"]
    assert ss["configured"] and ss["counts"] == {"failed": 1, "confirmed": 1}
    assert [(j["order_id"], j["reason"]) for j in ss["open"]] == [("A1", "HTTP 500")]


def test_malformed_frames_listed(store: SqlStore) -> None:
    from central.store import Rejected

    store.commit_batch([], [Rejected(station_id="st-9", reason="malformed: bad frame", raw=b"x")])
    model = DashboardModel(store)
    model.refresh()
    frames = model.snapshot()["quarantine"]["frames"]
    assert frames["count"] == 1 and frames["recent"][0]["reason"] == "malformed: bad frame"


def _config(tmp: Path, store_url: str) -> CentralConfig:
    token = tmp / "viewer.token"
    token.write_text(TOKEN + "\n")
    return CentralConfig(
        intake=IntakeSection(enabled=False),
        dashboard=DashboardSection(listen="127.0.0.1:0", token_file=str(token), poll_ms=50),
    )


def test_short_or_missing_token_refused(tmp_path: Path, store: SqlStore) -> None:
    cfg = _config(tmp_path, "")
    (tmp_path / "viewer.token").write_text("short\n")
    with pytest.raises(ConfigError, match="shorter than 16"):
        build_dashboard(cfg, store)
    (tmp_path / "viewer.token").unlink()
    with pytest.raises(ConfigError, match="cannot read"):
        build_dashboard(cfg, store)
    assert build_dashboard(CentralConfig(), store) is None  # off by default


async def _next_state(stream: aiohttp.StreamReader) -> dict[str, Any]:
    event = ""
    async for raw in stream:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "state":
            data: dict[str, Any] = json.loads(line[6:])
            return data
    raise AssertionError("stream ended")


def test_http_token_cookie_and_live_stream(tmp_path: Path, store: SqlStore) -> None:
    cfg = _config(tmp_path, "")
    dash = build_dashboard(cfg, store, online=lambda: {"st-1"})
    assert dash is not None
    chain = Chain(store, "st-1")

    async def scenario() -> None:
        server = DashboardServer(dash, cfg.dashboard.listen)
        await server.start()
        loop = asyncio.create_task(dash.run())
        base = f"http://{server.address}/dashboard"
        try:
            async with aiohttp.ClientSession() as anon:
                for path in ("/", "/api/state", "/api/stream", "/static/app.js"):
                    async with anon.get(base + path) as r:
                        assert r.status == 401, path
                async with anon.get(base + "/?token=wrong-token-0123456789") as r:
                    assert r.status == 401
            jar = aiohttp.CookieJar(unsafe=True)  # cookies for an IP address host
            async with aiohttp.ClientSession(cookie_jar=jar) as browser:
                async with browser.get(base + "/?token=" + TOKEN) as r:  # follows the redirect
                    assert r.status == 200 and '<table id="stations">' in await r.text()
                    assert str(r.url) == base + "/"
                async with browser.get(base + "/static/app.js") as r:
                    assert r.status == 200 and "EventSource" in await r.text()
                async with browser.get(base + "/static/../server.py") as r:
                    assert r.status == 404
                async with browser.get(base + "/api/stream") as stream:
                    assert stream.headers["Content-Type"] == "text/event-stream"
                    first = await _next_state(stream.content)
                    assert first["stations"][0]["events"] == 0
                    chain.add("login", agent="BADGE-1", name="Ana", supervisor=False)
                    dash.wake()
                    second = await asyncio.wait_for(_next_state(stream.content), 10)
                    assert second["version"] > first["version"]
                    assert second["stations"][0]["agent"] == "BADGE-1"
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with (
                aiohttp.ClientSession(headers=headers) as api,
                api.get(base + "/api/state") as r,
            ):
                assert r.status == 200 and (await r.json())["head"] == 1
        finally:
            loop.cancel()
            await server.aclose()

    asyncio.run(scenario())
