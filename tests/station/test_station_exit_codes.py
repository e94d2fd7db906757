"""`packstation station` exit codes, decided by the error classes alone: 2 for a journal that
cannot be opened, 78 for a configuration error (5 for a broken chain: test_station_daemon.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.station import REPO, write_station


def _station(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge", "station", "--config", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_a_journal_that_is_not_sqlite_is_exit_2(tmp_path: Path) -> None:
    config = write_station(tmp_path)
    (tmp_path / "journal.sqlite3").write_bytes(b"this is not sqlite" * 100)
    run = _station(config)
    assert run.returncode == 2, run.stderr
    assert "packstation: " in run.stderr and "cannot open journal" in run.stderr


def test_a_configuration_error_is_exit_78(tmp_path: Path) -> None:
    config = write_station(tmp_path)
    config.write_text(config.read_text() + "[scale]\nbaud = 12\n")
    run = _station(config)
    assert run.returncode == 78, run.stderr
    assert "[scale] baud" in run.stderr
