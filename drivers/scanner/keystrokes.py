"""Keystrokes: text -> the evdev key events a keyboard-wedge scanner sends for it, and back.

Keys come from the same xkb layout the decoder uses, run backwards: a scanner set to German types
`z` on the key a US keyboard calls Y. `events_for` builds the events; `decode_events` runs events
through a fresh real decoder. The daemon's inject channel, the scanner self-test and the simulated
scanners (`drivers.scanner.sim`) all type through here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

from evdev import InputEvent

from drivers.config import ScannerConfig
from drivers.scanner.decoder import (
    EV_KEY,
    EV_SYN,
    KEY_ENTER,
    KEY_KPENTER,
    KEY_TAB,
    SYN_REPORT,
    Decoder,
)
from drivers.scanner.events import ScannerEvent
from drivers.scanner.keymap import (
    KEY_LEFTALT,
    KEY_LEFTCTRL,
    KEY_LEFTSHIFT,
    KEY_RIGHTALT,
    KEY_SPACE,
    Layout,
    layout,
)

GS: Final = "\x1d"
KEY_RIGHTBRACE: Final = 27  # the US `]` position, pressed with Ctrl for GS
EV_MSC: Final = 4
MSC_SCAN: Final = 4
_KEYPAD: Final = {
    "0": 82,
    "1": 79,
    "2": 80,
    "3": 81,
    "4": 75,
    "5": 76,
    "6": 77,
    "7": 71,
    "8": 72,
    "9": 73,
}
_SUFFIX: Final = {"enter": KEY_ENTER, "kpenter": KEY_KPENTER, "tab": KEY_TAB}

GsMode = Literal["ctrl", "alt", "drop", "digits", "substitute"]
Suffix = Literal["enter", "kpenter", "tab", "none"]


class _Stream:
    """Builds timestamped events: each key press is one SYN frame, like a USB HID report."""

    def __init__(self, start: float, interval_us: int) -> None:
        self.t_us = round(start * 1_000_000)
        self.interval_us = interval_us
        self.events: list[InputEvent] = []

    def key(self, code: int, value: int) -> None:
        sec, usec = divmod(self.t_us, 1_000_000)
        self.events.append(InputEvent(sec, usec, EV_MSC, MSC_SCAN, 0x70000 + code))
        self.events.append(InputEvent(sec, usec, EV_KEY, code, value))
        self.events.append(InputEvent(sec, usec, EV_SYN, SYN_REPORT, 0))
        self.t_us += self.interval_us

    def tap(self, code: int, *mods: int) -> None:
        for m in mods:
            self.key(m, 1)
        self.key(code, 1)
        self.key(code, 0)
        for m in reversed(mods):
            self.key(m, 0)

    def alt_code(self, digits: str) -> None:
        self.key(KEY_LEFTALT, 1)
        for d in digits:
            self.tap(_KEYPAD[d])
        self.key(KEY_LEFTALT, 0)


def events_for(
    text: str,
    *,
    layout_name: str = "us",
    gs_mode: GsMode = "ctrl",
    substitute: str = "~",
    aim_id: str | None = None,
    suffix: Suffix = "enter",
    alt_mode: bool = False,
    start: float = 1_700_000_000.0,
    key_interval_us: int = 500,
) -> list[InputEvent]:
    """The events a scanner in `layout_name` sends for the barcode `text`.

    GS (0x1D) in `text` is sent as Ctrl+] (`ctrl`), Alt+0029 (`alt`), not at all (`drop`), as the
    digits 029 (an Alt-mode scanner whose Alt is lost, Odoo PR #99730) or as `substitute`.
    `alt_mode` sends every character as Alt + its keypad code ("Windows mode"). `aim_id` (e.g.
    "]d2") is sent before the text. Raises keymap.LayoutError for a character the layout lacks.
    """
    lay = layout(layout_name)
    out = _Stream(start, key_interval_us)
    for ch in (aim_id or "") + text:
        if ch == GS and gs_mode not in {"ctrl", "alt"}:
            if gs_mode == "digits":
                _type(out, lay, "029", alt_mode)
            elif gs_mode == "substitute":
                _type(out, lay, substitute, alt_mode)
            continue
        if ch == GS and gs_mode == "ctrl":
            out.tap(KEY_RIGHTBRACE, KEY_LEFTCTRL)
        elif ch == GS or alt_mode:
            out.alt_code(f"{ord(ch):04d}")
        else:
            _type(out, lay, ch, alt_mode)
    if suffix != "none":
        out.tap(_SUFFIX[suffix])
    return out.events


def _type(out: _Stream, lay: Layout, text: str, alt_mode: bool) -> None:
    for ch in text:
        if alt_mode:
            out.alt_code(f"{ord(ch):04d}")
            continue
        stroke = lay.stroke_for(ch)
        mods = [KEY_LEFTSHIFT] if stroke.shift else []
        if stroke.altgr:
            mods.append(KEY_RIGHTALT)
        out.tap(stroke.code, *mods)
        if stroke.dead:
            out.tap(KEY_SPACE)


def decode_events(
    events: Iterable[InputEvent],
    cfg: ScannerConfig | None = None,
    *,
    device: str = "sim",
    node: str = "injected",
    flush: bool = True,
) -> list[ScannerEvent]:
    """Run `events` through a fresh real decoder; with `flush`, end a pending scan by idle gap."""
    dec = Decoder(cfg or ScannerConfig(), device=device, node=node)
    out: list[ScannerEvent] = []
    last = 0.0
    for ev in events:
        out += dec.feed(ev)
        last = ev.sec + ev.usec / 1_000_000
    if flush:
        out += dec.poll(last + 3600)
    return out
