"""`packstation station --config FILE`: run the pack-station daemon until SIGTERM."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "station",
        help="run the pack-station daemon",
        description="Run the station daemon: devices, pack workflow, journal and central link. "
        "Sends READY=1 to systemd once the journal is open and its chain verified; stops "
        "cleanly on SIGTERM. Exit 0 on a clean stop, 5 when the journal's chain is broken, "
        "2 when the journal is unreadable, 78 on a configuration error.",
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="station.toml (default: embedded defaults)"
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from edge.cli.extras import require_station_extra

    require_station_extra("station")
    from edge.station.config import load_station_config
    from edge.station.daemon import run_station

    return run_station(load_station_config(args.config))
