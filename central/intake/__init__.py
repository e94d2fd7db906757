"""Intake: orders, inventory and badges from files (`central import`) or the HTTP API.

HTTP was chosen for POS integrations over ZeroMQ REQ/REP: point-of-sale systems already speak
HTTP/JSON (webhooks, REST clients in every language, curl for a technician), need no ZeroMQ or
CURVE library, and get a status code per request. A 200 means the change is committed and will
reach the stations; every record is checked first by the station's own rules (edge.common.feed).

    POST   /v1/orders          ORDERS.json (an array) or one ORDER.json object: upsert
    GET    /v1/orders/<id>     where the order is: queued, packing, halted, sealed... and where
    DELETE /v1/orders/<id>     take an order off the queue
    PUT    /v1/inventory       INVENTORY.json: the full vault snapshot (missing labels are removed)
    PUT    /v1/badges          BADGES.json: the full badge allow-list
    GET    /v1/health          liveness, no token: {"status": "ok"} (with the token also head, qseq)
    GET    /v1/openapi.json    the OpenAPI description (docs/schemas/openapi.json)

Modules: records.py (body -> feed changes), work.py (off the loop), server.py (aiohttp), tables.py
(idempotency keys, the order tracker), api.py (answers, OpenAPI), receipts.py (the state-system hook).
"""

from __future__ import annotations

import sys
from pathlib import Path

from central.intake.records import Kind, changes, full
from central.intake.server import IntakeServer
from central.store.base import SqlStore
from central.wholesale import DEFAULT_MAX_AGE_DAYS, LicenseRefused, release
from edge.common.errors import BadInput
from edge.common.feed import RecordError

__all__ = ["IntakeServer", "import_file"]


def import_file(
    store: SqlStore, kind: Kind, path: Path, max_age_days: int = DEFAULT_MAX_AGE_DAYS
) -> tuple[int, int]:
    """`central import KIND FILE`: validate all, then commit in one transaction; (changes, qseq).
    Orders pass central/wholesale.py first (its warnings go to stderr)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc}") from exc
    try:
        upserts = changes(kind, raw)
    except RecordError as exc:
        raise BadInput(f"{path}: {exc.path}: {exc.message}") from exc
    if kind == "orders":
        try:
            found, warnings = release(store, upserts, max_age_days)
        except LicenseRefused as exc:
            raise BadInput(f"{path}: {exc.path}: {exc.message}") from exc
        for line in warnings:
            print(f"{path}: warning: {line}", file=sys.stderr)
    else:
        found = full(kind, upserts, store.feed_keys("package" if kind == "inventory" else "badge"))
    return len(found), store.feed_put(found)
