"""The orders that left the station (sealed or cancelled), so neither the queue nor a scanned ticket
loads one for packing again.

The record is the journal: every `order_status` event (docs/journal.md) names an order that left,
and `from_journal` reads them back at start. The small JSON file beside the replica is a fast
cache of the same, written atomically and fsync'd after the journal commit; it can be lost or be
stale without an order coming back.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
from pathlib import Path

LOG = logging.getLogger(__name__)


def load_finished(path: Path) -> dict[str, str]:
    """order id -> final status; a missing or unreadable file is an empty record."""
    with contextlib.suppress(OSError, ValueError):
        found = json.loads(path.read_text())
        if isinstance(found, dict):
            return {str(k): str(v) for k, v in found.items()}
    return {}


def from_journal(journal: Path) -> dict[str, str]:
    """order id -> final status from the journal's `order_status` events (read-only; {} when
    there is no journal yet or it cannot be read: the daemon's own check reports that)."""
    if not journal.is_file():
        return {}
    try:
        conn = sqlite3.connect(f"{journal.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return {}
    try:
        rows = conn.execute(
            "SELECT json_extract(body, '$.order_id'), json_extract(body, '$.status') FROM events"
            " WHERE type = 'order_status' ORDER BY seq"
        ).fetchall()
    except sqlite3.Error as exc:
        LOG.error("finished orders not read from the journal", extra={"error": str(exc)})
        return {}
    finally:
        conn.close()
    return {str(order_id): str(status) for order_id, status in rows if order_id is not None}


def save_finished(path: Path, finished: dict[str, str]) -> None:
    """Replace the file atomically and durably (fsync of the file, then of the directory); a
    failure is logged, never raised (the journal holds the record; the station keeps going)."""
    tmp = path.with_suffix(".tmp")
    try:
        with tmp.open("w") as f:
            f.write(json.dumps(finished))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        LOG.error("finished orders not saved", extra={"error": str(exc)})
