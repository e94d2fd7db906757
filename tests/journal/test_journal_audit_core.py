"""The chain check in the compiled core (`edge._core.chain_hashes`, a batch of rows per call) and
the Python check row by row name the same first bad row, for the same reason, on tampered
journals: the full audit (`Journal.verify`) and the start-up check after a checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.common.chain import GENESIS
from edge.journal import Journal
from edge.journal.audit import audit
from tests.support.journals import filled_journal, tamper

ROWS = 1500  # three of the audit's 500-row batches (BATCH_ROWS); the edits land in the last
AT = 1234


EDITS = {
    "hash edited": f"UPDATE events SET hash = zeroblob(32) WHERE seq = {AT}",
    "prev_hash edited": f"UPDATE events SET prev_hash = randomblob(32) WHERE seq = {AT}",
    "body stored as TEXT": f"UPDATE events SET body = CAST(body AS TEXT) WHERE seq = {AT}",
    "hash stored as TEXT": f"UPDATE events SET hash = hex(hash) WHERE seq = {AT}",
    "hash of 31 bytes": f"UPDATE events SET hash = substr(hash, 1, 31) WHERE seq = {AT}",
    "event_id not a UUID": f"UPDATE events SET event_id = 'not-a-uuid' WHERE seq = {AT}",
    # forms uuid.UUID takes and the core leaves to Python: same 16 bytes, so the chain holds
    "event_id in braces": f"UPDATE events SET event_id = '{{' || event_id || '}}' WHERE seq = {AT}",
    "event_id as a URN": f"UPDATE events SET event_id = 'urn:uuid:' || event_id WHERE seq = {AT}",
    "event_id in capitals": f"UPDATE events SET event_id = upper(event_id) WHERE seq = {AT}",
    "row deleted": f"DELETE FROM events WHERE seq = {AT}",
    "last rows deleted": f"DELETE FROM events WHERE seq > {AT}",
    "untouched": "SELECT 1",
}
# what the Python check reports for each edit (the core path must agree with it)
WANT = {
    "hash edited": (AT, "hash does not match the row's contents"),
    "prev_hash edited": (AT, "prev_hash does not match the previous row"),
    "body stored as TEXT": (AT, "body is stored as text, not blob"),
    "hash stored as TEXT": (AT, "hash is stored as text, not blob"),
    "hash of 31 bytes": (AT, "hash is 31 bytes, not 32"),
    "event_id not a UUID": (AT, "event_id 'not-a-uuid' is not a UUID"),
    "event_id in braces": (None, ""),
    "event_id as a URN": (None, ""),
    "event_id in capitals": (None, ""),
    "row deleted": (AT, f"seq {AT} is missing"),
    "last rows deleted": (AT + 1, f"rows after seq {AT} were deleted (seq {ROWS} was issued)"),
    "untouched": (None, ""),
}


@pytest.mark.parametrize("edit", EDITS)
def test_the_core_and_python_name_the_same_first_bad_row(tmp_path: Path, edit: str) -> None:
    path = tmp_path / "j.sqlite3"
    filled_journal(path, ROWS).close()
    tamper(path, EDITS[edit])
    journal = Journal(path)
    by_core = audit(journal._conn, journal._lock)
    by_python = audit(journal._conn, journal._lock, core=False)
    assert by_core == by_python
    assert by_core[1:] == WANT[edit]
    result = journal.verify()
    assert (result.first_bad_seq, result.reason) == WANT[edit]
    assert result.checked == by_core[0] == (ROWS if WANT[edit][0] is None else WANT[edit][0] - 1)


@pytest.mark.parametrize(
    "edit",
    [
        "hash edited",
        "prev_hash edited",
        "event_id in braces",
        "event_id as a URN",
        "event_id in capitals",
        "row deleted",
        "untouched",
    ],
)
def test_the_start_up_check_agrees_with_python_after_a_checkpoint(
    tmp_path: Path, edit: str
) -> None:
    path = tmp_path / "j.sqlite3"
    journal = filled_journal(path, ROWS)
    first = journal.events(limit=1)[0]
    journal.close()
    tamper(path, EDITS[edit])
    journal = Journal(path)
    by_core = journal._verify_after(first.seq, first.hash)
    by_python = journal._verify_after(first.seq, first.hash, core=False)
    assert by_core == by_python
    assert (by_core.first_bad_seq, by_core.reason) == WANT[edit]
    whole = journal._verify_after(0, GENESIS)
    assert (whole.first_bad_seq, whole.reason) == WANT[edit]
