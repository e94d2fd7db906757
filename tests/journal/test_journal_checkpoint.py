"""Start-up verifies only what is new since the verified checkpoint; the full audit stays whole."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edge.journal import Journal, verify_at_start
from edge.journal.checkpoint import CHECKPOINT_KEY, load_checkpoint


def _journal(path: Path, n: int) -> Journal:
    j = Journal(path)
    for i in range(n):
        j.append("scan", {"raw": str(i)})
    return j


def _edit(path: Path, seq: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER IF EXISTS events_append_only_u")
    conn.execute("UPDATE events SET body = ? WHERE seq = ?", (b'{"raw":"edited"}', seq))
    conn.commit()
    conn.close()


def test_start_checks_only_new_rows_and_moves_the_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    j = _journal(path, 5)
    first = verify_at_start(j)
    assert (first.ok, first.checked) == (True, 5)
    cp = load_checkpoint(j)
    assert cp is not None and cp.seq == 5
    assert cp.hash == j.events(4, 1)[0].hash.hex()
    for i in range(3):
        j.append("scan", {"raw": f"n{i}"})
    second = verify_at_start(j)
    assert (second.ok, second.checked) == (True, 1 + 3)  # the checkpoint's row, then the new
    assert verify_at_start(j).checked == 1
    j.close()


def test_an_edited_new_row_is_found_at_start(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    j = _journal(path, 4)
    assert verify_at_start(j).ok
    j.append("scan", {"raw": "x"})
    j.append("scan", {"raw": "y"})
    j.close()
    _edit(path, 6)
    j = Journal(path)
    result = verify_at_start(j)
    assert (result.first_bad_seq, result.checked) == (6, 2)
    cp = load_checkpoint(j)
    assert cp is not None and cp.seq == 4  # not moved past a break


def test_a_checkpoint_not_matching_its_row_means_a_whole_check(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    j = _journal(path, 4)
    assert verify_at_start(j).ok
    j.close()
    _edit(path, 4)  # the checkpoint's own row: its hash no longer matches the stored one
    j = Journal(path)
    result = verify_at_start(j)
    assert result.first_bad_seq == 4
    j.close()
    # an unreadable checkpoint: the whole chain is verified, and it is rewritten
    path2 = tmp_path / "k.sqlite3"
    k = _journal(path2, 3)
    with k.transaction() as txn:
        txn.put_state(CHECKPOINT_KEY, b"not json")
    assert (verify_at_start(k).checked, verify_at_start(k).checked) == (3, 1)
    k.close()


def test_the_full_audit_still_finds_an_edit_before_the_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    j = _journal(path, 5)
    assert verify_at_start(j).ok
    j.close()
    _edit(path, 2)
    j = Journal(path)
    assert verify_at_start(j).ok  # start-up trusts what an earlier start verified
    full = j.verify()  # `packstation journal verify`
    assert (full.first_bad_seq, full.checked) == (2, 1)
    j.close()
