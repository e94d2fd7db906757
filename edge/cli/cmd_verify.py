"""`packstation verify`: judge scans against an order and the vault inventory, one JSON line each."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

import msgspec

from edge.cli.output import add_json
from edge.common.errors import BadInput, ExitCode
from edge.scan import Inventory, InventoryFormatError, OrderFormatError, RestoreError
from edge.scan.gs1 import Gs1Reader
from edge.scan.verify import open_order_check, recogniser_for, verify_scan
from edge.station.config import load_station_config
from edge.workflow.ports import Gs1Data, ScanVerdict

DESCRIPTION = """\
Apply each SCAN, in order, to ORDER.json against the vault inventory INVENTORY.json and print one
JSON object per scan: scan, verdict, line, reason, candidates (plus kind, tag, unit, accepted,
gs1). Verdicts: match, duplicate, wrong_batch, not_in_order, unknown, near_miss, on_hold, expired,
not_tested, fifo, malformed. A SCAN of "-" reads further scans from standard input, one a line.
Exit 0 when every scan is accepted (a match, or fifo under [verify] fifo = "warn"), 3 when any is
refused, 2 on a bad order or inventory file, 78 on a bad configuration."""


def register(sub: Any) -> None:
    """Add the `verify` subcommand."""
    parser = sub.add_parser(
        "verify",
        help="judge scans against an order and the vault inventory",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--order", required=True, type=Path, metavar="ORDER.json")
    parser.add_argument("--inventory", required=True, type=Path, metavar="INVENTORY.json")
    parser.add_argument(
        "--config", type=Path, metavar="station.toml", help="default: embedded defaults"
    )
    parser.add_argument(
        "--today",
        type=_iso_date,
        metavar="YYYY-MM-DD",
        help="the date expiry is judged on (default: today per [verify] date_basis)",
    )
    parser.add_argument("scans", nargs="+", metavar="SCAN")
    add_json(parser, already=True)
    parser.set_defaults(handler=_verify)


def _iso_date(text: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from exc


def _scans(args: list[str]) -> list[str]:
    out: list[str] = []
    for scan in args:
        if scan == "-":
            out.extend(line.rstrip("\r\n") for line in sys.stdin)
        else:
            out.append(scan)
    return out


def _load_inventory(path: Path) -> Inventory:
    try:
        return Inventory.from_file(path)
    except InventoryFormatError as exc:
        raise BadInput(str(exc)) from exc
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _read_order(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _verify(args: argparse.Namespace) -> int:
    config = load_station_config(args.config)
    recogniser = recogniser_for(config, str(args.config or "<defaults>"))
    order_json = _read_order(args.order)
    inventory = _load_inventory(args.inventory)
    try:
        check = open_order_check(
            order_json, inventory, config, today=args.today, recogniser=recogniser
        )
    except (OrderFormatError, RestoreError) as exc:
        raise BadInput(f"{args.order}: {exc}") from exc
    refused = False
    encoder = msgspec.json.Encoder()
    gs1 = Gs1Reader(config.scan.gs_substitutes)
    for raw in _scans(args.scans):
        verdict = verify_scan(check, raw, gs1=gs1)
        refused |= not verdict.accepted
        sys.stdout.write(encoder.encode(_line(raw, verdict)).decode() + "\n")
    sys.stdout.flush()
    return int(ExitCode.REFUSED if refused else ExitCode.OK)


def _line(raw: str, v: ScanVerdict) -> dict[str, object]:
    """One output line: the fields in DESCRIPTION's order."""
    return {
        "scan": raw,
        "verdict": v.verdict,
        "line": v.line,
        "reason": v.reason,
        "candidates": v.candidates,
        "kind": v.kind,
        "tag": v.uid,
        "unit": v.unit,
        "accepted": v.accepted,
        "gs1": _gs1(v.gs1),
    }


def _gs1(data: Gs1Data | None) -> dict[str, object] | None:
    if data is None:
        return None
    return {
        "elements": {e.ai: e.value for e in data.elements},
        "gtin": data.gtin,
        "batch": data.batch,
        "expiry": data.expiry,
        "serial": data.serial,
    }
