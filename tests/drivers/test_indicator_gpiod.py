"""The libgpiod v2 back-end. gpio-sim (configfs, root and a kernel module) is not available on CI
and `gpiod` is not a test dependency, so the tests inject a stand-in module exposing exactly the
v2 surface the back-end uses (is_gpiochip_device, Chip.get_info/line_offset_from_id,
LineSettings, line.Value/Direction, request_lines -> set_value/release)."""

from __future__ import annotations

import logging
import sys
import threading
import time
from enum import Enum
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from drivers.config import GpiodLines, IndicatorConfig, IndicatorSignals, SignalPattern
from drivers.indicator import Signal, build_indicator
from drivers.indicator.base import IndicatorUnavailable, NullBackend
from drivers.indicator.gpiod_backend import GpiodBackend

PI_NAMES = [f"GPIO{n}" for n in range(28)]


class Value(Enum):
    INACTIVE = 0
    ACTIVE = 1


class Direction(Enum):
    AS_IS = 1
    INPUT = 2
    OUTPUT = 3


class FakeRequest:
    def __init__(self, chip: str, offsets: tuple[int, ...], settings: Any) -> None:
        self.chip, self.settings = chip, settings
        self.values = {o: settings.output_value for o in offsets}
        self.history: list[tuple[float, int, Value]] = []
        self.released = False
        self._lock = threading.Lock()

    def set_value(self, offset: int, value: Value) -> None:
        assert offset in self.values and not self.released
        with self._lock:
            if self.values[offset] != value:
                self.history.append((time.monotonic(), offset, value))
            self.values[offset] = value

    def release(self) -> None:
        self.released = True


def fake_gpiod(chips: dict[str, tuple[str, list[str]]]) -> ModuleType:
    """A module with the libgpiod v2 Python surface; `chips` maps path -> (label, line names)."""
    mod = ModuleType("gpiod")
    requests: list[FakeRequest] = []

    class Chip:
        def __init__(self, path: str) -> None:
            self.label, self.names = chips[path]

        def get_info(self) -> Any:
            return SimpleNamespace(
                name=Path(self.path).name if False else "",
                label=self.label,
                num_lines=len(self.names),
            )

        def line_offset_from_id(self, name: str) -> int:
            if name not in self.names:
                raise OSError(2, "line not found")
            return self.names.index(name)

        def close(self) -> None:
            pass

    def request_lines(path: str, consumer: str, config: dict[tuple[int, ...], Any]) -> FakeRequest:
        assert consumer == "packstation"
        ((offsets, settings),) = config.items()
        requests.append(FakeRequest(path, offsets, settings))
        return requests[-1]

    mod.Chip = Chip  # type: ignore[attr-defined]
    mod.LineSettings = SimpleNamespace  # type: ignore[attr-defined]
    mod.line = SimpleNamespace(Value=Value, Direction=Direction)  # type: ignore[attr-defined]
    mod.is_gpiochip_device = lambda path: path in chips  # type: ignore[attr-defined]
    mod.request_lines = request_lines  # type: ignore[attr-defined]
    mod.requests = requests  # type: ignore[attr-defined]
    return mod


def install(
    monkeypatch: pytest.MonkeyPatch, tmp: Path, chips: dict[str, tuple[str, list[str]]]
) -> ModuleType:
    for name in chips:
        (tmp / name).touch()
    module = fake_gpiod({str(tmp / name): spec for name, spec in chips.items()})
    monkeypatch.setitem(sys.modules, "gpiod", module)
    return module


FAST = IndicatorSignals(
    halt=SignalPattern(colour="red", beeps=2, beep_ms=50),
    weighing=SignalPattern(colour="amber", blink_ms=30),
)


def gpio_indicator(tmp: Path, **lines: object):  # type: ignore[no-untyped-def]
    cfg = IndicatorConfig(backend="gpiod", gpiod=GpiodLines(**lines), signals=FAST)  # type: ignore[arg-type]
    return build_indicator(cfg, gpio_glob=str(tmp / "gpiochip*"))


@pytest.mark.parametrize(
    ("chips", "expected"),
    [
        # Pi 5, kernel >= 6.6.45: RP1 header bank is gpiochip0, the SoC's own banks come later
        (
            {
                "gpiochip0": ("pinctrl-rp1", PI_NAMES),
                "gpiochip10": ("gpio-brcmstb@107d508500", ["X"]),
            },
            "gpiochip0",
        ),
        # Pi 5, older kernels: RP1 is gpiochip4 and gpiochip0 is the SoC bank (same names there)
        (
            {
                "gpiochip0": ("gpio-brcmstb@107d508500", PI_NAMES),
                "gpiochip4": ("pinctrl-rp1", PI_NAMES),
            },
            "gpiochip4",
        ),
        # Pi 4
        (
            {
                "gpiochip0": ("pinctrl-bcm2711", PI_NAMES),
                "gpiochip1": ("raspberrypi-exp-gpio", ["LED"]),
            },
            "gpiochip0",
        ),
        # unknown board: the chip that has the lines
        ({"gpiochip3": ("other", ["A"]), "gpiochip7": ("custom", PI_NAMES)}, "gpiochip7"),
    ],
)
def test_chip_is_found_by_label_then_by_line_names(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    chips: dict[str, tuple[str, list[str]]],
    expected: str,
) -> None:
    install(monkeypatch, tmp_path, chips)
    ind = gpio_indicator(tmp_path)
    assert isinstance(ind.backend, GpiodBackend)
    assert ind.backend.chip_path == str(tmp_path / expected)
    ind.close()


def test_halt_lights_red_and_beeps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mod = install(monkeypatch, tmp_path, {"gpiochip0": ("pinctrl-rp1", PI_NAMES)})
    ind = gpio_indicator(tmp_path)
    (request,) = mod.requests  # type: ignore[attr-defined]
    assert request.settings.direction is Direction.OUTPUT
    assert request.settings.output_value is Value.INACTIVE
    red, green, buzzer = 17, 27, 23
    ind.signal(Signal.HALT)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        beeps = [h for h in request.history if h[1] == buzzer and h[2] is Value.ACTIVE]
        if len(beeps) == 2 and request.values[buzzer] is Value.INACTIVE:
            break
        time.sleep(0.01)
    assert request.values[red] is Value.ACTIVE and request.values[green] is Value.INACTIVE
    assert len([h for h in request.history if h[1] == buzzer and h[2] is Value.ACTIVE]) == 2
    ind.signal(Signal.WEIGHING)  # amber blinking in software: red and green toggle together
    time.sleep(0.2)
    toggles = [h for h in request.history if h[1] == green]
    assert len(toggles) >= 3
    ind.close()
    assert request.released and all(v is Value.INACTIVE for v in request.values.values())


def test_configured_chip_label_must_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    install(monkeypatch, tmp_path, {"gpiochip0": ("pinctrl-bcm2711", PI_NAMES)})
    with caplog.at_level(logging.WARNING):
        ind = gpio_indicator(tmp_path, chip="pinctrl-rp1")
        ind.signal(Signal.HALT)
    assert isinstance(ind.backend, NullBackend)
    assert "chip labelled 'pinctrl-rp1'" in caplog.text


def test_missing_line_name_degrades(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, tmp_path, {"gpiochip0": ("pinctrl-rp1", PI_NAMES)})
    assert isinstance(gpio_indicator(tmp_path, red="GPIO99").backend, NullBackend)


def test_v1_bindings_are_refused_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    v1 = ModuleType("gpiod")
    v1.Chip = object  # type: ignore[attr-defined]  # 1.x has Chip.get_line, no request_lines
    monkeypatch.setitem(sys.modules, "gpiod", v1)
    with pytest.raises(IndicatorUnavailable, match="v1 API"):
        GpiodBackend(GpiodLines())


def test_gpiod_not_installed_degrades(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "gpiod", None)  # import gpiod -> ImportError
    with caplog.at_level(logging.WARNING):
        ind = build_indicator(IndicatorConfig(backend="gpiod"))
    assert isinstance(ind.backend, NullBackend)
    assert "pip install gpiod" in caplog.text
