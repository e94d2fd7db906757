"""A feed record a station cannot use, seen by operators: the real daemon skips it, keeps every
other record, and the skip shows in `packstation status`, in central's dashboard and in central's
metrics. The record is put in central's store directly (as an older central or a changed rule
would have left it): the intake itself refuses it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from central.dashboard.model import DashboardModel
from central.metrics import CentralMetrics
from central.store import open_store
from drivers.printer.sim import SimPrinter
from edge.cli import run
from edge.common.chain import canonical_json
from edge.common.protocol import FeedItem
from edge.link.replica import Replica
from tests.support.central import Setup, make_setup, running_central
from tests.support.core_scan import order
from tests.support.linked import link_to, linked_station_config, wait_until
from tests.support.station import Daemon

pytestmark = pytest.mark.slow  # the daemon and central as subprocesses


def _config(setup: Setup, state: Path, printer: str) -> Path:
    return linked_station_config(
        state, printer, link_to(setup, "station-01"), station_id="station-01"
    )


def test_a_skipped_feed_record_shows_in_status_dashboard_and_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup = make_setup(tmp_path / "central", ["station-01"])
    good = order({"sku": "FLW"}, order_id="3001")
    bad = order({"uid": "1A4060300002C9B000000001", "sku": "FLW"}, order_id="3002")
    store = open_store(setup.store)
    store.feed_put(
        [
            (FeedItem(kind="order", key=o["order_id"], body=canonical_json(o)), None)
            for o in (good, bad)
        ]
    )
    store.close()
    state = tmp_path / "station"
    state.mkdir()
    with SimPrinter() as printer, running_central(setup):
        config = _config(setup, state, printer.target)
        with Daemon(config) as daemon:
            status = ["status", "--config", str(config)]

            def shown() -> bool:
                capsys.readouterr()
                assert run([*status, "--json"]) == 0
                info = json.loads(capsys.readouterr().out)
                return bool(info.get("feed_skipped", {}).get("count"))

            wait_until(shown)
            assert daemon.state()["phase"] == "idle"
            assert run(status) == 0
            human = capsys.readouterr().out
            assert re.search(r"feed records skipped\s+1 since start", human)
            assert "order 3002: order not usable: give either" in human

            def at_central() -> bool:
                s = open_store(setup.store)
                try:
                    return any(e.type == "feed_record_skipped" for e in s.events_after(0, 10_000))
                finally:
                    s.close()

            wait_until(at_central)
    replica = Replica(state / "replica.sqlite3", readonly=True)
    assert [o["order_id"] for o in replica.orders()] == ["3001"]  # every other record kept
    replica.close()
    store = open_store(setup.store)
    try:
        model = DashboardModel(store)
        model.refresh()
        snap = model.snapshot()
        assert snap["feed_skipped"]["count"] == 1
        (row,) = snap["feed_skipped"]["recent"]
        assert (row["station_id"], row["kind"], row["key"]) == ("station-01", "order", "3002")
        (st,) = snap["stations"]
        assert st["feed_skipped"] == 1
        metrics = CentralMetrics(store, connected=lambda: 0)
        metrics.catch_up()
        text = metrics.registry.render()
        assert re.search(
            r'^packstation_central_feed_records_skipped_total\{[^}]*kind="order"[^}]*\} 1$',
            text,
            re.MULTILINE,
        ), text
    finally:
        store.close()
