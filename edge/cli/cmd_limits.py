"""`packstation limits check|explain|validate`: purchase limits from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from edge.cli.output import add_json
from edge.common.errors import BadInput, ConfigError, ExitCode
from edge.limits import replay
from edge.limits.engine import LimitEngine, resolve_rules_dir
from edge.limits.rules import load_rules


def register(sub: Any) -> None:
    """Add `limits` and its `check`, `explain` and `validate` subcommands."""
    parser = sub.add_parser("limits", help="purchase limits: check a cart, explain a rule")
    cmds = parser.add_subparsers(title="limits commands", metavar="COMMAND", required=True)

    check = cmds.add_parser(
        "check",
        help="check CART.json against its jurisdiction's limits; verdict as JSON",
        description="Check CART.json and print the verdict as JSON on stdout. Exit 0 when "
        "allowed, 3 when over a limit, 2 for a bad cart, 78 for a bad rule file.",
    )
    check.add_argument("cart", type=Path, metavar="CART.json")
    _common(check)
    add_json(check, already=True)
    check.set_defaults(handler=_check)

    explain = cmds.add_parser(
        "explain",
        help="print a jurisdiction's rule in plain words, or reproduce journalled decisions",
        description="Print the rule in force for CODE (all classes, or --class) in plain words. "
        "With --journal EXPORT.jsonl (the output of `packstation journal export DB`, - for "
        "stdin) reproduce every journalled `limits` decision (of --order ID) from the journal "
        "alone: each bucket's exact used (prior + cart) against its exact limit and the rule "
        "file's cap, the recomputed allowed against the journalled one, and the rule's source. "
        "Exit 0 when every decision reproduces, 3 when one does not, 2 for a bad export.",
    )
    explain.add_argument(
        "code", nargs="?", metavar="CODE", help="two-letter jurisdiction code, e.g. IL"
    )
    explain.add_argument(
        "--journal", metavar="EXPORT.jsonl", help="a journal export to reproduce (- for stdin)"
    )
    explain.add_argument("--order", metavar="ID", help="with --journal: only this order")
    explain.add_argument(
        "--jurisdiction",
        metavar="CODE",
        help="with --journal: the jurisdiction of events that do not name one (older journals)",
    )
    explain.add_argument("--class", dest="customer_class", metavar="C", help="customer class")
    explain.add_argument(
        "--at", type=_date, metavar="DATE", help="YYYY-MM-DD (default: today in the store's zone)"
    )
    _common(explain)
    add_json(explain)
    explain.set_defaults(handler=_explain)

    validate = cmds.add_parser(
        "validate",
        help="validate every rule file; one line per problem",
        description="Validate every <CODE>.toml in the rules directory. Exit 0 when all are "
        "valid, 78 when any is not or the directory is missing or holds none. --json prints "
        '{"rules_dir", "files": {FILE: "ok" | [problems]}, "ok"}.',
    )
    _common(validate)
    validate.add_argument("--json", action="store_true", help="print the result as JSON")
    validate.set_defaults(handler=_validate)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rules-dir",
        default="",
        metavar="DIR",
        help="rule files directory (default: /etc/packstation/limits when it exists, else "
        "the rules shipped with packstation)",
    )
    parser.add_argument(
        "--timezone",
        metavar="TZ",
        help="the store's IANA time zone (default: the rule file's timezone)",
    )


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None


def _engine(args: argparse.Namespace) -> LimitEngine:
    return LimitEngine(resolve_rules_dir(args.rules_dir), args.timezone)


def _check(args: argparse.Namespace) -> int:
    verdict = _engine(args).check_file(args.cart)
    json.dump(verdict.to_json(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return int(ExitCode.OK if verdict.allowed else ExitCode.REFUSED)


def _explain(args: argparse.Namespace) -> int:
    engine = _engine(args)
    if args.journal is not None:
        return _explain_journal(args, engine)
    if args.code is None:
        raise BadInput("limits explain: give CODE, or --journal EXPORT.jsonl")
    text = engine.explain(args.code.upper(), args.customer_class, args.at)
    if args.json:
        doc = {"code": args.code.upper(), "class": args.customer_class, "text": text}
        print(json.dumps(doc))
        return int(ExitCode.OK)
    sys.stdout.write(text)
    return int(ExitCode.OK)


def _explain_journal(args: argparse.Namespace, engine: LimitEngine) -> int:
    if args.code is not None:
        raise BadInput("limits explain: give CODE or --journal, not both")
    code = args.jurisdiction.upper() if args.jurisdiction else None
    if args.journal == "-":
        decisions = replay.explain_journal(engine, sys.stdin.buffer, "stdin", args.order, code)
    else:
        try:
            with open(args.journal, "rb") as f:
                decisions = replay.explain_journal(engine, f, args.journal, args.order, code)
        except OSError as exc:
            raise BadInput(f"{args.journal}: {exc.strerror or exc}") from None
    if args.order is not None and not decisions:
        raise BadInput(f"{args.journal}: no limits event of order {args.order!r}")
    sys.stdout.write(replay.to_json(decisions) + "\n" if args.json else replay.render(decisions))
    ok = all(d.reproduced for d in decisions)
    return int(ExitCode.OK if ok else ExitCode.REFUSED)


def _validate(args: argparse.Namespace) -> int:
    rules_dir = resolve_rules_dir(args.rules_dir)
    if not rules_dir.is_dir():  # the [limits] rules_dir the daemon would refuse: exit 78
        raise ConfigError([f"{rules_dir}: no such rules directory"])
    paths = sorted(rules_dir.glob("*.toml"))
    if not paths:
        raise ConfigError([f"{rules_dir}: no rule files (*.toml)"])
    problems: list[str] = []
    files: dict[str, str | list[str]] = {}
    for path in paths:
        try:
            load_rules(path)
            LimitEngine(rules_dir).rules(path.stem)
        except ConfigError as exc:
            problems.extend(exc.problems)
            files[str(path)] = list(exc.problems)
        except BadInput as exc:
            problems.append(f"{path}: {exc}")
            files[str(path)] = [f"{path}: {exc}"]
        else:
            files[str(path)] = "ok"
            if not args.json:
                print(f"{path}: ok", file=sys.stdout)
    if args.json:
        result = {"rules_dir": str(rules_dir), "files": files, "ok": not problems}
        print(json.dumps(result, indent=2))
        return int(ExitCode.CONFIG if problems else ExitCode.OK)
    if problems:
        raise ConfigError(problems)
    return int(ExitCode.OK)
