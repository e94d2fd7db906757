"""The bridge's durable state in central's store: its own tables, created idempotently.

Tables (SQLite and PostgreSQL, the same names and columns):

- `statesys_meta`: named positions (`events_gseq`: how far the event tail got; `pull_since`: the
  newest `LastModified` of the last package pull).
- `statesys_orders`: per (station, order_id) what the station's events said of the order so far
  (the ORDER.json, accepted picks, captured weights, child tags) and its last status.
- `statesys_jobs`: one row per call to make at the state system, in creation order (`id`), keyed
  by a natural `key` (`sale:<station>:<order>`, ...). `state` is the per-order report state:
  `pending` (not yet sent), `sent` (a request left or may have left; the next try reads back
  first), `confirmed` (the state system has it: `remote_id`), `failed` (`reason`: waits for a
  person, `packstation central reports retry ORDER`).
- `statesys_alerts`: bad keys (401/403) and other conditions a person must see.
- `webhook_outbox`: POS webhook deliveries (central/webhook.py), at least once, each with its
  idempotency key.

Every write is one transaction under the store's lock, so the event tail's position, the orders it
assembled and the jobs it created commit together (a kill -9 replays the same events into the same
rows: every insert is keyed and `ON CONFLICT DO NOTHING`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from central.store.base import SqlStore, now

_ENC = msgspec.json.Encoder(decimal_format="number", order="sorted")
_DEC = msgspec.json.Decoder(float_hook=Decimal)


def dumps(obj: Any) -> str:
    """JSON text with exact decimals (a Decimal is written as a JSON number, never a float)."""
    return _ENC.encode(obj).decode()


def loads(text: str | bytes) -> Any:
    """JSON text -> objects, every non-integer number as a Decimal."""
    return _DEC.decode(text)


PENDING, SENT, CONFIRMED, FAILED = "pending", "sent", "confirmed", "failed"
STATES = (PENDING, SENT, CONFIRMED, FAILED)
VOIDED = "voided"  # a failed job whose reason starts so no longer holds its packages back
READ_BACK = "read-back refused: "  # a failure after a request left: it may have landed
NOT_SENT = "not sent:"  # nor one refused before sending (an adjustment without a supervisor)

_TABLES = {
    "statesys_meta": "name TEXT PRIMARY KEY, value TEXT NOT NULL",
    "statesys_orders": (
        "station TEXT NOT NULL, order_id TEXT NOT NULL, body TEXT NOT NULL,"
        " status TEXT, status_at TEXT, PRIMARY KEY (station, order_id)"
    ),
    "statesys_jobs": (
        "id {ID}, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, station TEXT NOT NULL,"
        " order_id TEXT NOT NULL, external TEXT NOT NULL, packages TEXT NOT NULL,"
        " body TEXT NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL,"
        " remote_id TEXT NOT NULL, attempts INTEGER NOT NULL, next_at {REAL} NOT NULL,"
        " created_at TEXT NOT NULL, updated_at TEXT NOT NULL, origin_at TEXT NOT NULL,"
        " confirmed_at TEXT"
    ),
    "statesys_alerts": (
        "id {ID}, at TEXT NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL, cleared_at TEXT"
    ),
    "webhook_outbox": (
        "id {ID}, key TEXT NOT NULL UNIQUE, event TEXT NOT NULL, body TEXT NOT NULL,"
        " attempts INTEGER NOT NULL, next_at {REAL} NOT NULL, created_at TEXT NOT NULL,"
        " delivered_at TEXT, last_error TEXT NOT NULL"
    ),
}
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS statesys_jobs_open ON statesys_jobs (state, id)",
    "CREATE INDEX IF NOT EXISTS statesys_jobs_order ON statesys_jobs (order_id)",
    "CREATE INDEX IF NOT EXISTS webhook_outbox_open ON webhook_outbox (delivered_at, id)",
)


@dataclass
class Job:
    """One row of `statesys_jobs`."""

    id: int
    key: str
    kind: str  # sale, archive, child, move, adjust
    station: str
    order_id: str
    external: str  # ExternalReceiptNumber / child tag / package label
    packages: list[str]
    body: dict[str, Any]
    state: str
    reason: str
    remote_id: str
    attempts: int
    next_at: float
    created_at: str
    updated_at: str
    origin_at: str  # when the station sealed (or journalled) what this job reports
    confirmed_at: str | None

    def public(self) -> dict[str, Any]:
        """The row as `reports show` prints it."""
        return {
            "job": self.id,
            "kind": self.kind,
            "station": self.station,
            "order_id": self.order_id,
            "external": self.external,
            "state": self.state if self.state != FAILED else f"failed: {self.reason}",
            "reason": self.reason,
            "remote_id": self.remote_id or None,
            "attempts": self.attempts,
            "packages": self.packages,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "origin_at": self.origin_at,
            "confirmed_at": self.confirmed_at,
            "request": self.body,
        }


@dataclass
class NewJob:
    key: str
    kind: str
    station: str
    order_id: str
    external: str
    packages: list[str]
    body: dict[str, Any]
    origin_at: str
    state: str = PENDING
    reason: str = ""


JOB_COLUMNS = (
    "id, key, kind, station, order_id, external, packages, body, state, reason, remote_id,"
    " attempts, next_at, created_at, updated_at, origin_at, confirmed_at"
)


def _job(row: Sequence[Any]) -> Job:
    return Job(
        id=int(row[0]),
        key=row[1],
        kind=row[2],
        station=row[3],
        order_id=row[4],
        external=row[5],
        packages=[p for p in str(row[6]).split(",") if p],
        body=loads(row[7]),
        state=row[8],
        reason=row[9],
        remote_id=row[10],
        attempts=int(row[11]),
        next_at=float(row[12]),
        created_at=row[13],
        updated_at=row[14],
        origin_at=row[15],
        confirmed_at=row[16],
    )


class ReportStore:
    """The bridge's tables over central's `SqlStore` (same connection, same lock)."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.pg = store.PARAM != "?"
        ident = (
            "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
            if self.pg
            else "INTEGER PRIMARY KEY AUTOINCREMENT"
        )
        real = "DOUBLE PRECISION" if self.pg else "REAL"
        if getattr(store, "_statesys_schema", False):
            return  # created by an earlier ReportStore over this connection
        with store._lock:
            if self.pg:  # one schema creation at a time across instances (as PgStore does)
                self._x("SELECT pg_advisory_lock(7340021)")
            try:
                store._begin()
                try:
                    for name, columns in _TABLES.items():
                        cols = columns.replace("{ID}", ident).replace("{REAL}", real)
                        self._x(f"CREATE TABLE IF NOT EXISTS {name} ({cols})")
                    for statement in _INDEXES:
                        self._x(statement)
                except BaseException:
                    store._rollback()
                    raise
                store._commit()
            finally:
                if self.pg:
                    self._x("SELECT pg_advisory_unlock(7340021)")
        store._statesys_schema = True  # type: ignore[attr-defined]

    # -- plumbing ------------------------------------------------------------------------------
    def _x(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.store._x(sql, params)

    @contextmanager
    def _txn(self) -> Iterator[None]:
        with self.store._lock:
            self.store._begin()
            try:
                yield
            except BaseException:
                self.store._rollback()
                raise
            self.store._commit()

    @contextmanager
    def _read(self) -> Iterator[None]:
        with self.store._lock:
            try:
                yield
            finally:
                self.store._end_read()

    # -- meta ----------------------------------------------------------------------------------
    def meta(self, name: str, default: str = "") -> str:
        with self._read():
            row = self._x("SELECT value FROM statesys_meta WHERE name = ?", (name,)).fetchone()
        return str(row[0]) if row else default

    def _set_meta(self, name: str, value: str) -> None:
        self._x(
            "INSERT INTO statesys_meta (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def set_meta(self, name: str, value: str) -> None:
        with self._txn():
            self._set_meta(name, value)

    # -- orders assembled from events ----------------------------------------------------------
    def orders(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        found: dict[tuple[str, str], dict[str, Any]] = {}
        with self._read():
            for station, order_id in keys:
                row = self._x(
                    "SELECT body FROM statesys_orders WHERE station = ? AND order_id = ?",
                    (station, order_id),
                ).fetchone()
                if row is not None:
                    found[(station, order_id)] = loads(row[0])
        return found

    def commit_ingest(
        self,
        gseq: int,
        orders: dict[tuple[str, str], dict[str, Any]],
        jobs: list[NewJob],
        webhooks: list[tuple[str, str, dict[str, Any]]],
        voids: list[tuple[str, str]],
    ) -> int:
        """Store what one chunk of events produced and the tail's new position, atomically.
        Returns the number of jobs actually created (a replayed chunk creates none)."""
        created = 0
        with self._txn():
            for (station, order_id), body in orders.items():
                self._x(
                    "INSERT INTO statesys_orders (station, order_id, body, status, status_at)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (station, order_id) DO UPDATE SET"
                    " body = excluded.body, status = excluded.status,"
                    " status_at = excluded.status_at",
                    (
                        station,
                        order_id,
                        dumps(body),
                        body.get("status"),
                        body.get("status_at"),
                    ),
                )
            for station, order_id in voids:
                created += self._void(station, order_id)
            for job in jobs:
                created += self._insert_job(job)
            for key, event, body in webhooks:
                self._insert_webhook(key, event, body)
            self._set_meta("events_gseq", str(gseq))
        return created

    # -- jobs ----------------------------------------------------------------------------------
    def _insert_job(self, job: NewJob) -> int:
        stamp = now()
        cur = self._x(
            "INSERT INTO statesys_jobs (key, kind, station, order_id, external, packages, body,"
            " state, reason, remote_id, attempts, next_at, created_at, updated_at, origin_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', 0, 0, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
            (
                job.key,
                job.kind,
                job.station,
                job.order_id,
                job.external,
                ",".join(job.packages),
                dumps(job.body),
                job.state,
                job.reason,
                stamp,
                stamp,
                job.origin_at,
            ),
        )
        return int(cur.rowcount or 0)

    def add_job(self, job: NewJob) -> bool:
        with self._txn():
            return self._insert_job(job) > 0

    def _void(self, station: str, order_id: str) -> int:
        """A cancelled/voided order: a sale never sent is dropped; one that may have landed gets
        an archive job (after the sale in the package order, so it runs once the sale is known)."""
        row = self._x(
            f"SELECT {JOB_COLUMNS} FROM statesys_jobs WHERE key = ?",
            (f"sale:{station}:{order_id}",),
        ).fetchone()
        if row is None:
            return 0
        sale = _job(row)
        never_sent = sale.state == PENDING and sale.attempts == 0
        if never_sent or (sale.state == FAILED and not sale.reason.startswith(READ_BACK)):
            why = "before it was reported" if never_sent else f"after failing ({sale.reason})"
            self._x(
                "UPDATE statesys_jobs SET state = ?, reason = ?, updated_at = ? WHERE id = ?",
                (FAILED, f"{VOIDED} {why}: nothing to archive", now(), sale.id),
            )
            return 0
        return self._insert_job(
            NewJob(
                key=f"archive:{station}:{order_id}",
                kind="archive",
                station=station,
                order_id=order_id,
                external=sale.external,
                packages=sale.packages,
                body={"sale_key": sale.key},
                origin_at=now(),
            )
        )

    def void_order(self, station: str, order_id: str) -> bool:
        """For the intake (a POS voids a reported order): archive its receipt at the state."""
        with self._txn():
            return self._void(station, order_id) > 0

    def open_jobs(self, limit: int = 5000) -> list[Job]:
        """Jobs not yet confirmed, oldest first: failed ones included (they hold their packages
        back) but for a voided sale and an adjustment refused before sending (they never will)."""
        with self._read():
            rows = self._x(
                f"SELECT {JOB_COLUMNS} FROM statesys_jobs WHERE state IN (?, ?) OR (state = ?"
                " AND reason NOT LIKE ? AND reason NOT LIKE ?) ORDER BY id LIMIT ?",
                (PENDING, SENT, FAILED, f"{VOIDED}%", f"{NOT_SENT}%", limit),
            ).fetchall()
        return [_job(r) for r in rows]

    def job(self, key: str) -> Job | None:
        with self._read():
            row = self._x(
                f"SELECT {JOB_COLUMNS} FROM statesys_jobs WHERE key = ?", (key,)
            ).fetchone()
        return _job(row) if row else None

    def jobs(self, state: str | None = None, order_id: str | None = None) -> list[Job]:
        sql, params = f"SELECT {JOB_COLUMNS} FROM statesys_jobs WHERE 1 = 1", []
        if state is not None:
            sql += " AND state = ?"
            params.append(state)
        if order_id is not None:
            sql += " AND (order_id = ? OR external = ?)"
            params += [order_id, order_id]
        with self._read():
            rows = self._x(sql + " ORDER BY id", params).fetchall()
        return [_job(r) for r in rows]

    def mark(
        self,
        ids: Sequence[int],
        state: str,
        reason: str = "",
        remote_ids: Sequence[str] | None = None,
        delay_s: float = 0.0,
        count_attempt: bool = False,
        webhooks: Sequence[tuple[str, str, dict[str, Any]]] = (),
    ) -> None:
        """Move jobs to `state` (one transaction): `sent` before a request leaves, `confirmed`
        with the state system's ids, `pending`/`sent` again with a delay, `failed` with why."""
        if not ids:
            return
        stamp = now()
        due = time.time() + delay_s
        with self._txn():
            for i, job_id in enumerate(ids):
                remote = remote_ids[i] if remote_ids is not None else None
                self._x(
                    "UPDATE statesys_jobs SET state = ?, reason = ?, next_at = ?, updated_at = ?,"
                    " attempts = attempts + ?, remote_id = COALESCE(?, remote_id),"
                    " confirmed_at = CASE WHEN ? = 'confirmed' THEN ? ELSE confirmed_at END"
                    " WHERE id = ?",
                    (
                        state,
                        reason,
                        due,
                        stamp,
                        1 if count_attempt else 0,
                        remote,
                        state,
                        stamp,
                        job_id,
                    ),
                )
            for key, event, body in webhooks:
                self._insert_webhook(key, event, body)

    def retry(self, order_or_key: str | None) -> int:
        """`reports retry ORDER` (or every failed job): failed -> sent (read back first). A voided
        sale and an adjustment refused before sending (no supervisor) are never retried."""
        sql = "UPDATE statesys_jobs SET state = ?, reason = '', next_at = 0, updated_at = ?"
        sql += " WHERE state = ? AND reason NOT LIKE ? AND reason NOT LIKE ?"
        params: list[Any] = [SENT, now(), FAILED, f"{VOIDED}%", f"{NOT_SENT}%"]
        if order_or_key is not None:
            sql += " AND (order_id = ? OR external = ? OR key = ?)"
            params += [order_or_key] * 3
        with self._txn():
            cur = self._x(sql, params)
            return int(cur.rowcount or 0)

    def counts(self) -> dict[str, int]:
        with self._read():
            rows = self._x("SELECT state, COUNT(*) FROM statesys_jobs GROUP BY state").fetchall()
        return {str(r[0]): int(r[1]) for r in rows}

    # -- alerts --------------------------------------------------------------------------------
    def alert(self, kind: str, message: str) -> None:
        with self._txn():
            open_ = self._x(
                "SELECT id FROM statesys_alerts WHERE kind = ? AND message = ?"
                " AND cleared_at IS NULL",
                (kind, message),
            ).fetchone()
            if open_ is None:
                self._x(
                    "INSERT INTO statesys_alerts (at, kind, message) VALUES (?, ?, ?)",
                    (now(), kind, message),
                )

    def clear_alerts(self, kind: str) -> None:
        with self._txn():
            self._x(
                "UPDATE statesys_alerts SET cleared_at = ? WHERE kind = ? AND cleared_at IS NULL",
                (now(), kind),
            )

    def alerts(self, open_only: bool = True) -> list[dict[str, Any]]:
        sql = "SELECT id, at, kind, message, cleared_at FROM statesys_alerts"
        if open_only:
            sql += " WHERE cleared_at IS NULL"
        with self._read():
            rows = self._x(sql + " ORDER BY id").fetchall()
        keys = ("id", "at", "kind", "message", "cleared_at")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    # -- POS webhook outbox --------------------------------------------------------------------
    def _insert_webhook(self, key: str, event: str, body: dict[str, Any]) -> None:
        self._x(
            "INSERT INTO webhook_outbox (key, event, body, attempts, next_at, created_at,"
            " last_error) VALUES (?, ?, ?, 0, 0, ?, '') ON CONFLICT (key) DO NOTHING",
            (key, event, dumps(body), now()),
        )

    def add_webhook(self, key: str, event: str, body: dict[str, Any]) -> None:
        with self._txn():
            self._insert_webhook(key, event, body)

    def due_webhooks(
        self, limit: int = 50, prefix: str = ""
    ) -> list[tuple[int, str, str, str, int]]:
        """(id, key, event, body, attempts) of undelivered webhooks due now, oldest first.
        The outbox also carries central's notifications (central/notify/, events `notify:...`):
        `prefix` "" = the POS's rows only, else the rows whose event starts with it."""
        where = "event LIKE ?" if prefix else "event NOT LIKE ?"
        with self._read():
            rows = self._x(
                "SELECT id, key, event, body, attempts FROM webhook_outbox"
                f" WHERE delivered_at IS NULL AND next_at <= ? AND {where} ORDER BY id LIMIT ?",
                (time.time(), f"{prefix or 'notify:'}%", limit),
            ).fetchall()
        return [(int(r[0]), r[1], r[2], r[3], int(r[4])) for r in rows]

    def add_webhooks(
        self, rows: Sequence[tuple[str, str, dict[str, Any]]], meta: dict[str, str] | None = None
    ) -> None:
        """Queue rows (key, event, body) and set `meta` names in one transaction; a key already
        queued is kept as it is (each notification is queued once)."""
        with self._txn():
            for key, event, body in rows:
                self._insert_webhook(key, event, body)
            for name, value in (meta or {}).items():
                self._set_meta(name, value)

    def webhook_done(self, wid: int) -> None:
        with self._txn():
            self._x("UPDATE webhook_outbox SET delivered_at = ? WHERE id = ?", (now(), wid))

    def webhook_later(self, wid: int, delay_s: float, error: str) -> None:
        with self._txn():
            self._x(
                "UPDATE webhook_outbox SET attempts = attempts + 1, next_at = ?, last_error = ?"
                " WHERE id = ?",
                (time.time() + delay_s, error[:500], wid),
            )

    def webhooks(self) -> list[dict[str, Any]]:
        with self._read():
            rows = self._x(
                "SELECT id, key, event, body, attempts, delivered_at, last_error"
                " FROM webhook_outbox ORDER BY id"
            ).fetchall()
        keys = ("id", "key", "event", "body", "attempts", "delivered_at", "last_error")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    # -- the vault inventory, as the state system sees it --------------------------------------
    def package_bodies(self, labels: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
        """Central's inventory (feed_state kind 'package'), label -> package object."""
        sql = "SELECT key, body FROM feed_state WHERE kind = 'package'"
        rows: list[Any] = []
        with self._read():
            if labels is None:
                rows = self._x(sql).fetchall()
            else:
                wanted = sorted(set(labels))
                for i in range(0, len(wanted), 500):
                    chunk = wanted[i : i + 500]
                    marks = ",".join("?" * len(chunk))
                    rows += self._x(f"{sql} AND key IN ({marks})", chunk).fetchall()
        return {str(r[0]): json.loads(bytes(r[1])) for r in rows}
