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
    import sys

    from edge.cli.cmd_journal import EXIT_CHAIN_BROKEN
    from edge.journal import JournalError
    from edge.station.config import load_station_config
    from edge.station.daemon import ChainBroken, run_station

    cfg = load_station_config(args.config)
    try:
        return run_station(cfg)
    except ChainBroken as exc:
        print(f"packstation: {exc}", file=sys.stderr)
        return EXIT_CHAIN_BROKEN
    except JournalError as exc:
        print(f"packstation: {exc}", file=sys.stderr)
        return 2
