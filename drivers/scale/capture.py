"""When a reading becomes a captured weight: the scale's stable flag AND a software window, and
the pan back at zero between two captures. Pure logic over (reading, time); no I/O.

Why both checks: a scale's stable flag uses its own (often short, configurable) filter, and some
protocols (8217) repeat a stale weight; the window requires N stable readings within one division
of each other spanning at least T ms. Why return-to-zero: without it one package left on the pan
is captured again for the next line (odoo/odoo PR #46411).
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

from drivers.scale.reading import Reading, Status
from drivers.scale.units import format_grams


@dataclass(frozen=True, slots=True)
class CaptureRules:
    """The window and zero settings ([scale] in station.toml)."""

    stable_readings: int = 5  # N
    window_ms: int = 500  # T
    zero_threshold_mg: int = 20  # |weight| at or below this is an empty pan
    division_mg: int = 0  # the scale's d from its data plate; 0 = from the digits shown
    max_age_ms: int = 2000  # the newest reading must be this fresh to be captured


@dataclass(frozen=True, slots=True)
class Capture:
    """A captured weight: exact mg in the scale's current (net or gross) mode."""

    net_mg: int
    unit: str  # the unit the scale reported in
    division_mg: int  # the coarser of the configured d and the step of the digits shown
    raw: bytes  # the reply the weight was taken from
    net: bool | None = None  # True when the scale said net, False gross, None not reported


class NoReadingReason(enum.Enum):
    """Why no weight was captured."""

    TIMEOUT = "timeout"  # the scale did not answer: never read as zero
    MOTION = "motion"
    OVERLOAD = "overload"
    UNDERLOAD = "underload"
    ERROR_REPLY = "error"  # the scale answered with an error
    NOT_ZEROED = "not-zeroed"  # the last package was not lifted off since its capture
    EMPTY = "empty"  # stable, but at zero: nothing on the pan
    NEGATIVE = "negative"  # stable below zero by more than the zero threshold
    SETTLING = "settling"  # stable flag set, but the window is not full yet
    DISCONNECTED = "disconnected"


@dataclass(frozen=True, slots=True)
class NoReading:
    """No weight, with the reason and one sentence for the technician or log."""

    reason: NoReadingReason
    detail: str


_FAILURES = {
    Status.MOTION: NoReadingReason.MOTION,
    Status.OVERLOAD: NoReadingReason.OVERLOAD,
    Status.UNDERLOAD: NoReadingReason.UNDERLOAD,
    Status.ERROR: NoReadingReason.ERROR_REPLY,
}


@dataclass(frozen=True, slots=True)
class _Sample:
    at_ms: int
    reading: Reading


class Capturer:
    """Feed every reading (and every timeout); ask `take()` for a capture."""

    def __init__(self, rules: CaptureRules) -> None:
        self.rules = rules
        self._window: deque[_Sample] = deque()
        self._armed = True  # the first package after start-up may already be on the pan
        self._last_weight: Reading | None = None
        self._condition = NoReading(NoReadingReason.TIMEOUT, "no reply from the scale yet")

    @property
    def armed(self) -> bool:
        """True when the next stable load may be captured (the pan was empty since the last)."""
        return self._armed

    def observe(self, reading: Reading, now_ms: int) -> None:
        """Account for one reply received at `now_ms`."""
        if reading.status is Status.UNCHANGED:
            if self._last_weight is None or not self._window:
                return  # nothing to repeat: an 8217 status before any weight
            reading = self._last_weight
        failure = _FAILURES.get(reading.status)
        if failure is not None or reading.weight_mg is None:
            self._window.clear()
            self._condition = NoReading(failure or NoReadingReason.ERROR_REPLY, _why(reading))
            return
        self._last_weight = reading
        if abs(reading.weight_mg) <= self.rules.zero_threshold_mg:
            self._armed = True
        self._add(_Sample(now_ms, reading))

    def observe_silence(self, detail: str, reason: NoReadingReason) -> None:
        """The scale did not answer in time, or the port is gone: forget the window."""
        self._window.clear()
        self._last_weight = None
        self._condition = NoReading(reason, detail)

    def take(self, now_ms: int, *, require_load: bool = True) -> Capture | None:
        """The captured weight when every condition holds now (and disarm), else None."""
        best = self._settled(now_ms)
        if best is None:
            return None
        weight = best.weight_mg
        assert weight is not None
        if require_load and weight <= self.rules.zero_threshold_mg:
            self._condition = _empty_or_negative(weight, self.rules.zero_threshold_mg)
            return None
        if require_load and not self._armed:
            detail = "the last package is still on the scale: lift it off, then weigh again"
            self._condition = NoReading(NoReadingReason.NOT_ZEROED, detail)
            return None
        self._armed = False
        return Capture(weight, best.unit, self._division(best), best.raw, best.net)

    def condition(self) -> NoReading:
        """Why `take()` returns nothing: the most recent obstacle."""
        return self._condition

    def _add(self, sample: _Sample) -> None:
        window = self._window
        if window and (window[-1].reading.unit != sample.reading.unit):
            window.clear()
        window.append(sample)
        band = self._division(sample.reading)
        while _spread(window) > band:  # keep only readings within one division of each other
            window.popleft()
        n = self.rules.stable_readings
        while len(window) > n and sample.at_ms - window[1].at_ms >= self.rules.window_ms:
            window.popleft()  # older readings are no longer needed to prove the window
        if len(window) < n or sample.at_ms - window[0].at_ms < self.rules.window_ms:
            self._condition = NoReading(
                NoReadingReason.SETTLING, f"weight settling ({len(window)} agreeing readings)"
            )

    def _settled(self, now_ms: int) -> Reading | None:
        window = self._window
        if len(window) < self.rules.stable_readings:
            return None
        if window[-1].at_ms - window[0].at_ms < self.rules.window_ms:
            return None
        if now_ms - window[-1].at_ms > self.rules.max_age_ms:
            return None
        # Toward the customer: the lowest reading of the agreeing window.
        return min((s.reading for s in window), key=lambda r: r.weight_mg or 0)

    def _division(self, reading: Reading) -> int:
        return max(1, self.rules.division_mg, reading.division_mg or 0)


def _spread(window: deque[_Sample]) -> int:
    weights = [s.reading.weight_mg or 0 for s in window]
    return max(weights) - min(weights)


def _empty_or_negative(weight: int, threshold: int) -> NoReading:
    if weight < -threshold:
        detail = f"the scale reads {format_grams(weight)}: zero or re-tare it"
        return NoReading(NoReadingReason.NEGATIVE, detail)
    return NoReading(NoReadingReason.EMPTY, "the scale is empty (at zero)")


def _why(reading: Reading) -> str:
    if reading.detail:
        return f"the scale reports {reading.detail}"
    if reading.status is Status.MOTION:
        return "the scale reports motion: let the pan settle"
    return f"the scale reports {reading.status.value}"
