"""One input that fails ends that input, not the loop reading the device: the scanner's loop and
the inject channel go on after a step that raised, and after a CancelledError raised from below
(a future cancelled under the step, as a closing ZeroMQ socket does); the daemon's own stop still
ends them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from drivers.config import ScannerConfig
from drivers.scanner.keystrokes import events_for
from edge.station.config import StationConfig
from edge.station.inject import InjectServer
from edge.station.ports import FeedResult
from edge.station.wiring.scanner import ScannerPort
from edge.workflow.state import Input


def _cancelled_from_below() -> asyncio.CancelledError:
    """The error awaiting a future that something else cancelled raises (not a task cancel)."""
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.cancel()
    try:
        future.result()
    except asyncio.CancelledError as exc:
        return exc
    raise AssertionError("unreachable")


class FailingStation:
    """A StationHandle whose scans fail by their text: FAIL raises, CANCEL is cancelled from
    below; anything else is recorded."""

    def __init__(self) -> None:
        self.scans: list[str] = []

    def _result(self) -> FeedResult:
        return FeedResult(seq=len(self.scans), phase="picking", events=["scan"], signals=[])

    async def feed_scan(self, raw: str, device: str = "", aim_id: str | None = None) -> FeedResult:
        await asyncio.sleep(0)
        if raw == "FAIL":
            raise OSError("disk I/O error")  # what a failed commit raises to the caller
        if raw == "CANCEL":
            raise _cancelled_from_below()
        self.scans.append(raw)
        return self._result()

    async def feed(self, event: Input) -> FeedResult:
        return self._result()

    async def inject_scan(self, text: str, device: str) -> list[FeedResult]:
        return [await self.feed_scan(text, device)]

    async def device_state(self, device: str, ok: bool, detail: str = "") -> FeedResult:
        return self._result()

    async def next_order(self) -> FeedResult:
        return self._result()

    def snapshot(self) -> dict[str, Any]:
        return {}


def test_the_scanner_loop_reads_on_after_a_failed_and_an_interrupted_scan(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg = StationConfig(scanner=[ScannerConfig(name="hand")])
    station = FailingStation()

    async def scenario() -> bool:
        port = ScannerPort(cfg)
        task = asyncio.create_task(port.run(station))
        await asyncio.sleep(0.05)  # subscribed to the service's events
        for text in ("FAIL", "CANCEL", "1A4060300002C9B000000123"):
            port.service.inject("hand", events_for(text), node="event7")  # as a device read
            await asyncio.sleep(0.05)
        alive = not task.done()
        task.cancel()  # the daemon's stop still ends the loop
        await asyncio.gather(task, return_exceptions=True)
        return alive and task.cancelled()

    assert asyncio.run(scenario())
    assert station.scans == ["1A4060300002C9B000000123"]
    assert "input failed; reading the next one" in caplog.text
    assert "input interrupted by a cancellation from below" in caplog.text


def test_the_inject_channel_answers_an_interrupted_command_and_stays_open(
    tmp_path: Path,
) -> None:
    path = tmp_path / "inject.sock"
    station = FailingStation()

    async def scenario() -> list[dict[str, Any]]:
        server = InjectServer(path)
        task = asyncio.create_task(server.run(station))
        while not path.exists():
            await asyncio.sleep(0.01)
        reader, writer = await asyncio.open_unix_connection(str(path))
        replies = []
        for line in ("scan --raw CANCEL", "scan --raw FAIL", "scan --raw 1A4X"):
            writer.write(line.encode() + b"\n")
            await writer.drain()
            replies.append(json.loads(await reader.readline()))
        writer.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return replies

    replies = asyncio.run(scenario())
    assert replies[0] == {"ok": False, "error": "not committed: interrupted"}
    assert replies[1] == {"ok": False, "error": "not committed: disk I/O error"}
    assert replies[2]["ok"] is True
    assert station.scans == ["1A4X"]
