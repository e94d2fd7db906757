"""`packstation config check FILE`: validate a station or central configuration file."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
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
        "Beyond the file's own keys it checks what the daemon would refuse at start: a station's "
        "time zone, the rule and label files of its jurisdiction; central's token files. "
        "Prints 'FILE: ok' or one line per problem; exit 0 when valid, 78 when not. FILE may "
        'be - (stdin). --json prints {"file", "kind", "ok", "problems"}. --root DIR checks an '
        "installation under DIR (an image, `init --root`): the absolute paths the file names "
        "are looked up under DIR.",
    )
    check.add_argument("file", type=Path, metavar="FILE")
    check.add_argument("--kind", choices=["station", "central"], help="default: from the file")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.add_argument(
        "--root",
        type=Path,
        default=Path("/"),
        metavar="DIR",
        help="look up the absolute paths the file names under DIR (default: /)",
    )
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
    if obj is not None:
        root: Path = args.root
        problems = list(
            station_refusals(obj, root) if kind == "station" else central_refusals(obj, root)
        )
    if args.json:
        result = {"file": str(path), "kind": kind, "ok": not problems, "problems": problems}
        print(json.dumps(result, indent=2))
        return int(ExitCode.CONFIG if problems else ExitCode.OK)
    if problems:
        raise ConfigError([f"{path}: {p}" for p in problems])
    print(f"{path}: ok ({kind} configuration)", file=sys.stdout)
    return int(ExitCode.OK)


def under(root: Path, name: str) -> Path:
    """Where a path the configuration names is on an installation under `root`: an absolute
    path moves under it, a relative one stays relative (to the working directory)."""
    path = Path(name)
    return root / str(path).lstrip("/") if path.is_absolute() else path


def station_refusals(cfg: Any, root: Path = Path("/")) -> Iterator[str]:
    """What the station daemon would refuse although every key is well-formed."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from edge.common import resources

    st = cfg.station
    try:
        ZoneInfo(st.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        yield f'[station] timezone: unknown time zone "{st.timezone}" (an IANA name, e.g. "America/Chicago")'
    etc = under(root, str(resources.ETC))

    def data_dir(kind: str, configured: str) -> Path:  # as the daemon picks it, under root
        return resources.data_dir(kind, str(under(root, configured)) if configured else "", etc)

    rules = data_dir("limits", cfg.limits.rules_dir) / f"{st.jurisdiction}.toml"
    if not rules.is_file():
        yield f"[station] jurisdiction: {st.jurisdiction} has no purchase-limit rules ({rules} missing)"
    labels = data_dir("labels", cfg.label.profiles_dir) / f"{st.jurisdiction}.toml"
    if not labels.is_file():
        yield f"[station] jurisdiction: {st.jurisdiction} has no label profile ({labels} missing)"


def central_refusals(cfg: Any, root: Path = Path("/")) -> Iterator[str]:
    """What central would refuse at start although every key is well-formed: token files (read
    under `root`, named as the configuration names them)."""
    wanted = []
    if cfg.intake.enabled or (cfg.dashboard.listen and not cfg.dashboard.token_file):
        wanted.append(("[intake] token_file", cfg.intake.token_file))
    if cfg.dashboard.listen and cfg.dashboard.token_file:
        wanted.append(("[dashboard] token_file", cfg.dashboard.token_file))
    for key, name in wanted:
        try:
            token = under(root, name).read_bytes().strip()
        except OSError as exc:
            where = "" if root == Path("/") else f" under {root}"
            yield f"{key}: cannot read {name}{where}: {exc.strerror}"
            continue
        if len(token) < 16:
            yield f"{key}: {name}: token shorter than 16 characters"
