"""The `packstation` command line: a thin dispatcher over one module per capability.

Every module `edge/cli/cmd_*.py` defines `register(subparsers)`, which adds its subcommand and
sets `handler` (a function `(argparse.Namespace) -> int`) as the parser default. New capabilities
add a module; nothing here changes. A run imports only `cmd_<command>` when that module exists
(name a module after its command); any other command line builds the full parser.

May import: everything (it is the top of the house), including central for `packstation central`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

from edge import __version__
from edge.common.errors import BadInput, ConfigError, ExitCode, PackstationError, exit_codes_help
from edge.common.logs import setup_logging

Handler = Callable[[argparse.Namespace], int]
LOG = logging.getLogger("edge.cli")

EXIT_CODES_HELP = exit_codes_help()


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The full parser, with every `cmd_*` module's subcommand registered; given the command
    line, only the module of the command it names (`station` imports `cmd_station` alone, not
    the doctor's or the simulator's modules: start-up time on a Pi), else all of them."""
    parser = argparse.ArgumentParser(
        prog="packstation",
        description="Dispensary pack station: verify, weigh, limit-check, label, journal, sync.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"packstation {__version__}")
    _global_options(parser, "info", "logfmt")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    word = _command_word(argv) if argv is not None else None
    modules = _command_modules(word)
    for module in modules:
        module.register(sub)
    if word is not None and word not in sub.choices:  # `restore` lives in cmd_backup
        for module in _command_modules(None):
            if module not in modules:
                module.register(sub)
    for leaf in leaf_parsers(parser):  # global options are accepted after the subcommand too
        _global_options(leaf, argparse.SUPPRESS, argparse.SUPPRESS)
    return parser


def _global_options(parser: argparse.ArgumentParser, level: str, fmt: str) -> None:
    parser.add_argument(
        "--log-level",
        default=level,
        choices=["debug", "info", "warning", "error"],
        help="least severe log events written to stderr (default: info)",
    )
    parser.add_argument(
        "--log-format",
        default=fmt,
        choices=["logfmt", "json"],
        help="one line per event, as logfmt or JSON (default: logfmt)",
    )


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parser's subcommands by name (none for a leaf command)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser that runs a command (a leaf, or one with a handler of its own)."""
    subs = subcommands(parser)
    if not subs:
        return [parser]
    seen: list[argparse.ArgumentParser] = [parser] if parser.get_default("handler") else []
    for child in subs.values():
        seen += [p for p in leaf_parsers(child) if p not in seen]
    return seen


GLOBAL_VALUED = frozenset({"--log-level", "--log-format"})  # global options taking a value


def _command_word(argv: Sequence[str]) -> str | None:
    """The subcommand `argv` names (its first word that is not a global option or its value)."""
    args = iter(argv)
    for arg in args:
        if arg in GLOBAL_VALUED:
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def _command_modules(word: str | None) -> list[ModuleType]:
    """Every `cmd_*` module, or only `cmd_<word>` when that module exists."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("cmd_"))
    if word is not None and f"cmd_{word}" in names:
        names = [f"cmd_{word}"]
    return [importlib.import_module(f"{__name__}.{name}") for name in names]


def prefixed(message: str) -> str:
    """Every message a command prints on stderr starts with `packstation:` (once)."""
    return message if message.startswith("packstation:") else f"packstation: {message}"


def run(argv: Sequence[str]) -> int:
    """Parse `argv`, run the chosen command and map errors to documented exit codes."""
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    handler: Handler = args.handler
    stdin_copy: Path | None = None
    try:
        stdin_copy = _stdin_input(args)
        return handler(args)
    except ConfigError as exc:
        for line in exc.problems:
            print(prefixed(line), file=sys.stderr)
        return int(exc.exit_code)
    except PackstationError as exc:
        print(prefixed(str(exc)), file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `packstation ... | head`
        return int(ExitCode.OK)
    finally:
        if stdin_copy is not None:
            shutil.rmtree(stdin_copy.parent, ignore_errors=True)


OUTPUT_ARGS = frozenset({"out", "dir"})  # paths written, never read: "-" is not stdin there


def _stdin_input(args: argparse.Namespace) -> Path | None:
    """`-` for stdin wherever a file is read: the input is copied to a private temporary file
    the command reads like any other (SQLite journals included); it is removed afterwards."""
    dashed = [
        name
        for name, value in vars(args).items()
        if isinstance(value, Path) and str(value) == "-" and name not in OUTPUT_ARGS
    ]
    if not dashed:
        return None
    if len(dashed) > 1:
        raise BadInput("only one input can be read from stdin ('-')")
    path = Path(tempfile.mkdtemp(prefix="packstation-")) / "stdin"
    with path.open("wb") as fh:
        shutil.copyfileobj(sys.stdin.buffer, fh)
    setattr(args, dashed[0], path)
    return path
