"""Configuration structs of the drivers: the [[scanner]], [scan], [scale], [printer] and [indicator]
sections of station.toml. Defaults here are the embedded defaults; config/station.toml documents them.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Baud = Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200]
PositiveMs = Annotated[int, msgspec.Meta(ge=1, le=600_000)]


class ScannerConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One handheld scanner ([[scanner]], repeatable)."""

    device: str = ""  # /dev/input/by-id/... path or "usb:VID:PID"; "" = none configured
    layout: Literal["us", "de", "fr"] = "us"
    idle_gap_ms: PositiveMs = 80


class ScanConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How scans are classified ([scan])."""

    # Accepted package-tag patterns: real METRC tags are 1A4 + 21 hex digits, but METRC's own
    # examples use other prefixes (shared/domain.md (c) [T7][T8]), so the list is configurable.
    tag_patterns: list[str] = msgspec.field(
        default_factory=lambda: [r"^1A4[0-9A-F]{21}$", r"^[0-9A-Z]{24}$"]
    )
    badge_pattern: str = r"^BADGE-[A-Z0-9]{4,16}$"
    ticket_pattern: str = r"^ORD-[0-9]{1,12}$"
    # Exit-label seal codes: SEAL-<order id>-<16 hex digest> (edge/label.py seal_code_for).
    seal_pattern: str = r"^SEAL-[0-9A-Za-z._-]{1,40}-[0-9A-F]{16}$"


class ScaleConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The serial scale ([scale])."""

    enabled: bool = False
    port: str = "/dev/packstation/scale"
    protocol: Literal["mt-sics", "toledo-8217", "ohaus", "st-us"] = "mt-sics"
    baud: Baud = 9600
    timeout_ms: PositiveMs = 2000


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
    warnings_dir: str = (
        ""  # "" = config/warnings beside the package, else /etc/packstation/warnings
    )


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
    blue: str = ""
    buzzer: str = "packstation:buzzer"  # an active buzzer on a gpio-led line
    active_low: list[str] = msgspec.field(default_factory=list)  # inverted LEDs (Pi 5 "ACT")


class GpiodLines(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """GPIO lines driven through libgpiod v2 ([indicator.gpiod])."""

    chip: str = ""  # chip label; "" = pinctrl-rp1 (Pi 5), pinctrl-bcm2711 (Pi 4), pinctrl-bcm2835
    red: str = "GPIO17"  # line names; "" = not fitted
    green: str = "GPIO27"
    blue: str = ""
    buzzer: str = "GPIO22"
    active_low: bool = False


class IndicatorConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The LED and beeper ([indicator])."""

    backend: Literal["sysfs", "gpiod", "printer-buzzer", "recording", "none"] = "none"
    sysfs: SysfsLeds = msgspec.field(default_factory=SysfsLeds)
    gpiod: GpiodLines = msgspec.field(default_factory=GpiodLines)
    signals: IndicatorSignals = msgspec.field(default_factory=IndicatorSignals)
