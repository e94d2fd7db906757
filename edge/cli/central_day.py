"""`packstation central report day|bags`: the end-of-day reconciliation and where the bags are.

    packstation central report day --date YYYY-MM-DD [--format csv|pdf|json] [--output FILE]
    packstation central report bags [--json]      every staged bag: location, released or not
    packstation central report notifications [--json]  every notification, its delivery state

Both read central's store directly (central/report/). Exit codes: 0 ok; 2 bad input (a date
that is not YYYY-MM-DD, an output that cannot be written); 78 configuration error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import date as Date
from pathlib import Path
from typing import Any

from edge.common.errors import BadInput, ExitCode

FORMATS = ("csv", "pdf", "json")


def register(add: Callable[[str, str], argparse.ArgumentParser]) -> None:
    report = add("report", "the end-of-day reconciliation report, and where the staged bags are")
    sub = report.add_subparsers(title="report commands", metavar="COMMAND", required=True)
    day = sub.add_parser("day", help="the day's reconciliation (csv, pdf or json)")
    day.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="central config")
    day.add_argument("--date", required=True, help="the day, YYYY-MM-DD (UTC)")
    day.add_argument("--format", choices=FORMATS, default="csv")
    day.add_argument("--output", type=Path, help="write here instead of standard output")
    day.add_argument("--json", action="store_true", help="the same as --format json")
    day.set_defaults(handler=_day)
    bags = sub.add_parser("bags", help="every staged bag: where it is, released or not")
    bags.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="central config")
    bags.add_argument("--json", action="store_true", help="one JSON object per line")
    bags.set_defaults(handler=_bags)
    notes = sub.add_parser("notifications", help="every [notify] notification, delivered or not")
    notes.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="central config")
    notes.add_argument("--json", action="store_true", help="one JSON object per line")
    notes.set_defaults(handler=_notifications)


def _store(args: argparse.Namespace) -> Any:
    from central.config import load_central_config
    from central.store import open_store

    return open_store(load_central_config(getattr(args, "config", None)).central.store)


def _day(args: argparse.Namespace) -> int:
    from central.report.day import build, render

    try:
        Date.fromisoformat(args.date)
    except ValueError:
        raise BadInput(f"--date {args.date!r}: expected YYYY-MM-DD") from None
    if len(args.date) != 10:
        raise BadInput(f"--date {args.date!r}: expected YYYY-MM-DD")
    store = _store(args)
    try:
        data = render(build(store, args.date), "json" if args.json else args.format)
    finally:
        store.close()
    if args.output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return ExitCode.OK
    try:
        args.output.write_bytes(data)
    except OSError as exc:
        raise BadInput(f"--output {args.output}: {exc.strerror}") from None
    return ExitCode.OK


def _bags(args: argparse.Namespace) -> int:
    from central.report.ledger import bag_locations

    store = _store(args)
    try:
        bags = bag_locations(store)
    finally:
        store.close()
    for order_id, bag in sorted(bags.items()):
        if args.json:
            print(json.dumps({"order_id": order_id, **bag}, sort_keys=True))
        else:
            where = bag["released"] or f"at {bag['location']}"
            print(f"{order_id}  {bag['station']}  {bag['location']}  {where}")
    return ExitCode.OK


def _notifications(args: argparse.Namespace) -> int:
    from central.statesys.store import ReportStore

    store = _store(args)
    try:
        rows = [w for w in ReportStore(store).webhooks() if w["event"].startswith("notify:")]
    finally:
        store.close()
    for row in rows:
        body = json.loads(row["body"])
        state = "delivered" if row["delivered_at"] else f"pending ({row['attempts']} tries)"
        if args.json:
            print(json.dumps({**row, "body": body, "state": state}, sort_keys=True))
        else:
            target = row["event"].split(":")[1]
            print(f"{row['id']}  {target}  {state}  {body.get('subject', '')}")
    return ExitCode.OK
