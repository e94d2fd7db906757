"""One timer thread for every indicator delay (a flash's return to the state, a beep's end).

`threading.Timer` starts a new thread per delay: on the scan path that is a thread start per
"ok" flash (0.4 ms, several ms in the slowest 1 %). Here one daemon thread, started on first use,
sleeps until the earliest deadline; scheduling is a heap push and a notify, never a thread start.
Callbacks run on that thread and must not block; an exception in one is logged, not raised.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

LOG = logging.getLogger(__name__)


class Handle:
    """A scheduled callback; `cancel()` before it runs stops it (after, it does nothing)."""

    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class TimerThread:
    """Runs callbacks after delays on one daemon thread (thread-safe)."""

    def __init__(self, name: str = "indicator-timers") -> None:
        self._name = name
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Handle, Callable[[], object]]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def call_later(self, delay_s: float, fn: Callable[[], object]) -> Handle:
        handle = Handle()
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + delay_s, next(self._seq), handle, fn))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify()
        return handle

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                _, _, handle, fn = heapq.heappop(self._heap)
            if handle.cancelled:
                continue
            try:
                fn()
            except Exception:  # a timer callback must not kill the thread
                LOG.exception("indicator timer callback failed")


TIMERS = TimerThread()
