"""[scale] settings: protocol serial defaults, cross-field rules, mapping to driver settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.config import ScaleConfig
from drivers.scale import PROTOCOLS, settings_from_config
from edge.common import config
from edge.common.errors import ConfigError
from edge.station.config import StationConfig


@pytest.mark.parametrize(
    ("protocol", "framing"),
    [("mt-sics", "8N1"), ("toledo-8217", "7E1"), ("ohaus", "8N1"), ("st-us", "8N1")],
)
def test_protocol_default_framing(protocol: str, framing: str) -> None:
    s = settings_from_config(ScaleConfig(protocol=protocol))  # type: ignore[arg-type]
    assert f"{s.port.bytesize}{s.port.parity}{s.port.stopbits}" == framing
    assert s.port.baud == PROTOCOLS[protocol].serial.baud == 9600


def test_explicit_framing_overrides_the_protocol() -> None:
    s = settings_from_config(ScaleConfig(protocol="toledo-8217", framing="8N1", baud=19200))
    assert (s.port.bytesize, s.port.parity, s.port.stopbits, s.port.baud) == (8, "N", 1, 19200)


def test_window_and_rules_come_from_config() -> None:
    cfg = ScaleConfig(
        stable_readings=7, stable_window_ms=900, zero_threshold_mg=50, division_mg=20,
        max_division_mg=100, over_tolerance_mg=250, timeout_ms=3000,
    )  # fmt: skip
    s = settings_from_config(cfg)
    assert (s.capture.stable_readings, s.capture.window_ms, s.capture.zero_threshold_mg) == (
        7,
        900,
        50,
    )
    assert (s.capture.division_mg, s.capture.max_age_ms) == (20, 3000)
    assert (s.weigh_out.max_division_mg, s.weigh_out.over_tolerance_mg) == (100, 250)


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "station.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        config.load(StationConfig, path)
    return [p.removeprefix(f"{path}: ") for p in err.value.problems]


def test_cross_field_rules(tmp_path: Path) -> None:
    text = (
        "[scale]\npoll_interval_ms = 2000\ntimeout_ms = 2000\n"
        "reopen_backoff_ms = 1000\nreopen_backoff_max_ms = 500\n"
    )
    assert problems(tmp_path, text) == [
        "[scale] poll_interval_ms: must be shorter than timeout_ms",
        "[scale] reopen_backoff_max_ms: must be at least reopen_backoff_ms",
    ]


def test_bad_framing_is_named(tmp_path: Path) -> None:
    (line,) = problems(tmp_path, '[scale]\nframing = "9X1"\n')
    assert line.startswith('[scale] framing: expected one of "protocol", "8N1"')
