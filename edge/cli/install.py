"""What `packstation init station|central` writes, from the templates shipped in the wheel.

Idempotent: a missing file is written; a file equal to what init would write is left alone; an
edited configuration file or udev rule is kept and its difference to the template printed (merge
new options by hand, docs/config_changes.md); units and the sysusers file are packstation's own
(local changes go in drop-ins) and are replaced when the shipped version changed. Keys and the
intake token are created once and never replaced. Every path is under `root` (default `/`), so a
test or an image build can run it into a directory.
"""

from __future__ import annotations

import difflib
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from edge.common.resources import shipped

Role = Literal["station", "central"]
KEYS = "etc/packstation/keys"
CENTRAL_ETC = "etc/packstation-central"
STATION_LINK_KEYS = {
    "secret_key_file": "/etc/packstation/keys/station.key_secret",
    "server_key_file": "/etc/packstation/keys/central.key",
}


@dataclass
class Report:
    """One line per file: what init did with it (and, for `--json`, the same as data)."""

    lines: list[str] = field(default_factory=list)
    out: Callable[[str], None] = print
    files: list[dict[str, str]] = field(default_factory=list)  # {"action", "path"}
    diffs: dict[str, str] = field(default_factory=dict)  # path -> its difference to the template

    def say(self, what: str, path: Path) -> None:
        line = f"{what:<10} {path}"
        self.lines.append(line)
        self.files.append({"action": what, "path": str(path)})
        self.out(line)


def station_template() -> str:
    """config/station.toml with the [link] key paths the station unit's credentials use."""
    out: list[str] = []
    section = ""
    for line in shipped("config", "station.toml").read_text().splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("[") and not stripped.startswith("[["):
            section = stripped
        key = stripped.split("=", 1)[0].strip()
        if section == "[link]" and key in STATION_LINK_KEYS and stripped.endswith('""'):
            out.append(f'{key} = "{STATION_LINK_KEYS[key]}"\n')
        else:
            out.append(line)
    return "".join(out)


def _owner_root(path: Path) -> None:
    if os.geteuid() == 0:
        os.chown(path, 0, 0, follow_symlinks=False)


def _directory(path: Path, mode: int, report: Report) -> None:
    if not path.is_dir():
        path.mkdir(parents=True, mode=mode)
        report.say("created", path)
    path.chmod(mode)
    _owner_root(path)


def _write(path: Path, text: str, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.chmod(mode)
    _owner_root(tmp)
    tmp.replace(path)


def _diff(old: str, new: str, path: Path) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"{path} (installed)",
            tofile=f"{path} (template of this version)",
        )
    )


def place(path: Path, text: str, mode: int, report: Report, *, keep_edits: bool) -> None:
    """Write `text` to `path` unless it is already there; keep an edited file when `keep_edits`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        _write(path, text, mode)
        report.say("wrote", path)
        return
    current = path.read_text()
    if current == text:
        report.say("unchanged", path)
        return
    diff = _diff(current, text, path)
    if keep_edits:
        report.say("kept", path)
        report.out(f"  {path} differs from the template (your edits are kept):")
    else:
        _write(path, text, mode)
        report.say("updated", path)
    report.diffs[str(path)] = diff
    report.out(diff.rstrip("\n"))


def _keypair(directory: Path, name: str, report: Report) -> None:
    from edge.cli.cmd_keys import write_pair

    if (directory / f"{name}.key_secret").exists():
        report.say("kept", directory / f"{name}.key_secret")
        return
    public_file, secret_file, _ = write_pair(directory, name, force=True)
    for path in (public_file, secret_file):
        _owner_root(path)
    report.say("key pair", secret_file)


def _token(path: Path, report: Report) -> None:
    if path.exists():
        report.say("kept", path)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(32) + "\n")
    _owner_root(path)
    report.say("token", path)


def _systemd_file(name: str) -> str:
    return shipped("systemd", name).read_text()


def init(role: Role, root: Path = Path("/"), out: Callable[[str], None] = print) -> Report:
    """Write the configuration, keys, units, udev rules and sysusers file of `role` under root."""
    report = Report(out=out)
    etc = root / "etc/packstation"
    _directory(etc, 0o755, report)
    _directory(root / KEYS, 0o700, report)
    if role == "station":
        place(etc / "station.toml", station_template(), 0o644, report, keep_edits=True)
        _keypair(root / KEYS, "station", report)
        place(
            root / "etc/udev/rules.d/70-packstation.rules",
            shipped("config", "udev", "70-packstation.rules").read_text(),
            0o644,
            report,
            keep_edits=True,
        )
        place(
            root / "usr/lib/sysusers.d/packstation.conf",
            _systemd_file("packstation.sysusers"),
            0o644,
            report,
            keep_edits=False,
        )
    else:
        place(
            etc / "central.toml",
            shipped("config", "central.toml").read_text(),
            0o644,
            report,
            keep_edits=True,
        )
        _keypair(root / KEYS, "central", report)
        for sub in ("stations", "subscribers"):
            _directory(root / CENTRAL_ETC / sub, 0o755, report)
        _directory(root / CENTRAL_ETC, 0o755, report)
        _token(root / CENTRAL_ETC / "intake.token", report)
    unit = f"packstation-{role}.service"
    place(root / "etc/systemd/system" / unit, _systemd_file(unit), 0o644, report, keep_edits=False)
    if root == Path("/"):
        _activate(role, report)
    return report


def _activate(role: Role, report: Report) -> None:
    """On the live system: create the service user, reload systemd and udev (when present)."""
    commands: list[list[str]] = [["systemctl", "daemon-reload"]]
    if role == "station":
        commands = [
            ["systemd-sysusers", "/usr/lib/sysusers.d/packstation.conf"],
            ["udevadm", "control", "--reload"],
            *commands,
        ]
    for command in commands:
        if shutil.which(command[0]) is None:
            continue
        if command[0] == "systemctl" and not Path("/run/systemd/system").is_dir():
            continue
        done = subprocess.run(command, check=False, capture_output=True, text=True)
        status = "ran" if done.returncode == 0 else f"FAILED ({done.returncode})"
        report.out(f"{status:<10} {' '.join(command)}")
        if done.returncode != 0 and done.stderr:
            print(done.stderr.rstrip(), file=sys.stderr)
