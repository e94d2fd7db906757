"""The staging scenarios' parts: a central with the scenario's orders, a station wired to it with
[staging] locations (tests/staging/)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.central import Setup, make_setup
from tests.support.linked import feed_badges, import_feeds, link_to, linked_station_config
from tests.support.station import Daemon, journal_events, real_inventory, real_orders, tag

STAGING = [
    "[staging]",
    'pickup = ["^LOC-SHELF-[A-Z0-9]{1,8}$"]',
    'delivery = ["^LOC-BIN-[0-9]{1,4}$"]',
]


def station_config(tmp: Path, printer: str, link: list[str]) -> Path:
    return linked_station_config(tmp, printer, link, extra=STAGING)


def pack(d: Daemon, order_id: str, uid: str) -> str:
    assert d.send(f"scan ORD-{order_id}")["phase"] == "picking"
    assert d.send(f"scan {uid}")["signals"][0][0] == "scan_ok"
    seal: str = d.wait_phase("seal", 15)["order"]["seal_code"]
    reply = d.send(f"scan {seal}")
    assert reply["phase"] == "stage" and reply["signals"][0][0] == "sealed"
    return seal


def release_refused(d: Daemon, *scans: str) -> str:
    for s in scans:
        reply = d.send(f"scan {s}")
    assert reply["signals"][-1][0] == "halt"
    return str(journal_events(Path(d.config.parent), "release_refused")[-1]["body"]["code"])


def central_with_orders(tmp_path: Path) -> tuple[Setup, list[str]]:
    """A central with the scenario's orders (5001: a second, plain pickup order), inventory,
    badges."""
    setup = make_setup(tmp_path / "central", ["station-01"])
    cfg = ["--config", str(setup.config)]
    now = datetime.now(UTC).isoformat(timespec="seconds")
    extra = {
        "order_id": "5001",
        "channel": "pickup",
        "customer": {"id": "C-5", "name": "Ed F.", "class": "adult"},
        "lines": [{"line": 1, "uid": tag(3)}],
    }
    feeds = {"orders": [*real_orders(now), extra], "inventory": real_inventory()}
    import_feeds(setup, tmp_path / "data", {**feeds, "badges": feed_badges()})
    return setup, cfg


def link(setup: Setup) -> list[str]:
    return link_to(setup, "station-01")


class Receiver:
    """A webhook receiver answering `status` (503 = down) and keeping what it accepted."""

    def __init__(self) -> None:
        self.status = 503
        self.got: list[tuple[dict[str, str], dict[str, Any]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.status == 200:
                    outer.got.append((dict(self.headers), json.loads(raw)))
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
