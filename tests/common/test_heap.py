"""edge.common.heap: freed heap of a worker thread's malloc arena goes back to the OS."""

from __future__ import annotations

import sys
import threading

import pytest

from edge.common import heap

pytestmark = pytest.mark.skipif(
    heap._malloc_trim() is None or not sys.platform.startswith("linux"), reason="needs glibc"
)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_trim_returns_a_worker_threads_freed_heap() -> None:
    kept: list[bytearray] = []

    def churn() -> None:  # 64 MB in 4 KB blocks on this thread's arena, 1 block in 64 kept
        blocks = [bytearray(4096) for _ in range(16384)]
        kept.extend(blocks[::64])  # pins each 256 KB stretch: malloc cannot shrink on its own
        del blocks

    worker = threading.Thread(target=churn)
    worker.start()
    worker.join()
    before = rss_mb()
    heap.trim()
    assert before - rss_mb() > 30, "the 63 MB freed on the worker's arena stayed resident"
    assert len(kept) == 256
