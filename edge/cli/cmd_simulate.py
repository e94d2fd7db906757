"""`packstation simulate`: a simulated pack day, central + station running for real."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from edge.common.errors import BadInput

DESCRIPTION = """\
Run a whole pack day on embedded defaults: central (SQLite) and a station daemon as separate
processes over CurveZMQ, a scale emulator on a pty, a printer on loopback that renders every label
and slip to PNG, a METRC-shaped vault and a day of orders with the mistakes the station exists to
catch (wrong batch, hand-typed tag, expired package, over the limit, short weight, duplicate scan,
printer out of paper, central down). Prints a progress bar on stderr and a summary table on stdout.
Everything goes under --out DIR (replaced if it holds an earlier run).
Exit 0 when the day's invariants hold (every order sealed or cancelled as scripted, central holds
every journalled event, the journal chain verifies), 1 when one does not (named in the summary),
2 when --out is unusable."""


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"expected 1..1000, got {value}")
    return value


def register(sub: Any) -> None:
    """Add the `simulate` subcommand."""
    parser = sub.add_parser(
        "simulate",
        help="run a simulated pack day (central + station + simulated devices)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--orders",
        type=_positive,
        default=40,
        metavar="N",
        help="orders in the day (default 40; 12 or more include every incident)",
    )
    parser.add_argument("--seed", type=int, default=1, metavar="S", help="data seed (default 1)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("sim-out"),
        metavar="DIR",
        help="run directory (default ./sim-out)",
    )
    parser.add_argument(
        "--dashboard",
        action="store_true",
        help="leave central and its web dashboard running after the day and print its URL"
        " (Ctrl-C stops it)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the summary as JSON (as summary.json)"
    )
    parser.set_defaults(handler=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    from edge.cli.extras import require_station_extra

    require_station_extra("simulate")
    from edge.sim.day import SimOptions, main

    if args.out.exists() and not args.out.is_dir():
        raise BadInput(f"{args.out}: exists and is not a directory")
    return main(
        SimOptions(
            orders=args.orders,
            seed=args.seed,
            out=args.out,
            dashboard=args.dashboard,
            json=args.json,
        )
    )
