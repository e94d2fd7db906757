"""A simulated keyboard-wedge scanner: text -> the evdev key events a real scanner would send.

The simulated pack day and the tests inject these events into the real decoder (through
`ScannerService.inject` or `decode_events`), or write them into pipes that the real device reader
reads (`SimScanners`), so a scan travels the same path as one from a device.
Keys come from the same xkb layout the decoder uses, run backwards: a scanner set to German types
`z` on the key a US keyboard calls Y.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any, Final, Literal

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
from drivers.scanner.device import pack_events
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


class SimNode:
    """A simulated event node: the read end of a pipe, fed `struct input_event` records."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._r, self._w = os.pipe()
        self.closed = False

    def fileno(self) -> int:
        return self._r

    def read(self, size: int) -> bytes:
        return os.read(self._r, size)

    def close(self) -> None:
        """The reader's side (called by the device reader)."""
        if not self.closed:
            self.closed = True
            os.close(self._r)

    def write(self, events: Iterable[InputEvent]) -> None:
        os.write(self._w, pack_events(events))

    def pull_plug(self) -> None:
        """The device side goes away: the reader sees end of file, like a vanished device."""
        if self._w >= 0:
            os.close(self._w)
            self._w = -1


class SimScanners:
    """Simulated scanner hardware behind the real device reader.

    `ScannerService(configs, opener=sims.open, resolver=sims.resolve)` then reads the simulated
    scanners through the same fds, loop callbacks, idle timers and hot-plug path as real ones.
    """

    def __init__(self) -> None:
        self._plugged: dict[str, list[str]] = {}
        self._nodes: dict[str, SimNode] = {}
        self._count = 0

    def plug(self, spec: str, nodes: int = 1) -> list[str]:
        """Connect a scanner answering to `spec` (as configured) with `nodes` event nodes."""
        paths = []
        for _ in range(nodes):
            paths.append(f"/sim/input/event{self._count}")
            self._count += 1
        self._plugged[spec] = paths
        return paths

    def unplug(self, spec: str) -> None:
        """Disconnect: open nodes hit end of file, and reopening finds nothing."""
        for path in self._plugged.pop(spec, []):
            node = self._nodes.get(path)
            if node is not None:
                node.pull_plug()

    def resolve(self, spec: str) -> list[str]:
        return list(self._plugged.get(spec, []))

    def open(self, path: str) -> SimNode:
        node = self._nodes[path] = SimNode(path)
        return node

    def send(self, spec: str, events: Iterable[InputEvent], node: int = 0) -> None:
        """Write events to the scanner's `node`-th event node (it must be open)."""
        self._nodes[self._plugged[spec][node]].write(events)

    def scan(self, spec: str, text: str, *, node: int = 0, **options: Any) -> None:
        """The scanner reads barcode `text` now (options as for `events_for`)."""
        options.setdefault("start", time.time())
        self.send(spec, events_for(text, **options), node)

    def close(self) -> None:
        """Release every fd (the reader's ends are closed by the reader or here)."""
        for node in self._nodes.values():
            node.pull_plug()
            node.close()
