"""Storage loss at a station: a journal restored 50 rows behind central, a new empty card. The
link recovers central's copy before anything new is numbered: 0 events lost, 0 quarantined."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from central.store import open_store
from edge.cli import run
from edge.common.errors import ExitCode
from edge.journal import Journal
from tests.support.central import LinkRunner, Setup, make_setup, running_central, until

pytestmark = pytest.mark.slow


def _central_counts(setup: Setup, station: str) -> tuple[int, int]:
    store = open_store(setup.store)
    try:
        stored = sum(1 for e in store.events_after(0, 1_000_000) if e.station_id == station)
        return stored, store.counts()["quarantined"]
    finally:
        store.close()


async def _run(setup: Setup, root: Path, n: int, total: int) -> None:
    """Start the station's link, wait until it is anchored, journal n events, see total acked."""
    runner = LinkRunner(setup, "station-01", root)
    runner.start()
    await until(runner.link.anchored.is_set, 30)
    runner.append(n)
    await until(lambda: runner.journal.acked_seq() == total, 30)
    await runner.stop()


def _backup(src: Path, dst: Path) -> None:
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)


@pytest.mark.parametrize("loss", ["restored 50 rows behind", "new empty card"])
def test_a_station_that_lost_storage_recovers_from_central_and_loses_nothing(
    loss: str, tmp_path: Path
) -> None:
    setup = make_setup(tmp_path, ["station-01"])
    journal = tmp_path / "station-01" / "journal.sqlite3"
    with running_central(setup) as central:
        asyncio.run(_run(setup, tmp_path, 50, 50))
        _backup(journal, tmp_path / "old-image.sqlite3")
        asyncio.run(_run(setup, tmp_path, 50, 100))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{journal}{suffix}").unlink(missing_ok=True)
        if loss.startswith("restored"):
            _backup(tmp_path / "old-image.sqlite3", journal)
            assert Journal(journal, readonly=True).last_seq() == 50
        asyncio.run(_run(setup, tmp_path, 100, 200))
        log = central.log.read_text()
    assert "journal rows sent for recovery" in log
    stored, quarantined = _central_counts(setup, "station-01")
    lost = 200 - stored
    print(
        f"\n{loss}: lost {lost} of the 100 events journalled after the loss, dup/quarantined {quarantined}"
    )
    assert (lost, quarantined) == (0, 0)
    assert run(["journal", "verify", str(journal)]) == ExitCode.OK


def test_a_journal_behind_central_with_rows_of_its_own_is_held_not_sent(tmp_path: Path) -> None:
    """Restored behind, then events journalled offline: the histories differ. Nothing is sent
    (central would quarantine them as integrity alarms), every row stays in the journal."""
    setup = make_setup(tmp_path, ["station-01"])
    journal = tmp_path / "station-01" / "journal.sqlite3"
    with running_central(setup):
        asyncio.run(_run(setup, tmp_path, 20, 20))
        _backup(journal, tmp_path / "old-image.sqlite3")
        asyncio.run(_run(setup, tmp_path, 20, 40))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{journal}{suffix}").unlink(missing_ok=True)
    _backup(tmp_path / "old-image.sqlite3", journal)
    offline = Journal(journal)
    for i in range(5):
        offline.append("pick_verified", {"offline": i})
    offline.close()

    async def scenario() -> None:
        runner = LinkRunner(setup, "station-01", tmp_path)
        runner.start()
        await until(lambda: bool(runner.link.diverged), 30)
        assert "diverged" in runner.link.status().last_error
        assert runner.journal.last_seq() == 25 and runner.journal.acked_seq() == 20
        await runner.stop()

    with running_central(setup):
        asyncio.run(scenario())
    assert _central_counts(setup, "station-01") == (40, 0)
