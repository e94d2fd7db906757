"""The durable print spool: a small SQLite file under the station's state directory.

A job is stored (WAL, synchronous=FULL, so it survives power loss) before `submit` returns, and is
marked printed only once the printer confirmed it. Job ids are the caller's idempotency keys:
submitting the same id again returns the stored job and never queues a second copy.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    data BLOB NOT NULL,
    digest TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'printing', 'printed', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    printed_at TEXT
);
CREATE INDEX IF NOT EXISTS jobs_open ON jobs (state, seq);
"""


class JobState(StrEnum):
    """Where a job is."""

    QUEUED = "queued"  # waiting for the printer (never tried, or the last try failed)
    PRINTING = "printing"  # an attempt is running (or the daemon stopped during one)
    PRINTED = "printed"  # the printer confirmed it; never sent again
    CANCELLED = "cancelled"  # withdrawn by a supervisor; never sent


class SpoolConflict(Exception):
    """A job id was reused for different content."""


@dataclass(frozen=True)
class JobRecord:
    """A stored job."""

    seq: int
    job_id: str
    kind: str
    title: str
    data: bytes
    digest: str
    state: JobState
    attempts: int
    last_error: str
    created_at: str
    printed_at: str | None

    @property
    def process_id(self) -> str:
        """Four digits for the printer's process-ID confirmation (GS ( H)."""
        return f"{self.seq % 10000:04d}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Spool:
    """Thread-safe access to the spool file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, job_id: str, kind: str, title: str, data: bytes) -> tuple[JobRecord, bool]:
        """Store a job; return (record, True) if new, (existing record, False) if known."""
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO jobs (job_id, kind, title, data, digest, state, created_at)"
                " VALUES (?, ?, ?, ?, ?, 'queued', ?)",
                (job_id, kind, title, data, digest, _now()),
            )
            new = self._db.execute("SELECT changes()").fetchone()[0] == 1
            record = self._get(job_id)
        assert record is not None
        if not new and record.digest != digest:
            raise SpoolConflict(f"print job {job_id!r} already exists with different content")
        return record, new

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            return self._get(job_id)

    def _get(self, job_id: str) -> JobRecord | None:
        row = self._db.execute(f"SELECT {_COLS} FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return _record(row) if row else None

    def next_open(self) -> JobRecord | None:
        """The oldest job not yet printed (a 'printing' one was interrupted by a stop)."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLS} FROM jobs WHERE state IN ('queued', 'printing')"
                " ORDER BY seq LIMIT 1"
            ).fetchone()
        return _record(row) if row else None

    def open_jobs(self) -> list[JobRecord]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLS} FROM jobs WHERE state IN ('queued', 'printing') ORDER BY seq"
            ).fetchall()
        return [_record(r) for r in rows]

    def mark_attempt(self, job_id: str) -> None:
        self._set(job_id, "state = 'printing', attempts = attempts + 1", ())

    def mark_printed(self, job_id: str) -> None:
        self._set(job_id, "state = 'printed', last_error = '', printed_at = ?", (_now(),))

    def mark_failed(self, job_id: str, error: str) -> None:
        self._set(job_id, "state = 'queued', last_error = ?", (error,))

    def cancel(self, job_id: str) -> bool:
        """Withdraw an unprinted job; False if it printed already or does not exist."""
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET state = 'cancelled' WHERE job_id = ?"
                " AND state IN ('queued', 'printing')",
                (job_id,),
            )
            return bool(self._db.execute("SELECT changes()").fetchone()[0])

    def _set(self, job_id: str, assignments: str, args: tuple[object, ...]) -> None:
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {assignments} WHERE job_id = ?", (*args, job_id))


_COLS = (
    "seq, job_id, kind, title, data, digest, state, attempts, last_error, created_at, printed_at"
)


def _record(row: tuple[object, ...]) -> JobRecord:
    seq, job_id, kind, title, data, digest, state, attempts, err, created, printed = row
    return JobRecord(
        int(str(seq)),
        str(job_id),
        str(kind),
        str(title),
        bytes(data),  # type: ignore[call-overload]
        str(digest),
        JobState(str(state)),
        int(str(attempts)),
        str(err),
        str(created),
        None if printed is None else str(printed),
    )
