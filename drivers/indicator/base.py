"""Semantic signals -> LED colour and beeps, through one of several back-ends.

The station says what happened (`Signal.HALT`); the config table ([indicator.signals]) says how
it looks and sounds. States (hold_ms = 0) stay until the next state; flashes (hold_ms > 0) show
for hold_ms and then return to the current state. Back-end failures are logged once and never
raised: a dead LED must not stop the station.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from enum import StrEnum

from drivers.config import IndicatorSignals, SignalPattern
from drivers.indicator.timers import TIMERS, Handle

LOG = logging.getLogger(__name__)

CHANNELS = ("red", "green", "blue")
COLOUR_CHANNELS: dict[str, frozenset[str]] = {
    "off": frozenset(),
    "red": frozenset({"red"}),
    "green": frozenset({"green"}),
    "blue": frozenset({"blue"}),
    "amber": frozenset({"red", "green"}),
    "cyan": frozenset({"green", "blue"}),
    "magenta": frozenset({"red", "blue"}),
    "white": frozenset(CHANNELS),
}


class Signal(StrEnum):
    """What the station tells the technician."""

    READY = "ready"
    SCAN_OK = "scan_ok"
    WEIGHING = "weighing"
    WEIGHT_CAPTURED = "weight_captured"
    HALT = "halt"
    DEVICE_ERROR = "device_error"
    CENTRAL_OFFLINE = "central_offline"
    SEALED = "sealed"


class IndicatorUnavailable(Exception):
    """The configured hardware is not there; the message says what is missing."""


class Backend(ABC):
    """Drives the physical LED channels and the beeper."""

    name = "backend"

    @abstractmethod
    def show(self, colour: str, blink_ms: int) -> None:
        """Light `colour` (a COLOUR_CHANNELS key) steadily, or blinking when blink_ms > 0."""

    @abstractmethod
    def beep(self, count: int, beep_ms: int) -> None:
        """Sound `count` beeps of `beep_ms` (gaps as long); returns at once."""

    def close(self) -> None:
        """Switch everything off and release the hardware."""
        return


class NullBackend(Backend):
    """No LED, no beeper."""

    name = "none"

    def show(self, colour: str, blink_ms: int) -> None:
        return None

    def beep(self, count: int, beep_ms: int) -> None:
        return None


class Indicator:
    """See the module docstring; thread-safe, never blocks, never raises."""

    def __init__(self, backend: Backend, signals: IndicatorSignals) -> None:
        self.backend = backend
        self.signals = signals
        self.state: Signal | None = None
        self._lock = threading.Lock()
        self._timer: Handle | None = None  # a flash's return, on the one timer thread
        self._failed: set[str] = set()

    def pattern(self, signal: Signal) -> SignalPattern:
        pattern: SignalPattern = getattr(self.signals, signal.value)
        return pattern

    def signal(self, signal: Signal) -> None:
        """Show and sound `signal`."""
        pattern = self.pattern(signal)
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if pattern.hold_ms == 0:
                self.state = signal
            self._call("show", pattern.colour, pattern.blink_ms)
            if pattern.beeps:
                self._call("beep", pattern.beeps, pattern.beep_ms)
            if pattern.hold_ms:
                # The callback takes the lock held here, so `mine` is filled before it looks.
                mine: list[Handle] = []
                self._timer = TIMERS.call_later(pattern.hold_ms / 1000, lambda: self._revert(mine))
                mine.append(self._timer)

    def _revert(self, mine: list[Handle]) -> None:
        with self._lock:
            if self._timer is not mine[0]:
                return  # a later signal replaced this flash
            self._timer = None
            if self.state is None:
                self._call("show", "off", 0)
            else:
                pattern = self.pattern(self.state)
                self._call("show", pattern.colour, pattern.blink_ms)

    def _call(self, method: str, *args: int | str) -> None:
        try:
            getattr(self.backend, method)(*args)
        except Exception as exc:  # noqa: BLE001 - hardware trouble must never reach the station
            key = f"{method}: {exc}"
            if key not in self._failed:
                self._failed.add(key)
                LOG.warning(
                    "indicator %s failed: %s", self.backend.name, exc, extra={"method": method}
                )

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._call("close")
