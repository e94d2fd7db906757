"""Beeps through the label printer's buzzer (ESC B n t); the printer has no LED, so colours are
ignored. Commands go through a sender callable (PrinterService.beep_nowait), never blocking."""

from __future__ import annotations

from collections.abc import Callable

from drivers.indicator.base import Backend


def buzzer_command(count: int, beep_ms: int) -> bytes:
    """ESC B n t: n beeps (1..9), each t x 100 ms (1..9) on Epson-compatible printers."""
    n = max(1, min(9, count))
    t = max(1, min(9, round(beep_ms / 100)))
    return b"\x1bB" + bytes([n, t])


class PrinterBuzzerBackend(Backend):
    """See the module docstring."""

    name = "printer-buzzer"

    def __init__(self, send: Callable[[bytes], None]) -> None:
        self._send = send

    def show(self, colour: str, blink_ms: int) -> None:
        return None

    def beep(self, count: int, beep_ms: int) -> None:
        self._send(buzzer_command(count, beep_ms))
