"""LEDs and buzzer on GPIO lines through libgpiod v2 (PyPI `gpiod`, imported lazily).

The chip is found by label (pinctrl-rp1 on the Pi 5, pinctrl-bcm2711 on the Pi 4) or, failing
that, as the chip that has the configured line names; never by number, because the Pi 5's header
chip moved from gpiochip4 to gpiochip0 and later again (raspberrypi/linux PR #6144). The v1
API (`Chip.get_line`, Debian's python3-libgpiod 1.6) is refused with a clear message.
Blinks and beeps are timed by one small thread.
"""

from __future__ import annotations

import glob
import threading
import time
from typing import Any

from drivers.config import GpiodLines
from drivers.indicator.base import CHANNELS, COLOUR_CHANNELS, Backend, IndicatorUnavailable

DEFAULT_LABELS = ("pinctrl-rp1", "pinctrl-bcm2711", "pinctrl-bcm2835")
CONSUMER = "packstation"


def _import_gpiod() -> Any:
    try:
        import gpiod
    except ImportError as exc:
        raise IndicatorUnavailable(
            "gpiod (libgpiod v2) is not installed: pip install gpiod"
        ) from exc
    if not hasattr(gpiod, "request_lines") or not hasattr(gpiod, "LineSettings"):
        raise IndicatorUnavailable("gpiod is the v1 API; packstation needs libgpiod v2 (>= 2.1)")
    return gpiod


def find_chip(
    gpiod: Any, label: str, names: list[str], dev_glob: str
) -> tuple[str, dict[str, int]]:
    """(chip path, line name -> offset) for the first chip matching `label` (or a default label)
    that has all `names`; IndicatorUnavailable naming what was searched."""
    labels = (label,) if label else DEFAULT_LABELS
    candidates: list[tuple[int, str, Any]] = []
    for path in sorted(glob.glob(dev_glob)):
        if not gpiod.is_gpiochip_device(path):
            continue
        chip = gpiod.Chip(path)
        info = chip.get_info()
        rank = labels.index(info.label) if info.label in labels else len(labels)
        if label and rank == len(labels):
            chip.close()
            continue
        candidates.append((rank, path, chip))
    try:
        for _, path, chip in sorted(candidates, key=lambda c: (c[0], c[1])):
            offsets = _offsets(chip, names)
            if offsets is not None:
                return path, offsets
    finally:
        for _, _, chip in candidates:
            chip.close()
    where = f"chip labelled {label!r}" if label else "any GPIO chip"
    raise IndicatorUnavailable(f"lines {', '.join(names)} not found on {where} ({dev_glob})")


def _offsets(chip: Any, names: list[str]) -> dict[str, int] | None:
    out = {}
    for name in names:
        try:
            out[name] = int(chip.line_offset_from_id(name))
        except (OSError, ValueError):
            return None
    return out


class GpiodBackend(Backend):
    """See the module docstring."""

    name = "gpiod"

    def __init__(self, cfg: GpiodLines, dev_glob: str = "/dev/gpiochip*") -> None:
        gpiod = _import_gpiod()
        self._value = gpiod.line.Value
        channels = {ch: getattr(cfg, ch) for ch in (*CHANNELS, "buzzer") if getattr(cfg, ch)}
        if not channels:
            raise IndicatorUnavailable("[indicator.gpiod] names no line")
        path, offsets = find_chip(gpiod, cfg.chip, list(channels.values()), dev_glob)
        self._offset = {ch: offsets[name] for ch, name in channels.items()}
        settings = gpiod.LineSettings(
            direction=gpiod.line.Direction.OUTPUT,
            output_value=gpiod.line.Value.INACTIVE,
            active_low=cfg.active_low,
        )
        try:
            self._request = gpiod.request_lines(
                path, consumer=CONSUMER, config={tuple(self._offset.values()): settings}
            )
        except OSError as exc:  # EBUSY: another process holds the line
            raise IndicatorUnavailable(f"{path}: cannot request lines: {exc}") from exc
        self.chip_path = path
        self._lit: frozenset[str] = frozenset()
        self._blink_ms = 0
        self._beeps: list[float] = []  # monotonic toggle times of the buzzer
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="indicator-gpiod", daemon=True)
        self._thread.start()

    def _set(self, channel: str, on: bool) -> None:
        offset = self._offset.get(channel)
        if offset is not None:
            self._request.set_value(offset, self._value.ACTIVE if on else self._value.INACTIVE)

    def show(self, colour: str, blink_ms: int) -> None:
        with self._wake:
            self._lit, self._blink_ms = COLOUR_CHANNELS[colour], blink_ms
            self._wake.notify()

    def beep(self, count: int, beep_ms: int) -> None:
        now = time.monotonic()
        with self._wake:
            self._beeps = [now + i * beep_ms / 1000 for i in range(2 * count)]
            self._wake.notify()

    def _run(self) -> None:
        phase_start = time.monotonic()
        while True:
            with self._wake:
                if self._closed:
                    return
                lit, blink = self._lit, self._blink_ms
                now = time.monotonic()
                on = not blink or int((now - phase_start) * 1000 // blink) % 2 == 0
                for ch in CHANNELS:
                    self._set(ch, ch in lit and on)
                due = [t for t in self._beeps if t <= now]
                if due:
                    self._beeps = self._beeps[len(due) :]
                    self._set("buzzer", len(self._beeps) % 2 == 1)
                waits = [blink / 1000] if blink else []
                waits += [self._beeps[0] - now] if self._beeps else []
                self._wake.wait(min(waits, default=1.0))

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(2)
        for ch in (*CHANNELS, "buzzer"):
            self._set(ch, False)
        self._request.release()
