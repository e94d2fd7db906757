"""The rows the station just committed, held so the link sends them without reading them back.

The daemon commits a step's rows on the loop and hands the same `JournalEvent`s to the link
(`StationLink.wake(committed)`); sending them from memory saves the journal read in a worker
thread, and the thread hop, at every scan (issue 20). The tail only ever answers for rows it
holds exactly: any append it did not see (the link's own `feed_record_skipped`, a wake from
another thread, an adoption) makes it unknown, and the link reads the journal as before.

Exactness rests on contiguity: a run of offered rows extends the tail only when its first seq
follows the tail's end, so a row appended by anyone else leaves a gap that the next offer sees.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from itertools import islice

from edge.journal import JournalEvent

TAIL_ROWS = 1024  # about 150 orders' rows: a session that fell further behind reads the journal


class CommittedTail:
    """The journal's newest rows as the link knows them, on the loop thread only."""

    def __init__(self) -> None:
        self._rows: deque[JournalEvent] = deque(maxlen=TAIL_ROWS)
        self._end: int | None = None  # the journal's last seq, None: not known (read it)
        self.offers = 0  # bumped by every offer or forget: a read racing one learns nothing

    def offer(self, committed: Sequence[JournalEvent]) -> None:
        """Rows just committed, in seq order; nothing (or a gap) makes the tail unknown."""
        self.offers += 1
        end = self._end
        if not committed or end is None or committed[0].seq != end + 1:
            self.forget()
            return
        for row in committed:
            if row.seq != end + 1:  # not one run: trust nothing
                self.forget()
                return
            self._rows.append(row)
            end = row.seq
        self._end = end

    def forget(self) -> None:
        self.offers += 1
        self._rows.clear()
        self._end = None

    def learned_end(self, last_seq: int, offers_before: int) -> None:
        """A journal read reached its end at `last_seq`: known from here on, unless an offer or
        a forget came while it read (that row may be past what the read saw)."""
        if self.offers == offers_before:
            self._rows.clear()
            self._end = last_seq

    def rows(self, start: int, limit: int) -> list[JournalEvent] | None:
        """Up to `limit` rows from seq `start` on; [] when none is committed after `start - 1`;
        None when the tail cannot say (read the journal)."""
        end = self._end
        if end is None:
            return None
        if start == end + 1:
            return []
        held = self._rows
        if not held or not held[0].seq <= start <= end:
            return None
        first = start - held[0].seq
        return list(islice(held, first, first + limit))
