"""Handing freed heap back to the operating system.

glibc's malloc keeps freed memory in its arenas (one per thread that allocated) instead of
returning it, so a large transient (a start-up's parsing, a full inventory build from a 100 k
package snapshot on a worker thread) would stay in the daemon's RSS for the rest of the day.
`malloc_trim(0)` returns the free pages of every arena (glibc >= 2.8; malloc_trim(3)).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    with contextlib.suppress(OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        trim: Callable[[int], int] = ctypes.CDLL("libc.so.6").malloc_trim
        return trim
    return None


def trim() -> None:
    """Return the free heap of every malloc arena to the OS (a no-op without glibc)."""
    fn = _malloc_trim()
    if fn is not None:
        fn(0)
