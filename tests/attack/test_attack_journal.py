"""Tampering with the journal file by hand (sqlite3, triggers dropped): every case is exit 5 from
`packstation journal verify`, naming the row, never a traceback."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.cli import run
from edge.common.errors import ExitCode
from edge.journal import Journal


def _journal(path: Path, n: int = 10, acked: int = 0) -> None:
    journal = Journal(path)
    for i in range(n):
        journal.append("pick_verified", {"n": i})
    if acked:
        journal.mark_acked(acked)
    journal.close()


def _tamper(path: Path, *sql: tuple[str, tuple[object, ...]]) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER events_append_only_u")
    conn.execute("DROP TRIGGER events_append_only_d")
    for statement, params in sql:
        conn.execute(statement, params)
    conn.close()


CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "last rows deleted": (
        lambda db: _tamper(db, ("DELETE FROM events WHERE seq > 7", ())),
        "chain broken at seq 8: rows after seq 7 were deleted",
    ),
    "body stored as TEXT": (
        lambda db: _tamper(db, ("UPDATE events SET body = CAST(body AS TEXT) WHERE seq = 4", ())),
        "chain broken at seq 4: body is stored as text, not blob",
    ),
    "non-UUID event_id": (
        lambda db: _tamper(db, ("UPDATE events SET event_id = 'x' WHERE seq = 5", ())),
        "chain broken at seq 5: event_id 'x' is not a UUID",
    ),
    "short hash": (
        lambda db: _tamper(db, ("UPDATE events SET hash = X'00' WHERE seq = 3", ())),
        "chain broken at seq 3: hash is 1 bytes, not 32",
    ),
    "body edited": (
        lambda db: _tamper(db, ("UPDATE events SET body = X'7B7D' WHERE seq = 6", ())),
        "chain broken at seq 6: hash does not match",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_tampered_journal_is_exit_5_naming_the_row(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "journal.sqlite3"
    _journal(db)
    assert run(["journal", "verify", str(db)]) == ExitCode.OK
    capsys.readouterr()
    tamper, expected = CASES[case]
    tamper(db)
    assert run(["journal", "verify", str(db)]) == ExitCode.CHAIN_BROKEN
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_deleted_rows_show_against_the_acked_cursor_too(tmp_path: Path) -> None:
    """Even with the AUTOINCREMENT counter put back, central's acknowledgement betrays it."""
    db = tmp_path / "journal.sqlite3"
    _journal(db, acked=10)
    _tamper(
        db,
        ("DELETE FROM events WHERE seq > 8", ()),
        ("UPDATE sqlite_sequence SET seq = 8 WHERE name = 'events'", ()),
    )
    journal = Journal(db, readonly=True)
    result = journal.verify()
    journal.close()
    assert (result.first_bad_seq, result.reason) == (
        9,
        "rows after seq 8 were deleted (central acknowledged 10)",
    )
