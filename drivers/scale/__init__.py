"""Serial scale driver: exact integer-milligram readings, stable captures, weigh-out rules.

Layers (each importable alone): `units` exact conversions; `protocols` pure bytes -> events
parsers per protocol; `capture` the stability window and return-to-zero; `weigh_rules` the
weigh-out refusal; `serial_port` the thread that owns the port (reconnect with backoff);
`device` the asyncio `Scale`. `sim` is the pty scale emulator (not imported by the driver).
Imports nothing from `edge` or `central`.
"""

from __future__ import annotations

from drivers.scale.capture import Capture, Capturer, CaptureRules, NoReading, NoReadingReason
from drivers.scale.device import CommandResult, Feed, Scale
from drivers.scale.protocols import PROTOCOLS, ProtocolSpec
from drivers.scale.reading import Event, Noise, Reading, Reply, Status
from drivers.scale.serial_port import DeviceEvent, DeviceState, PortSettings
from drivers.scale.settings import ScaleSettings, settings_from_config
from drivers.scale.units import format_grams, parse_weight
from drivers.scale.weigh_rules import (
    Refusal,
    WeighOutAccepted,
    WeighOutRefused,
    WeighOutResult,
    WeighOutRules,
    check_weigh_out,
)

__all__ = [
    "PROTOCOLS",
    "Capture",
    "CaptureRules",
    "Capturer",
    "CommandResult",
    "DeviceEvent",
    "DeviceState",
    "Event",
    "Feed",
    "NoReading",
    "NoReadingReason",
    "Noise",
    "PortSettings",
    "ProtocolSpec",
    "Reading",
    "Refusal",
    "Reply",
    "Scale",
    "ScaleSettings",
    "Status",
    "WeighOutAccepted",
    "WeighOutRefused",
    "WeighOutResult",
    "WeighOutRules",
    "check_weigh_out",
    "format_grams",
    "parse_weight",
    "settings_from_config",
]
