"""The systemd units and sysusers file: the directives installers rely on, `systemd-analyze
verify` (in a scratch root holding the real ExecStart path) and `systemd-analyze security` scores."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from edge.common.credentials import credential_path
from edge.common.errors import ExitCode

REPO = Path(__file__).resolve().parents[2]
UNITS = REPO / "systemd"
STATION = UNITS / "packstation-station.service"
CENTRAL = UNITS / "packstation-central.service"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze not installed")
# Highest acceptable `systemd-analyze security` exposure (0 = locked down, 10 = wide open).
THRESHOLDS = {STATION: 3.0, CENTRAL: 2.0}


def directives(unit: Path) -> dict[str, dict[str, list[str]]]:
    """{section: {key: [values in order]}}; repeated keys (DeviceAllow=) keep every value."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in unit.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{unit.name}: not KEY=VALUE: {raw!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def one(unit: Path, key: str, section: str = "Service") -> str:
    values = directives(unit)[section].get(key, [])
    assert len(values) == 1, f"{unit.name}: expected one {key}=, got {values}"
    return values[0]


@pytest.mark.parametrize("unit", [STATION, CENTRAL], ids=lambda u: u.name)
def test_units_notify_restart_and_stop_on_config_errors(unit: Path) -> None:
    assert one(unit, "Type") == "notify"
    assert one(unit, "NotifyAccess") == "main"
    assert int(one(unit, "WatchdogSec")) > 0
    assert one(unit, "Restart") == "on-failure"
    assert one(unit, "RestartPreventExitStatus") == str(int(ExitCode.CONFIG)) == "78"
    assert one(unit, "StateDirectory").startswith("packstation")
    assert one(unit, "WantedBy", "Install") == "multi-user.target"
    exec_start = one(unit, "ExecStart").split()
    assert exec_start[0] == "/opt/packstation/venv/bin/packstation"
    assert exec_start[-2] == "--config" and exec_start[-1].startswith("/etc/packstation/")


def test_station_runs_as_its_own_user_with_only_its_device_kinds() -> None:
    assert (one(STATION, "User"), one(STATION, "Group")) == ("packstation", "packstation")
    service = directives(STATION)["Service"]
    assert "PrivateDevices" not in service  # it would hide the scanner, scale and printer
    assert one(STATION, "DevicePolicy") == "closed"
    assert set(service["DeviceAllow"]) == {
        "char-input r",
        "char-ttyUSB rw",
        "char-ttyACM rw",
        "char-usb rw",
        "char-usb_device rw",
        "char-gpiochip rw",
    }
    assert one(STATION, "ExecStart").split()[1] == "station"


def test_central_has_a_dynamic_user_and_no_devices() -> None:
    assert one(CENTRAL, "DynamicUser") == "yes"
    assert one(CENTRAL, "PrivateDevices") == "yes"
    assert "DeviceAllow" not in directives(CENTRAL)["Service"]
    assert one(CENTRAL, "ExecStart").split()[1] == "central"


@pytest.mark.parametrize("unit", [STATION, CENTRAL], ids=lambda u: u.name)
def test_credentials_are_named_after_the_key_files(unit: Path, tmp_path: Path) -> None:
    """LoadCredential=NAME:PATH with NAME == basename(PATH), which edge.common.credentials relies on."""
    for value in directives(unit)["Service"]["LoadCredential"]:
        name, _, source = value.partition(":")
        assert name == Path(source).name
        assert source.startswith(("/etc/packstation/keys/", "/etc/packstation-central/"))
        creds = tmp_path / "credentials"
        creds.mkdir(exist_ok=True)
        (creds / name).write_text("key")
        assert credential_path(source, {"CREDENTIALS_DIRECTORY": str(creds)}) == creds / name
        assert credential_path(source, {}) == Path(source)


def test_central_gets_the_intake_token_its_config_names_as_a_credential() -> None:
    from central.config import CentralConfig

    token_file = CentralConfig().intake.token_file
    assert f"intake.token:{token_file}" in directives(CENTRAL)["Service"]["LoadCredential"]
    assert Path(token_file).name == "intake.token"


def test_the_credential_copy_is_used_only_when_present(tmp_path: Path) -> None:
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    assert credential_path("/etc/packstation/keys/x.key", env) == Path(
        "/etc/packstation/keys/x.key"
    )


def _exposure(unit: Path) -> float:
    assert SYSTEMD_ANALYZE is not None
    run = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", run.stdout + run.stderr)
    assert match, run.stdout + run.stderr
    return float(match.group(1))


@needs_analyze
@pytest.mark.parametrize("unit", [STATION, CENTRAL], ids=lambda u: u.name)
def test_security_exposure_is_under_the_threshold(unit: Path) -> None:
    exposure = _exposure(unit)
    print(f"{unit.name}: exposure {exposure}")
    assert exposure <= THRESHOLDS[unit]


@needs_analyze
def test_the_exposure_measure_can_fail(tmp_path: Path) -> None:
    """The same measurement rates an unhardened unit far above the thresholds."""
    plain = tmp_path / "plain.service"
    plain.write_text("[Service]\nExecStart=/bin/true\n")
    assert _exposure(plain) > THRESHOLDS[STATION]


def _scratch_root(tmp_path: Path, unit: Path, text: str | None = None) -> Path:
    """A root with the distribution's units (sysinit.target...), the unit and its ExecStart."""
    root = tmp_path / "root"
    (root / "usr/lib/systemd").mkdir(parents=True, exist_ok=True)
    if not (root / "usr/lib/systemd/system").exists():
        shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    binary = root / one(unit, "ExecStart").split()[0].lstrip("/")
    binary.parent.mkdir(parents=True, exist_ok=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    target = root / "etc/systemd/system" / unit.name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text if text is not None else unit.read_text())
    return root


def _verify(root: Path, name: str) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE is not None
    return subprocess.run(
        [SYSTEMD_ANALYZE, "verify", f"--root={root}", "--man=no", name],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


needs_unit_tree = pytest.mark.skipif(
    not Path("/usr/lib/systemd/system/sysinit.target").exists(), reason="no systemd unit tree"
)


@needs_analyze
@needs_unit_tree
@pytest.mark.parametrize("unit", [STATION, CENTRAL], ids=lambda u: u.name)
def test_systemd_analyze_verify_accepts_the_unit_without_a_warning(
    unit: Path, tmp_path: Path
) -> None:
    run = _verify(_scratch_root(tmp_path, unit), unit.name)
    assert (run.returncode, run.stderr, run.stdout) == (0, "", "")


@needs_analyze
@needs_unit_tree
def test_verify_reports_a_bad_directive(tmp_path: Path) -> None:
    """Control: verify does complain (on stderr) about a misspelt directive or value."""
    broken = STATION.read_text().replace("Restart=on-failure", "Restart=sometimes\nWatchDogSec=5")
    run = _verify(_scratch_root(tmp_path, STATION, broken), STATION.name)
    assert "restart specifier" in run.stderr and "WatchDogSec" in run.stderr


@pytest.mark.skipif(shutil.which("systemd-sysusers") is None, reason="no systemd-sysusers")
def test_sysusers_creates_the_service_user_in_group_gpio(tmp_path: Path) -> None:
    conf = tmp_path / "usr/lib/sysusers.d/packstation.conf"
    conf.parent.mkdir(parents=True)
    (tmp_path / "etc").mkdir()
    shutil.copy(UNITS / "packstation.sysusers", conf)
    run = subprocess.run(
        ["systemd-sysusers", f"--root={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    passwd = (tmp_path / "etc/passwd").read_text()
    assert re.search(
        r"^packstation:x:\d+:\d+:[^:]*:/var/lib/packstation:/usr/sbin/nologin$",
        passwd,
        re.MULTILINE,
    )
    group = (tmp_path / "etc/group").read_text()
    assert re.search(r"^gpio:x:\d+:packstation$", group, re.MULTILINE)
