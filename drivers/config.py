"""Configuration structs of the drivers: the [[scanner]], [scan], [scale], [printer] and [indicator]
sections of station.toml. Defaults here are the embedded defaults; config/station.toml documents them.
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
    # Characters a scanner may be set to send instead of the GS1 separator GS (0x1D); each is read
    # as GS inside GS1 data (Odoo's `gs1_separator_fnc1`, shared/hardware.md (b)).
    gs_substitutes: list[str] = msgspec.field(default_factory=list)

    def problems(self) -> Iterator[tuple[str, str]]:
        """Patterns must compile; a GS substitute is one character that no GS1 field can hold."""
        for key in ("badge_pattern", "ticket_pattern", "seal_pattern"):
            yield from _regex_problem(key, getattr(self, key))
        for pattern in self.tag_patterns:
            yield from _regex_problem("tag_patterns", pattern)
        for sub in self.gs_substitutes:
            if len(sub) != 1 or sub.isalnum() or sub.isspace():
                yield "gs_substitutes", f"expected single non-alphanumeric characters, got {sub!r}"


def _regex_problem(key: str, pattern: str) -> Iterator[tuple[str, str]]:
    try:
        re.compile(pattern)
    except re.error as exc:
        yield key, f"invalid regular expression {pattern!r}: {exc}"


class ScaleConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The serial scale ([scale])."""

    enabled: bool = False
    port: str = "/dev/packstation/scale"
    protocol: Literal["mt-sics", "toledo-8217", "ohaus", "st-us"] = "mt-sics"
    baud: Baud = 9600
    timeout_ms: PositiveMs = 2000


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
