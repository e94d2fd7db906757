"""What the scanner driver reports: whole scans, discarded partial scans and device states."""

from __future__ import annotations

from typing import Literal

import msgspec

EndedBy = Literal["enter", "kpenter", "tab", "idle"]
DiscardReason = Literal["syn_dropped", "unplugged", "too_long", "closed"]
StateName = Literal["connected", "unplugged", "reopening", "grab_failed"]


class Scan(msgspec.Struct, frozen=True, kw_only=True, tag="scan"):
    """One whole barcode as the scanner typed it.

    `text` is the payload with the AIM symbology identifier (e.g. `]d2`) removed and kept in
    `aim_id`; a GS1 separator arrives as the GS character (0x1D) whatever form the scanner used.
    """

    device: str  # configured scanner name
    node: str  # event node it came from (/dev/input/eventN, or "injected")
    text: str
    aim_id: str | None
    ended_by: EndedBy
    t_first: float  # event timestamps (seconds, the kernel's clock) of the first and last key
    t_last: float


class ScanDiscarded(msgspec.Struct, frozen=True, kw_only=True, tag="discarded"):
    """A partial scan thrown away rather than passed on incomplete or corrupted."""

    device: str
    node: str
    partial: str
    reason: DiscardReason
    detail: str = ""


class DeviceState(msgspec.Struct, frozen=True, kw_only=True, tag="device_state"):
    """A scanner's connection state changed; the daemon shows it on the indicator and journals it."""

    device: str
    state: StateName
    detail: str = ""
    nodes: tuple[str, ...] = ()


ScannerEvent = Scan | ScanDiscarded | DeviceState


def to_json(event: ScannerEvent) -> str:
    """One line of JSON (GS and other control characters escaped as \\u001d...)."""
    return msgspec.json.encode(event).decode()
