"""The PostgreSQL store (psycopg 3): the same schema, dedupe key and rules as SQLite.

Several central instances may share one database: each station's cursor row is locked
(SELECT ... FOR UPDATE) for the batch, and the `counters` row lock serialises gseq allocation up to
COMMIT, so gseq order is commit order. synchronous_commit stays on: COMMIT returns after the WAL
flush, and only then does the service acknowledge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from central.store.base import SqlStore, now
from edge.common.chain import GENESIS

PG_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS events (
        station_id  TEXT NOT NULL,
        seq         BIGINT NOT NULL,
        event_id    TEXT NOT NULL UNIQUE,
        at          TEXT NOT NULL,
        type        TEXT NOT NULL,
        body        BYTEA NOT NULL,
        prev_hash   BYTEA NOT NULL,
        hash        BYTEA NOT NULL,
        gseq        BIGINT NOT NULL UNIQUE,
        received_at TEXT NOT NULL,
        PRIMARY KEY (station_id, seq))""",
    """CREATE TABLE IF NOT EXISTS stations (
        station_id TEXT PRIMARY KEY,
        last_seq   BIGINT NOT NULL,
        last_hash  BYTEA NOT NULL,
        updated_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS quarantine (
        id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        station_id  TEXT NOT NULL,
        seq         BIGINT,
        event_id    TEXT,
        reason      TEXT NOT NULL,
        received_at TEXT NOT NULL,
        raw         BYTEA NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS feed (
        qseq    BIGINT PRIMARY KEY,
        kind    TEXT NOT NULL,
        key     TEXT NOT NULL,
        station TEXT,
        body    BYTEA,
        at      TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS feed_state (
        kind    TEXT NOT NULL,
        key     TEXT NOT NULL,
        station TEXT,
        body    BYTEA NOT NULL,
        qseq    BIGINT NOT NULL,
        PRIMARY KEY (kind, key))""",
    "INSERT INTO counters VALUES ('gseq', 0), ('qseq', 0) ON CONFLICT DO NOTHING",
]


class PgStore(SqlStore):
    """A psycopg 3 connection in explicit-transaction mode (autocommit, BEGIN/COMMIT by hand)."""

    PARAM = "%s"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._in_txn = False
        self.conn = self._connect()
        self.conn.execute("SELECT pg_advisory_lock(7340021)")  # schema creation, one at a time
        try:
            for statement in PG_SCHEMA:
                self.conn.execute(statement)
        finally:
            self.conn.execute("SELECT pg_advisory_unlock(7340021)")

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        conn.execute("SET synchronous_commit = on")
        return conn

    def _ensure(self) -> None:
        """Reconnect after PostgreSQL restarted, but never inside a transaction."""
        if not self._in_txn and (self.conn.broken or self.conn.closed):
            self.conn = self._connect()

    def _x(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self._ensure()
        if self._begin_pending:  # BEGIN and the transaction's first statement: one round trip
            self._begin_pending = False
            with self.conn.pipeline():
                self.conn.execute("BEGIN")
                cur = self.conn.execute(self._q(sql), params)
            return cur
        return super()._x(sql, params)

    _begin_pending = False  # BEGIN not sent yet: it goes with the first statement

    def _begin(self) -> None:
        self._ensure()
        self._in_txn = True
        self._begin_pending = True

    def _begin_snapshot(self) -> None:
        self._ensure()
        self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        self._in_txn = True

    def _commit(self) -> None:
        try:
            if not self._begin_pending:  # else nothing was sent: nothing to commit
                self.conn.execute("COMMIT")
        finally:
            self._in_txn = self._begin_pending = False

    def _rollback(self) -> None:
        pending, self._in_txn, self._begin_pending = self._begin_pending, False, False
        if not pending and not self.conn.broken:
            self.conn.execute("ROLLBACK")

    def _xmany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            with self.conn.pipeline(), self.conn.cursor() as cur:
                if self._begin_pending:
                    self._begin_pending = False
                    cur.execute("BEGIN")
                cur.executemany(self._q(sql), rows)

    def _lock_stations(self, stations: list[str]) -> dict[str, tuple[int, bytes]]:
        """Lock the cursor rows in a fixed order (no deadlocks): one round trip when every
        station has its row; a station's first batch creates it, then locks it too."""
        if not stations:
            return {}
        cursors = self._select_cursors(stations)
        missing = [s for s in stations if s not in cursors]
        if missing:
            self._xmany(
                "INSERT INTO stations VALUES (?, 0, ?, ?) ON CONFLICT DO NOTHING",
                [(s, GENESIS, now()) for s in missing],
            )
            cursors.update(self._select_cursors(missing))
        return cursors

    def _select_cursors(self, stations: list[str]) -> dict[str, tuple[int, bytes]]:
        rows = self._x(
            "SELECT station_id, last_seq, last_hash FROM stations WHERE station_id = ANY(?)"
            " ORDER BY station_id FOR UPDATE",
            (stations,),
        ).fetchall()
        return {r[0]: (int(r[1]), bytes(r[2])) for r in rows}
