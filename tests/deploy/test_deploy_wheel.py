"""The installed product: the release wheel in a fresh virtual environment, run from `/`.

Nothing of the checkout is on the path: the wheel must carry its limit rules, label profiles, templates
and units (edge/data), declare every dependency it imports, and every command must start.
Set PACKSTATION_WHEEL=FILE to test an already built wheel instead of building one.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from edge.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    return subprocess.run(
        argv, cwd="/", env=env, capture_output=True, text=True, check=False, timeout=600, **kw
    )  # type: ignore[call-overload,no-any-return]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("PACKSTATION_WHEEL")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "maturin", "build", "--release", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return next(out.glob("packstation-*.whl"))


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv")
    assert _run([sys.executable, "-m", "venv", str(root)]).returncode == 0
    proc = _run([str(root / "bin/pip"), "install", "-q", f"{wheel}[station]"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root


def test_the_wheel_carries_its_data_and_license(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = [
        p.relative_to(REPO).as_posix()
        for d in ("config", "systemd")
        for p in (REPO / d).rglob("*")
        if p.is_file()
    ]
    assert [p for p in shipped if f"edge/data/{p}" not in names] == []
    assert "edge/data/LICENSE" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_every_command_starts_from_the_installed_wheel(venv: Path) -> None:
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert commands.choices
    failed = {}
    for name in commands.choices:
        proc = _run([str(venv / "bin/packstation"), name, "--help"])
        if proc.returncode != 0:
            failed[name] = proc.stderr[-500:]
    assert failed == {}


def test_simulate_limits_and_init_work_from_root(venv: Path, tmp_path: Path) -> None:
    exe = str(venv / "bin/packstation")
    proc = _run([exe, "simulate", "--orders", "12", "--seed", "7", "--out", str(tmp_path / "day")])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "All invariants hold." in proc.stdout
    explain = _run([exe, "limits", "explain", "IL"])
    assert explain.returncode == 0 and "Illinois" in explain.stdout, explain.stderr
    assert _run([exe, "limits", "validate"]).returncode == 0
    init = _run([exe, "init", "station", "--root", str(tmp_path / "r"), "--no-doctor"])
    assert init.returncode == 0, init.stderr
    check = _run([exe, "config", "check", str(tmp_path / "r/etc/packstation/station.toml")])
    assert check.returncode == 0, check.stderr


def test_central_installs_without_the_station_extra(wheel: Path, tmp_path: Path) -> None:
    root = tmp_path / "central-venv"
    assert _run([sys.executable, "-m", "venv", str(root)]).returncode == 0
    proc = _run([str(root / "bin/pip"), "install", "-q", str(wheel)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    probe = _run([str(root / "bin/python"), "-c", "import evdev"])
    assert probe.returncode != 0  # the station's C builds were not pulled in
    sim = _run([str(root / "bin/packstation"), "simulate", "--out", str(tmp_path / "day")])
    assert sim.returncode == 78 and "[station]" in sim.stderr, sim.stderr  # says what to install
    assert _run([str(root / "bin/packstation"), "central", "--help"]).returncode == 0
    init = _run([str(root / "bin/packstation"), "init", "central", "--root", str(tmp_path / "r")])
    assert init.returncode == 0, init.stdout + init.stderr


OVERLAY = """set -e
for d in etc opt usr/local/bin usr/lib/sysusers.d; do
    mkdir -p "$O/u/$d" "$O/w/$d"
    mount -t overlay overlay -o "lowerdir=/$d,upperdir=$O/u/$d,workdir=$O/w/$d" "/$d"
done
cd /
"$@"
"""


def test_install_pi_installs_updates_and_removes_in_a_private_mount_namespace(
    wheel: Path, tmp_path: Path
) -> None:
    """scripts/install-pi.sh as root with /etc, /opt, /usr/local/bin and sysusers.d overlaid in
    a mount namespace of its own: nothing reaches the host's files (no systemd runs here)."""
    if os.geteuid() != 0 or not Path("/usr/bin/unshare").exists():
        pytest.skip("needs root and unshare(1)")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"no mount namespaces here: {probe.stderr.decode()}")
    script = tmp_path / "overlay.sh"
    script.write_text(OVERLAY)
    upper = tmp_path / "u"
    env = {**os.environ, "O": str(tmp_path)}

    def install(*args: str) -> subprocess.CompletedProcess[str]:
        argv = ["unshare", "-m", "bash", str(script), "bash", str(REPO / "scripts/install-pi.sh")]
        return subprocess.run(
            [*argv, "--no-apt", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
            check=False,
        )

    first = install("--role", "both", "--wheel", str(wheel))
    if "overlay" in first.stderr and "mount" in first.stderr:
        pytest.skip(f"no overlayfs here: {first.stderr[-300:]}")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "limit rules: /opt/packstation/venv/" in first.stdout  # the wheel's own data
    etc = upper / "etc"
    assert (etc / "packstation/keys/station.key_secret").stat().st_mode & 0o077 == 0
    assert (etc / "packstation-central/stations/station-01.key").is_file()  # enrolled locally
    assert (etc / "systemd/system/packstation-central.service").is_file()
    station_toml = etc / "packstation/station.toml"
    station_toml.write_text(station_toml.read_text().replace("LIC-000000", "LIC-123456"))
    update = install("--update", "--wheel", str(wheel))
    assert update.returncode == 0, update.stderr[-3000:]
    assert '-license_number = "LIC-123456"' in update.stdout  # kept, difference shown
    assert "LIC-123456" in station_toml.read_text()
    gone = install("--uninstall")
    assert gone.returncode == 0, gone.stderr[-3000:]
    assert not (upper / "opt/packstation").exists()
    assert station_toml.is_file()  # configuration and keys stay
