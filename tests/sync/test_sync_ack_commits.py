"""The link's acked cursor: a stream of ACKs is committed at most once per ACK_COMMIT_INTERVAL_S,
the status never runs ahead of the journal, and the cursor ends where central's last ACK was."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest

from edge.link.client import ACK_COMMIT_INTERVAL_S
from tests.support.central import LinkRunner, make_setup, running_central, until

pytestmark = pytest.mark.slow  # central as a subprocess


def test_ack_stream_is_committed_coalesced_and_the_status_follows_the_journal(
    tmp_path: Path,
) -> None:
    setup = make_setup(tmp_path, ["station-01"])
    total = 3000
    commits: list[tuple[float, float, int]] = []  # (start, end, seq) of each cursor commit
    ahead: list[tuple[int, int]] = []

    async def scenario() -> None:
        # 10 events a message: central sends some 300 ACKs while the backlog drains
        runner = LinkRunner(setup, "station-01", tmp_path, batch=10, window=200)
        mark_acked = runner.journal.mark_acked

        def counted(seq: int) -> None:
            start = time.monotonic()
            mark_acked(seq)
            commits.append((start, time.monotonic(), seq))

        runner.journal.mark_acked = counted  # type: ignore[method-assign]
        runner.append(total)
        runner.start()
        deadline = time.monotonic() + 30
        while runner.journal.acked_seq() < total and time.monotonic() < deadline:
            status = runner.link.status().acked_seq
            durable = runner.journal.acked_seq()
            if status > durable:
                ahead.append((status, durable))
            await asyncio.sleep(0.002)
        await until(lambda: runner.link.status().acked_seq == total)
        await runner.stop()

    with running_central(setup):
        asyncio.run(scenario())
    assert ahead == []  # progress is reported only once the cursor is committed
    assert commits and commits[-1][2] == total
    assert [c[2] for c in commits] == sorted({c[2] for c in commits})  # forward only
    for (_, end, _), (start, _, _) in itertools.pairwise(commits):
        assert start - end >= ACK_COMMIT_INTERVAL_S * 0.9
    assert len(commits) < total // 10 // 3  # far fewer commits than ACKs
