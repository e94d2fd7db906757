"""The simulated scanners (`drivers.scanner.sim`) behind the real device reader: fds, hot-plug."""

from __future__ import annotations

import asyncio

from drivers.config import ScannerConfig
from drivers.scanner.device import ScannerService
from drivers.scanner.events import DeviceState, Scan, ScannerEvent
from drivers.scanner.sim import SimScanners


def test_sim_scanners_drive_the_real_reader_through_hot_plug() -> None:
    sims = SimScanners()
    cfgs = [
        ScannerConfig(device="usb:05e0:1200", name="a", reopen_min_ms=20, layout="de"),
        ScannerConfig(device="usb:0c2e:0b61", name="b", reopen_min_ms=20),
    ]

    async def main() -> list[ScannerEvent]:
        q: asyncio.Queue[ScannerEvent] = asyncio.Queue()
        service = ScannerService(
            cfgs, on_event=q.put_nowait, opener=sims.open, resolver=sims.resolve
        )
        sims.plug("usb:05e0:1200", nodes=2)
        task = asyncio.create_task(service.run())
        seen: list[ScannerEvent] = []

        async def until(pred: object) -> None:
            while True:
                ev = await asyncio.wait_for(q.get(), 2)
                seen.append(ev)
                if pred(ev):  # type: ignore[operator]
                    return

        try:
            await until(lambda ev: isinstance(ev, DeviceState) and ev.state == "connected")
            sims.scan("usb:05e0:1200", "1A4000000000000000000001", node=1, layout_name="de")
            await until(lambda ev: isinstance(ev, Scan))
            sims.unplug("usb:05e0:1200")
            await until(lambda ev: isinstance(ev, DeviceState) and ev.state == "reopening")
            sims.plug("usb:0c2e:0b61")  # scanner b appears late; a comes back
            sims.plug("usb:05e0:1200")
            await until(
                lambda ev: (
                    isinstance(ev, DeviceState) and ev.device == "b" and ev.state == "connected"
                )
            )
            sims.scan("usb:0c2e:0b61", "ORD-9")
            await until(lambda ev: isinstance(ev, Scan) and ev.device == "b")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            sims.close()
        return seen

    seen = asyncio.run(main())
    got = [(ev.device, ev.node, ev.text) for ev in seen if isinstance(ev, Scan)]
    assert got == [
        ("a", "/sim/input/event1", "1A4000000000000000000001"),  # the German scanner's 2nd node
        ("b", "/sim/input/event2", "ORD-9"),
    ]
    states = [(ev.device, ev.state) for ev in seen if isinstance(ev, DeviceState)]
    assert ("a", "unplugged") in states
    assert ("b", "unplugged") in states  # absent at start: said so once
