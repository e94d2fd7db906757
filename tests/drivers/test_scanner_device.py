"""Device handling with real file descriptors: pipes stand in for event nodes (no /dev/uinput)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from evdev import ecodes as e

from drivers.config import ScannerConfig
from drivers.scanner.device import GrabError, ScannerService, pack_events, resolve_nodes
from drivers.scanner.events import DeviceState, Scan, ScanDiscarded, ScannerEvent
from drivers.scanner.keystrokes import events_for
from tests.support.scanner import Keys


class PipeNode:
    """An 'event node': the read end of a pipe; the test writes struct input_event records."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.r, self.w = os.pipe()
        self.fail: OSError | None = None
        self.reads = 0
        self.closed = False

    def fileno(self) -> int:
        return self.r

    def read(self, size: int) -> bytes:
        self.reads += 1
        if self.fail is not None:
            raise self.fail
        return os.read(self.r, size)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.r)

    def send(self, events: list[object]) -> None:
        os.write(self.w, pack_events(events))

    def unplug(self) -> None:
        os.close(self.w)


class Bench:
    """Opener + resolver under test control; records every node opened."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        self.opened: list[PipeNode] = []
        self.refuse: OSError | None = None

    def resolve(self, spec: str) -> list[str]:
        return list(self.paths)

    def open(self, path: str) -> PipeNode:
        if self.refuse is not None:
            raise self.refuse
        node = PipeNode(path)
        self.opened.append(node)
        return node

    def latest(self, path: str) -> PipeNode:
        return [n for n in self.opened if n.path == path][-1]

    def cleanup(self) -> None:
        for n in self.opened:
            n.close()
            with contextlib.suppress(OSError):
                os.close(n.w)


CFG = ScannerConfig(device="usb:05e0:1200", name="s1", reopen_min_ms=20, reopen_max_ms=80)


def run(
    bench: Bench,
    body: Callable[[asyncio.Queue[ScannerEvent], ScannerService], Awaitable[None]],
    cfg: ScannerConfig = CFG,
) -> ScannerService:
    async def main() -> ScannerService:
        q: asyncio.Queue[ScannerEvent] = asyncio.Queue()
        service = ScannerService(
            [cfg], on_event=q.put_nowait, opener=bench.open, resolver=bench.resolve
        )
        task = asyncio.create_task(service.run())
        try:
            async with asyncio.timeout(5):
                await body(q, service)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return service

    try:
        return asyncio.run(main())
    finally:
        bench.cleanup()


async def until(q: asyncio.Queue[ScannerEvent], kind: type, **fields: object) -> ScannerEvent:
    """The next event of `kind` whose fields match (others are skipped)."""
    while True:
        ev = await asyncio.wait_for(q.get(), 2)
        if isinstance(ev, kind) and all(getattr(ev, k) == v for k, v in fields.items()):
            return ev


def test_every_node_is_read_and_scans_stay_whole() -> None:
    bench = Bench(["/dev/input/event3", "/dev/input/event4"])

    async def body(q: asyncio.Queue[ScannerEvent], _: ScannerService) -> None:
        state = await until(q, DeviceState, state="connected")
        assert state.nodes == ("/dev/input/event3", "/dev/input/event4")  # type: ignore[union-attr]
        a = events_for("1A4000000000000000000001")
        b = events_for("ORD-7", start=1_700_000_000.0002)
        n3, n4 = bench.latest("/dev/input/event3"), bench.latest("/dev/input/event4")
        for i in range(max(len(a), len(b))):  # interleaved, one event at a time
            n3.send(a[i : i + 1])
            n4.send(b[i : i + 1])
        got = {(await until(q, Scan)) for _ in range(2)}
        assert {(s.node, s.text) for s in got} == {  # type: ignore[union-attr]
            ("/dev/input/event3", "1A4000000000000000000001"),
            ("/dev/input/event4", "ORD-7"),
        }

    run(bench, body)


def test_unplug_mid_scan_discards_reports_and_reopens() -> None:
    bench = Bench(["/dev/input/event3"])

    async def body(q: asyncio.Queue[ScannerEvent], _: ScannerService) -> None:
        await until(q, DeviceState, state="connected")
        first = bench.latest("/dev/input/event3")
        first.send(events_for("ABC", suffix="none"))
        await asyncio.sleep(0.01)
        first.unplug()  # end of file on the node, as a vanished device
        lost = await until(q, ScanDiscarded)
        assert (lost.partial, lost.reason) == ("ABC", "unplugged")  # type: ignore[union-attr]
        unplugged = await until(q, DeviceState, state="unplugged")
        assert "end of file" in unplugged.detail  # type: ignore[union-attr]
        await until(q, DeviceState, state="reopening")
        await until(q, DeviceState, state="connected")
        assert first.closed
        second = bench.latest("/dev/input/event3")
        assert second is not first
        second.send(events_for("XYZ"))
        scan = await until(q, Scan)
        assert scan.text == "XYZ"  # type: ignore[union-attr]

    run(bench, body)


def test_enodev_from_read_stops_watching_the_fd() -> None:
    bench = Bench(["/dev/input/event3"])

    async def body(q: asyncio.Queue[ScannerEvent], _: ScannerService) -> None:
        await until(q, DeviceState, state="connected")
        node = bench.latest("/dev/input/event3")
        bench.paths = []  # the device stays away
        node.fail = OSError(errno.ENODEV, os.strerror(errno.ENODEV))
        node.send(events_for("A"))  # readable -> read raises ENODEV
        state = await until(q, DeviceState, state="unplugged")
        assert "ENODEV" in state.detail  # type: ignore[union-attr]
        await asyncio.sleep(0.3)
        # The dead fd was removed from the loop at once: one read, not a spin (vocalinux #241).
        assert node.reads == 1

    run(bench, body)


def test_absent_device_is_retried_with_backoff_not_a_busy_loop() -> None:
    bench = Bench([])
    states: list[str] = []

    async def body(q: asyncio.Queue[ScannerEvent], service: ScannerService) -> None:
        t0 = time.monotonic()
        await asyncio.sleep(0.6)
        elapsed = time.monotonic() - t0
        while not q.empty():
            ev = q.get_nowait()
            if isinstance(ev, DeviceState):
                states.append(ev.state)
        attempts = service.supervisors[0].attempts
        # 20, 40, 80, 80, ... ms: about 8 attempts in 0.6 s; a busy loop would make thousands.
        assert 4 <= attempts <= 2 + elapsed / 0.08 + 2
        bench.paths = ["/dev/input/event9"]
        await until(q, DeviceState, state="connected")

    run(bench, body)
    assert states == ["unplugged", "reopening"]  # reported once each, not once per attempt


def test_grab_failure_is_reported_and_retried() -> None:
    bench = Bench(["/dev/input/event3"])
    bench.refuse = GrabError(errno.EBUSY, "cannot grab /dev/input/event3: Device or resource busy")

    async def body(q: asyncio.Queue[ScannerEvent], service: ScannerService) -> None:
        state = await until(q, DeviceState, state="grab_failed")
        assert "busy" in state.detail  # type: ignore[union-attr]
        await until(q, DeviceState, state="reopening")
        await asyncio.sleep(0.1)
        assert service.supervisors[0].attempts >= 2
        bench.refuse = None
        await until(q, DeviceState, state="connected")

    run(bench, body)


def test_unopenable_node_with_the_real_opener(tmp_path: Path) -> None:
    # A regular file is not an evdev node: python-evdev's ioctl fails; reported, never raised.
    fake = tmp_path / "event0"
    fake.write_bytes(b"")
    cfg = ScannerConfig(device=str(fake), name="real", reopen_min_ms=20, reopen_max_ms=40)

    async def main() -> DeviceState:
        q: asyncio.Queue[ScannerEvent] = asyncio.Queue()
        service = ScannerService([cfg], on_event=q.put_nowait, resolver=lambda s: [s])
        task = asyncio.create_task(service.run())
        try:
            ev = await asyncio.wait_for(q.get(), 2)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert isinstance(ev, DeviceState)
        return ev

    state = asyncio.run(main())
    assert state.state == "unplugged"
    assert "cannot open" in state.detail


def test_idle_gap_ends_a_scan_read_from_a_node() -> None:
    bench = Bench(["/dev/input/event3"])
    cfg = ScannerConfig(device="usb:05e0:1200", name="s1", idle_gap_ms=30)

    async def body(q: asyncio.Queue[ScannerEvent], _: ScannerService) -> None:
        await until(q, DeviceState, state="connected")
        bench.latest("/dev/input/event3").send(events_for("ORD-1", suffix="none"))
        scan = await until(q, Scan)
        assert (scan.text, scan.ended_by) == ("ORD-1", "idle")  # type: ignore[union-attr]

    run(bench, body, cfg)


def test_records_split_across_reads_and_syn_dropped() -> None:
    bench = Bench(["/dev/input/event3"])

    async def body(q: asyncio.Queue[ScannerEvent], _: ScannerService) -> None:
        await until(q, DeviceState, state="connected")
        node = bench.latest("/dev/input/event3")
        data = pack_events(events_for("AB"))
        node.send([])
        os.write(node.w, data[:37])  # half a record: kept until the rest arrives
        await asyncio.sleep(0.02)
        os.write(node.w, data[37:])
        assert (await until(q, Scan)).text == "AB"  # type: ignore[union-attr]
        k = Keys().taps(e.KEY_A).dropped()
        node.send(k.events)
        dropped = await until(q, ScanDiscarded)
        assert dropped.reason == "syn_dropped"  # type: ignore[union-attr]

    run(bench, body)


def test_a_failing_subscriber_does_not_stop_the_scanner() -> None:
    seen: list[ScannerEvent] = []

    def bad(ev: ScannerEvent) -> None:
        seen.append(ev)
        raise RuntimeError("subscriber bug")

    service = ScannerService([CFG], on_event=bad)
    out = service.inject("s1", events_for("A") + events_for("B"))
    assert [s.text for s in out if isinstance(s, Scan)] == ["A", "B"]
    assert len(seen) == 2


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ValueError, match="share the name"):
        ScannerService([CFG, CFG])


def _sysfs(root: Path, event: str, usb: str, vid: str, pid: str, iface: str) -> None:
    """A sysfs tree shaped like the kernel's: class/input/eventN -> .../usbdev/iface/hid/input."""
    usb_dir = root / "sys/devices/pci0000:00/usb1" / usb
    usb_dir.mkdir(parents=True, exist_ok=True)
    (usb_dir / "idVendor").write_text(vid + "\n")
    (usb_dir / "idProduct").write_text(pid + "\n")
    input_dir = (
        usb_dir / f"{usb}:1.{iface}" / f"0003:{vid}:{pid}.000{iface}" / "input" / f"input{event}"
    )
    node = input_dir / f"event{event}"
    node.mkdir(parents=True)
    (node / "device").symlink_to(input_dir)
    cls = root / "sys/class/input"
    cls.mkdir(parents=True, exist_ok=True)
    (cls / f"event{event}").symlink_to(node)
    dev = root / "dev/input"
    dev.mkdir(parents=True, exist_ok=True)
    (dev / f"event{event}").write_text("")


def test_resolve_nodes_finds_every_interface_of_the_usb_device(tmp_path: Path) -> None:
    _sysfs(tmp_path, "3", "1-1", "05e0", "1200", "0")
    _sysfs(tmp_path, "4", "1-1", "05e0", "1200", "1")
    _sysfs(tmp_path, "10", "1-2", "046d", "c31c", "0")  # a keyboard: never taken
    sys_root, dev_root = tmp_path / "sys", tmp_path / "dev"
    expected = [str(dev_root / "input/event3"), str(dev_root / "input/event4")]
    assert resolve_nodes("usb:05E0:1200", sys_root=sys_root, dev_root=dev_root) == expected
    by_id = dev_root / "input/by-id"
    by_id.mkdir()
    (by_id / "usb-Symbol_Scanner-if01-event-kbd").symlink_to(dev_root / "input/event4")
    link = str(by_id / "usb-Symbol_Scanner-if01-event-kbd")
    assert resolve_nodes(link, sys_root=sys_root, dev_root=dev_root) == expected
    assert resolve_nodes("usb:dead:beef", sys_root=sys_root, dev_root=dev_root) == []
    assert resolve_nodes(str(by_id / "gone"), sys_root=sys_root, dev_root=dev_root) == []


def test_a_resolver_bug_is_reported_and_retried_not_fatal() -> None:
    bench = Bench(["/dev/input/event3"])
    calls = {"n": 0}

    def flaky(spec: str) -> list[str]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("sysfs surprise")
        return bench.resolve(spec)

    async def main() -> list[str]:
        q: asyncio.Queue[ScannerEvent] = asyncio.Queue()
        service = ScannerService([CFG], on_event=q.put_nowait, opener=bench.open, resolver=flaky)
        task = asyncio.create_task(service.run())
        states: list[str] = []
        try:
            while "connected" not in states:
                ev = await asyncio.wait_for(q.get(), 2)
                if isinstance(ev, DeviceState):
                    states.append(ev.state)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return states

    try:
        states = asyncio.run(main())
    finally:
        bench.cleanup()
    assert states == ["unplugged", "reopening", "connected"]


def test_service_without_scanners_runs_until_cancelled() -> None:
    async def main() -> bool:
        task = asyncio.create_task(ScannerService([ScannerConfig()]).run())
        await asyncio.sleep(0.05)
        running = not task.done()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return running

    assert asyncio.run(main())
