"""Signals, the config table, the recording back-end and the printer's buzzer."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from drivers.config import IndicatorConfig, IndicatorSignals, SignalPattern
from drivers.indicator import RecordingBackend, Signal, build_indicator
from drivers.indicator.base import NullBackend
from drivers.indicator.printer_buzzer import PrinterBuzzerBackend, buzzer_command
from drivers.printer.service import PrinterService, PrinterSettings
from drivers.printer.sim import SimPrinter
from drivers.printer.transport import parse_target
from edge.common import config
from edge.common.errors import ConfigError
from edge.station.config import StationConfig


def test_every_signal_has_a_pattern_in_the_shipped_config() -> None:
    shipped = config.load(
        StationConfig, Path(__file__).resolve().parents[2] / "config/station.toml"
    )
    ind = build_indicator(shipped.indicator)
    for signal in Signal:
        assert ind.pattern(signal) == getattr(IndicatorSignals(), signal.value)
    assert ind.pattern(Signal.HALT).colour == "red" and ind.pattern(Signal.HALT).beeps == 3


def test_bad_signal_entry_is_named(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text('[indicator.signals.halt]\ncolour = "purple"\n[indicator.signals.hlat]\n')
    with pytest.raises(ConfigError) as err:
        config.load(StationConfig, path)
    problems = [p.removeprefix(f"{path}: ") for p in err.value.problems]
    assert problems[0].startswith('[indicator.signals] hlat: unknown key (did you mean "halt"?)')
    assert problems[1].startswith('[indicator.signals.halt] colour: expected one of "off", "red"')


def test_recording_backend_sees_states_flashes_and_beeps() -> None:
    signals = IndicatorSignals(
        scan_ok=SignalPattern(colour="green", beeps=1, beep_ms=80, hold_ms=50)
    )
    ind = build_indicator(IndicatorConfig(backend="recording", signals=signals))
    rec = ind.backend
    assert isinstance(rec, RecordingBackend)
    ind.signal(Signal.WEIGHING)
    ind.signal(Signal.SCAN_OK)
    assert (rec.colour, rec.blink_ms) == ("green", 0)
    deadline = time.monotonic() + 2
    while rec.colour != "amber" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (rec.colour, rec.blink_ms) == ("amber", 250)  # back to weighing after the flash
    assert [(c.what, c.a, c.b) for c in rec.calls] == [
        ("show", "amber", 250),
        ("show", "green", 0),
        ("beep", 1, 80),
        ("show", "amber", 250),
    ]


@pytest.mark.parametrize(
    ("count", "ms", "expected"),
    [(1, 80, b"\x1bB\x01\x01"), (3, 300, b"\x1bB\x03\x03"), (12, 5000, b"\x1bB\x09\x09")],
)
def test_buzzer_command(count: int, ms: int, expected: bytes) -> None:
    assert buzzer_command(count, ms) == expected


def test_printer_buzzer_beeps_on_the_printer(tmp_path: Path) -> None:
    async def scenario(sim: SimPrinter) -> None:
        svc = PrinterService(PrinterSettings(parse_target(sim.target)), tmp_path / "s.sqlite3")
        await svc.start()
        ind = build_indicator(
            IndicatorConfig(backend="printer-buzzer"), printer_send=svc.beep_nowait
        )
        assert isinstance(ind.backend, PrinterBuzzerBackend)
        ind.signal(Signal.HALT)  # 3 x 300 ms
        for _ in range(200):
            if sim.beeps:
                break
            await asyncio.sleep(0.01)
        await svc.stop()

    with SimPrinter() as sim:
        asyncio.run(scenario(sim))
        assert sim.beeps == [(3, 3)] and sim.jobs == []


def test_printer_buzzer_without_printer_degrades() -> None:
    assert isinstance(
        build_indicator(IndicatorConfig(backend="printer-buzzer")).backend, NullBackend
    )
