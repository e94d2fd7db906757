"""The sysfs LED back-end against an LED-class directory tree made in the test."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from drivers.config import IndicatorConfig, IndicatorSignals, SignalPattern, SysfsLeds
from drivers.indicator import Signal, build_indicator
from drivers.indicator.base import Indicator, NullBackend
from drivers.indicator.sysfs import SysfsBackend

FAST = IndicatorSignals(
    halt=SignalPattern(colour="red", beeps=3, beep_ms=50),
    scan_ok=SignalPattern(colour="green", beeps=1, beep_ms=50, hold_ms=80),
    sealed=SignalPattern(colour="white", hold_ms=60),
)


def make_leds(root: Path, *names: str) -> None:
    for name in names:
        led = root / name
        led.mkdir(parents=True)
        (led / "brightness").write_text("0\n")
        (led / "max_brightness").write_text("255\n")
        (led / "trigger").write_text("[none] timer heartbeat\n")


def read(root: Path, name: str, attr: str) -> str:
    return (root / name / attr).read_text().strip()


def indicator(root: Path, **kw: object) -> Indicator:
    leds = SysfsLeds(root=str(root), **kw)  # type: ignore[arg-type]
    return build_indicator(IndicatorConfig(backend="sysfs", sysfs=leds, signals=FAST))


def wait_for(check, timeout: float = 2.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_states_light_the_right_leds(tmp_path: Path) -> None:
    make_leds(tmp_path, "packstation:red", "packstation:green", "packstation:buzzer")
    ind = indicator(tmp_path)
    assert isinstance(ind.backend, SysfsBackend)
    ind.signal(Signal.READY)
    assert read(tmp_path, "packstation:green", "brightness") == "255"
    assert read(tmp_path, "packstation:green", "trigger") == "none"
    assert read(tmp_path, "packstation:red", "brightness") == "0"
    ind.signal(Signal.WEIGHING)  # amber blinking: both LEDs on the kernel timer trigger
    for name in ("packstation:red", "packstation:green"):
        assert read(tmp_path, name, "trigger") == "timer"
        assert read(tmp_path, name, "delay_on") == "250"
        assert read(tmp_path, name, "delay_off") == "250"
    ind.signal(Signal.HALT)
    assert read(tmp_path, "packstation:red", "brightness") == "255"
    assert read(tmp_path, "packstation:red", "trigger") == "none"
    assert read(tmp_path, "packstation:green", "brightness") == "0"
    assert read(tmp_path, "packstation:buzzer", "trigger") == "timer"
    assert read(tmp_path, "packstation:buzzer", "delay_on") == "50"
    # three beeps of 50 ms with 50 ms gaps, then the buzzer is switched off
    # the backend writes the trigger, then the brightness (a plain file here: a read between
    # the two, or inside a write, sees the old or an empty value), so wait for the end state
    wait_for(
        lambda: (
            read(tmp_path, "packstation:buzzer", "trigger") == "none"
            and read(tmp_path, "packstation:buzzer", "brightness") == "0"
        )
    )
    ind.close()
    assert read(tmp_path, "packstation:red", "brightness") == "0"


def test_flash_returns_to_the_current_state(tmp_path: Path) -> None:
    make_leds(tmp_path, "packstation:red", "packstation:green")
    ind = indicator(tmp_path, buzzer="")
    ind.signal(Signal.HALT)
    ind.signal(Signal.SEALED)  # white flash
    assert read(tmp_path, "packstation:green", "brightness") == "255"
    wait_for(lambda: read(tmp_path, "packstation:green", "brightness") == "0")
    assert read(tmp_path, "packstation:red", "brightness") == "255"
    assert ind.state is Signal.HALT


def test_active_low_led_is_inverted(tmp_path: Path) -> None:
    make_leds(tmp_path, "ACT", "packstation:red")
    ind = indicator(tmp_path, green="ACT", buzzer="", active_low=["ACT"])
    ind.signal(Signal.READY)
    assert read(tmp_path, "ACT", "brightness") == "0"  # lit
    ind.signal(Signal.HALT)
    assert read(tmp_path, "ACT", "brightness") == "255"  # dark


def test_missing_leds_degrade_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_leds(tmp_path, "packstation:red")
    with caplog.at_level(logging.WARNING):
        ind = indicator(tmp_path)
        ind.signal(Signal.HALT)
    assert "packstation:green" in caplog.text and "packstation:buzzer" in caplog.text
    assert read(tmp_path, "packstation:red", "brightness") == "255"
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        nothing = indicator(tmp_path / "empty")
        nothing.signal(Signal.HALT)
    assert isinstance(nothing.backend, NullBackend)
    assert "unavailable" in caplog.text


def test_write_failures_never_reach_the_station(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_leds(tmp_path, "packstation:red", "packstation:green")
    ind = indicator(tmp_path, buzzer="")
    (tmp_path / "packstation:red" / "trigger").unlink()
    (tmp_path / "packstation:red" / "trigger").mkdir()  # writes now fail with EISDIR
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            ind.signal(Signal.HALT)
    assert caplog.text.count("indicator sysfs failed") == 1  # logged once, not per signal


def test_blinks_and_beeps_in_software_when_the_delay_files_are_root_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service user cannot write the timer trigger's fresh, root-owned delay_on/delay_off:
    the LED then blinks by brightness and the buzzer gives exactly its beeps."""
    from drivers.indicator.sysfs import SysfsLed

    writes: list[tuple[str, str]] = []
    real = SysfsLed._write

    def write(self: SysfsLed, name: str, value: str | int) -> None:
        if name.startswith("delay_"):
            raise PermissionError(13, "Permission denied", str(self.path / name))
        writes.append((self.path.name, f"{name}={value}"))
        real(self, name, value)

    monkeypatch.setattr(SysfsLed, "_write", write)
    make_leds(tmp_path, "packstation:red", "packstation:green", "packstation:buzzer")
    ind = indicator(tmp_path)
    ind.signal(Signal.HALT)  # three beeps of 50 ms
    wait_for(lambda: writes.count(("packstation:buzzer", "brightness=0")) >= 3)
    time.sleep(0.2)  # nothing more may come: the beeps are counted, not repeated
    assert writes.count(("packstation:buzzer", "brightness=255")) == 3
    assert read(tmp_path, "packstation:buzzer", "trigger") == "none"
    ind.signal(Signal.WEIGHING)  # amber blinking, 250 ms
    wait_for(lambda: read(tmp_path, "packstation:red", "brightness") == "255")
    wait_for(lambda: read(tmp_path, "packstation:red", "brightness") == "0")
    ind.signal(Signal.READY)  # steady green stops the blinking
    time.sleep(0.6)
    assert read(tmp_path, "packstation:red", "brightness") == "0"
    assert read(tmp_path, "packstation:green", "brightness") == "255"
    ind.close()
