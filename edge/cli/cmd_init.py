"""`packstation init station|central [--root DIR] [--no-doctor]`: set up this machine.

Writes /etc/packstation/{station,central}.toml from the templates shipped in the wheel (an edited
file is kept and its difference shown), the key pair (and central's intake token), the systemd
unit, the udev rules and the sysusers file (edge/cli/install.py), then runs `packstation doctor`
(station) or `packstation config check --root DIR` (central) and exits with its code. Safe to
run again. `--json` prints one object: {"role", "root", "files": [{"action", "path"}], "diffs":
{path: unified diff}, "check": the closing check's own --json object, or null}.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from pathlib import Path
from typing import Any

from edge.cli.install import init
from edge.cli.output import add_json


def register(sub: Any) -> None:
    """Add the `init` subcommand."""
    parser = sub.add_parser(
        "init",
        help="write /etc configs, keys, units, udev rules and the service user; then doctor",
        description="Set up a station or central from the files shipped with packstation: "
        "configuration in /etc/packstation (an edited file is kept, its difference to the "
        "template printed), CurveZMQ keys in /etc/packstation/keys (root only, secret 0600), "
        "central's intake token (/etc/packstation-central/intake.token, 0600), the systemd "
        "unit, the udev rules and the sysusers file. Idempotent. Ends with `packstation doctor` "
        "(station) or `packstation config check` (central) and exits with its code.",
    )
    parser.add_argument("role", choices=["station", "central"])
    parser.add_argument(
        "--root",
        type=Path,
        default=Path("/"),
        metavar="DIR",
        help="write everything under DIR instead of / (an image, a test); systemd and udev "
        "are then not reloaded (default: /)",
    )
    parser.add_argument("--no-doctor", action="store_true", help="skip the closing check")
    add_json(parser)
    parser.set_defaults(handler=_init)


def _closing_check(role: str, root: Path) -> list[str]:
    """The command init ends with: the installation under root, as the service will see it."""
    etc = root / "etc/packstation"
    if role == "central":
        return ["config", "check", str(etc / "central.toml"), "--root", str(root)]
    return ["doctor", "--config", str(etc / "station.toml"), "--root", str(root)]


def _init(args: argparse.Namespace) -> int:
    from edge import cli

    root: Path = args.root
    if not args.json:
        init(args.role, root)
        if args.no_doctor:
            return 0
        if args.role == "station":
            print()
        return cli.run(_closing_check(args.role, root))
    report = init(args.role, root, out=lambda _: None)
    code, check = 0, None
    if not args.no_doctor:
        captured = io.StringIO()
        with contextlib.redirect_stdout(captured):
            code = cli.run([*_closing_check(args.role, root), "--json"])
        with contextlib.suppress(ValueError):
            check = json.loads(captured.getvalue())
    data = {"role": args.role, "root": str(root), "files": report.files, "diffs": report.diffs}
    print(json.dumps({**data, "check": check}, indent=2))
    return code
