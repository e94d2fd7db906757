"""`packstation config check FILE`: validate a station or central configuration file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from edge.common import config
from edge.common.errors import ConfigError, ExitCode


def register(sub: Any) -> None:
    """Add `config` and its `check` subcommand."""
    parser = sub.add_parser("config", help="validate configuration files")
    cmds = parser.add_subparsers(title="config commands", metavar="COMMAND", required=True)
    check = cmds.add_parser(
        "check",
        help="validate a config file; one line per problem",
        description="Validate FILE (station or central, told apart by its sections, or --kind). "
        "Prints 'FILE: ok' or one line per problem; exit 0 when valid, 78 when not.",
    )
    check.add_argument("file", type=Path, metavar="FILE")
    check.add_argument("--kind", choices=["station", "central"], help="default: from the file")
    check.set_defaults(handler=_check)


def _kind_of(data: dict[str, Any]) -> str:
    return "central" if "central" in data and "station" not in data else "station"


def _check(args: argparse.Namespace) -> int:
    from central.config import CentralConfig
    from edge.station.config import StationConfig

    path: Path = args.file
    data = config.read_toml(path)  # ConfigError on unreadable/invalid TOML
    kind = args.kind or _kind_of(data)
    cls: type[Any] = CentralConfig if kind == "central" else StationConfig
    obj, problems = config.validate(cls, data)
    if obj is None:
        raise ConfigError([f"{path}: {p}" for p in problems])
    print(f"{path}: ok ({kind} configuration)", file=sys.stdout)
    return int(ExitCode.OK)
