"""One way for a command to print its result: a line for a person, or JSON with `--json`."""

from __future__ import annotations

import argparse
import json
from typing import Any

JSON_HELP = "print the result as JSON"
ALREADY_JSON_HELP = "the output is JSON already (accepted for scripts that always pass it)"


def add_json(parser: argparse.ArgumentParser, already: bool = False) -> None:
    parser.add_argument(
        "--json", action="store_true", help=ALREADY_JSON_HELP if already else JSON_HELP
    )


def result(args: argparse.Namespace, text: str, data: dict[str, Any]) -> None:
    """Print `text`, or `data` as one JSON object when the command was given --json."""
    print(json.dumps(data, default=str) if getattr(args, "json", False) else text)
