"""The journal's core guarantees: contiguous seqs, atomic transactions, a chain that detects edits."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.journal import Journal


def test_rolled_back_transaction_leaves_no_hole(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite3")
    j.append("scan", {"raw": "a"})
    with pytest.raises(RuntimeError), j.transaction() as txn:
        txn.append("scan", {"raw": "b"})
        txn.put_state("workflow", b"x")
        raise RuntimeError("power cut before commit")
    assert j.get_state("workflow") is None
    j.append("scan", {"raw": "c"})
    assert [e.seq for e in j.events()] == [1, 2]
    assert [e.fields()["raw"] for e in j.events()] == ["a", "c"]
    assert j.verify().ok


def test_chain_names_the_first_edited_row(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    for i in range(5):
        j.append("scan", {"raw": str(i)})
    j.close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER events_append_only_u")
    conn.execute("UPDATE events SET body = ? WHERE seq = 3", (b'{"raw":"9"}',))
    conn.commit()
    conn.close()
    result = Journal(path).verify()
    assert (result.first_bad_seq, result.checked) == (3, 2)


def test_rows_are_append_only(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite3")
    j.append("scan", {})
    with pytest.raises(sqlite3.IntegrityError), j.transaction() as txn:
        txn._conn.execute("DELETE FROM events")


def test_ack_cursor_only_moves_forward(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite3")
    for _ in range(4):
        j.append("e", {})
    j.mark_acked(3)
    j.mark_acked(1)
    j.mark_acked(99)  # never beyond what exists
    assert j.acked_seq() == 4
    assert j.unacked(10) == []
