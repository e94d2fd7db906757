"""The pure state machine that turns one event node's key events into whole scans.

No I/O and no clock of its own: the device reader and the simulator feed it `evdev.InputEvent`s and,
for the idle gap, the current time. Improvements over Odoo's `keyboard_usb_driver_L.py`:
Ctrl and Alt are tracked (Ctrl+] and Alt+0029 both give GS), autorepeat is ignored, a scan also ends
on keypad Enter, Tab or an idle gap, and SYN_DROPPED discards the partial scan instead of passing on
a barcode with characters missing.
"""

from __future__ import annotations

import re
from typing import Final, Protocol

from drivers.config import ScannerConfig
from drivers.scanner.events import DiscardReason, EndedBy, Scan, ScanDiscarded, ScannerEvent
from drivers.scanner.keymap import KeyState, layout

EV_SYN: Final = 0
EV_KEY: Final = 1
SYN_REPORT: Final = 0
SYN_DROPPED: Final = 3
KEY_ENTER: Final = 28
KEY_TAB: Final = 15
KEY_KPENTER: Final = 96
END_KEYS: Final[dict[int, EndedBy]] = {KEY_ENTER: "enter", KEY_KPENTER: "kpenter", KEY_TAB: "tab"}
# Keypad digit keys (evdev codes) -> digit, for Alt+keypad character codes.
KEYPAD_DIGITS: Final[dict[int, str]] = {
    82: "0",
    79: "1",
    80: "2",
    81: "3",
    75: "4",
    76: "5",
    77: "6",
    71: "7",
    72: "8",
    73: "9",
}
# AIM symbology identifier: ']' + symbology letter + modifier (ISO/IEC 15424; biip symbology.py).
AIM_ID: Final = re.compile(r"\][A-Za-z][0-9A-Za-z]")


class KeyEvent(Protocol):
    """The fields of `evdev.InputEvent` the decoder reads."""

    sec: int
    usec: int
    type: int
    code: int
    value: int


def alt_code_char(digits: str) -> str:
    """The character Windows types for Alt + keypad `digits` ('' for NUL).

    A leading 0 selects the ANSI code page (cp1252), none the OEM one (cp437); codes above 255 wrap
    modulo 256 as Windows does. Codes below 128 are ASCII either way, so Alt+0029 and Alt+29 are GS.
    """
    n = int(digits) % 256
    if n == 0:
        return ""
    if n < 128:
        return chr(n)
    return bytes([n]).decode("cp1252" if digits.startswith("0") else "cp437", errors="replace")


class Decoder:
    """Key events of one event node -> `Scan`s and `ScanDiscarded`s."""

    def __init__(self, cfg: ScannerConfig, *, device: str, node: str) -> None:
        self.device = device
        self.node = node
        self._cfg = cfg
        self._gap = cfg.idle_gap_ms / 1000
        self._keys: KeyState = layout(cfg.layout).new_state(numlock=cfg.numlock)
        self._chars: list[str] = []
        self._t_first = 0.0
        self._t_last = 0.0
        self._alt_digits = ""
        self._dead = ""  # spacing character of a pending dead key
        self._dropping = False  # between SYN_DROPPED and the next SYN_REPORT
        self._too_long = False

    @property
    def pending(self) -> bool:
        """A scan has started and not ended."""
        return bool(self._chars or self._alt_digits or self._dead)

    def deadline(self) -> float | None:
        """When (event clock) the pending scan ends by the idle gap, if one is pending."""
        return self._t_last + self._gap if self.pending else None

    def feed(self, ev: KeyEvent) -> list[ScannerEvent]:
        """Take one input event; return the scans it completed or discarded."""
        if ev.type == EV_SYN:
            return self._syn(ev.code)
        if self._dropping or ev.type != EV_KEY or ev.value == 2:  # 2 = autorepeat
            return []
        t = ev.sec + ev.usec / 1_000_000
        out = self.poll(t)
        if ev.value == 0:
            self._release(ev.code, t)
        else:
            out += self._press(ev.code, t)
        return out

    def poll(self, now: float) -> list[ScannerEvent]:
        """End the pending scan if the idle gap has passed by `now` (event clock)."""
        if self.pending and now - self._t_last > self._gap:
            return self._finish("idle")
        return []

    def expire(self) -> list[ScannerEvent]:
        """End the pending scan now: the reader saw no key for the idle gap (by its own clock)."""
        return self._finish("idle") if self.pending else []

    def abort(self, reason: DiscardReason, detail: str = "") -> list[ScannerEvent]:
        """Discard the pending scan (the node went away); the keyboard state starts afresh."""
        out = self._discard(reason, detail)
        self._keys.reset_held()
        return out

    def _syn(self, code: int) -> list[ScannerEvent]:
        if code == SYN_DROPPED:
            # The kernel's queue overflowed: events up to the next SYN_REPORT are lost or
            # unreliable (kernel event-codes.rst), so the partial barcode must not be used.
            self._dropping = True
            self._keys.reset_held()
            return self._discard("syn_dropped", "kernel event queue overflowed (SYN_DROPPED)")
        if code == SYN_REPORT:
            self._dropping = False
        return []

    def _release(self, code: int, t: float) -> None:
        was_alt = self._keys.alt
        self._keys.release(code)
        if self.pending:
            self._t_last = t
        if was_alt and not self._keys.alt and self._alt_digits:
            digits, self._alt_digits = self._alt_digits, ""
            self._add(alt_code_char(digits), t)

    def _press(self, code: int, t: float) -> list[ScannerEvent]:
        if code in END_KEYS and END_KEYS[code] in self._cfg.end_keys:
            self._keys.press(code)
            return self._finish(END_KEYS[code])
        if code in (KEY_ENTER, KEY_KPENTER):  # not configured to end a scan: types nothing
            self._keys.press(code)
            return []
        if self._keys.alt:
            self._keys.press(code)
            if code in KEYPAD_DIGITS:
                self._alt_digits += KEYPAD_DIGITS[code]
                self._touch(t)
            return []  # Alt + any other key is a shortcut, not text
        spacing = self._keys.dead_spacing(code)
        text = self._keys.press(code)
        if spacing:
            self._add(self._dead, t)  # two dead keys in a row: the first stands for itself
            self._dead = spacing
            self._touch(t)
        elif text:
            self._add(text, t)
        return []

    def _touch(self, t: float) -> None:
        if not self._chars and not self._alt_digits and not self._dead:
            self._t_first = t
        self._t_last = t

    def _add(self, text: str, t: float) -> None:
        if self._dead:
            # Dead key + Space types the accent itself; + another key, both characters as typed
            # (barcodes are ASCII, so no composition into accented letters).
            dead, self._dead = self._dead, ""
            text = dead if text == " " else dead + text
        if not text:
            return
        self._touch(t)
        if len(self._chars) + len(text) > self._cfg.max_scan_chars:
            self._too_long = True
            return
        self._chars.append(text)

    def _take(self) -> str:
        text = "".join(self._chars) + self._dead
        self._chars.clear()
        self._alt_digits = ""
        self._dead = ""
        return text

    def _finish(self, ended_by: EndedBy) -> list[ScannerEvent]:
        t_first, t_last, too_long = self._t_first, self._t_last, self._too_long
        raw = self._take()
        self._too_long = False
        if too_long:
            return [self._discarded(raw, "too_long", f"over {self._cfg.max_scan_chars} characters")]
        if not raw:
            return []
        aim: str | None = None
        if self._cfg.aim_ids and AIM_ID.match(raw):
            aim, raw = raw[:3], raw[3:]
        return [
            Scan(
                device=self.device,
                node=self.node,
                text=raw,
                aim_id=aim,
                ended_by=ended_by,
                t_first=t_first,
                t_last=t_last,
            )
        ]

    def _discard(self, reason: DiscardReason, detail: str) -> list[ScannerEvent]:
        had = self.pending
        partial = self._take()
        self._too_long = False
        if not had:
            return []
        return [self._discarded(partial, reason, detail)]

    def _discarded(self, partial: str, reason: DiscardReason, detail: str) -> ScanDiscarded:
        return ScanDiscarded(
            device=self.device,
            node=self.node,
            partial=partial,
            reason=reason,
            detail=detail,
        )
