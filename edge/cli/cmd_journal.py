"""`packstation journal verify DB` and `packstation journal export DB`: audit the station journal.

Both open the file read-only: they never create, migrate or write a journal.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from edge.cli.output import add_json
from edge.common.errors import ExitCode

JOURNAL_EXIT_CODES = f"""exit codes:
  {ExitCode.OK:<4}the chain verifies (verify) / every event printed (export)
  {ExitCode.USAGE:<4}DB is missing, unreadable, not a packstation journal, or fails SQLite's quick_check
  {ExitCode.DEVICE:<4}--against-central: central did not answer (nothing compared)
  {ExitCode.CHAIN_BROKEN:<4}the hash chain is broken, or (--against-central) a row differs from central's
      copy or central holds rows this journal lacks: the first bad seq and why are on stderr
"""


def register(sub: Any) -> None:
    parser = sub.add_parser("journal", help="verify or export the station journal")
    cmds = parser.add_subparsers(title="journal commands", metavar="COMMAND", required=True)
    verify = cmds.add_parser(
        "verify",
        help="check the hash chain; name the first bad row",
        description="Recompute the journal's hash chain from the first row. Prints "
        "'DB: ok, N events verified', or on stderr 'DB: chain broken at seq S: REASON'.",
        epilog=JOURNAL_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify.add_argument("db", type=Path, metavar="DB")
    verify.add_argument(
        "--against-central",
        action="store_true",
        help="also compare every row with central's copy (connects with the station's key from "
        "--config; exit 4 when central does not answer)",
    )
    verify.add_argument(
        "--config",
        type=Path,
        default=None,
        help="station.toml: also check the signed chain head with the station's key",
    )
    verify.add_argument(
        "--json",
        action="store_true",
        help='print {"db", "ok", "checked", "first_bad_seq", "reason"} on stdout',
    )
    verify.set_defaults(handler=_verify)
    recover = cmds.add_parser(
        "recover",
        help="set a journal that diverged from central's copy aside and adopt central's copy",
        description="For a station that refuses to start because its journal differs from "
        "central's copy (restored behind central, then events journalled offline). Stop the "
        "station first. Fetches central's copy of every row (the station's key from --config) "
        "into a new journal, copies the old journal whole to '<journal>.diverged-<UTC time>' "
        "and puts the new one in its place. Nothing of the old journal is journalled again: "
        "the rows central never had stay in the set-aside file for a supervisor to decide on. "
        "A journal that agrees with central's copy is left as it is.",
        epilog=f"""exit codes:
  {ExitCode.OK:<4}recovered (or nothing to recover): what was done is on stdout
  {ExitCode.USAGE:<4}the journal is missing or unreadable, or central's copy has a gap (nothing changed)
  {ExitCode.DEVICE:<4}central did not answer, or the station daemon is running (nothing changed)
  {ExitCode.CONFIG:<4}configuration error (the station's keys, --config)
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    recover.add_argument(
        "db", type=Path, metavar="DB", nargs="?", help="default: the journal of --config"
    )
    recover.add_argument(
        "--from-central",
        action="store_true",
        required=True,
        help="adopt central's copy (the only source of recovery)",
    )
    recover.add_argument("--config", type=Path, required=True, metavar="FILE", help="station.toml")
    add_json(recover)
    recover.set_defaults(handler=_recover)
    export = cmds.add_parser(
        "export",
        help="print every event as a JSON line",
        description="Print the events as JSON lines: seq, event_id, at, type, body (an object), "
        "prev_hash and hash (hex). --after SEQ starts after that seq.",
        epilog=JOURNAL_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("db", type=Path, metavar="DB")
    export.add_argument("--after", type=int, default=0, metavar="SEQ", help="default: 0 (all)")
    add_json(export, already=True)
    export.set_defaults(handler=_export)


def _verify(args: argparse.Namespace) -> int:
    from edge.journal import ChainBroken, Journal

    journal = Journal(args.db, readonly=True)  # JournalError (exit 2) when it cannot be opened
    try:
        result = journal.verify()
        if result.ok and args.config is not None:
            result = _signed_head(journal, args.config)
        if result.ok and args.against_central:
            result = _against_central(journal, args.config)
    finally:
        journal.close()
    if args.json:
        doc = {"db": str(args.db), "ok": result.ok, **msgspec.to_builtins(result)}
        print(json.dumps(doc))
        return int(ExitCode.OK if result.ok else ExitCode.CHAIN_BROKEN)
    if not result.ok:  # the verdict is this command's output: printed as is, not as an error
        broken = ChainBroken.at(args.db, result)
        print(f"packstation: {broken}", file=sys.stderr)
        return int(broken.exit_code)
    print(f"{args.db}: ok, {result.checked} events verified")
    return int(ExitCode.OK)


def _signed_head(journal: Any, config: Path) -> Any:
    """The journal's signed chain head against the station's key (edge/journal/anchor.py)."""
    from edge.journal import VerifyResult, anchor
    from edge.link.client import load_link_keys
    from edge.station.config import StationPaths, load_station_config

    paths = StationPaths.of(load_station_config(config))
    _, secret, _ = load_link_keys(paths.secret_key, paths.server_key)
    bad, reason = anchor.check_head(journal, secret)
    checked = journal.last_seq()
    return VerifyResult(checked=checked, first_bad_seq=bad, reason=reason)


def _against_central(journal: Any, config: Path | None) -> Any:
    from edge.common.errors import DeviceError
    from edge.link.client import load_link_keys
    from edge.link.compare import Unreachable, against_central
    from edge.station.config import StationPaths, load_station_config

    cfg = load_station_config(config)
    paths = StationPaths.of(cfg)
    keys = load_link_keys(paths.secret_key, paths.server_key)
    try:
        return against_central(
            journal, cfg.station.id, cfg.link.endpoint, keys, cfg.link.timeout_ms / 1000
        )
    except Unreachable as exc:
        raise DeviceError(f"{cfg.link.endpoint}: {exc}") from exc


def _recover(args: argparse.Namespace) -> int:
    from edge.common.errors import BadInput, DeviceError
    from edge.link.client import load_link_keys
    from edge.link.recover import RecoveryRefused, Unreachable, recover
    from edge.station.config import StationPaths, load_station_config
    from edge.station.status import read_status

    cfg = load_station_config(args.config)
    paths = StationPaths.of(cfg)
    db = args.db or paths.journal
    try:
        read_status(paths.status_socket)
    except (OSError, ValueError):
        pass  # no daemon answers: nothing writes this journal
    else:
        raise DeviceError(f"the station daemon is running ({paths.status_socket}): stop it first")
    keys = load_link_keys(paths.secret_key, paths.server_key)
    try:
        done = recover(db, cfg.station.id, cfg.link.endpoint, keys, cfg.link.timeout_ms / 1000)
    except Unreachable as exc:
        raise DeviceError(f"{cfg.link.endpoint}: {exc}; nothing was changed") from exc
    except RecoveryRefused as exc:
        raise BadInput(f"{db}: {exc}") from exc
    if args.json:
        print(json.dumps(msgspec.to_builtins(done)))
    elif not done.aside:
        print(f"{db}: agrees with central's copy: nothing to recover, nothing changed")
    else:
        print(
            f"{db}: set aside as {done.aside} ({done.set_aside_rows} rows, {done.not_at_central} "
            f"of them from seq {done.fork_seq} on never reached central: not journalled again)"
        )
        print(f"{db}: now central's copy, {done.central_rows} rows; the station may start")
    return int(ExitCode.OK)


def _export(args: argparse.Namespace) -> int:
    from edge.journal import Journal, export_line

    journal = Journal(args.db, readonly=True)
    out = sys.stdout.buffer
    try:
        after = args.after
        while chunk := journal.events(after, 1000):
            for event in chunk:
                out.write(export_line(event) + b"\n")
            after = chunk[-1].seq
        out.flush()
    finally:
        journal.close()
    return int(ExitCode.OK)
