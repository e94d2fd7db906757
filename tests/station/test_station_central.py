"""The daemon's built-in wiring with a real central: badges, orders and inventory arrive through the
link's replica, every journalled event reaches central's store, and without keys the station packs
on with central reported offline."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from drivers.printer.sim import SimPrinter
from tests.support.central import delivery_report, make_setup, running_central
from tests.support.linked import (
    feed_badges,
    import_feeds,
    link_to,
    linked_station_config,
    wait_until,
)
from tests.support.station import Daemon, real_inventory, real_orders, signals_logged, tag

pytestmark = pytest.mark.slow  # the daemon and central as subprocesses


def test_a_day_with_central_orders_in_events_out(tmp_path: Path) -> None:
    setup = make_setup(tmp_path / "central", ["station-01"])
    now = datetime.now(UTC).isoformat(timespec="seconds")
    feeds = {"orders": real_orders(now), "inventory": real_inventory(), "badges": feed_badges()}
    import_feeds(setup, tmp_path / "data", feeds)
    station = tmp_path / "station"
    station.mkdir()
    link = link_to(setup, "station-01")
    with SimPrinter() as printer, running_central(setup):
        config = linked_station_config(station, printer.target, link)
        with Daemon(config) as d:
            wait_until(lambda: "central" not in d.state()["devices_down"])
            # the replica's first snapshot: the badge is allowed, the queue has 2001
            wait_until(lambda: d.send("scan BADGE-ALICE")["phase"] == "ready")
            wait_until(lambda: d.send("scan BADGE-ALICE")["phase"] == "picking")
            assert d.state()["order"]["order"]["order_id"] == "2001"
            assert d.send(f"scan {tag(4)}")["signals"][0][0] == "scan_ok"
            seal = d.wait_phase("seal", 15)["order"]["seal_code"]
            assert d.send(f"scan {seal}")["signals"][-1][0] == "sealed"
            last = d.send("state")
            assert last["ok"]
            journal = station / "journal.sqlite3"
            wait_until(lambda: delivery_report(setup.store, "station-01", journal)["lost"] == 0)
        report = delivery_report(setup.store, "station-01", journal)
    assert report["duplicated"] == 0 and report["gaps"] == 0 and report["chain_breaks"] == 0
    assert report["central"] == report["journal"]


def test_without_keys_central_is_offline_and_packing_goes_on(tmp_path: Path) -> None:
    with SimPrinter() as printer:
        config = linked_station_config(tmp_path, printer.target, ['endpoint = "tcp://127.0.0.1:9"'])
        with Daemon(config) as d:
            wait_until(lambda: "central" in d.state()["devices_down"], 10)
            assert "link not started" in d.state()["devices_down"]["central"]
            assert "cannot load CURVE keys" in d.state()["devices_down"]["central"]
    assert "central_offline" in signals_logged(tmp_path)
