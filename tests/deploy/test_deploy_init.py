"""`packstation init station|central --root DIR`: the files an installation gets, idempotently."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import zmq.auth

from edge.cli import run
from edge.cli.install import init
from edge.common import resources

REPO = Path(__file__).resolve().parents[2]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_station_init_writes_config_keys_unit_rules_and_sysusers(tmp_path: Path) -> None:
    init("station", tmp_path, out=lambda _: None)
    etc = tmp_path / "etc/packstation"
    assert _mode(etc / "keys") == 0o700
    assert _mode(etc / "keys/station.key_secret") == 0o600
    zmq.auth.load_certificate(etc / "keys/station.key_secret")  # a real CURVE pair
    text = (etc / "station.toml").read_text()
    assert 'secret_key_file = "/etc/packstation/keys/station.key_secret"' in text
    assert 'server_key_file = "/etc/packstation/keys/central.key"' in text
    assert run(["config", "check", str(etc / "station.toml")]) == 0
    for path, shipped_as in [
        (
            "etc/systemd/system/packstation-station.service",
            REPO / "systemd/packstation-station.service",
        ),
        ("etc/udev/rules.d/70-packstation.rules", REPO / "config/udev/70-packstation.rules"),
        ("usr/lib/sysusers.d/packstation.conf", REPO / "systemd/packstation.sysusers"),
    ]:
        assert (tmp_path / path).read_text() == shipped_as.read_text()


def test_central_init_makes_a_0600_intake_token_and_its_allow_lists(tmp_path: Path) -> None:
    init("central", tmp_path, out=lambda _: None)
    token = tmp_path / "etc/packstation-central/intake.token"
    assert _mode(token) == 0o600 and len(token.read_text().strip()) >= 16
    assert (tmp_path / "etc/packstation-central/stations").is_dir()
    assert _mode(tmp_path / "etc/packstation/keys/central.key_secret") == 0o600
    assert (tmp_path / "etc/systemd/system/packstation-central.service").is_file()
    central_toml = str(tmp_path / "etc/packstation/central.toml")
    assert 'token_file = "/etc/packstation-central/intake.token"' in Path(central_toml).read_text()
    assert run(["config", "check", central_toml, "--root", str(tmp_path)]) == 0


def test_config_check_under_a_root_still_catches_a_missing_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init("central", tmp_path, out=lambda _: None)
    (tmp_path / "etc/packstation-central/intake.token").unlink()
    central_toml = str(tmp_path / "etc/packstation/central.toml")
    assert run(["config", "check", central_toml, "--root", str(tmp_path), "--json"]) == 78
    missing = "cannot read /etc/packstation-central/intake.token under"
    assert json.loads(capsys.readouterr().out)["problems"] == [
        f"[intake] token_file: {missing} {tmp_path}: No such file or directory"
    ]
    empty = tmp_path / "nothing-installed"
    empty.mkdir()  # the default root "/" reads the named path itself; an empty root stands for it
    assert run(["config", "check", central_toml, "--root", str(empty)]) == 78
    assert "[intake] token_file: cannot read" in capsys.readouterr().err


def test_init_json_reports_the_files_and_the_closing_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["init", "central", "--root", str(tmp_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    token = str(tmp_path / "etc/packstation-central/intake.token")
    assert doc["role"] == "central" and {"action": "token", "path": token} in doc["files"]
    assert doc["check"]["ok"] is True and doc["check"]["kind"] == "central"
    assert doc["diffs"] == {}
    toml = tmp_path / "etc/packstation/central.toml"
    toml.write_text(toml.read_text() + "# edited\n")
    assert run(["init", "central", "--root", str(tmp_path), "--json", "--no-doctor"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["check"] is None and {"action": "kept", "path": str(toml)} in doc["files"]
    assert "-# edited" in doc["diffs"][str(toml)]


def test_init_again_keeps_keys_token_and_edits_and_shows_the_diff(tmp_path: Path) -> None:
    init("station", tmp_path, out=lambda _: None)
    init("central", tmp_path, out=lambda _: None)
    etc = tmp_path / "etc/packstation"
    secret = (etc / "keys/station.key_secret").read_bytes()
    token = (tmp_path / "etc/packstation-central/intake.token").read_bytes()
    edited = (etc / "station.toml").read_text().replace('id = "station-01"', 'id = "station-07"')
    (etc / "station.toml").write_text(edited)
    unit = tmp_path / "etc/systemd/system/packstation-station.service"
    unit.write_text("[Unit]\nDescription=an older unit\n")
    lines: list[str] = []
    init("station", tmp_path, out=lines.append)
    init("central", tmp_path, out=lines.append)
    assert (etc / "station.toml").read_text() == edited  # kept
    assert any(line.startswith("kept") and line.endswith("station.toml") for line in lines)
    assert '-id = "station-07"' in "\n".join(lines) and '+id = "station-01"' in "\n".join(lines)
    assert unit.read_text() == (REPO / "systemd/packstation-station.service").read_text()
    assert (etc / "keys/station.key_secret").read_bytes() == secret
    assert (tmp_path / "etc/packstation-central/intake.token").read_bytes() == token
    again: list[str] = []
    init("station", tmp_path, out=again.append)
    assert [line.split()[0] for line in again if "service" in line] == ["unchanged"]


@pytest.mark.slow
def test_init_command_ends_with_doctor_and_returns_its_code(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "edge", "init", "station", "--root", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert "packstation doctor:" in proc.stdout
    assert proc.returncode == 4, proc.stdout  # central's key is not there yet: doctor fails


def test_data_precedence_option_then_etc_then_shipped(tmp_path: Path) -> None:
    shipped = resources.shipped("config", "limits")
    assert (shipped / "IL.toml").read_bytes() == (REPO / "config/limits/IL.toml").read_bytes()
    assert resources.data_dir("limits", "", tmp_path) == shipped
    (tmp_path / "limits").mkdir()
    assert resources.data_dir("limits", "", tmp_path) == tmp_path / "limits"
    assert resources.data_dir("limits", "/srv/rules", tmp_path) == Path("/srv/rules")
    assert resources.data_dir("labels", "", tmp_path) == resources.shipped("config", "labels")


@pytest.mark.parametrize("name", ["config", "systemd", "LICENSE"])
def test_the_data_package_points_at_the_checkout(name: str) -> None:
    link = REPO / "edge/data" / name
    assert link.is_symlink() and link.resolve() == (REPO / name).resolve()
