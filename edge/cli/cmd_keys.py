"""`packstation keys new NAME [--dir DIR]`: a CURVE certificate pair for a station or central."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import zmq
import zmq.auth

from edge.common.errors import BadInput, ExitCode

NAME_HELP = "certificate name: the station id for a station, e.g. station-01; 'central' for central"


def register(sub: Any) -> None:
    """Add `keys` and its `new` subcommand."""
    parser = sub.add_parser("keys", help="CurveZMQ key pairs for stations and central")
    cmds = parser.add_subparsers(title="keys commands", metavar="COMMAND", required=True)
    new = cmds.add_parser(
        "new",
        help="write NAME.key (public) and NAME.key_secret (mode 0600)",
        description="Write a pyzmq-compatible certificate pair: DIR/NAME.key (public, give it to "
        "the other side) and DIR/NAME.key_secret (secret, mode 0600). Refuses to overwrite.",
    )
    new.add_argument("name", metavar="NAME", help=NAME_HELP)
    new.add_argument("--dir", type=Path, default=Path("."), help="output directory (default: .)")
    new.add_argument("--force", action="store_true", help="overwrite an existing pair")
    new.add_argument("--json", action="store_true", help="print the files and public key as JSON")
    new.set_defaults(handler=_new)


def write_pair(directory: Path, name: str, force: bool = False) -> tuple[Path, Path, str]:
    """Create NAME.key / NAME.key_secret; the secret never exists with a wider mode than 0600."""
    if not name or "/" in name or name.startswith("."):
        raise BadInput(f"invalid certificate name {name!r}")
    public_file, secret_file = directory / f"{name}.key", directory / f"{name}.key_secret"
    if not force and (public_file.exists() or secret_file.exists()):
        raise BadInput(f"{public_file} or {secret_file} already exists (use --force to replace)")
    directory.mkdir(parents=True, exist_ok=True)
    old_umask = os.umask(0o077)  # the secret file is created 0600, not chmod-ed after the fact
    try:
        zmq.auth.create_certificates(directory, name)
    finally:
        os.umask(old_umask)
    secret_file.chmod(0o600)
    public_file.chmod(0o644)
    public, _ = zmq.auth.load_certificate(public_file)
    return public_file, secret_file, public.decode()


def _new(args: argparse.Namespace) -> int:
    public_file, secret_file, public = write_pair(args.dir, args.name, args.force)
    if args.json:
        doc = {"public_file": str(public_file), "secret_file": str(secret_file), "public": public}
        print(json.dumps(doc))
        return int(ExitCode.OK)
    print(f"public key  {public_file}  ({public})")
    print(f"secret key  {secret_file}  (mode 0600: keep it on this machine only)")
    return int(ExitCode.OK)
