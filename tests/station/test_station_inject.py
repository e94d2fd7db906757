"""The inject channel as a Service: it talks to the daemon only through StationHandle."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from edge.station.config import StationConfig, StationSection
from edge.station.inject import InjectServer, inject_services
from edge.station.ports import FeedResult
from edge.workflow.state import Input, Tick, WeightCaptured


class FakeStation:
    """A StationHandle that records what it was told."""

    def __init__(self) -> None:
        self.inputs: list[Any] = []

    def _result(self, what: Any) -> FeedResult:
        self.inputs.append(what)
        return FeedResult(seq=len(self.inputs), phase="idle", events=["x"], signals=[])

    async def feed(self, event: Input) -> FeedResult:
        return self._result(event)

    async def feed_scan(self, raw: str, device: str = "", aim_id: str | None = None) -> FeedResult:
        return self._result(("scan", raw, device))

    async def inject_scan(self, text: str, device: str) -> list[FeedResult]:
        if text == "untypable":
            raise ValueError("cannot type it")
        return [self._result(("typed", text, device))]

    async def device_state(self, device: str, ok: bool, detail: str = "") -> FeedResult:
        return self._result(("device", device, ok, detail))

    async def next_order(self) -> FeedResult:
        return self._result("next")

    def snapshot(self) -> dict[str, Any]:
        return {"phase": "idle"}


async def _talk(path: Path, lines: list[str]) -> list[dict[str, Any]]:
    reader, writer = await asyncio.open_unix_connection(str(path))
    replies = []
    for line in lines:
        writer.write(line.encode() + b"\n")
        await writer.drain()
        replies.append(json.loads(await reader.readline()))
    writer.close()
    return replies


def test_commands_reach_the_station_handle(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "inject.sock"
    station = FakeStation()

    async def scenario() -> list[dict[str, Any]]:
        server = InjectServer(path)
        task = asyncio.create_task(server.run(station))
        for _ in range(100):
            if path.exists():
                break
            await asyncio.sleep(0.01)
        lines = [
            "state",
            "weight 3512",
            "tick",
            "device scale fault unplugged",
            "next",
            "scan --device kbd 1A4X",
            "scan --raw ORD-1042",
            "scan untypable",
            "weight 3.5",
        ]
        replies = await _talk(path, lines)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return replies

    replies = asyncio.run(scenario())
    assert replies[0] == {"ok": True, "state": {"phase": "idle"}}
    assert replies[1] == {"ok": True, "seq": 1, "phase": "idle", "events": ["x"], "signals": []}
    assert station.inputs == [
        WeightCaptured(3512),
        Tick(),
        ("device", "scale", False, "unplugged"),
        "next",
        ("typed", "1A4X", "kbd"),
        ("scan", "ORD-1042", "inject"),
    ]
    assert replies[7] == {"ok": False, "error": "scan: cannot type it"}
    assert replies[8]["ok"] is False and "integer milligrams" in replies[8]["error"]
    assert not path.exists()  # closed with the service


def test_the_inject_service_exists_only_when_configured(tmp_path: Path) -> None:
    assert inject_services(StationConfig()) == []
    cfg = StationConfig(station=StationSection(inject_socket=str(tmp_path / "i.sock")))
    (service,) = inject_services(cfg)
    assert isinstance(service, InjectServer) and service.path == tmp_path / "i.sock"
