"""Configuration structs of the drivers: the [[scanner]], [scale], [printer] and [indicator]
sections of station.toml ([scan] is `edge.scan.config`). Defaults here are the embedded defaults;
config/station.toml documents them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Literal

import msgspec

Baud = Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200]
PositiveMs = Annotated[int, msgspec.Meta(ge=1, le=600_000)]


EndKey = Literal["enter", "kpenter", "tab"]
_SCANNER_DEVICE = re.compile(r"^(/.+|usb:[0-9a-fA-F]{4}:[0-9a-fA-F]{4})$")


class ScannerConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One handheld scanner ([[scanner]], repeatable)."""

    device: str = ""  # /dev/input/by-id/... path or "usb:VID:PID"; "" = none configured
    name: str = ""  # name in scan events, journal and indicator; "" = the device string
    layout: Literal["us", "gb", "de", "fr", "be"] = "us"
    idle_gap_ms: PositiveMs = 80
    end_keys: list[EndKey] = msgspec.field(default_factory=lambda: ["enter", "kpenter", "tab"])
    aim_ids: bool = True  # a leading ]Xm is the AIM symbology identifier, kept apart from the text
    numlock: bool = True  # Num Lock state assumed at start (keypad digits type digits)
    max_scan_chars: Annotated[int, msgspec.Meta(ge=16, le=65536)] = 4096
    reopen_min_ms: PositiveMs = 500
    reopen_max_ms: PositiveMs = 10_000

    @property
    def label(self) -> str:
        """The scanner's name in events: `name`, else the device string."""
        return self.name or self.device or "scanner"

    def problems(self) -> Iterator[tuple[str, str]]:
        """Cross-field rules of a [[scanner]] table."""
        if self.device and not _SCANNER_DEVICE.match(self.device):
            yield "device", f'expected a /dev/input/... path or "usb:VID:PID", got "{self.device}"'
        if self.reopen_min_ms > self.reopen_max_ms:
            yield "reopen_min_ms", "must not exceed reopen_max_ms"
        if len(set(self.end_keys)) != len(self.end_keys):
            yield "end_keys", "lists a key twice"


class ScaleConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The serial scale ([scale]). Sources: the protocol manuals; NIST Handbooks 44 and 133."""

    enabled: bool = False
    port: str = "/dev/packstation/scale"
    protocol: Literal["mt-sics", "toledo-8217", "ohaus", "st-us"] = "mt-sics"
    baud: Baud = 9600  # the factory default of all four protocols
    # Data bits, parity, stop bits; "protocol" = the protocol's default (8217: 7E1, others 8N1).
    framing: Literal["protocol", "8N1", "8E1", "8O1", "7E1", "7O1", "8N2", "7N2"] = "protocol"
    mode: Literal["poll", "stream"] = "poll"
    poll_interval_ms: PositiveMs = 100
    timeout_ms: PositiveMs = 2000
    implicit_unit: Literal["auto", "lb", "kg", "g"] = "auto"  # toledo-8217 frames carry no unit
    stable_readings: Annotated[int, msgspec.Meta(ge=1, le=100)] = 5
    stable_window_ms: Annotated[int, msgspec.Meta(ge=0, le=60_000)] = 500
    zero_threshold_mg: Annotated[int, msgspec.Meta(ge=0, le=100_000)] = 20
    division_mg: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 0  # 0 = from the digits
    max_division_mg: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 10
    over_tolerance_mg: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 100
    reopen_backoff_ms: PositiveMs = 250
    reopen_backoff_max_ms: PositiveMs = 5000

    def problems(self) -> list[tuple[str, str]]:
        """Cross-field rules."""
        found: list[tuple[str, str]] = []
        if self.poll_interval_ms >= self.timeout_ms:
            found.append(("poll_interval_ms", "must be shorter than timeout_ms"))
        if self.reopen_backoff_max_ms < self.reopen_backoff_ms:
            found.append(("reopen_backoff_max_ms", "must be at least reopen_backoff_ms"))
        return found


class PrinterConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The ESC/POS label printer ([printer])."""

    target: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^(tcp://.+:[0-9]{1,5}|usb:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}|serial:.+|file:.+)$",
            extra={"expected": "tcp://HOST:PORT, usb:VID:PID, serial:PATH[@BAUD] or file:PATH"},
        ),
    ] = "file:/dev/packstation/printer"
    paper_width_mm: Literal[58, 80] = 80
    timeout_ms: PositiveMs = 5000
    status_timeout_ms: PositiveMs = 500
    confirm: Literal["status", "process-id", "none"] = "status"
    confirm_timeout_ms: PositiveMs = 20000
    retry_ms: PositiveMs = 5000
    qr_mode: Literal["native", "raster"] = "native"
    qr_module_dots: Annotated[int, msgspec.Meta(ge=1, le=16)] = 6
    spool_path: str = ""  # "" = <state_dir>/print-spool.sqlite3
    warnings_dir: str = ""  # obsolete, ignored: the label profiles are [label] profiles_dir


Colour = Literal["off", "red", "green", "blue", "amber", "cyan", "magenta", "white"]
Beeps = Annotated[int, msgspec.Meta(ge=0, le=9)]


class SignalPattern(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How one signal looks and sounds ([indicator.signals.<name>])."""

    colour: Colour = "off"
    blink_ms: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 0  # 0 = steady
    beeps: Beeps = 0
    beep_ms: Annotated[int, msgspec.Meta(ge=50, le=2_000)] = 100
    hold_ms: Annotated[int, msgspec.Meta(ge=0, le=60_000)] = 0  # 0 = a state; >0 = a flash


class IndicatorSignals(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The signal -> LED/beep table ([indicator.signals])."""

    ready: SignalPattern = msgspec.field(default_factory=lambda: SignalPattern(colour="green"))
    scan_ok: SignalPattern = msgspec.field(
        default_factory=lambda: SignalPattern(colour="green", beeps=1, beep_ms=80, hold_ms=400)
    )
    weighing: SignalPattern = msgspec.field(
        default_factory=lambda: SignalPattern(colour="amber", blink_ms=250)
    )
    weight_captured: SignalPattern = msgspec.field(
        default_factory=lambda: SignalPattern(colour="green", beeps=2, beep_ms=80, hold_ms=600)
    )
    halt: SignalPattern = msgspec.field(
        default_factory=lambda: SignalPattern(colour="red", beeps=3, beep_ms=300)
    )
    device_error: SignalPattern = msgspec.field(
        default_factory=lambda: SignalPattern(colour="red", blink_ms=500, beeps=2, beep_ms=500)
    )
    central_offline: SignalPattern = msgspec.field(
        default_factory=lambda: SignalPattern(colour="blue", blink_ms=1000)
    )
    sealed: SignalPattern = msgspec.field(
        default_factory=lambda: SignalPattern(colour="green", beeps=1, beep_ms=400, hold_ms=1500)
    )


class SysfsLeds(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """LEDs of the kernel LED class, e.g. from dtoverlay=gpio-led ([indicator.sysfs])."""

    root: str = "/sys/class/leds"
    red: str = "packstation:red"  # LED names under root; "" = not fitted
    green: str = "packstation:green"
    blue: str = "packstation:blue"
    buzzer: str = "packstation:buzzer"  # an active buzzer on a gpio-led line
    active_low: list[str] = msgspec.field(default_factory=list)  # inverted LEDs (Pi 5 "ACT")


class GpiodLines(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """GPIO lines driven through libgpiod v2 ([indicator.gpiod])."""

    chip: str = ""  # chip label; "" = pinctrl-rp1 (Pi 5), pinctrl-bcm2711 (Pi 4), pinctrl-bcm2835
    # Line names; "" = not fitted. The pins of docs/install.md step 5 (header pins 11, 13, 15, 16),
    # the same GPIOs the sysfs overlay lines use, so either back-end drives the same wiring.
    red: str = "GPIO17"
    green: str = "GPIO27"
    blue: str = "GPIO22"
    buzzer: str = "GPIO23"
    active_low: bool = False


class IndicatorConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The LED and beeper ([indicator])."""

    backend: Literal["sysfs", "gpiod", "printer-buzzer", "recording", "none"] = "none"
    sysfs: SysfsLeds = msgspec.field(default_factory=SysfsLeds)
    gpiod: GpiodLines = msgspec.field(default_factory=GpiodLines)
    signals: IndicatorSignals = msgspec.field(default_factory=IndicatorSignals)
