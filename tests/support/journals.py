"""Journals for the journal tests: one filled with scan events, and an edit made behind the
journal's back (its append-only triggers dropped first, as an attacker with the file would)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edge.journal import Journal


def filled_journal(path: Path, rows: int) -> Journal:
    """A journal of `rows` scan events in one transaction, each body distinct."""
    journal = Journal(path)
    with journal.transaction() as txn:
        for i in range(rows):
            txn.append("scan", {"raw": f"1A40603000{i:014d}", "n": i})
    return journal


def tamper(path: Path, sql: str) -> None:
    """Run `sql` on the journal file with the append-only triggers out of the way."""
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER IF EXISTS events_append_only_u")
    conn.execute("DROP TRIGGER IF EXISTS events_append_only_d")
    conn.execute(sql)
    conn.commit()
    conn.close()
