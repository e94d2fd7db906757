"""The intake API's answers as structs, and its OpenAPI description generated from them.

The request bodies are edge.common.feed's structs (the station's rules); the answers are below.
`openapi()` is served at GET /v1/openapi.json and written to docs/schemas/openapi.json (a test
keeps that file current); `packstation schema openapi` prints it.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from edge.common import feed

OrderState = Literal[
    "queued",  # on central's queue, no station has loaded it yet
    "packing",  # a station loaded it (or a supervisor cleared its halt)
    "halted",  # stopped at a station: a supervisor is needed
    "refused",  # a station refused to load it (the reason is in the event stream)
    "ready_for_pickup",
    "out_for_delivery",
    "ready_to_ship",  # a wholesale order sealed for its transfer
    "cancelled",
    "withdrawn",  # taken off the queue (DELETE) before any station loaded it
]


class Accepted(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The change is committed and will reach the stations."""

    accepted: int  # how many feed changes (upserts and removals)
    qseq: int  # the feed position of the last one
    warnings: list[str] = msgspec.field(default_factory=list)  # e.g. an old license list


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Why a request was refused; `path` is the JSON path of the bad field (400)."""

    error: str
    path: str | None = None


class Health(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Liveness: central's intake is serving. With the bearer token, also the positions."""

    status: Literal["ok"]
    head: int | None = None  # newest stored event's gseq (with the token only)
    qseq: int | None = None  # newest feed change (with the token only)


class OrderReport(msgspec.Struct, kw_only=True):
    """Where an order is: GET /v1/orders/<order_id>."""

    order_id: str
    status: OrderState
    at: str  # when it reached that status (event time at the station, or queue time)
    station: str | None  # the station that reported it (or the one it is assigned to)
    queued: bool  # still on central's queue
    event: str | None = None  # the event type that set the status
    gseq: int | None = None  # that event's global sequence number
    receipt: dict[str, Any] | None = None  # the state-system report's state (when a bridge runs)


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


def _answer(description: str, ref: str) -> dict[str, Any]:
    return {"description": description, "content": _json(ref)}


ERRORS = {
    "401": _answer("missing or wrong bearer token", "Problem"),
    "413": _answer("body larger than [intake] max_body_mb", "Problem"),
    "415": _answer("Content-Type is not application/json", "Problem"),
}
IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 255},
    "description": "a retry with the same key and body gets the first answer again"
    " (Idempotent-Replayed: true); the same key with another body gets 422",
}


def _write_op(summary: str, body: str, description: str) -> dict[str, Any]:
    return {
        "summary": summary,
        "description": description,
        "parameters": [IDEMPOTENCY],
        "requestBody": {"required": True, "content": _json(body)},
        "responses": {
            "200": _answer("committed", "Accepted"),
            "400": _answer("not JSON, or a record the stations could not use", "Problem"),
            **ERRORS,
            "409": _answer("a request with this Idempotency-Key is still running", "Problem"),
            "422": _answer("Idempotency-Key reused with another body", "Problem"),
        },
    }


def openapi() -> dict[str, Any]:
    names = [feed.Orders, feed.Inventory, feed.Badges, Accepted, Problem, Health, OrderReport]
    (orders, inventory, badges, *_), components = msgspec.json.schema_components(
        names, ref_template="#/components/schemas/{name}"
    )
    components.update({"Orders": orders, "Inventory": inventory, "Badges": badges})
    order_id = {
        "name": "order_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "maxLength": feed.MAX_KEY},
        "description": "percent-encoded as usual (10%2041 is the order 10 41)",
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "packstation central intake",
            "version": "1",
            "description": "Orders, inventory and badges from a POS into central, which feeds"
            " them to the stations (docs/protocol.md). Every request but /v1/health and"
            " /v1/openapi.json needs `Authorization: Bearer <token>` ([intake] token_file)."
            " Bodies are JSON (Content-Type application/json, plain or chunked)."
            " Every record is checked as the station will judge it: what is accepted, a station"
            " can pack.",
        },
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/v1/orders": {
                "post": _write_op(
                    "upsert orders",
                    "Orders",
                    "ORDERS.json (an array) or one ORDER.json object; an order with `station`"
                    " goes to that station's queue only.",
                )
            },
            "/v1/orders/{order_id}": {
                "parameters": [order_id],
                "get": {
                    "summary": "where an order is",
                    "responses": {
                        "200": _answer("the order's newest status", "OrderReport"),
                        "404": _answer("no such order", "Problem"),
                        "401": ERRORS["401"],
                    },
                },
                "delete": {
                    "summary": "take an order off the queue",
                    "parameters": [IDEMPOTENCY],
                    "responses": {
                        "200": _answer("committed (accepted 0: it was not queued)", "Accepted"),
                        "401": ERRORS["401"],
                    },
                },
            },
            "/v1/inventory": {
                "put": _write_op(
                    "replace the vault inventory",
                    "Inventory",
                    'INVENTORY.json (an array or METRC\'s {"Data": [...]}): the full snapshot;'
                    " packages not listed are removed.",
                )
            },
            "/v1/badges": {
                "put": _write_op(
                    "replace the badge allow-list", "Badges", "BADGES.json: the full list."
                )
            },
            "/v1/health": {
                "get": {
                    "summary": "liveness (no token needed)",
                    "security": [],
                    "responses": {"200": _answer("serving", "Health")},
                }
            },
            "/v1/openapi.json": {
                "get": {
                    "summary": "this description",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1"}},
                }
            },
        },
    }
