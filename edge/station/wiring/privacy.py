"""The workflow's privacy port: the station's label profile's privacy rule at a time."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, date, datetime

from edge.common.errors import ConfigError
from edge.label.content import local_time
from edge.label.profile import profiles_dir
from edge.station.config import StationConfig, station_profile

STRICT = "first_name_and_number"


def profile_privacy(cfg: StationConfig) -> Callable[[str], str]:
    """`at` (ISO 8601) -> the privacy of the label profile in force then (`full_name` or
    `first_name_and_number`); the stricter `first_name_and_number` when the time or the profile
    cannot be read (start-up has already refused a station whose profile does not load). The
    answer is kept per store day and version of the profile file (an order loads without
    parsing the profile again; an edited profile counts from the next order)."""
    path = profiles_dir(cfg.label.profiles_dir) / f"{cfg.station.jurisdiction}.toml"
    known: dict[tuple[date, int, int], str] = {}

    def privacy(at: str) -> str:
        try:
            when = datetime.fromisoformat(at)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            st = os.stat(path)
            key = (local_time(when, cfg.station.timezone).date(), st.st_mtime_ns, st.st_size)
            if key not in known:
                known.clear()
                known[key] = station_profile(cfg, when).version.privacy
            return known[key]
        except (ValueError, ConfigError, OSError):
            return STRICT

    return privacy
