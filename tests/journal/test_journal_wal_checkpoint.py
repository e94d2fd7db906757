"""WAL checkpoints: a writer that defers them runs them itself, after it answered; the journal
reads the same and its chain verifies either way."""

from __future__ import annotations

from pathlib import Path

from edge.journal import Journal

BODY = {"raw": "x" * 3000, "kind": "package"}  # about one WAL page per event


def fill(journal: Journal, steps: int) -> None:
    for _ in range(steps):
        with journal.transaction() as txn:
            txn.append("scan", BODY)
            txn.put_state("workflow", b"s" * 300)


def test_deferred_checkpoints_run_only_when_asked_and_the_wal_starts_over(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.defer_checkpoints()
    fill(journal, 400)  # past SQLite's automatic threshold of 1000 pages
    frames, copied = journal.checkpoint()
    assert frames > 1000 and copied == frames  # nothing was copied inside the commits
    fill(journal, 1)
    frames, copied = journal.checkpoint()
    assert 0 < frames < 20 and copied == frames  # the WAL started over after the checkpoint
    assert journal.verify().ok and journal.last_seq() == 401
    journal.close()


def test_without_deferring_sqlite_checkpoints_inside_the_commits(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    fill(journal, 400)
    frames, _ = journal.checkpoint()
    assert frames <= 1000 + 20
    journal.close()
    again = Journal(tmp_path / "journal.sqlite3", readonly=True)
    assert again.verify().ok and again.last_seq() == 400
    again.close()
