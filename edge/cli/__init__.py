"""The `packstation` command line: a thin dispatcher over one module per capability.

Every module `edge/cli/cmd_*.py` defines `register(subparsers)`, which adds its subcommand and
sets `handler` (a function `(argparse.Namespace) -> int`) as the parser default. New capabilities
add a module; nothing here changes.

May import: everything (it is the top of the house), including central for `packstation central`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from edge import __version__
from edge.common.errors import ConfigError, ExitCode, PackstationError, exit_codes_help
from edge.common.logs import setup_logging

Handler = Callable[[argparse.Namespace], int]
LOG = logging.getLogger("edge.cli")

EXIT_CODES_HELP = exit_codes_help()


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every `cmd_*` module's subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="packstation",
        description="Dispensary pack station: verify, weigh, limit-check, label, journal, sync.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"packstation {__version__}")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="least severe log events written to stderr (default: info)",
    )
    parser.add_argument(
        "--log-format",
        default="logfmt",
        choices=["logfmt", "json"],
        help="one line per event, as logfmt or JSON (default: logfmt)",
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for module in _command_modules():
        module.register(sub)
    return parser


def _command_modules() -> list[ModuleType]:
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("cmd_"))
    return [importlib.import_module(f"{__name__}.{name}") for name in names]


def run(argv: Sequence[str]) -> int:
    """Parse `argv`, run the chosen command and map errors to documented exit codes."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return int(exc.exit_code)
    except PackstationError as exc:
        print(f"packstation: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `packstation ... | head`
        return int(ExitCode.OK)
