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
    seal_pattern: str = r"^SEAL-[0-9A-F]{16}$"


class ScaleConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The serial scale ([scale]). Sources: shared/hardware.md (b)(d), shared/domain.md (d)."""

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

    target: str = (
        "file:/dev/packstation/printer"  # tcp://HOST:PORT, usb:VID:PID, serial:PATH, file:PATH
    )
    paper_width_mm: Literal[58, 80] = 80
    timeout_ms: PositiveMs = 5000


class IndicatorConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The LED and beeper ([indicator])."""

    backend: Literal["sysfs", "gpiod", "printer-buzzer", "recording", "none"] = "none"
