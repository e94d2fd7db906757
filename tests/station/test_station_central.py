"""The daemon's built-in wiring with a real central: badges, orders and inventory arrive through the
link's replica, every journalled event reaches central's store, and without keys the station packs
on with central reported offline."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from drivers.printer.sim import SimPrinter
from edge.cli import run
from tests.support.central import delivery_report, make_setup, running_central
from tests.support.station import BADGES, Daemon, real_inventory, real_orders, signals_logged, tag

pytestmark = pytest.mark.slow  # the daemon and central as subprocesses


def _write(tmp: Path, name: str, data: object) -> str:
    path = tmp / name
    path.write_text(json.dumps(data))
    return str(path)


def _station_config(tmp: Path, printer: str, link: list[str]) -> Path:
    lines = [
        "[station]",
        f'state_dir = "{tmp}"',
        f'inject_socket = "{tmp / "inject.sock"}"',
        "[printer]",
        f'target = "{printer}"',
        "retry_ms = 200",
        "[indicator]",
        'backend = "recording"',
        "[journal]",
        "min_free_mb = 0",
        "min_free_percent = 0",
        "[link]",
        *link,
    ]
    path = tmp / "station.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _wait(cond: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise TimeoutError("condition not met")


def test_a_day_with_central_orders_in_events_out(tmp_path: Path) -> None:
    setup = make_setup(tmp_path / "central", ["station-01"])
    cfg = ["--config", str(setup.config)]
    now = datetime.now(UTC).isoformat(timespec="seconds")
    data = tmp_path / "data"
    data.mkdir()
    badges = [{"badge": b["code"], **{k: v for k, v in b.items() if k != "code"}} for b in BADGES]
    for kind, payload in (
        ("orders", real_orders(now)),
        ("inventory", real_inventory()),
        ("badges", badges),
    ):
        assert run(["central", "import", kind, _write(data, f"{kind}.json", payload), *cfg]) == 0
    station = tmp_path / "station"
    station.mkdir()
    secret, server = setup.station_keys("station-01")
    link = [
        f'endpoint = "{setup.endpoint}"',
        f'secret_key_file = "{secret}"',
        f'server_key_file = "{server}"',
        "heartbeat_ms = 300",
        "reconnect_max_ms = 1000",
    ]
    with SimPrinter() as printer, running_central(setup):
        config = _station_config(station, printer.target, link)
        with Daemon(config) as d:
            _wait(lambda: "central" not in d.state()["devices_down"])
            # the replica's first snapshot: the badge is allowed, the queue has 2001
            _wait(lambda: d.send("scan BADGE-ALICE")["phase"] == "ready")
            _wait(lambda: d.send("scan BADGE-ALICE")["phase"] == "picking")
            assert d.state()["order"]["order"]["order_id"] == "2001"
            assert d.send(f"scan {tag(4)}")["signals"][0][0] == "scan_ok"
            seal = d.wait_phase("seal", 15)["order"]["seal_code"]
            assert d.send(f"scan {seal}")["signals"][-1][0] == "sealed"
            last = d.send("state")
            assert last["ok"]
            journal = station / "journal.sqlite3"
            _wait(lambda: delivery_report(setup.store, "station-01", journal)["lost"] == 0)
        report = delivery_report(setup.store, "station-01", journal)
    assert report["duplicated"] == 0 and report["gaps"] == 0 and report["chain_breaks"] == 0
    assert report["central"] == report["journal"]


def test_without_keys_central_is_offline_and_packing_goes_on(tmp_path: Path) -> None:
    with SimPrinter() as printer:
        config = _station_config(tmp_path, printer.target, ['endpoint = "tcp://127.0.0.1:9"'])
        with Daemon(config) as d:
            _wait(lambda: "central" in d.state()["devices_down"], 10)
            assert "link not started" in d.state()["devices_down"]["central"]
            assert "cannot load CURVE keys" in d.state()["devices_down"]["central"]
    assert "central_offline" in signals_logged(tmp_path)
