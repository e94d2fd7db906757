"""The intake's own store tables: idempotency keys and the order tracker behind GET /v1/orders/<id>.

Created idempotently beside central's schema (SQLite or PostgreSQL, text columns only), under the
store's own lock and transactions. Every method blocks: call it in a worker thread.

- `intake_idempotency`: one row per (method, path, Idempotency-Key): a digest of the body and the
  response given, kept IDEMPOTENCY_KEEP_S; the same key with the same body gets the same answer
  again, with another body 422.
- `intake_orders` + `intake_cursor`: the newest state of each order seen in the event stream
  (loaded, halted, sealed, cancelled: which station, when, gseq), caught up from the stored events
  after the cursor on each lookup.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from central.store.base import SqlStore, now

IDEMPOTENCY_KEEP_S = 24 * 3600
CATCH_UP_ROWS = 5000
TRACKED = ("order_loaded", "halt", "override", "order_status", "order_refused")
SCHEMA = [
    """CREATE TABLE IF NOT EXISTS intake_idempotency (
        method TEXT NOT NULL, path TEXT NOT NULL, idem_key TEXT NOT NULL, digest TEXT NOT NULL,
        status INTEGER NOT NULL, response TEXT NOT NULL, at TEXT NOT NULL,
        PRIMARY KEY (method, path, idem_key))""",
    """CREATE TABLE IF NOT EXISTS intake_orders (
        order_id TEXT PRIMARY KEY, station_id TEXT NOT NULL, status TEXT NOT NULL,
        event TEXT NOT NULL, at TEXT NOT NULL, gseq BIGINT NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS intake_cursor (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
]


@dataclass(frozen=True)
class Remembered:
    digest: str
    status: int
    response: dict[str, Any]


@dataclass(frozen=True)
class Tracked:
    """The newest thing the event stream says about an order."""

    station_id: str
    status: str
    event: str
    at: str
    gseq: int


def _status(type_: str, body: dict[str, Any]) -> str | None:
    if type_ == "order_loaded":
        return "packing"
    if type_ == "halt":
        return "halted"
    if type_ == "override":
        return None if body.get("action") == "cancel" else "packing"
    if type_ == "order_status":
        return str(body.get("status"))
    if type_ == "order_refused":
        return "refused"
    return None


class IntakeTables:
    def __init__(self, store: SqlStore) -> None:
        self.store = store
        with store._lock:
            store._begin()
            try:
                for statement in SCHEMA:
                    store._x(statement)
                store._x(
                    "INSERT INTO intake_cursor (name, value) VALUES ('orders', 0)"
                    " ON CONFLICT (name) DO NOTHING"
                )
            except BaseException:
                store._rollback()
                raise
            store._commit()

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        s = self.store
        with s._lock:
            s._begin()
            try:
                s._x(sql, params)
            except BaseException:
                s._rollback()
                raise
            s._commit()

    # -- idempotency keys ----------------------------------------------------------------------
    def recall(self, method: str, path: str, key: str) -> Remembered | None:
        s = self.store
        with s._lock:
            row = s._x(
                "SELECT digest, status, response, at FROM intake_idempotency"
                " WHERE method = ? AND path = ? AND idem_key = ?",
                (method, path, key),
            ).fetchone()
            s._end_read()
        if row is None:
            return None
        stamp = datetime.fromisoformat(str(row[3]))
        if datetime.now(UTC) - stamp > timedelta(seconds=IDEMPOTENCY_KEEP_S):
            return None
        return Remembered(str(row[0]), int(row[1]), json.loads(row[2]))

    def remember(
        self, method: str, path: str, key: str, digest: str, status: int, response: dict[str, Any]
    ) -> None:
        cutoff = (datetime.now(UTC) - timedelta(seconds=IDEMPOTENCY_KEEP_S)).isoformat(
            timespec="microseconds"
        )
        s = self.store
        with s._lock:
            s._begin()
            try:
                s._x("DELETE FROM intake_idempotency WHERE at < ?", (cutoff,))
                s._x(
                    "INSERT INTO intake_idempotency"
                    " (method, path, idem_key, digest, status, response, at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (method, path, idem_key) DO UPDATE"
                    " SET digest = excluded.digest, status = excluded.status,"
                    " response = excluded.response, at = excluded.at",
                    (method, path, key, digest, status, json.dumps(response), now()),
                )
            except BaseException:
                s._rollback()
                raise
            s._commit()

    # -- orders ----------------------------------------------------------------------------------
    def catch_up(self) -> int:
        """Fold the stored events after the cursor into intake_orders; return the new cursor."""
        s = self.store
        while True:
            with s._lock:
                s._begin()
                try:
                    (cursor,) = s._x(
                        "SELECT value FROM intake_cursor WHERE name = 'orders'"
                    ).fetchone()
                    marks = ",".join("?" * len(TRACKED))
                    rows = s._x(
                        "SELECT gseq, station_id, type, at, body FROM events WHERE gseq > ?"
                        f" AND type IN ({marks}) ORDER BY gseq LIMIT ?",
                        (int(cursor), *TRACKED, CATCH_UP_ROWS),
                    ).fetchall()
                    top = int(rows[-1][0]) if len(rows) == CATCH_UP_ROWS else None
                    if top is None:
                        (head,) = s._x("SELECT value FROM counters WHERE name = 'gseq'").fetchone()
                        top = int(head)
                    for gseq, station, type_, at, body in rows:
                        self._fold(int(gseq), str(station), str(type_), str(at), bytes(body))
                    s._x("UPDATE intake_cursor SET value = ? WHERE name = 'orders'", (top,))
                except BaseException:
                    s._rollback()
                    raise
                s._commit()
            if len(rows) < CATCH_UP_ROWS:
                return top

    def _fold(self, gseq: int, station: str, type_: str, at: str, raw: bytes) -> None:
        try:
            body = json.loads(raw)
        except ValueError:
            return
        order_id = body.get("order_id") if isinstance(body, dict) else None
        status = _status(type_, body) if isinstance(order_id, str) else None
        if status is None:
            return
        self.store._x(
            "INSERT INTO intake_orders (order_id, station_id, status, event, at, gseq)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (order_id) DO UPDATE SET"
            " station_id = excluded.station_id, status = excluded.status,"
            " event = excluded.event, at = excluded.at, gseq = excluded.gseq",
            (order_id, station, status, type_, at, gseq),
        )

    def tracked(self, order_id: str) -> Tracked | None:
        s = self.store
        with s._lock:
            row = s._x(
                "SELECT station_id, status, event, at, gseq FROM intake_orders WHERE order_id = ?",
                (order_id,),
            ).fetchone()
            s._end_read()
        if row is None:
            return None
        return Tracked(str(row[0]), str(row[1]), str(row[2]), str(row[3]), int(row[4]))

    def queued(self, order_id: str) -> tuple[str | None, str, int] | None:
        """(assigned station or None for every one, when it was queued, qseq) or None."""
        s = self.store
        with s._lock:
            row = s._x(
                "SELECT fs.station, f.at, fs.qseq FROM feed_state fs LEFT JOIN feed f"
                " ON f.qseq = fs.qseq WHERE fs.kind = 'order' AND fs.key = ?",
                (order_id,),
            ).fetchone()
            s._end_read()
        if row is None:
            return None
        return (None if row[0] is None else str(row[0])), str(row[1] or ""), int(row[2])

    def withdrawn(self, order_id: str) -> str | None:
        """When the order was taken off the queue, if it was on it and is no longer (as far
        as the feed log central keeps reaches back: [central] feed_keep)."""
        s = self.store
        with s._lock:
            row = s._x(
                "SELECT at FROM feed WHERE kind = 'order' AND key = ? AND body IS NULL"
                " ORDER BY qseq DESC LIMIT 1",
                (order_id,),
            ).fetchone()
            s._end_read()
        return None if row is None else str(row[0])
