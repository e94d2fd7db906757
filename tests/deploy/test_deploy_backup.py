"""`packstation backup|restore`: journal, spool, keys and config into one archive and back."""

from __future__ import annotations

import io
import json
import stat
import tarfile
from pathlib import Path

import pytest

from edge.cli import run
from edge.cli.cmd_backup import backup, restore
from edge.cli.install import init
from edge.common.errors import BadInput
from edge.journal import Journal


def _station(root: Path, events: int) -> Journal:
    init("station", root, out=lambda _: None)
    init("central", root, out=lambda _: None)
    journal = Journal(root / "var/lib/packstation/journal.sqlite3")
    for n in range(events):
        journal.append("note", {"n": n})
    return journal


def test_a_live_journal_round_trips_with_keys_and_config(tmp_path: Path) -> None:
    source, target = tmp_path / "a", tmp_path / "b"
    journal = _station(source, 25)  # still open, in WAL mode: the backup API copies it whole
    archive = tmp_path / "out/station.tar.gz"
    names = backup(source, archive)
    journal.append("note", {"n": "after the backup"})
    journal.close()
    assert "var/lib/packstation/journal.sqlite3" in names
    assert "etc/packstation/keys/station.key_secret" in names
    assert "etc/packstation-central/intake.token" in names
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    restore(target, archive)
    restored = Journal(target / "var/lib/packstation/journal.sqlite3", readonly=True)
    try:
        assert restored.verify().ok
        assert [e.body for e in restored.events()] == [
            e.body for e in Journal(source / "var/lib/packstation/journal.sqlite3").events(0, 25)
        ]
    finally:
        restored.close()
    secret = target / "etc/packstation/keys/station.key_secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert secret.read_bytes() == (source / "etc/packstation/keys/station.key_secret").read_bytes()
    assert (target / "etc/packstation/station.toml").read_text() == (
        source / "etc/packstation/station.toml"
    ).read_text()


def test_restore_never_replaces_a_different_journal_without_force(tmp_path: Path) -> None:
    source, target = tmp_path / "a", tmp_path / "b"
    _station(source, 3).close()
    archive = tmp_path / "b.tar.gz"
    backup(source, archive)
    _station(target, 7).close()
    before = (target / "var/lib/packstation/journal.sqlite3").read_bytes()
    with pytest.raises(BadInput, match="exists and differs"):
        restore(target, archive)
    assert (target / "var/lib/packstation/journal.sqlite3").read_bytes() == before
    restore(target, archive, force=True)
    restored = Journal(target / "var/lib/packstation/journal.sqlite3", readonly=True)
    assert restored.last_seq() == 3
    restored.close()


def test_a_tampered_archive_restores_nothing(tmp_path: Path) -> None:
    source = tmp_path / "a"
    _station(source, 2).close()
    good, bad = tmp_path / "good.tar.gz", tmp_path / "bad.tar.gz"
    backup(source, good)
    with tarfile.open(good) as src, tarfile.open(bad, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member)
            if member.name == "etc/packstation/station.toml" and data:
                content = data.read().replace(b"station-01", b"station-99")
                member.size = len(content)
                dst.addfile(member, io.BytesIO(content))
            else:
                dst.addfile(member, data)
    target = tmp_path / "t"
    with pytest.raises(BadInput, match="checksum"):
        restore(target, bad)
    assert not (target / "etc").exists()
    assert run(["restore", str(tmp_path / "missing.tar.gz"), "--root", str(target)]) == 2


def test_backup_and_restore_json_name_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target, archive = tmp_path / "a", tmp_path / "b", tmp_path / "s.tar.gz"
    _station(source, 1).close()
    assert run(["backup", str(archive), "--root", str(source), "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["file"] == str(archive) and "var/lib/packstation/journal.sqlite3" in made["files"]
    assert run(["restore", str(archive), "--root", str(target), "--json"]) == 0
    put = json.loads(capsys.readouterr().out)
    assert put == {"file": str(archive), "root": str(target), "files": made["files"]}
