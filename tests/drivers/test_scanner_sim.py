"""The simulated scanner round-trips every printable character through the real decoder."""

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


def test_sim_scanners_drive_the_real_reader_through_hot_plug() -> None:
    import asyncio

    from drivers.scanner.events import DeviceState, ScannerEvent
    from drivers.scanner.sim import SimScanners

    sims = SimScanners()
    cfgs = [
        ScannerConfig(device="usb:05e0:1200", name="a", reopen_min_ms=20, layout="de"),
        ScannerConfig(device="usb:0c2e:0b61", name="b", reopen_min_ms=20),
    ]

    async def main() -> list[ScannerEvent]:
        q: asyncio.Queue[ScannerEvent] = asyncio.Queue()
        service = ScannerService(
            cfgs, on_event=q.put_nowait, opener=sims.open, resolver=sims.resolve
        )
        sims.plug("usb:05e0:1200", nodes=2)
        task = asyncio.create_task(service.run())
        seen: list[ScannerEvent] = []

        async def until(pred: object) -> None:
            while True:
                ev = await asyncio.wait_for(q.get(), 2)
                seen.append(ev)
                if pred(ev):  # type: ignore[operator]
                    return

        try:
            await until(lambda ev: isinstance(ev, DeviceState) and ev.state == "connected")
            sims.scan("usb:05e0:1200", "1A4000000000000000000001", node=1, layout_name="de")
            await until(lambda ev: isinstance(ev, Scan))
            sims.unplug("usb:05e0:1200")
            await until(lambda ev: isinstance(ev, DeviceState) and ev.state == "reopening")
            sims.plug("usb:0c2e:0b61")  # scanner b appears late; a comes back
            sims.plug("usb:05e0:1200")
            await until(
                lambda ev: (
                    isinstance(ev, DeviceState) and ev.device == "b" and ev.state == "connected"
                )
            )
            sims.scan("usb:0c2e:0b61", "ORD-9")
            await until(lambda ev: isinstance(ev, Scan) and ev.device == "b")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            sims.close()
        return seen

    seen = asyncio.run(main())
    got = [(ev.device, ev.node, ev.text) for ev in seen if isinstance(ev, Scan)]
    assert got == [
        ("a", "/sim/input/event1", "1A4000000000000000000001"),  # the German scanner's 2nd node
        ("b", "/sim/input/event2", "ORD-9"),
    ]
    states = [(ev.device, ev.state) for ev in seen if isinstance(ev, DeviceState)]
    assert ("a", "unplugged") in states
    assert ("b", "unplugged") in states  # absent at start: said so once
