"""A back-end that records what it was asked to show, for the simulated day and the tests."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from drivers.indicator.base import Backend


@dataclass(frozen=True)
class Shown:
    """One call: ("show", colour, blink_ms) or ("beep", count, beep_ms), with a monotonic time."""

    at: float
    what: str
    a: str | int
    b: int


class RecordingBackend(Backend):
    """Keeps every call in `calls`; `leds` is the current colour and blink."""

    name = "recording"

    def __init__(self) -> None:
        self.calls: list[Shown] = []
        self.colour = "off"
        self.blink_ms = 0
        self._lock = threading.Lock()

    def show(self, colour: str, blink_ms: int) -> None:
        with self._lock:
            self.colour, self.blink_ms = colour, blink_ms
            self.calls.append(Shown(time.monotonic(), "show", colour, blink_ms))

    def beep(self, count: int, beep_ms: int) -> None:
        with self._lock:
            self.calls.append(Shown(time.monotonic(), "beep", count, beep_ms))

    def close(self) -> None:
        self.show("off", 0)
