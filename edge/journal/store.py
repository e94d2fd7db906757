"""The station's tamper-evident journal: SQLite (WAL, synchronous=FULL), hash-chained, append-only.

Every event gets a contiguous sequence number (INTEGER PRIMARY KEY AUTOINCREMENT: never reused, and
rolled back with its transaction, so there are no holes) in the same transaction as the state change
it records (`Journal.transaction()`). The technician hears "ok" only after that commit returns.
The journal is also the outbox towards central: rows above `acked_seq` are still to be sent.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from edge.common.chain import GENESIS, canonical_json, chain_hash
from edge.common.errors import ExitCode, PackstationError


class JournalError(PackstationError):
    """The journal cannot be opened or is damaged: a bad input file, to the commands."""

    exit_code = ExitCode.USAGE


class ChainBroken(JournalError):
    """The journal's hash chain does not verify: nobody may run on it or trust it."""

    exit_code = ExitCode.CHAIN_BROKEN

    @classmethod
    def at(cls, path: Path | str, result: VerifyResult) -> ChainBroken:
        """The error for a failed `Journal.verify()` of the journal at `path`."""
        return cls(f"{path}: chain broken at seq {result.first_bad_seq}: {result.reason}")


class JournalEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One journal row, exactly as stored and as sent to central."""

    seq: int
    event_id: str
    at: str
    type: str
    body: bytes  # canonical JSON (edge.common.chain.canonical_json)
    prev_hash: bytes
    hash: bytes

    def fields(self) -> dict[str, Any]:
        """The decoded body."""
        decoded: dict[str, Any] = msgspec.json.decode(self.body)
        return decoded


class VerifyResult(msgspec.Struct, frozen=True, kw_only=True):
    """Outcome of a chain check: `first_bad_seq` names the first row that does not verify."""

    checked: int
    first_bad_seq: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None


SCHEMA_VERSION = 1
_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE events (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id   TEXT NOT NULL UNIQUE,
        at         TEXT NOT NULL,
        type       TEXT NOT NULL,
        body       BLOB NOT NULL,
        prev_hash  BLOB NOT NULL,
        hash       BLOB NOT NULL
    );
    CREATE TRIGGER events_append_only_u BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'journal rows are append-only'); END;
    CREATE TRIGGER events_append_only_d BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'journal rows are append-only'); END;
    CREATE TABLE state (key TEXT PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE cursor (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO cursor VALUES ('acked_seq', 0);
    """,
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Txn:
    """A write transaction: events appended here commit with the state written here, or not at all."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        row = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        self._seq: int = row[0] if row else 0
        self._hash: bytes = bytes(row[1]) if row else GENESIS
        self.appended: list[JournalEvent] = []

    def append(self, type_: str, body: dict[str, Any]) -> JournalEvent:
        """Append one event; its seq and hash follow the last row's."""
        event = self._make(type_, canonical_json(body))
        self._conn.execute(
            "INSERT INTO events (seq, event_id, at, type, body, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                event.seq,
                event.event_id,
                event.at,
                event.type,
                event.body,
                event.prev_hash,
                event.hash,
            ),
        )
        self._seq, self._hash = event.seq, event.hash
        self.appended.append(event)
        return event

    def adopt(self, event: JournalEvent) -> None:
        """Insert a row exactly as central holds it (recovery, edge/journal/anchor.py); it must
        follow the last row: same seq + 1 and prev_hash (ValueError otherwise)."""
        if event.seq != self._seq + 1 or event.prev_hash != self._hash:
            raise ValueError(f"row {event.seq} does not follow this journal's last row {self._seq}")
        self._conn.execute(
            "INSERT INTO events (seq, event_id, at, type, body, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                event.seq,
                event.event_id,
                event.at,
                event.type,
                event.body,
                event.prev_hash,
                event.hash,
            ),
        )
        self._seq, self._hash = event.seq, event.hash

    def _make(self, type_: str, body: bytes) -> JournalEvent:
        seq, event_id, at = self._seq + 1, str(uuid.uuid4()), _now()
        digest = chain_hash(self._hash, seq, event_id, type_, at, body)
        return JournalEvent(
            seq=seq,
            event_id=event_id,
            at=at,
            type=type_,
            body=body,
            prev_hash=self._hash,
            hash=digest,
        )

    def put_state(self, key: str, value: bytes | None) -> None:
        """Write (or with None, delete) a state value in the same transaction."""
        if value is None:
            self._conn.execute("DELETE FROM state WHERE key = ?", (key,))
        else:
            self._conn.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (key, value))


class Journal:
    """One journal file. Thread-safe: every call holds the journal's lock."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        """Open (creating and migrating) a journal; `readonly` opens an existing one for audit
        (verify, export) without creating, migrating or writing anything."""
        self.path = path
        self._lock = threading.RLock()
        try:
            if readonly:
                self._conn = self._open_readonly(path)
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")  # survive power loss (messaging.md 2.4)
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._check_integrity()
            self._migrate()
        except sqlite3.Error as exc:
            raise JournalError(f"{path}: cannot open journal: {exc}") from exc

    def _open_readonly(self, path: Path) -> sqlite3.Connection:
        if not path.is_file():
            raise JournalError(f"{path}: no such journal file")
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
        )
        self._conn = conn
        self._check_integrity()
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version == 0 or version > SCHEMA_VERSION:
            raise JournalError(
                f"{path}: not a packstation journal of a known schema (user_version {version})"
            )
        return conn

    def _check_integrity(self) -> None:
        (result,) = self._conn.execute("PRAGMA quick_check").fetchone()
        if result != "ok":
            raise JournalError(f"{self.path}: SQLite quick_check failed: {result}")

    def _migrate(self) -> None:
        (version,) = self._conn.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"{self.path}: journal schema v{version} is newer than this packstation (v{SCHEMA_VERSION})"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            self._conn.execute("BEGIN IMMEDIATE")
            for statement in _split_sql(_MIGRATIONS[target]):
                self._conn.execute(statement)
            self._conn.execute(f"PRAGMA user_version = {target}")
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- WAL checkpoints: the writer may run them itself, after it has answered ----------------
    def defer_checkpoints(self) -> None:
        """No checkpoint inside this connection's commits any more (SQLite's automatic one runs
        in the commit that passes 1000 WAL pages): the caller runs `checkpoint()` itself, when
        no one waits for a commit. Durability is the same (the WAL is fsync'd at each commit)."""
        with self._lock:
            self._conn.execute("PRAGMA wal_autocheckpoint = 0")

    def checkpoint(self) -> tuple[int, int]:
        """Copy the WAL into the database file (PASSIVE: never waits for a reader); the next
        write starts the WAL over when every frame was copied. (WAL pages, pages copied)."""
        with self._lock:
            _busy, frames, copied = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(frames), int(copied)

    def release_memory(self) -> None:
        """Free the connection's page cache (PRAGMA shrink_memory, sqlite.org/pragma.html):
        the start-up check fills it with rows the station will not read again."""
        with self._lock:
            self._conn.execute("PRAGMA shrink_memory")

    @contextmanager
    def transaction(self) -> Iterator[Txn]:
        """BEGIN IMMEDIATE ... COMMIT (fsync'd); on an exception everything rolls back."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                txn = Txn(self._conn)
                yield txn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def append(self, type_: str, body: dict[str, Any]) -> JournalEvent:
        """Append one event in a transaction of its own."""
        with self.transaction() as txn:
            return txn.append(type_, body)

    def get_state(self, key: str) -> bytes | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def last_seq(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT MAX(seq) FROM events").fetchone()
        return int(row[0] or 0)

    def events(self, after: int = 0, limit: int | None = None) -> list[JournalEvent]:
        """Rows with seq > `after`, in order (at most `limit`)."""
        sql = "SELECT seq, event_id, at, type, body, prev_hash, hash FROM events WHERE seq > ? ORDER BY seq"
        params: tuple[int, ...] = (after,)
        if limit is not None:
            sql += " LIMIT ?"
            params = (after, limit)
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [_row_event(r) for r in rows]

    def iter_events(self, batch: int = 1000) -> Iterator[JournalEvent]:
        """Every row in order, read in batches (for export and verify of large journals)."""
        return self._iter_after(0, batch)

    def _iter_after(self, after: int, batch: int = 1000) -> Iterator[JournalEvent]:
        while chunk := self.events(after, batch):
            yield from chunk
            after = chunk[-1].seq

    # -- outbox towards central --------------------------------------------------------------
    def acked_seq(self) -> int:
        with self._lock:
            (value,) = self._conn.execute(
                "SELECT value FROM cursor WHERE name = 'acked_seq'"
            ).fetchone()
        return int(value)

    def unacked(self, limit: int) -> list[JournalEvent]:
        """The oldest `limit` events central has not acknowledged."""
        return self.events(self.acked_seq(), limit)

    def mark_acked(self, seq: int) -> None:
        """Central committed everything <= seq; the cursor only moves forward."""
        with self._lock:
            self._conn.execute(
                "UPDATE cursor SET value = MAX(value, MIN(?, (SELECT IFNULL(MAX(seq), 0) FROM events)))"
                " WHERE name = 'acked_seq'",
                (seq,),
            )

    def unacked_count(self) -> int:
        """Events central has not acknowledged yet (the disk guard must keep every one of them)."""
        return self.last_seq() - self.acked_seq()

    def schema_version(self) -> int:
        with self._lock:
            (version,) = self._conn.execute("PRAGMA user_version").fetchone()
        return int(version)

    def verify(self, batch: int = 1000) -> VerifyResult:
        """Recompute the chain; name the first row whose seq, link, hash or storage is wrong, or
        the rows deleted at the end (edge/journal/audit.py)."""
        del batch  # the audit reads in its own batches
        from edge.journal.audit import audit

        checked, first_bad, reason = audit(self._conn, self._lock)
        return VerifyResult(checked=checked, first_bad_seq=first_bad, reason=reason)

    # -- verified checkpoint: start-up checks only what is new ---------------------------------
    def verify_new(self) -> VerifyResult:
        """The start-up check: the rows after the last verified checkpoint (seq, hash), when the
        checkpoint row still carries that hash; else (no checkpoint, or it does not match) the
        whole chain. On success the checkpoint moves to the last row. `verify()` remains the
        full audit (`packstation journal verify`, and the daemon's background audit)."""
        with self._lock:
            point = self._checkpoint()
            result: VerifyResult | None = None
            if point is not None:
                seq, digest = point
                row = self._conn.execute("SELECT hash FROM events WHERE seq = ?", (seq,)).fetchone()
                if row is not None and bytes(row[0]) == digest:
                    result = self._verify_after(seq, digest)
            if result is None:
                result = self.verify()
            if result.ok:
                self.save_checkpoint()
            return result

    def save_checkpoint(self) -> None:
        """Record the last row as verified (call only after a successful verify)."""
        with self._lock:
            self._checkpoint_table()
            row = self._conn.execute(
                "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            if row is None:
                return
            self._conn.execute(
                "INSERT OR REPLACE INTO verified_checkpoint (name, seq, hash) VALUES ('chain', ?, ?)",
                (row[0], row[1]),
            )

    def drop_checkpoint(self) -> None:
        """Forget the checkpoint: the next `verify_new` checks the whole chain."""
        with self._lock:
            self._checkpoint_table()
            self._conn.execute("DELETE FROM verified_checkpoint")

    def _checkpoint_table(self) -> None:
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS verified_checkpoint"
            " (name TEXT PRIMARY KEY, seq INTEGER NOT NULL, hash BLOB NOT NULL)"
        )

    def _checkpoint(self) -> tuple[int, bytes] | None:
        try:
            row = self._conn.execute(
                "SELECT seq, hash FROM verified_checkpoint WHERE name = 'chain'"
            ).fetchone()
        except sqlite3.OperationalError:  # no checkpoint table yet
            return None
        return None if row is None else (int(row[0]), bytes(row[1]))

    def _verify_after(self, after: int, prev: bytes, *, core: bool = True) -> VerifyResult:
        """The rows after `after` (whose hash is `prev`) by the full audit's checks
        (edge/journal/audit.py: storage types, links, hashes in the compiled core, the end
        check), so a row edited after the checkpoint is named, never an exception."""
        from edge.journal.audit import audit

        checked, first_bad, reason = audit(self._conn, self._lock, core=core, start=(after, prev))
        return VerifyResult(checked=checked, first_bad_seq=first_bad, reason=reason)


def _row_event(row: tuple[Any, ...]) -> JournalEvent:
    seq, event_id, at, type_, body, prev_hash, digest = row
    return JournalEvent(
        seq=seq,
        event_id=event_id,
        at=at,
        type=type_,
        body=bytes(body),
        prev_hash=bytes(prev_hash),
        hash=bytes(digest),
    )


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies (BEGIN ... END;) whole."""
    statements, current = [], ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements


def export_line(event: JournalEvent) -> bytes:
    """One event as a JSON line: body as an object, hashes as hex (`packstation journal export`)."""
    line: dict[str, Any] = {
        "seq": event.seq,
        "event_id": event.event_id,
        "at": event.at,
        "type": event.type,
        "body": msgspec.Raw(event.body),
        "prev_hash": event.prev_hash.hex(),
        "hash": event.hash.hex(),
    }
    try:
        msgspec.json.decode(event.body)
    except msgspec.DecodeError:  # a damaged row is still exported, never dropped
        line["body"] = None
        line["body_hex"] = event.body.hex()
    return msgspec.json.encode(line)
