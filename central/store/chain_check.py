"""The per-event chain check of a batch, in the compiled core (core_rs/src/chain.rs).

`recompute(events)` gives each event's hash recomputed from its own fields (its prev_hash
included), byte for byte as `edge.common.chain.chain_hash`, for a whole batch in one call with the
GIL released, so the loop that reads the stations' sockets keeps running while a commit checks
its events. Where the core returns None (an event_id not in a plain hex UUID form, which
`uuid.UUID` may still take or refuse) the caller checks that event in Python
(`central.store.base.check_event`), so the verdict is the same either way.
"""

from __future__ import annotations

from collections.abc import Sequence

from edge import _core
from edge.common.protocol import Event


def recompute(events: Sequence[Event]) -> list[bytes | None]:
    """One recomputed hash per event, in order (None: check that one in Python)."""
    return _core.chain_hashes(events)
