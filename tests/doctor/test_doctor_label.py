"""`packstation doctor` on the label profile: an unverified warning text is refused unless
[label] allow_unverified = true, and then the doctor says every label is marked."""

from __future__ import annotations

from pathlib import Path

from edge.doctor.checks import check_label_profile
from edge.doctor.probes import Root
from edge.doctor.report import Status, load_context
from edge.label.profile import NOT_VERIFIED_BANNER
from tests.support.doctor import station_toml


def findings(tmp_path: Path, extra: str) -> list[tuple[Status, str]]:
    path = tmp_path / "station.toml"
    path.write_text(station_toml() + extra)
    ctx = load_context(path, Root(tmp_path), central_timeout_s=1.0, word_bits=64)
    return [(f.status, f.what) for f in check_label_profile(ctx)]


def test_verified_profile_is_ok(tmp_path: Path) -> None:
    (found,) = findings(tmp_path, "")  # the default jurisdiction, IL, is verified
    assert found[0] is Status.OK and "IL label profile" in found[1]


def test_unverified_profile_fails_unless_allowed_and_then_warns(tmp_path: Path) -> None:
    toml = "[label]\nallow_unverified = {}\n"
    text = station_toml().replace('id = "station-07"', 'id = "station-07"\njurisdiction = "OR"')
    path = tmp_path / "station.toml"
    path.write_text(text + toml.format("false"))
    ctx = load_context(path, Root(tmp_path), central_timeout_s=1.0, word_bits=64)
    (refused,) = list(check_label_profile(ctx))
    assert refused.status is Status.FAIL and "not verified" in refused.what
    path.write_text(text + toml.format("true"))
    ctx = load_context(path, Root(tmp_path), central_timeout_s=1.0, word_bits=64)
    (warned,) = list(check_label_profile(ctx))
    assert warned.status is Status.WARN and NOT_VERIFIED_BANNER in warned.what


def test_stand_in_symbol_is_reported(tmp_path: Path) -> None:
    text = station_toml().replace('id = "station-07"', 'id = "station-07"\njurisdiction = "CO"')
    path = tmp_path / "station.toml"
    path.write_text(text + "[label]\nallow_unverified = true\n")
    ctx = load_context(path, Root(tmp_path), central_timeout_s=1.0, word_bits=64)
    whats = [f.what for f in check_label_profile(ctx)]
    assert any("stand-in bitmap" in w for w in whats), whats
