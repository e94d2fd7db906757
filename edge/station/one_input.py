"""One input's handling, kept from ending the loop that reads its device.

`Station.feed` (edge/station/daemon.py) logs and signals a step it could not commit, then raises
to its caller. A loop that reads a device (the scanner, the ticker) must go on to the next input
after that, and after a CancelledError that is not its own task's: one raised from below (a
future cancelled by a closing socket) used to end the scanner's loop silently, leaving a station
deaf to its scanner.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TypeVar

LOG = logging.getLogger(__name__)
T = TypeVar("T")


def own_cancel() -> bool:
    """True when the running task itself is being cancelled (the daemon's stop)."""
    try:
        task = asyncio.current_task()
    except RuntimeError:  # called outside the loop
        return False
    return task is not None and task.cancelling() > 0


async def one_input(what: str, step: Awaitable[T]) -> T | None:
    """`await step`; None when it failed (logged here) instead of raising into the loop."""
    try:
        return await step
    except asyncio.CancelledError:
        if own_cancel():
            raise
        LOG.error("input interrupted by a cancellation from below", extra={"input": what})
    except Exception:
        LOG.warning("input failed; reading the next one", extra={"input": what}, exc_info=True)
    return None
