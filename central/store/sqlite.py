"""The SQLite store (the default): one file, WAL, synchronous=FULL, the schema created at open."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from central.store.base import SqlStore, now
from edge.common.chain import GENESIS

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    station_id  TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    event_id    TEXT NOT NULL UNIQUE,
    at          TEXT NOT NULL,
    type        TEXT NOT NULL,
    body        BLOB NOT NULL,
    prev_hash   BLOB NOT NULL,
    hash        BLOB NOT NULL,
    gseq        INTEGER NOT NULL UNIQUE,
    received_at TEXT NOT NULL,
    PRIMARY KEY (station_id, seq)
);
CREATE TABLE IF NOT EXISTS stations (
    station_id TEXT PRIMARY KEY,
    last_seq   INTEGER NOT NULL,
    last_hash  BLOB NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    station_id  TEXT NOT NULL,
    seq         INTEGER,
    event_id    TEXT,
    reason      TEXT NOT NULL,
    received_at TEXT NOT NULL,
    raw         BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS feed (
    qseq    INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL,
    key     TEXT NOT NULL,
    station TEXT,
    body    BLOB,
    at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feed_state (
    kind    TEXT NOT NULL,
    key     TEXT NOT NULL,
    station TEXT,
    body    BLOB NOT NULL,
    qseq    INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
);
INSERT OR IGNORE INTO counters VALUES ('gseq', 0);
INSERT OR IGNORE INTO counters VALUES ('qseq', 0);
"""


class SqliteStore(SqlStore):
    """One SQLite file, WAL, synchronous=FULL: a commit that returned survives power loss."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("PRAGMA busy_timeout = 10000")
        self.conn.executescript(SQLITE_SCHEMA)

    def _begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def _begin_snapshot(self) -> None:
        self.conn.execute("BEGIN")

    def _lock_stations(self, stations: list[str]) -> dict[str, tuple[int, bytes]]:
        cursors: dict[str, tuple[int, bytes]] = {}
        for station in stations:
            self._x("INSERT OR IGNORE INTO stations VALUES (?, 0, ?, ?)", (station, GENESIS, now()))
            row = self._x(
                "SELECT last_seq, last_hash FROM stations WHERE station_id = ?", (station,)
            ).fetchone()
            cursors[station] = (int(row[0]), bytes(row[1]))
        return cursors
