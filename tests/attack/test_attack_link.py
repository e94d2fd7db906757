"""The link survives: a full disk under the journal (a real size-limited tmpfs), an endpoint libzmq
refuses. It retries with back-off, never ends its task, and drains once the fault is gone."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from edge.journal import Journal
from edge.link.client import StationLink
from edge.link.replica import Replica
from tests.support.central import LinkRunner, make_setup, running_central, until

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir(parents=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(path: Path) -> None:
    """Write zeros into `path` until the file system is full."""
    with path.open("wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()


def test_a_full_disk_under_the_acked_cursor_does_not_end_the_link(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01"])
    with small_tmpfs(tmp_path / "disk", "4m") as disk:

        async def scenario() -> None:
            runner = LinkRunner(setup, "station-01", disk)
            runner.append(30)  # queued while central is down
            # empty the WAL so the next write needs new blocks on the file system
            probe = sqlite3.connect(disk / "station-01" / "journal.sqlite3")
            probe.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            probe.close()
            _fill(disk / "filler")
            runner.start()
            with running_central(setup):
                await until(lambda: runner.link.failures >= 1, 30)  # the cursor write failed
                assert runner.task is not None and not runner.task.done()
                assert runner.journal.acked_seq() == 0
                (disk / "filler").unlink()  # space is back: no restart
                await until(lambda: runner.journal.acked_seq() == 30, 30)
                assert runner.task is not None and not runner.task.done()
            await runner.stop()

        asyncio.run(scenario())


def test_an_endpoint_libzmq_refuses_is_retried_not_fatal(tmp_path: Path) -> None:
    """`config check` refuses such an endpoint; a link given one anyway keeps retrying and
    reaches its fallback endpoint."""
    setup = make_setup(tmp_path, ["station-01"])
    cfg = setup.link_cfg("station-01")
    # msgspec.structs.replace skips validation, like a config written around `config check`
    cfg = msgspec.structs.replace(
        cfg, endpoint="tcp://no such host:1", fallback_endpoints=[setup.endpoint]
    )

    async def scenario() -> None:
        journal = Journal(tmp_path / "j.sqlite3")
        replica = Replica(tmp_path / "r.sqlite3")
        link = StationLink(cfg, "station-01", journal, replica)
        task = asyncio.create_task(link.run())
        for i in range(5):
            journal.append("pick_verified", {"n": i})
        link.wake()
        await until(lambda: journal.acked_seq() == 5, 30)
        assert link.failures >= 1 and not task.done()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        journal.close()
        replica.close()

    with running_central(setup):
        asyncio.run(scenario())
