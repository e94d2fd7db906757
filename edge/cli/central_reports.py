"""`packstation central reports list|retry|show ORDER`: the state-system report queue.

    packstation central reports list [--state pending|sent|confirmed|failed] [--json]
    packstation central reports show ORDER          every report of one order, as JSON
    packstation central reports retry ORDER|--all   failed -> read back, then re-sent if absent

The queue lives in central's store (central/statesys/store.py); these commands work on it
directly, a running central picks the change up at its next round (within a second).
Exit codes: 0 ok; 2 no such order / nothing failed to retry; 78 configuration error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from edge.cli.output import add_json, result
from edge.common.errors import BadInput, ExitCode


def register(add: Callable[[str, str], argparse.ArgumentParser]) -> None:
    reports = add("reports", "the state-system report queue: list, show ORDER, retry ORDER")
    sub = reports.add_subparsers(title="reports commands", metavar="COMMAND", required=True)
    for name, help_ in (
        ("list", "list reports (newest last) and open alerts"),
        ("show", "every report of one order, as JSON"),
        ("retry", "retry failed reports of ORDER (read back first), or --all"),
    ):
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("--config", default=argparse.SUPPRESS, help="central configuration file")
        p.set_defaults(handler=globals()[f"_{name}"])
        if name == "list":
            p.add_argument("--state", choices=["pending", "sent", "confirmed", "failed"])
            p.add_argument("--json", action="store_true", help="one JSON object per line")
        if name == "show":
            p.add_argument("order", metavar="ORDER", help="order id (or station-order id)")
            add_json(p, already=True)
        if name == "retry":
            p.add_argument(
                "order", metavar="ORDER", nargs="?", help="order id (or station-order id)"
            )
            p.add_argument("--all", action="store_true", help="every failed report")
            add_json(p)


def _reports(args: argparse.Namespace) -> Any:
    from pathlib import Path

    from central.config import load_central_config
    from central.statesys.store import ReportStore
    from central.store import open_store

    config = getattr(args, "config", None)
    cfg = load_central_config(Path(config) if config else None)
    return ReportStore(open_store(cfg.central.store))


def _list(args: argparse.Namespace) -> int:
    reports = _reports(args)
    try:
        for alert in reports.alerts():  # on stderr with --json: stdout stays JSON lines
            line = f"ALERT {alert['at']} {alert['kind']}: {alert['message']}"
            if args.json:
                print(f"packstation: {line}", file=sys.stderr)
            else:
                print(line)
        jobs = reports.jobs(state=args.state)
        if args.json:
            for job in jobs:
                print(json.dumps(job.public(), default=str, ensure_ascii=False))
            return int(ExitCode.OK)
        print(f"{'job':>6}  {'kind':<7} {'station':<12} {'order':<12} {'state':<10} tries  updated")
        for job in jobs:
            print(
                f"{job.id:>6}  {job.kind:<7} {job.station:<12} {job.order_id or job.external:<12}"
                f" {job.state:<10} {job.attempts:>5}  {job.updated_at}"
                + (f"\n        {job.reason}" if job.reason else "")
            )
        counts = reports.counts()
        print("total: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing"))
    finally:
        reports.store.close()
    return int(ExitCode.OK)


def _show(args: argparse.Namespace) -> int:
    from central.statesys import report_state

    reports = _reports(args)
    try:
        jobs = reports.jobs(order_id=args.order)
        status = report_state(reports.store, args.order)
        if not jobs and status is None:
            raise BadInput(f"no report for order {args.order}")
        out = {"order": status, "reports": [j.public() for j in jobs]}
        print(json.dumps(out, indent=1, default=str, ensure_ascii=False))
    finally:
        reports.store.close()
    return int(ExitCode.OK)


def _retry(args: argparse.Namespace) -> int:
    if not args.all and not args.order:
        raise BadInput("name the ORDER to retry, or --all")
    reports = _reports(args)
    try:
        n = reports.retry(None if args.all else args.order)
    finally:
        reports.store.close()
    if n == 0:
        raise BadInput(f"no failed report for {args.order or 'any order'}")
    result(
        args,
        f"{n} report(s) queued again: each is read back first, then re-sent if absent",
        {"order": None if args.all else args.order, "all": bool(args.all), "queued": n},
    )
    return int(ExitCode.OK)
