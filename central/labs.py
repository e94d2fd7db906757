"""Lab results at central: ingest METRC result rows and COA records, feed them to every station.

`packstation central import labs FILE` (and `ingest_results` for the state-system pull) files each
result under its package or batch (edge/common/labs.py): the feed item `lab` / `package:<TAG>` or
`batch:<BATCH>` holds every result known for it, merged by result id, so a result re-sent with a
`RevokedDate` replaces the passed one and reaches the stations as one feed change (the next scan
of that package, or of any package of the batch, is refused with verdict `lab_result`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from central.store.base import SqlStore
from edge.common.errors import BadInput
from edge.common.feed import RecordError
from edge.common.labs import LabResult, decode_set, encode_set, merge, parse_results
from edge.common.protocol import FeedItem


def current(store: SqlStore, key: str) -> list[LabResult]:
    """The results central holds under one feed key."""
    with store._lock:
        try:
            row = store._x(
                "SELECT body FROM feed_state WHERE kind = 'lab' AND key = ?", (key,)
            ).fetchone()
        finally:
            store._end_read()
    return decode_set(None if row is None else bytes(row[0]))


def ingest_results(store: SqlStore, results: Iterable[LabResult]) -> tuple[int, int]:
    """Merge results into their feed items (for every station); (items changed, qseq)."""
    grouped: dict[str, list[LabResult]] = {}
    for result in results:
        grouped.setdefault(result.key, []).append(result)
    changes: list[tuple[FeedItem, str | None]] = []
    for key, new in sorted(grouped.items()):
        merged = merge(current(store, key), new)
        changes.append((FeedItem(kind="lab", key=key, body=encode_set(merged)), None))
    return len(changes), store.feed_put(changes)


def import_labs(store: SqlStore, path: Path) -> tuple[int, int]:
    """`central import labs FILE`: validate every record first, then commit them together."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc}") from exc
    try:
        results = parse_results(raw)
    except RecordError as exc:
        raise BadInput(f"{path}: {exc.path}: {exc.message}") from exc
    return ingest_results(store, results)
