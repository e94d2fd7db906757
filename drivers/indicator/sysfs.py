"""LEDs and an active buzzer through the kernel LED class (/sys/class/leds/<name>/...).

A `dtoverlay=gpio-led,gpio=17,label=packstation:red` line makes a GPIO an LED; the kernel's timer
trigger then blinks it without jitter (delay_on/delay_off in ms). Writing brightness 0 stops the
trigger (kernel leds-class.txt). LEDs named in `active_low` are inverted (the Pi 5's ACT LED).

The kernel creates delay_on/delay_off owned by root each time the timer trigger is set, and only
then tells udev (a "change" uevent with TRIGGER=timer, drivers/leds/led-triggers.c), so the
service user may find them not yet writable: it then blinks in software, toggling brightness
(which config/udev/70-packstation.rules gives to group packstation when the LED appears) from a
small thread, and leaves the trigger at "none".
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from drivers.config import SysfsLeds
from drivers.indicator.base import CHANNELS, COLOUR_CHANNELS, Backend, IndicatorUnavailable
from drivers.indicator.timers import TIMERS, Handle

LOG = logging.getLogger(__name__)


class SysfsLed:
    """One LED directory."""

    def __init__(self, path: Path, active_low: bool) -> None:
        self.path = path
        self.active_low = active_low
        try:
            self.max = int((path / "max_brightness").read_text().strip() or "1")
        except (OSError, ValueError):
            self.max = 1
        self._lock = threading.Lock()
        self._stop: threading.Event | None = None

    def _write(self, name: str, value: str | int) -> None:
        (self.path / name).write_text(f"{value}\n")

    def _level(self, on: bool) -> None:
        self._write("brightness", self.max if on != self.active_low else 0)

    def _stop_software_blink(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self._stop = None

    def set(self, on: bool) -> None:
        """Steady on or off."""
        with self._lock:
            self._stop_software_blink()
            self._write("trigger", "none")
            self._level(on)

    def blink(self, on_ms: int, off_ms: int, count: int = 0) -> bool:
        """Kernel timer trigger (the delay files appear once the trigger is set; True), or
        software blinking when they are not writable (False). `count` > 0: in software, that
        many pulses, then off (the kernel's timer repeats until stopped)."""
        with self._lock:
            self._stop_software_blink()
            self._write("trigger", "timer")
            kernel_on, kernel_off = (off_ms, on_ms) if self.active_low else (on_ms, off_ms)
            try:
                self._write("delay_on", kernel_on)
                self._write("delay_off", kernel_off)
            except PermissionError:
                self._write("trigger", "none")
            else:
                return True
            stop = threading.Event()
            self._stop = stop
        threading.Thread(
            target=self._software_blink,
            args=(stop, on_ms, off_ms, count),
            name=f"led-{self.path.name}",
            daemon=True,
        ).start()
        return False

    def _software_blink(self, stop: threading.Event, on_ms: int, off_ms: int, count: int) -> None:
        pulses = 0
        try:
            while True:
                for on, wait_ms in ((True, on_ms), (False, off_ms)):
                    with self._lock:
                        if stop.is_set():
                            return
                        self._level(on)
                    if not on:
                        pulses += 1
                        if count and pulses >= count:
                            return
                    if stop.wait(wait_ms / 1000):
                        return
        except OSError as exc:
            LOG.warning("indicator: cannot blink %s: %s", self.path, exc)


class SysfsBackend(Backend):
    """LED class back-end; channels whose LED is missing are skipped with one warning."""

    name = "sysfs"

    def __init__(self, cfg: SysfsLeds) -> None:
        root = Path(cfg.root)
        self.leds: dict[str, SysfsLed] = {}
        wanted = {ch: getattr(cfg, ch) for ch in (*CHANNELS, "buzzer")}
        missing = []
        for channel, name in wanted.items():
            if not name:
                continue
            path = root / name
            if (path / "brightness").exists():
                self.leds[channel] = SysfsLed(path, name in cfg.active_low)
            else:
                missing.append(str(path))
        if missing:
            LOG.warning("indicator: LEDs not found: %s", ", ".join(missing))
        if not self.leds:
            raise IndicatorUnavailable(f"no LED of [indicator.sysfs] exists under {root}")
        self._beep_timer: Handle | None = None

    def show(self, colour: str, blink_ms: int) -> None:
        lit = COLOUR_CHANNELS[colour]
        for channel in CHANNELS:
            led = self.leds.get(channel)
            if led is None:
                continue
            if channel in lit and blink_ms:
                led.blink(blink_ms, blink_ms)
            else:
                led.set(channel in lit)

    def beep(self, count: int, beep_ms: int) -> None:
        buzzer = self.leds.get("buzzer")
        if buzzer is None:
            return
        if self._beep_timer is not None:
            self._beep_timer.cancel()
        if not buzzer.blink(beep_ms, beep_ms, count):
            return  # software beeps stop by themselves after `count`
        # The timer trigger repeats forever: stop it just before the next beep would start.
        self._beep_timer = TIMERS.call_later(
            (2 * count - 1) * beep_ms / 1000, lambda: buzzer.set(False)
        )

    def close(self) -> None:
        if self._beep_timer is not None:
            self._beep_timer.cancel()
        for led in self.leds.values():
            try:
                led.set(False)
            except OSError as exc:
                LOG.warning("indicator: cannot switch off %s: %s", led.path, exc)
