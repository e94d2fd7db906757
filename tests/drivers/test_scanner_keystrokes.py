"""Keystrokes (`drivers.scanner.keystrokes`) round-trip every printable character through the
real decoder, in every layout."""

from __future__ import annotations

import string

import pytest
from evdev import InputEvent, ecodes

from drivers.config import ScannerConfig
from drivers.scanner.device import ScannerService
from drivers.scanner.events import Scan
from drivers.scanner.keymap import LAYOUTS, LayoutError, layout
from drivers.scanner.keystrokes import decode_events, events_for

GS = "\x1d"
PRINTABLE = string.printable[:95]


@pytest.mark.parametrize("lay", LAYOUTS)
@pytest.mark.parametrize("gs_mode", ["ctrl", "alt"])
@pytest.mark.parametrize("alt_mode", [False, True])
def test_round_trip(lay: str, gs_mode: str, alt_mode: bool) -> None:
    text = PRINTABLE + GS + "0109501101020917"
    events = events_for(text, layout_name=lay, gs_mode=gs_mode, alt_mode=alt_mode, aim_id="]d2")  # type: ignore[arg-type]
    (scan,) = [s for s in decode_events(events, ScannerConfig(layout=lay)) if isinstance(s, Scan)]  # type: ignore[arg-type]
    assert (scan.aim_id, scan.text, scan.ended_by) == ("]d2", text, "enter")


def test_events_are_real_input_events_with_rising_timestamps() -> None:
    events = events_for("ab", key_interval_us=700)
    assert all(isinstance(ev, InputEvent) for ev in events)
    stamps = [ev.sec * 1_000_000 + ev.usec for ev in events if ev.type == ecodes.EV_KEY]
    assert stamps == sorted(stamps)
    assert stamps[1] - stamps[0] == 700


def test_layout_changes_the_keys_not_the_text() -> None:
    de = [ev.code for ev in events_for("z", layout_name="de") if ev.type == ecodes.EV_KEY]
    us = [ev.code for ev in events_for("z", layout_name="us") if ev.type == ecodes.EV_KEY]
    assert de[0] == ecodes.KEY_Y
    assert us[0] == ecodes.KEY_Z


@pytest.mark.parametrize(
    ("gs_mode", "expected"),
    [("drop", "10AB21"), ("digits", "10AB02921"), ("substitute", "10AB~21")],
)
def test_lossy_gs_modes(gs_mode: str, expected: str) -> None:
    events = events_for("10AB" + GS + "21", gs_mode=gs_mode)  # type: ignore[arg-type]
    (scan,) = [s for s in decode_events(events) if isinstance(s, Scan)]
    assert scan.text == expected


def test_suffixes_and_no_suffix() -> None:
    for suffix in ("enter", "kpenter", "tab"):
        (scan,) = decode_events(events_for("x", suffix=suffix))  # type: ignore[arg-type]
        assert isinstance(scan, Scan)
        assert scan.ended_by == suffix
    (idle,) = decode_events(events_for("x", suffix="none"))
    assert isinstance(idle, Scan)
    assert idle.ended_by == "idle"


def test_untypeable_character_is_refused() -> None:
    with pytest.raises(LayoutError, match="cannot be typed"):
        events_for("ä", layout_name="us")
    with pytest.raises(LayoutError, match="unknown keyboard layout"):
        layout("xx")


def test_inject_uses_the_service_decoding_path() -> None:
    got: list[object] = []
    service = ScannerService(
        [ScannerConfig(device="usb:05e0:1200", name="bench")], on_event=got.append
    )
    out = service.inject("bench", events_for("1A4000000000000000000001"))
    assert [s.text for s in out if isinstance(s, Scan)] == ["1A4000000000000000000001"]
    assert got == out
    assert out[0].device == "bench"  # type: ignore[union-attr]
