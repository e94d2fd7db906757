"""Hand-built evdev event streams for the scanner tests (independent of drivers/scanner/keystrokes.py)."""

from __future__ import annotations

from collections.abc import Iterable

from evdev import InputEvent, ecodes

from drivers.config import ScannerConfig
from drivers.scanner.events import Scan, ScannerEvent
from drivers.scanner.keystrokes import decode_events


class Keys:
    """A stream of key events, 1 ms apart by default, each followed by SYN_REPORT."""

    def __init__(self, start: float = 1_700_000_000.0, step_us: int = 1000) -> None:
        self.t_us = round(start * 1_000_000)
        self.step_us = step_us
        self.events: list[InputEvent] = []

    def raw(self, type_: int, code: int, value: int) -> Keys:
        sec, usec = divmod(self.t_us, 1_000_000)
        self.events.append(InputEvent(sec, usec, type_, code, value))
        return self

    def key(self, code: int, value: int) -> Keys:
        self.raw(ecodes.EV_KEY, code, value).raw(ecodes.EV_SYN, ecodes.SYN_REPORT, 0)
        self.t_us += self.step_us
        return self

    def tap(self, *codes: int) -> Keys:
        """Press `codes` in order (modifiers first), release in reverse."""
        for c in codes:
            self.key(c, 1)
        for c in reversed(codes):
            self.key(c, 0)
        return self

    def taps(self, *codes: int) -> Keys:
        for c in codes:
            self.tap(c)
        return self

    def wait(self, ms: int) -> Keys:
        self.t_us += ms * 1000
        return self

    def dropped(self) -> Keys:
        return self.raw(ecodes.EV_SYN, ecodes.SYN_DROPPED, 0)

    def enter(self) -> Keys:
        return self.tap(ecodes.KEY_ENTER)


def scans(events: Iterable[InputEvent], **cfg: object) -> list[Scan]:
    return [e for e in decode(events, **cfg) if isinstance(e, Scan)]


def decode(events: Iterable[InputEvent], **cfg: object) -> list[ScannerEvent]:
    return decode_events(events, ScannerConfig(**cfg))  # type: ignore[arg-type]


def texts(events: Iterable[InputEvent], **cfg: object) -> list[str]:
    return [s.text for s in scans(events, **cfg)]
