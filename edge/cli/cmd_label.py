"""`packstation label preview|print|slip|queue|status`: exit labels and discrepancy slips as PNG or
on a printer, the print spool and the printer's status."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from drivers.printer.document import Document, PaperWidth
from drivers.printer.escpos_encode import encode
from drivers.printer.session import Timeouts, attempt, read_status
from drivers.printer.spool import Spool
from drivers.printer.status import Readiness
from drivers.printer.transport import TransportError, open_transport, parse_target
from edge.cli.output import add_json, result
from edge.common import bounded
from edge.common import labs as lab_results
from edge.common.errors import BadInput, DeviceError, ExitCode
from edge.common.feed import RecordError
from edge.label.box import build_box, layout_box
from edge.label.content import BoxLabel, ExitLabel, HaltSlip, build_label, seal_code_for
from edge.label.inputs import Package, load_inventory, load_order
from edge.label.layout import layout_label, layout_slip
from edge.label.profile import Profile
from edge.station.config import (
    StationConfig,
    StationPaths,
    load_station_config,
    station_info,
    station_profile,
)

LOG = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add `label` with `preview`, `print` and `status`."""
    parser = sub.add_parser("label", help="exit labels: PNG preview, print, printer status")
    cmds = parser.add_subparsers(title="label commands", metavar="COMMAND", required=True)
    preview = cmds.add_parser(
        "preview",
        help="render an order's exit label (a wholesale order's box label) to PNG",
        description="Render the exit label of ORDER.json (the box label of a wholesale order) to "
        "a PNG exactly as the printer would print it. Exit 0, 2 (bad ORDER/INVENTORY/LABS, or a "
        "required field missing), 78 (config, e.g. no warning text).",
    )
    _label_args(preview)
    preview.add_argument("--out", type=Path, required=True, metavar="PNG")
    add_json(preview)
    preview.set_defaults(handler=_preview)
    prt = cmds.add_parser(
        "print",
        help="print an order's exit label",
        description="Print the exit label of ORDER.json on --printer (default: [printer] target). "
        "Exit 0 when the printer confirmed it, 4 when the printer is unreachable or reports "
        "cover open / paper out / error (nothing printed), 2 or 78 as for preview.",
    )
    _label_args(prt)
    prt.add_argument(
        "--printer",
        metavar="TARGET",
        help="tcp://HOST:PORT, usb:VID:PID, "
        "serial:PATH[@BAUD] or file:PATH (default: [printer] target)",
    )
    add_json(prt)
    prt.set_defaults(handler=_print)
    slip = cmds.add_parser(
        "slip",
        help="preview or print a discrepancy slip from SLIP.json",
        description="Render SLIP.json (the fields of edge.label.content.HaltSlip) to --out PNG and/or "
        "print it on --printer. Exit 0, 2 (bad SLIP.json), 4 (printer).",
    )
    slip.add_argument("slip", type=Path, metavar="SLIP.json")
    slip.add_argument("--out", type=Path, metavar="PNG")
    slip.add_argument("--printer", metavar="TARGET")
    slip.add_argument("--config", type=Path, metavar="FILE", help="station.toml")
    slip.add_argument("--width", type=int, choices=[58, 80], help="paper mm (default: config)")
    add_json(slip)
    slip.set_defaults(handler=_slip)
    queue = cmds.add_parser(
        "queue",
        help="list print jobs not yet printed (the daemon's spool)",
        description="List the jobs of the print spool that are queued or being printed, oldest "
        "first, with their attempts and last error. Exit 0.",
    )
    queue.add_argument("--config", type=Path, metavar="FILE", help="station.toml")
    add_json(queue)
    queue.set_defaults(handler=_queue)
    status = cmds.add_parser(
        "status",
        help="query the printer's DLE EOT status",
        description="Query the printer. Prints the state; exit 0 when ready, 4 when it is "
        "blocked, unreachable or does not answer (unknown).",
    )
    status.add_argument("--printer", metavar="TARGET")
    status.add_argument("--config", type=Path, metavar="FILE", help="station.toml")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.set_defaults(handler=_status)


def _label_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("order", type=Path, metavar="ORDER.json")
    p.add_argument("--inventory", type=Path, required=True, metavar="INVENTORY.json")
    p.add_argument("--config", type=Path, metavar="FILE", help="station.toml (default: built-in)")
    p.add_argument(
        "--agent",
        default="",
        help="the agent's display name or staff number printed on the label (never a badge value)",
    )
    p.add_argument("--width", type=int, choices=[58, 80], help="paper mm (default: config)")
    p.add_argument("--at", help="label time, ISO 8601 with offset (default: now)")
    p.add_argument(
        "--labs",
        type=Path,
        metavar="LABS.json",
        help="lab results (METRC rows or COA records, as for `central import labs`): the COA "
        "values and link the label profile asks for",
    )


def _width(args: argparse.Namespace, cfg: StationConfig) -> PaperWidth:
    return 58 if (args.width or cfg.printer.paper_width_mm) == 58 else 80


def _build(args: argparse.Namespace, cfg: StationConfig) -> tuple[ExitLabel | BoxLabel, Profile]:
    """The order's label: a wholesale order's box label (edge/label/box.py), else its exit
    label."""
    order = load_order(args.order)
    inventory = load_inventory(args.inventory)
    at = _at(args.at)
    profile = station_profile(cfg, at)
    info = station_info(cfg.station)
    if order.channel == "wholesale":
        return build_box(order, inventory, info, profile, args.agent, at), profile
    found = _labs(args.labs, inventory) if args.labs is not None else None
    label = build_label(order, inventory, info, profile, args.agent, at, labs=found)
    return label, profile


def _labs(path: Path, inventory: dict[str, Package]) -> dict[str, list[lab_results.LabResult]]:
    """UID -> the lab results of LABS.json that govern it (its own, else its batch's)."""
    try:
        parsed = lab_results.parse_results(path.read_bytes())
    except OSError as exc:
        raise BadInput(f"{path}: cannot read lab results: {exc.strerror or exc}") from exc
    except RecordError as exc:
        raise BadInput(f"{path}: not a valid lab results file: {exc}") from exc
    keyed: dict[str, list[lab_results.LabResult]] = {}
    for r in parsed:
        keyed[r.key] = lab_results.merge(keyed.get(r.key, []), [r])
    bodies = {k: lab_results.encode_set(v) for k, v in keyed.items()}
    return {
        uid: lab_results.lookup(bodies.get, uid, p.Batch or None) for uid, p in inventory.items()
    }


def _layout(
    label: ExitLabel | BoxLabel, profile: Profile, args: argparse.Namespace, cfg: StationConfig
) -> Document:
    if isinstance(label, BoxLabel):
        return layout_box(label, _width(args, cfg), cfg.printer.qr_module_dots)
    return layout_label(label, _width(args, cfg), cfg.printer.qr_module_dots, profile.symbol)


def _at(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadInput(
            f"--at {text!r}: expected ISO 8601 such as 2026-11-22T14:05:00-06:00"
        ) from exc
    if at.tzinfo is None:
        raise BadInput(f"--at {text!r}: needs a UTC offset, e.g. -06:00 or Z")
    return at


def _preview(args: argparse.Namespace) -> int:
    cfg = load_station_config(args.config)
    label, profile = _build(args, cfg)
    doc = _layout(label, profile, args, cfg)
    _save_png(doc, args.out)
    seal = seal_code_for(label)
    result(
        args,
        f"{args.out}: label for order {label.order_id}, seal {seal}",
        {"out": str(args.out), "order_id": label.order_id, "seal": seal},
    )
    return int(ExitCode.OK)


def _save_png(doc: Document, out: Path) -> None:
    # Pillow and qrcode are imported here, not by the command-line discovery that the station
    # daemon goes through too (it never renders PNGs).
    from edge.label.preview import render_document

    try:
        render_document(doc).save(out)
    except OSError as exc:
        raise BadInput(f"{out}: cannot write: {exc.strerror or exc}") from exc


def _timeouts(cfg: StationConfig) -> Timeouts:
    p = cfg.printer
    return Timeouts(p.timeout_ms / 1000, p.status_timeout_ms / 1000, p.confirm_timeout_ms / 1000)


def _target(args: argparse.Namespace, cfg: StationConfig) -> Any:
    text = args.printer or cfg.printer.target
    try:
        return parse_target(text)
    except ValueError as exc:
        raise BadInput(str(exc)) from exc


def _print(args: argparse.Namespace) -> int:
    cfg = load_station_config(args.config)
    label, profile = _build(args, cfg)
    doc = _layout(label, profile, args, cfg)
    target = _target(args, cfg)
    _send(target, encode(doc, qr_mode=cfg.printer.qr_mode), cfg, "label")
    seal = seal_code_for(label)
    result(
        args,
        f"{target}: printed label for order {label.order_id}, seal {seal}",
        {"printer": str(target), "order_id": label.order_id, "seal": seal, "printed": True},
    )
    return int(ExitCode.OK)


def _slip(args: argparse.Namespace) -> int:
    cfg = load_station_config(args.config)
    try:
        slip = bounded.decode_json(args.slip.read_bytes(), HaltSlip, str(args.slip), 1024 * 1024)
    except bounded.InputTooComplex as exc:
        raise BadInput(str(exc)) from exc
    except OSError as exc:
        raise BadInput(f"{args.slip}: cannot read: {exc.strerror or exc}") from exc
    except msgspec.DecodeError as exc:
        raise BadInput(f"{args.slip}: not a valid SLIP.json: {exc}") from exc
    if args.out is None and args.printer is None:
        raise BadInput("label slip: give --out PNG, --printer TARGET or both")
    doc = layout_slip(slip, _width(args, cfg))
    if args.out is not None:
        _save_png(doc, args.out)
        result(
            args,
            f"{args.out}: slip for order {slip.order_id}",
            {"out": str(args.out), "order_id": slip.order_id},
        )
    if args.printer is not None:
        _send(_target(args, cfg), encode(doc, qr_mode=cfg.printer.qr_mode), cfg, "slip")
        result(
            args,
            f"{args.printer}: printed slip for order {slip.order_id}",
            {"printer": args.printer, "order_id": slip.order_id, "printed": True},
        )
    return int(ExitCode.OK)


def _send(target: Any, data: bytes, cfg: StationConfig, what: str) -> None:
    result = attempt(
        target,
        data,
        timeouts=_timeouts(cfg),
        confirm=cfg.printer.confirm,
        pid="0001",
        clear_first=False,
    )
    if not result.printed:
        raise DeviceError(f"{target}: {what} not printed: {result.error}")
    if result.warning:
        print(f"packstation: warning: {result.warning}", file=sys.stderr)


def _queue(args: argparse.Namespace) -> int:
    cfg = load_station_config(args.config)
    path = StationPaths.of(cfg).spool
    if not path.exists():
        result(args, f"{path}: no spool (nothing queued)", {"spool": str(path), "jobs": []})
        return int(ExitCode.OK)
    spool = Spool(path)
    try:
        jobs = spool.open_jobs()
    finally:
        spool.close()
    if args.json:
        rows = [msgspec.to_builtins(job) for job in jobs]
        print(json.dumps({"spool": str(path), "jobs": rows}, default=str))
        return int(ExitCode.OK)
    for job in jobs:
        error = f"  last error: {job.last_error}" if job.last_error else ""
        print(
            f"{job.job_id}  {job.kind}  {job.state}  attempts={job.attempts}  "
            f"since {job.created_at}{error}"
        )
    print(f"{len(jobs)} job(s) waiting")
    return int(ExitCode.OK)


def _status(args: argparse.Namespace) -> int:
    cfg = load_station_config(args.config)
    target = _target(args, cfg)
    t = _timeouts(cfg)
    try:
        with open_transport(target, t.io) as conn:
            status = read_status(conn, t.status)
    except TransportError as exc:
        raise DeviceError(str(exc)) from exc
    if args.json:
        print(json.dumps(status.as_dict()))
    else:
        print(f"{target}: {status.state}")
        for problem in status.problems():
            print(f"  {problem}")
    return int(ExitCode.OK if status.readiness is Readiness.READY else ExitCode.DEVICE)
