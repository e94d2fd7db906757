"""`packstation backup FILE` and `packstation restore FILE`: journal, spool, keys and config.

A backup is one tar.gz holding, as far as they exist under `--root` (default `/`):
`etc/packstation/` (configuration, keys), `etc/packstation-central/` (allow-lists, intake token),
`var/lib/packstation/` (the station's journal and print spool) and `var/lib/packstation-central/`
(central's SQLite store; systemd keeps it in /var/lib/private for the dynamic user). SQLite files
are copied with SQLite's online backup API, so a backup taken while a service runs is consistent;
their -wal/-shm files are not needed and not stored. MANIFEST.json lists every file with its
SHA-256, checked before anything is restored.

Restore writes the files back with their modes (secret keys stay 0600), gives the station's state
to user packstation and refuses to replace an existing journal or store that differs unless
`--force`: the journal is the compliance record. Stop the services first.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from edge import __version__
from edge.cli.output import add_json, result
from edge.common.errors import BadInput, ExitCode

PARTS = (
    "etc/packstation",
    "etc/packstation-central",
    "var/lib/packstation",
    "var/lib/packstation-central",
)
STATE = ("var/lib/packstation", "var/lib/packstation-central")
SQLITE_MAGIC = b"SQLite format 3\x00"
UNITS = ("packstation-station.service", "packstation-central.service")


def register(sub: Any) -> None:
    """Add `backup` and `restore`."""
    for name, helptext, handler in (
        ("backup", "write journal, spool, keys and config into one tar.gz", _backup),
        ("restore", "put a backup's files back (services stopped)", _restore),
    ):
        p = sub.add_parser(name, help=helptext, description=__doc__.split("\n\n", 1)[1])
        p.add_argument("file", type=Path, metavar="FILE", help="the backup archive (.tar.gz)")
        p.add_argument(
            "--root", type=Path, default=Path("/"), metavar="DIR", help="instead of / (default: /)"
        )
        if name == "restore":
            p.add_argument(
                "--force", action="store_true", help="replace a journal or store that differs"
            )
        add_json(p)
        p.set_defaults(handler=handler)


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(16) == SQLITE_MAGIC


def _sqlite_copy(source: Path, target: Path) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup(root: Path, archive: Path) -> list[str]:
    """Write the archive; returns the archived file names."""
    files: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="packstation-backup-") as tmp:
        stage = Path(tmp)
        for part in PARTS:
            top = (root / part).resolve()  # /var/lib/packstation-central -> private/ (DynamicUser)
            if not top.is_dir():
                continue
            for path in sorted(top.rglob("*")):
                if not path.is_file() or path.name.endswith(("-wal", "-shm", "-journal")):
                    continue
                name = f"{part}/{path.relative_to(top).as_posix()}"
                staged = stage / name
                staged.parent.mkdir(parents=True, exist_ok=True)
                if _is_sqlite(path):
                    _sqlite_copy(path, staged)
                else:
                    shutil.copyfile(path, staged)
                st = path.stat()
                os.chmod(staged, st.st_mode & 0o7777)
                files[name] = {"sha256": _sha256(staged), "mode": st.st_mode & 0o7777}
        if not files:
            raise BadInput(f"nothing to back up under {root} ({', '.join(PARTS)})")
        manifest = {
            "packstation": __version__,
            "host": socket.gethostname(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "files": files,
        }
        archive.parent.mkdir(parents=True, exist_ok=True)
        tmp_archive = archive.with_name(f".{archive.name}.tmp")
        old = os.umask(0o077)  # it holds secret keys
        try:
            with tarfile.open(tmp_archive, "w:gz") as tar:
                data = json.dumps(manifest, indent=2).encode()
                info = tarfile.TarInfo("MANIFEST.json")
                info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
                tar.addfile(info, io.BytesIO(data))
                for name in files:
                    tar.add(stage / name, arcname=name, recursive=False)
        finally:
            os.umask(old)
        tmp_archive.replace(archive)
    return list(files)


def _running(root: Path) -> list[str]:
    if root != Path("/") or shutil.which("systemctl") is None:
        return []
    return [
        unit
        for unit in UNITS
        if subprocess.run(["systemctl", "is-active", "--quiet", unit], check=False).returncode == 0
    ]


def restore(root: Path, archive: Path, force: bool = False) -> list[str]:
    """Check the archive against its manifest, then write its files under root."""
    running = _running(root)
    if running:
        raise BadInput(f"stop {' '.join(running)} first (sudo systemctl stop ...)")
    try:
        tar = tarfile.open(archive, "r:gz")  # noqa: SIM115 (closed by the with below)
    except (OSError, tarfile.TarError) as exc:
        raise BadInput(f"{archive}: not a packstation backup: {exc}") from exc
    with tar, tempfile.TemporaryDirectory(prefix="packstation-restore-") as tmp:
        try:
            member = tar.extractfile("MANIFEST.json")
            manifest = json.load(member) if member else None
        except (KeyError, ValueError) as exc:
            raise BadInput(f"{archive}: no valid MANIFEST.json: {exc}") from exc
        files: dict[str, dict[str, Any]] = (manifest or {}).get("files", {})
        stage = Path(tmp)
        tar.extractall(stage, members=[tar.getmember(n) for n in files], filter="data")
        for name, meta in files.items():
            if not name.startswith(PARTS) or ".." in Path(name).parts:
                raise BadInput(f"{archive}: unexpected path {name}")
            if _sha256(stage / name) != meta["sha256"]:
                raise BadInput(f"{archive}: {name} does not match its checksum: nothing restored")
        for name in files:
            target = _target(root, name)
            if (
                name.startswith(STATE)
                and target.exists()
                and not force
                and _sha256(target) != files[name]["sha256"]
            ):
                raise BadInput(
                    f"{target} exists and differs from the backup: nothing restored "
                    "(--force replaces it; back it up first)"
                )
        for name, meta in files.items():
            target = _target(root, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            for stale in ("-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    target.with_name(target.name + stale).unlink()
            tmp_target = target.with_name(f".{target.name}.restore")
            shutil.copyfile(stage / name, tmp_target)
            os.chmod(tmp_target, meta["mode"])
            tmp_target.replace(target)
        _chown_state(root)
    return list(files)


def _target(root: Path, name: str) -> Path:
    part = next(p for p in PARTS if name.startswith(p + "/"))
    top = root / part
    return (top.resolve() if top.exists() else top) / name[len(part) + 1 :]


def _chown_state(root: Path) -> None:
    """The station's state belongs to its service user (central's: systemd re-owns at start)."""
    if os.geteuid() != 0:
        return
    try:
        user = pwd.getpwnam("packstation")
    except KeyError:
        return
    top = root / "var/lib/packstation"
    if top.is_dir():
        for path in [top, *top.rglob("*")]:
            os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)


def _backup(args: argparse.Namespace) -> int:
    names = backup(args.root, args.file)
    text = "\n".join([f"{args.file}: {len(names)} files", *(f"  {name}" for name in names)])
    result(args, text, {"file": str(args.file), "root": str(args.root), "files": names})
    return int(ExitCode.OK)


def _restore(args: argparse.Namespace) -> int:
    names = restore(args.root, args.file, args.force)
    result(
        args,
        f"restored {len(names)} files from {args.file} under {args.root}",
        {"file": str(args.file), "root": str(args.root), "files": names},
    )
    return int(ExitCode.OK)
