"""The full audit (a first start's check, `packstation journal verify`) reads the journal a small
batch at a time, one batch alive at once, and still checks every row across the batches: its
rows are small Python objects, and pymalloc arenas they filled stay pinned after it (issue 20)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from edge.journal import Journal
from edge.journal.audit import BATCH_ROWS
from tests.support.journals import filled_journal, tamper

ROWS = 3000
COLUMNS = ", ".join(
    f"{c}, typeof({c})" for c in ("seq", "event_id", "at", "type", "body", "prev_hash", "hash")
)


def test_the_audit_holds_at_most_one_small_batch_of_rows(tmp_path: Path) -> None:
    journal = filled_journal(tmp_path / "j.sqlite3", ROWS)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        rows = journal._conn.execute(
            f"SELECT rowid, {COLUMNS} FROM events ORDER BY rowid LIMIT 500"
        ).fetchall()
        batch_500 = tracemalloc.get_traced_memory()[0] - before  # 500 rows as the audit reads them
        del rows
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = journal.verify()
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert result.ok and result.checked == ROWS
    # one 500-row batch (and its hashes) at a time; two 1,000-row batches at once were 4x
    assert peak < 2 * batch_500


def test_a_first_start_checks_every_row_across_the_batches(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    filled_journal(path, ROWS).close()
    journal = Journal(path)
    result = journal.verify_new()  # no checkpoint: the whole chain
    assert result.ok and result.checked == ROWS
    assert journal.verify_new().checked == 0  # the checkpoint moved to the last row


@pytest.mark.parametrize("seq", [BATCH_ROWS, BATCH_ROWS + 1, 2 * BATCH_ROWS + 1, ROWS])
def test_a_row_edited_at_a_batch_edge_is_named_at_a_first_start(tmp_path: Path, seq: int) -> None:
    path = tmp_path / "j.sqlite3"
    filled_journal(path, ROWS).close()
    tamper(path, f"UPDATE events SET prev_hash = randomblob(32) WHERE seq = {seq}")
    result = Journal(path).verify_new()
    assert (result.first_bad_seq, result.reason) == (
        seq,
        "prev_hash does not match the previous row",
    )
    assert result.checked == seq - 1
