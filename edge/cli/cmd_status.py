"""`packstation status [--config FILE] [--json]`: what the running station daemon is doing."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from edge.common.errors import DeviceError

DESCRIPTION = """\
Ask the running station daemon (through its local socket, <state_dir>/status.sock) for its state:
the agent logged in, the order and step, the outbox (events central has not acknowledged yet and
the oldest of them), each device's state, disk free, the last contact with central and the feed
records from central this station could not use and skipped (since it started).
Exit 0 with the status, 4 when no daemon answers on the socket, 78 on a configuration error."""


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "status",
        help="show the running station daemon's state",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="station.toml (default: embedded defaults)"
    )
    parser.add_argument(
        "--socket", type=Path, metavar="PATH", help="the status socket (default: from the config)"
    )
    parser.add_argument("--json", action="store_true", help="print the status as one JSON object")
    parser.set_defaults(handler=_status)


def _status(args: argparse.Namespace) -> int:
    from edge.station.config import StationPaths, load_station_config
    from edge.station.status import read_status

    path = args.socket or StationPaths.of(load_station_config(args.config)).status_socket
    try:
        info = read_status(path)
    except (OSError, ValueError) as exc:
        raise DeviceError(f"no station daemon answers on {path}: {exc}") from exc
    if args.json:
        print(json.dumps(info, indent=1, sort_keys=True))
    else:
        print(render(info))
    return 0


def _age(seconds: object) -> str:
    return f"{seconds} s ago" if isinstance(seconds, int) else "?"


def render(info: dict[str, Any]) -> str:
    """The status as aligned `key  value` lines for a person."""
    outbox = info.get("outbox", {})
    oldest = outbox.get("oldest_unacked")
    central = info.get("central", {})
    disk = info.get("disk", {})
    rows = [
        ("station", f"{info.get('station')} (pid {info.get('pid')})"),
        ("agent", info.get("agent") or "nobody logged in"),
        ("order", info.get("order") or "none"),
        ("step", info.get("step")),
        ("outbox", f"{outbox.get('depth', 0)} events not yet acknowledged by central"),
        (
            "oldest unacked",
            f"seq {oldest['seq']} at {oldest['at']} ({_age(oldest.get('age_s'))})"
            if oldest
            else "none",
        ),
        (
            "central",
            f"{central.get('state')}"
            + (f" ({central['last_error']})" if central.get("last_error") else ""),
        ),
        ("last central contact", central.get("last_contact") or "never"),
        ("disk free", f"{disk.get('free_mb')} MiB ({disk.get('percent_free')} %)"),
    ]
    if info.get("orders_refused"):
        rows.append(("orders refused", info["orders_refused"]))
    skipped = info.get("feed_skipped") or {}
    if skipped.get("count"):
        rows.append(
            (
                "feed records skipped",
                f"{skipped['count']} since start (each left out here, every other record kept)",
            )
        )
        for r in skipped.get("recent", []):
            rows.append(
                ("  skipped", f"{r.get('kind')} {r.get('key')}: {r.get('reason')} ({r.get('at')})")
            )
    for device, state in sorted(info.get("devices", {}).items()):
        rows.append((f"device {device}", state))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
