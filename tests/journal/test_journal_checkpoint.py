"""The verified checkpoint: start-up checks only the rows after it; a checkpoint whose row no longer
carries its hash is ignored (the whole chain is checked); the full audit still sees everything."""

from __future__ import annotations

from pathlib import Path

from edge.journal import Journal
from tests.support.journals import tamper


def filled(path: Path, n: int) -> Journal:
    journal = Journal(path)
    for i in range(n):
        journal.append("scan", {"raw": str(i)})
    return journal


def test_start_up_checks_only_what_is_new(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = filled(path, 5)
    first = journal.verify_new()
    assert first.ok and first.checked == 5  # no checkpoint yet: the whole chain
    for i in range(3):
        journal.append("scan", {"raw": f"new-{i}"})
    again = journal.verify_new()
    assert again.ok and again.checked == 3
    assert journal.verify_new().checked == 0
    journal.close()
    reopened = Journal(path)
    assert reopened.verify_new().checked == 0 and reopened.verify().checked == 8


def test_a_break_after_the_checkpoint_is_found_at_start_up(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = filled(path, 4)
    assert journal.verify_new().ok
    journal.append("scan", {"raw": "late"})
    journal.close()
    tamper(path, 'UPDATE events SET body = CAST(\'{"raw":"forged"}\' AS BLOB) WHERE seq = 5')
    result = Journal(path).verify_new()
    assert (result.ok, result.first_bad_seq) == (False, 5)


def test_rows_mangled_after_the_checkpoint_are_named_at_start_up(tmp_path: Path) -> None:
    """What the full audit names, the start-up check names too: a TEXT body, a short hash, the
    last rows deleted after the checkpoint (never an exception, never a pass)."""
    cases = {
        "UPDATE events SET body = CAST(body AS TEXT) WHERE seq = 6": (6, "body is stored as text"),
        "UPDATE events SET hash = zeroblob(31) WHERE seq = 5": (5, "hash is 31 bytes"),
        "DELETE FROM events WHERE seq >= 6": (6, "were deleted"),
    }
    for n, (sql, (seq, reason)) in enumerate(cases.items()):
        path = tmp_path / f"j{n}.sqlite3"
        journal = filled(path, 4)
        assert journal.verify_new().ok
        journal.append("scan", {"raw": "late-1"})
        journal.append("scan", {"raw": "late-2"})
        journal.close()
        tamper(path, "DROP TRIGGER IF EXISTS events_append_only_d")
        tamper(path, sql)
        result = Journal(path).verify_new()
        assert (result.ok, result.first_bad_seq) == (False, seq), (sql, result)
        assert reason in result.reason, (sql, result)


def test_a_rewritten_checkpoint_row_falls_back_to_the_whole_chain(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = filled(path, 4)
    assert journal.verify_new().ok
    journal.close()
    tamper(path, "UPDATE events SET hash = zeroblob(32) WHERE seq = 4")
    result = Journal(path).verify_new()
    assert (result.ok, result.first_bad_seq) == (False, 4)


def test_a_break_below_the_checkpoint_needs_the_full_audit(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = filled(path, 4)
    assert journal.verify_new().ok
    journal.close()
    tamper(path, 'UPDATE events SET body = CAST(\'{"raw":"forged"}\' AS BLOB) WHERE seq = 2')
    journal = Journal(path)
    assert journal.verify_new().ok  # start-up trusts what it verified before
    audit = journal.verify(batch=1)
    assert (audit.ok, audit.first_bad_seq) == (False, 2)
    journal.drop_checkpoint()  # what the daemon does when its background audit fails
    assert journal.verify_new().first_bad_seq == 2


class _AppendAfterRead:
    """The journal's lock, but the daemon appends a step as soon as the audit lets go of it
    after its `arm_at`-th hold (as the station does while its background audit runs)."""

    def __init__(self, journal: Journal, arm_at: int) -> None:
        self.inner, self.journal, self.arm_at = journal._lock, journal, arm_at
        self.depth = self.holds = 0
        self.appended = False

    def __enter__(self) -> None:
        self.inner.acquire()
        self.depth += 1
        if self.depth == 1:
            self.holds += 1

    def __exit__(self, *exc: object) -> None:
        self.depth -= 1
        self.inner.release()
        if self.depth == 0 and self.holds == self.arm_at and not self.appended:
            self.appended = True
            self.journal.append("scan", {"raw": "appended during the audit"})


def test_a_row_appended_during_the_audit_is_not_taken_for_a_deleted_one(tmp_path: Path) -> None:
    from edge.journal.audit import audit

    journal = filled(tmp_path / "j.sqlite3", 5)
    # hold 1 reads the 5 rows, hold 2 finds no more: the append lands right after it
    lock = _AppendAfterRead(journal, arm_at=2)
    checked, first_bad, reason = audit(journal._conn, lock)  # type: ignore[arg-type]
    assert lock.appended
    assert (first_bad, reason) == (None, ""), reason
    assert checked == 5
    assert journal.verify().checked == 6
