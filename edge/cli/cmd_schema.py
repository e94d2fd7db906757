"""`packstation schema events|intake|openapi`: print a JSON Schema (or the OpenAPI description)
generated from the structs the code itself uses; docs/schemas/ holds the same files."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from edge.cli.output import add_json
from edge.common.errors import ExitCode

WHAT = {
    "events": "the journal's event bodies by type (edge/common/events.py)",
    "intake": "ORDERS.json, INVENTORY.json and BADGES.json as the intake takes them (edge/common/feed.py)",
    "openapi": "the intake HTTP API, OpenAPI 3.1 (central/intake/api.py)",
}


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "schema",
        help="print the JSON Schema of the events or the intake bodies, or the OpenAPI file",
        description="Print a schema generated from the code (the files in docs/schemas/): "
        + "; ".join(f"{k}: {v}" for k, v in WHAT.items())
        + ".",
    )
    parser.add_argument("which", choices=sorted(WHAT), metavar="events|intake|openapi")
    add_json(parser, already=True)
    parser.set_defaults(handler=_schema)


def document(which: str) -> dict[str, Any]:
    if which == "events":
        from edge.common.events import json_schema

        return json_schema()
    if which == "intake":
        from edge.common.feed import json_schema as intake_schema

        return intake_schema()
    from central.intake.api import openapi

    return openapi()


def render(which: str) -> str:
    """The exact text of docs/schemas/<which>.json."""
    return json.dumps(document(which), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _schema(args: argparse.Namespace) -> int:
    sys.stdout.write(render(args.which))
    return int(ExitCode.OK)
