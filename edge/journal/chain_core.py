"""The journal's chain check of a batch of rows, in the compiled core (core_rs/src/chain.rs).

`recompute(rows)` gives each row's hash recomputed from its own fields (its prev_hash included),
byte for byte as `edge.common.chain.chain_hash`, for a whole batch in one call with the GIL
released (`edge._core.chain_hashes`, as central checks the events it receives), so the station's
loop keeps running while the background audit hashes. Where the core returns None (a field not of
its storage type, an event_id not in a plain hex UUID form that `uuid.UUID` may still take or
refuse) the caller checks that row in Python, so the verdict is the same either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from edge import _core


class Link(msgspec.Struct, gc=False):
    """The fields of one row the core hashes (`chain_hashes` reads them by name)."""

    seq: int
    event_id: str
    at: str
    type: str
    body: bytes
    prev_hash: bytes


def recompute(rows: Sequence[Any]) -> list[bytes | None]:
    """One recomputed hash per row, in order (None: check that one in Python). A row is any
    object with the attributes seq, event_id, at, type, body and prev_hash."""
    return _core.chain_hashes(rows)


def recompute_columns(rows: Sequence[tuple[Any, ...]]) -> list[bytes | None]:
    """`recompute` for the audit's rows: (rowid, seq, typeof, event_id, typeof, at, typeof, type,
    typeof, body, typeof, prev_hash, typeof, hash, typeof), as edge/journal/audit.py reads them."""
    return _core.chain_hashes([Link(r[1], r[3], r[5], r[7], r[9], r[11]) for r in rows])
