"""Shared by the printer, label and indicator tests: a sample order, inventory and station."""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from edge.label.content import ExitLabel, StationInfo, build_label
from edge.label.inputs import load_inventory, load_order
from edge.label.profile import Profile, load_profile
from edge.workflow.ports import Order

REPO = Path(__file__).resolve().parents[2]
PROFILES = REPO / "config" / "labels"
AT = datetime(2026, 11, 22, 20, 5, tzinfo=UTC)  # 14:05 CST in America/Chicago

ORDER = {
    "order_id": "1042",
    "channel": "delivery",
    "customer": {"id": "C-88", "name": "Ada Lovelace", "class": "adult"},
    "placed_at": "2026-11-22T13:40:00-06:00",
    "lines": [
        {"line": 1, "uid": "1A4060300002C9B000012345"},
        {
            "line": 2,
            "sku": "FLW-BD-35",
            "batch": "B-2291",
            "quantity": 2,
            "picked": ["1A4060300002C9B000012346", "1A4060300002C9B000012347"],
        },
        {
            "line": 3,
            "sku": "BULK-OG",
            "weigh": True,
            "labelled_weight_mg": 3505,
            "picked": ["1A4060300002C9B000012348"],
        },
        {"line": 4, "sku": "GUM-10", "picked": ["1A4060300002C9B000012349"]},
    ],
}


def _pkg(uid: str, name: str, batch: str, **extra: object) -> dict[str, object]:
    return {"Label": uid, "Item": {"Name": name}, "Batch": batch, "Sku": "X", **extra}


INVENTORY = [
    _pkg(
        "1A4060300002C9B000012345",
        "Blue Dream 3.5g",
        "B-2291",
        NetWeightMg=3500,
        ThcMg=245,
        CbdMg=2,
    ),
    _pkg(
        "1A4060300002C9B000012346",
        "Blue Dream 3.5g",
        "B-2291",
        NetWeightMg=3500,
        ThcMg=245,
        CbdMg=2,
    ),
    _pkg(
        "1A4060300002C9B000012347",
        "Blue Dream 3.5g",
        "B-2291",
        NetWeightMg=3500,
        ThcMg=245,
        CbdMg=2,
    ),
    _pkg(  # a 454 g bulk package: 3.505 g of it hold 876.25 mg THC, 6.94 mg CBD
        "1A4060300002C9B000012348",
        "OG Kush bulk flower",
        "B-1001",
        Category="flower",
        NetWeightMg=454000,
        ThcMg=113500,
        CbdMg=900,
    ),
    _pkg("1A4060300002C9B000012349", "Sour Gummies 10x10mg", "G-0007", ThcMg=100, CbdMg=0),
]

STATION = StationInfo(
    dispensary_name="Green Leaf Dispensary",
    license_number="1503060555",
    jurisdiction="IL",
    timezone="America/Chicago",
    station_id="station-07",
)


def write_inputs(tmp: Path, order: dict[str, object] | None = None) -> tuple[Path, Path]:
    """ORDER.json and INVENTORY.json in `tmp`."""
    order_path, inv_path = tmp / "order.json", tmp / "inventory.json"
    order_path.write_text(json.dumps(order or ORDER))
    inv_path.write_text(json.dumps(INVENTORY))
    return order_path, inv_path


def write_station_toml(tmp: Path, **printer: object) -> Path:
    """A station.toml with STATION's facts and the given [printer] keys."""
    lines = [
        "[station]",
        f'id = "{STATION.station_id}"',
        f'dispensary_name = "{STATION.dispensary_name}"',
        f'license_number = "{STATION.license_number}"',
        f'jurisdiction = "{STATION.jurisdiction}"',
        f'timezone = "{STATION.timezone}"',
        f'state_dir = "{tmp / "state"}"',
        "[printer]",
        *(f"{k} = {json.dumps(v)}" for k, v in printer.items()),
    ]
    path = tmp / "station.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def profile(code: str = "IL") -> Profile:
    """The shipped profile of `code` in force at AT (unverified ones allowed)."""
    return load_profile(code, PROFILES, AT.date(), allow_unverified=True)


def sample_label(tmp: Path, agent: str = "A-17") -> ExitLabel:
    order_path, inv_path = write_inputs(tmp)
    order: Order = load_order(order_path)
    return build_label(order, load_inventory(inv_path), STATION, profile("IL"), agent, AT)


WEB_REPLY = (
    b"HTTP/1.1 400 Bad Request\r\nServer: embedded\r\nContent-Type: text/html\r\n"
    b"Content-Length: 50\r\nConnection: close\r\n\r\n<html><body>Bad Request</body></html>\r\n"
)


class _AnswersAnything(socketserver.BaseRequestHandler):
    """Like many embedded web servers: bytes that are no HTTP request get a 400 at once."""

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(5)
        try:
            while sock.recv(64):
                sock.sendall(WEB_REPLY)
        except OSError:
            return


@contextlib.contextmanager
def answering_web_server() -> Iterator[str]:
    """A web server on 127.0.0.1 (a real TCP server in a thread); yields its tcp:// target."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _AnswersAnything)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
