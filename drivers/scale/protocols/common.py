"""Helpers shared by the protocols: framed parsing, weight fields to Readings, noise reporting."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

from drivers.scale.protocols.framing import FrameChunks
from drivers.scale.reading import Event, Noise, Reading, Status
from drivers.scale.units import WeightFormatError, normalise_unit, parse_weight


class Framer(Protocol):
    """Splits a byte stream into frames (see framing.py)."""

    def feed(self, data: bytes) -> FrameChunks: ...


class FramedParser:
    """A Parser built from a framer and a per-frame parse: bytes the framer drops become Noise."""

    def __init__(self, framer: Framer) -> None:
        self._framer = framer

    def feed(self, data: bytes) -> list[Event]:
        chunks = self._framer.feed(data)
        events: list[Event] = [Noise(raw, why) for raw, why in chunks.dropped]
        for frame in chunks.frames:
            events.extend(self._frame(frame))
        return events

    def _frame(self, frame: bytes) -> list[Event]:
        """The events of one complete frame."""
        raise NotImplementedError


# A signed decimal as scales print it: optional sign, optional spaces, digits, optional fraction.
NUMBER = r"[+-]?\s*(?:\d+(?:\.\d*)?|\.\d+)"


def weight_reading(
    status: Status, number: str, unit: str, raw: bytes, net: bool | None = None
) -> Reading:
    """A Reading with the weight in exact mg; an unusable number or unit is an ERROR reading."""
    try:
        weight, step = parse_weight(number, unit)
        unit_name = normalise_unit(unit)
    except WeightFormatError as exc:
        return Reading(Status.ERROR, raw, detail=str(exc))
    return Reading(status, raw, weight, unit_name, step, net)


def text_of(frame: bytes) -> str:
    """Frame bytes as text; latin-1 maps every byte, so noise cannot raise."""
    return frame.decode("latin-1")


def resync(frame: bytes, pattern: re.Pattern[str]) -> tuple[re.Match[str] | None, list[Event]]:
    """Find a frame matching `pattern` at the END of `frame` after leading noise.

    Noise glued to the front of a frame (no terminator between) is reported, and the frame is kept.
    """
    text = text_of(frame)
    for start in range(1, len(text)):
        match = pattern.fullmatch(text, start)
        if match is not None:
            return match, [Noise(frame[:start], "noise before a frame")]
    return None, [Noise(frame, "not a frame of this protocol")]


def resynced(
    frame: bytes, pattern: re.Pattern[str], build: Callable[[re.Match[str], bytes], Event]
) -> list[Event]:
    """`resync`, then `build` the event of the frame found behind the noise, if any."""
    match, noise = resync(frame, pattern)
    if match is None:
        return noise
    return [*noise, build(match, frame[len(noise[0].raw) :])]
