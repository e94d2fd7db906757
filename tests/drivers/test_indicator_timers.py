"""The indicator's one timer thread: delays run in deadline order, a cancelled one never runs,
and a hundred flashes start no thread beyond the first."""

from __future__ import annotations

import threading

from drivers.indicator.timers import TimerThread


def test_callbacks_run_in_deadline_order_and_cancelled_ones_never() -> None:
    timers = TimerThread(name="test-timers")
    ran: list[str] = []
    done = threading.Event()
    timers.call_later(0.03, lambda: (ran.append("last"), done.set()))
    timers.call_later(0.01, lambda: ran.append("first"))
    timers.call_later(0.02, lambda: ran.append("cancelled")).cancel()
    timers.call_later(0.015, lambda: 1 / 0)  # an error is logged, the thread goes on
    assert done.wait(5)
    assert ran == ["first", "last"]


def test_many_delays_share_one_thread() -> None:
    timers = TimerThread(name="test-timers-shared")
    left = threading.Semaphore(0)
    for _ in range(100):
        timers.call_later(0.001, left.release)
    for _ in range(100):
        assert left.acquire(timeout=5)
    names = [t.name for t in threading.enumerate()]
    assert names.count("test-timers-shared") == 1
