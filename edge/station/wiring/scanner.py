"""The scanner reader (a Service feeding the daemon) and the inject channel's ScanDecoder."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from drivers.config import ScannerConfig
from drivers.scanner.device import ScannerService
from drivers.scanner.events import DeviceState as ScannerState
from drivers.scanner.events import Scan, ScanDiscarded
from drivers.scanner.keystrokes import events_for
from edge.station.config import StationConfig
from edge.station.one_input import one_input
from edge.station.ports import StationHandle

LOG = logging.getLogger(__name__)


class ScannerPort:
    """The scanner reader (a Service) and the inject channel's decoder (edge.station.ports.ScanDecoder)."""

    def __init__(self, cfg: StationConfig) -> None:
        self.configs = {s.label: s for s in cfg.scanner}
        self.service = ScannerService(cfg.scanner)

    def decode(self, text: str, device: str) -> list[tuple[str, str | None]]:
        scanner = self.configs.get(device) or ScannerConfig(name=device)
        aim: str | None = None
        if scanner.aim_ids and text.startswith("]") and len(text) >= 3:
            aim, text = text[:3], text[3:]
        try:
            events = events_for(text, layout_name=scanner.layout, aim_id=aim)
        except Exception as exc:  # keymap.LayoutError and friends: the text cannot be typed
            raise ValueError(f"cannot type {text!r} on a {scanner.layout} scanner: {exc}") from exc
        out: list[tuple[str, str | None]] = []
        for event in self.service.inject(device, events, node="injected"):
            if isinstance(event, ScanDiscarded):
                raise ValueError(  # noqa: TRY004 - the decoder refused the input
                    f"scan discarded by the decoder: {event.reason} {event.detail}"
                )
            if isinstance(event, Scan):
                out.append((event.text, event.aim_id))
        return out

    async def run(self, station: StationHandle) -> None:
        reader = asyncio.get_running_loop().create_task(self.service.run())
        try:
            async for event in self.service.events():
                if isinstance(event, Scan) and event.node != "injected":
                    await one_input(
                        "scan", station.feed_scan(event.text, event.device, event.aim_id)
                    )
                elif isinstance(event, ScannerState):
                    ok = event.state == "connected"
                    detail = "" if ok else f"{event.device}: {event.state} {event.detail}".strip()
                    await one_input("scanner state", station.device_state("scanner", ok, detail))
                elif isinstance(event, ScanDiscarded) and event.node != "injected":
                    LOG.warning(
                        "scan discarded", extra={"device": event.device, "reason": event.reason}
                    )
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
