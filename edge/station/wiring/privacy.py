"""The workflow's privacy port: the station's label profile's privacy rule at a time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from edge.common.errors import ConfigError
from edge.station.config import StationConfig, station_profile

STRICT = "first_name_and_number"


def profile_privacy(cfg: StationConfig) -> Callable[[str], str]:
    """`at` (ISO 8601) -> the privacy of the label profile in force then (`full_name` or
    `first_name_and_number`); the stricter `first_name_and_number` when the time or the profile
    cannot be read (start-up has already refused a station whose profile does not load)."""

    def privacy(at: str) -> str:
        try:
            when = datetime.fromisoformat(at)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return station_profile(cfg, when).version.privacy
        except (ValueError, ConfigError):
            return STRICT

    return privacy
