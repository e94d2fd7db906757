"""Schema versioning: migrations run once, newer files are refused, audits never write."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.journal import SCHEMA_VERSION, Journal, JournalError


def test_new_journal_is_at_the_current_schema_and_reopens_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = Journal(path)
    journal.append("scan", {"raw": "x"})
    journal.close()
    reopened = Journal(path)
    assert reopened.schema_version() == SCHEMA_VERSION
    assert [e.type for e in reopened.events()] == ["scan"]
    reopened.close()


def test_journal_from_a_newer_packstation_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    Journal(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(JournalError, match=f"schema v{SCHEMA_VERSION + 1} is newer"):
        Journal(path)


def test_readonly_open_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = Journal(path)
    journal.append("scan", {})
    journal.close()
    before = path.read_bytes()
    audit = Journal(path, readonly=True)
    assert audit.verify().ok
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        audit.append("scan", {})
    audit.close()
    assert path.read_bytes() == before
