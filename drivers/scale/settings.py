"""[scale] config -> the settings objects of the port thread, the capture window and the rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from drivers.config import ScaleConfig
from drivers.scale.capture import CaptureRules
from drivers.scale.protocols import PROTOCOLS
from drivers.scale.serial_port import PortSettings
from drivers.scale.weigh_rules import WeighOutRules


@dataclass(frozen=True, slots=True)
class ScaleSettings:
    """All settings of one scale."""

    port: PortSettings
    capture: CaptureRules
    weigh_out: WeighOutRules


def settings_from_config(cfg: ScaleConfig) -> ScaleSettings:
    """Resolve protocol defaults ("protocol" framing) and group the options."""
    spec = PROTOCOLS[cfg.protocol]
    framing = spec.serial.framing if cfg.framing == "protocol" else cfg.framing
    port = PortSettings(
        port=cfg.port,
        protocol=spec,
        baud=cfg.baud,
        bytesize=cast(Literal[7, 8], int(framing[0])),
        parity=cast(Literal["N", "E", "O"], framing[1]),
        stopbits=cast(Literal[1, 2], int(framing[2])),
        mode=cfg.mode,
        poll_interval_ms=cfg.poll_interval_ms,
        timeout_ms=cfg.timeout_ms,
        implicit_unit=cfg.implicit_unit,
        backoff_ms=cfg.reopen_backoff_ms,
        backoff_max_ms=cfg.reopen_backoff_max_ms,
    )
    capture = CaptureRules(
        stable_readings=cfg.stable_readings,
        window_ms=cfg.stable_window_ms,
        zero_threshold_mg=cfg.zero_threshold_mg,
        division_mg=cfg.division_mg,
        max_age_ms=cfg.timeout_ms,
    )
    rules = WeighOutRules(
        over_tolerance_mg=cfg.over_tolerance_mg, max_division_mg=cfg.max_division_mg
    )
    return ScaleSettings(port, capture, rules)
