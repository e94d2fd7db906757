"""The link's tail of committed rows (edge.link.tail): it answers only for rows it holds
exactly, so a row appended by anyone else is still read from the journal and sent."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from edge.journal import Journal, JournalEvent
from edge.link.tail import TAIL_ROWS, CommittedTail
from tests.support.central import LinkRunner, delivery_report, make_setup, running_central, until
from tests.support.events import body as event_body


def _rows(tmp_path: Path, n: int) -> list[JournalEvent]:
    journal = Journal(tmp_path / "j.sqlite3")
    try:
        for i in range(n):
            journal.append("scan", {"n": i})
        return journal.events(0, n)
    finally:
        journal.close()


def test_an_unknown_tail_sends_the_link_to_the_journal(tmp_path: Path) -> None:
    rows = _rows(tmp_path, 5)
    tail = CommittedTail()
    tail.offer(rows[:2])  # before any read: nothing is known of the journal's end
    assert tail.rows(1, 10) is None
    tail.learned_end(2, tail.offers)
    assert tail.rows(3, 10) == []  # nothing after seq 2
    assert tail.rows(1, 10) is None  # below what it holds: the journal
    tail.offer(rows[2:4])
    assert [r.seq for r in tail.rows(3, 10) or []] == [3, 4]
    assert [r.seq for r in tail.rows(4, 1) or []] == [4]
    assert tail.rows(5, 10) == []


def test_a_gap_an_empty_offer_or_a_racing_offer_makes_it_unknown(tmp_path: Path) -> None:
    rows = _rows(tmp_path, 6)
    tail = CommittedTail()
    tail.learned_end(1, tail.offers)
    tail.offer(rows[2:3])  # seq 3 after 1: someone else appended seq 2
    assert tail.rows(2, 10) is None and tail.rows(3, 10) is None
    tail.learned_end(3, tail.offers)
    tail.offer([])  # a wake without rows
    assert tail.rows(4, 10) is None
    before = tail.offers
    tail.offer(rows[3:4])  # offered while a read was under way
    tail.learned_end(3, before)  # that read may not have seen seq 4: learns nothing
    assert tail.rows(4, 10) is None
    tail.learned_end(4, tail.offers)
    tail.offer([rows[4], rows[4]])  # not one run
    assert tail.rows(5, 10) is None


def test_the_tail_holds_a_bounded_number_of_rows(tmp_path: Path) -> None:
    rows = _rows(tmp_path, TAIL_ROWS + 10)
    tail = CommittedTail()
    tail.learned_end(0, tail.offers)
    for row in rows:
        tail.offer([row])
    assert tail.rows(1, 10) is None  # dropped: read from the journal
    newest = tail.rows(11, TAIL_ROWS + 10) or []
    assert len(newest) == TAIL_ROWS and newest[-1].seq == TAIL_ROWS + 10


@pytest.mark.slow
def test_offered_and_foreign_rows_all_reach_central_with_fewer_journal_reads(
    tmp_path: Path,
) -> None:
    """Through a real central: rows offered as committed interleave with rows appended behind
    the tail's back (one announced by a wake without rows, one never announced). Every row
    arrives once with its hash, and the offered ones are sent without a journal read each."""
    setup = make_setup(tmp_path, ["station-01"])
    reads: list[int] = []

    async def scenario() -> None:
        runner = LinkRunner(setup, "station-01", tmp_path)
        events = runner.journal.events

        def counted(after: int, limit: int) -> list[JournalEvent]:
            if limit > 1:  # the sender's reads (the status refresh reads one row)
                reads.append(after)
            return events(after, limit)

        runner.journal.events = counted  # type: ignore[method-assign]
        runner.start()
        await until(runner.link.anchored.is_set, 30)
        total = 0
        for step in range(40):  # one scan's rows at a time, each acked before the next
            runner.commit(1 + step % 3)
            total += 1 + step % 3
            await until(lambda t=total: runner.journal.acked_seq() == t, 30)  # type: ignore[misc]
        offered_reads = len(reads)
        runner.append(4)  # another writer, with a wake: the tail forgets
        runner.commit(2)
        total += 6
        await until(lambda: runner.journal.acked_seq() == total, 30)
        runner.journal.append("scan", event_body("scan", "station-01", n=99))
        total += 1  # no wake at all: the quiet second's read finds it
        await until(lambda: runner.journal.acked_seq() == total, 30)
        await runner.stop()
        assert offered_reads < 10, f"{offered_reads} journal reads for 40 offered commits"

    with running_central(setup):
        asyncio.run(scenario())
    report = delivery_report(setup.store, "station-01", tmp_path / "station-01" / "journal.sqlite3")
    assert report["lost"] == report["duplicated"] == report["gaps"] == 0, report
    assert report["chain_breaks"] == report["quarantined"] == 0, report
    assert report["central"] == report["journal"] == 86
