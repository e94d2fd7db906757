"""The journal anchored at central: a station behind central's copy recovers from it.

Central keeps every row a station sent (its chain head is the `stations` row: last seq and hash).
A station that comes back with less (a card restored from an older image, a new empty card) must
not number new events from where its file ends: those seqs are central's already, with other
contents, and would be quarantined as integrity alarms while the station counted them sent.
Instead the link fetches central's copy of the missing rows (PSS/1 FETCH) and `adopt` inserts them
verbatim, hash-checked against this journal's last row, before anything new is journalled.

If this journal has rows of its own past the point where it fell behind (events were journalled
offline before central was reached), the two histories differ: `adopt` refuses (Diverged), the
link sends nothing more, and every row stays in the journal until a supervisor decides
(docs/journal.md "A journal behind central").
"""

from __future__ import annotations

from collections.abc import Sequence

from edge.common.chain import chain_hash
from edge.common.errors import PackstationError
from edge.journal.store import Journal, JournalEvent


class Diverged(PackstationError):
    """This journal and central's copy of it differ: neither may be extended automatically."""


def adopt(journal: Journal, after: int, rows: Sequence[JournalEvent]) -> int:
    """Append central's `rows` (seq after+1..) to a journal that ends at `after`; return the new
    last seq. Raise Diverged when the journal no longer ends at `after` or a row does not chain."""
    with journal.transaction() as txn:
        last = journal.last_seq()
        if last != after:
            raise Diverged(
                f"this journal ends at seq {last}, not {after}: it has rows central does not"
            )
        for row in rows:
            digest = chain_hash(row.prev_hash, row.seq, row.event_id, row.type, row.at, row.body)
            if digest != row.hash:
                raise Diverged(f"central's row {row.seq} does not verify: not adopted")
            try:
                txn.adopt(row)
            except ValueError as exc:
                raise Diverged(f"central's copy does not continue this journal: {exc}") from exc
    return after + len(rows)
