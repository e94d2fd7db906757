"""`packstation journal verify|export DB`: exit codes, the first bad row, JSON lines."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from edge.cli import run
from edge.journal import Journal
from tests.support.journals import tamper


def make_journal(path: Path, n: int = 5) -> None:
    journal = Journal(path)
    for i in range(n):
        journal.append("scan", {"raw": f"R{i}", "nested": {"mg": i * 1000}})
    journal.close()


def test_verify_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_journal(tmp_path / "j.db")
    assert run(["journal", "verify", str(tmp_path / "j.db")]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'j.db'}: ok, 5 events verified\n"


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ('UPDATE events SET body = CAST(\'{"raw":"X"}\' AS BLOB) WHERE seq = 3', "hash does not"),
        ("UPDATE events SET prev_hash = zeroblob(32) WHERE seq = 3", "prev_hash does not"),
    ],
)
def test_verify_names_the_first_bad_row_with_exit_5(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sql: str, reason: str
) -> None:
    make_journal(tmp_path / "j.db")
    tamper(tmp_path / "j.db", sql)
    assert run(["journal", "verify", str(tmp_path / "j.db")]) == 5
    err = capsys.readouterr().err
    assert err.startswith(f"packstation: {tmp_path / 'j.db'}: chain broken at seq 3: {reason}"), err


def test_verify_missing_or_foreign_file_is_exit_2_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.db"
    assert run(["journal", "verify", str(missing)]) == 2
    assert not missing.exists()
    assert "no such journal file" in capsys.readouterr().err
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 100)
    assert run(["journal", "export", str(garbage)]) == 2
    assert "cannot open journal" in capsys.readouterr().err
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    assert run(["journal", "verify", str(other)]) == 2
    assert "not a packstation journal" in capsys.readouterr().err


def test_export_prints_json_lines_with_body_objects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_journal(tmp_path / "j.db", 3)
    assert run(["journal", "export", str(tmp_path / "j.db")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["seq"] for e in lines] == [1, 2, 3]
    assert lines[1]["body"] == {"raw": "R1", "nested": {"mg": 1000}}
    assert set(lines[0]) == {"seq", "event_id", "at", "type", "body", "prev_hash", "hash"}
    assert lines[0]["prev_hash"] == "00" * 32 and lines[1]["prev_hash"] == lines[0]["hash"]
    assert run(["journal", "export", "--after", "2", str(tmp_path / "j.db")]) == 0
    assert [json.loads(x)["seq"] for x in capsys.readouterr().out.splitlines()] == [3]


def test_export_keeps_a_damaged_row_as_hex(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_journal(tmp_path / "j.db", 2)
    tamper(tmp_path / "j.db", "UPDATE events SET body = X'FF00' WHERE seq = 2")
    assert run(["journal", "export", str(tmp_path / "j.db")]) == 0
    damaged = json.loads(capsys.readouterr().out.splitlines()[1])
    assert damaged["body"] is None and damaged["body_hex"] == "ff00"


def test_unacked_count_follows_the_ack_cursor(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db")
    for _ in range(4):
        journal.append("e", {})
    journal.mark_acked(1)
    assert journal.unacked_count() == 3
    assert journal.schema_version() == 1
