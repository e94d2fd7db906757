"""The journal's full audit: every row's storage types, the hash chain, and the rows' end.

`Journal.verify()` runs this. Beyond recomputing the chain it catches what a re-hash cannot hide
and what a hand-edited row would otherwise crash on:

- a row whose columns are not stored as written (a TEXT body, a non-UUID `event_id`, a hash that
  is not 32 bytes): reported as that row, never an exception (exit 5, naming the seq);
- deleted last rows: SQLite's AUTOINCREMENT counter (`sqlite_sequence`) never goes back, even
  after a delete (sqlite.org/autoinc.html), and the acked cursor records how far central
  acknowledged; either beyond the last row means rows at the end were removed.

A consistent rewrite (every hash recomputed) still verifies locally: only a copy of the chain
head kept elsewhere shows it (`packstation journal verify --against-central`, docs/journal.md).

The hashes are recomputed in the compiled core, a batch of rows per call with the GIL released
(edge/journal/chain_core.py, byte for byte as `edge.common.chain.chain_hash`, as central checks
them). A row the core does not take (a field not of its storage type, an event_id not in a plain
hex UUID form) or that does not verify is checked again here in Python, check by check as before,
so the verdict and the row it names are the same either way.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from typing import Any

from edge.common.chain import GENESIS, chain_hash
from edge.journal.chain_core import recompute_columns

_TYPES = {  # column -> SQLite storage class the journal writes it with
    "seq": "integer",
    "event_id": "text",
    "at": "text",
    "type": "text",
    "body": "blob",
    "prev_hash": "blob",
    "hash": "blob",
}
_COLUMNS = ", ".join(f"{c}, typeof({c})" for c in _TYPES)
_WANT = tuple(_TYPES.values())  # a row's typeof() columns when every one is as written
# Rows per read. A batch's rows are some 15 small Python objects each, in pymalloc's arenas,
# which go back to the OS only once wholly empty: the few objects that outlive the audit pin
# arenas its batches filled, so a first start that audits the whole journal kept 2-3 MB more
# at READY with two 1,000-row batches alive at once. One smaller batch at a time (issue 20).
BATCH_ROWS = 500


def _rows(
    conn: sqlite3.Connection, lock: threading.RLock, ends: list[int | None], after: int
) -> Iterator[list[tuple[Any, ...]]]:
    """Every row in rowid order, in batches of BATCH_ROWS. The read that finds no more rows also
    reads the counters the end check compares with (`ends`: issued seq, acked seq) under the
    same hold of the lock: the daemon appends while its background audit runs, and a counter
    read after that read could name a row appended since as deleted."""
    while True:
        with lock:
            chunk = conn.execute(
                f"SELECT rowid, {_COLUMNS} FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (after, BATCH_ROWS),
            ).fetchall()
            if not chunk:
                ends[:] = [
                    _scalar(conn, lock, "SELECT seq FROM sqlite_sequence WHERE name = 'events'"),
                    _scalar(conn, lock, "SELECT value FROM cursor WHERE name = 'acked_seq'"),
                ]
                return
        after = chunk[-1][0]
        yield chunk
        del chunk  # one batch alive at a time (see BATCH_ROWS)


def _row_problem(values: dict[str, Any], types: dict[str, str]) -> str | None:
    for column, want in _TYPES.items():
        if types[column] != want:
            return f"{column} is stored as {types[column]}, not {want}"
    try:
        uuid.UUID(values["event_id"])
    except ValueError:
        return f"event_id {values['event_id'][:40]!r} is not a UUID"
    for column in ("prev_hash", "hash"):
        if len(values[column]) != 32:
            return f"{column} is {len(values[column])} bytes, not 32"
    return None


def _check_row(row: tuple[Any, ...], prev: bytes, expected: int) -> tuple[int, str] | None:
    """(seq, reason) when the row does not follow a row hashed `prev` as seq `expected`: every
    check in Python, in the audit's order."""
    values = {c: row[1 + 2 * i] for i, c in enumerate(_TYPES)}
    types = {c: row[2 + 2 * i] for i, c in enumerate(_TYPES)}
    seq = values["seq"] if types["seq"] == "integer" else expected
    problem = _row_problem(values, types)
    if problem is not None:
        return seq, problem
    if seq != expected:
        return expected, f"seq {expected} is missing"
    if values["prev_hash"] != prev:
        return seq, "prev_hash does not match the previous row"
    digest = chain_hash(prev, seq, values["event_id"], values["type"], values["at"], values["body"])
    if digest != values["hash"]:
        return seq, "hash does not match the row's contents"
    return None


def _scalar(conn: sqlite3.Connection, lock: threading.RLock, sql: str) -> int | None:
    with lock:
        try:
            row = conn.execute(sql).fetchone()
        except sqlite3.Error:
            return None
    return None if row is None or not isinstance(row[0], int) else int(row[0])


def audit(
    conn: sqlite3.Connection,
    lock: threading.RLock,
    *,
    core: bool = True,
    start: tuple[int, bytes] | None = None,
) -> tuple[int, int | None, str]:
    """(rows checked, first bad seq or None, reason) for the journal open on `conn`; `core`
    False checks every row in Python only (the reference the core path is tested against).
    `start` (seq, hash) of a verified row: only the rows after it (the start-up check after the
    checkpoint), with every check the full audit makes, the end check included."""
    prev, expected, checked = GENESIS, 1, 0
    after = -(2**63)  # seq is the rowid (INTEGER PRIMARY KEY)
    if start is not None:
        after, prev = start
        expected = after + 1
    ends: list[int | None] = [None, None]
    for chunk in _rows(conn, lock, ends, after):
        digests = recompute_columns(chunk) if core else [None] * len(chunk)
        for row, digest in zip(chunk, digests, strict=True):
            # the core's digest stands for the row when all of it is as written and it links on
            if (
                digest is not None
                and row[2::2] == _WANT
                and row[1] == expected
                and row[11] == prev
                and row[13] == digest
            ):
                prev, expected, checked = digest, expected + 1, checked + 1
                continue
            bad = _check_row(row, prev, expected)
            if bad is not None:
                return checked, *bad
            prev, expected, checked = row[13], expected + 1, checked + 1
        del chunk, digests  # freed before the next batch is read (see BATCH_ROWS)
    last = expected - 1
    issued, acked = ends
    if issued is not None and issued > last:
        return checked, last + 1, f"rows after seq {last} were deleted (seq {issued} was issued)"
    if acked is not None and acked > last:
        return (
            checked,
            last + 1,
            f"rows after seq {last} were deleted (central acknowledged {acked})",
        )
    return checked, None, ""
