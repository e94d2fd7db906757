"""Scanner devices: find every event node, grab it, read it with asyncio, survive unplugs.

Odoo's driver read only the first node of the first scanner, let a read error end its thread and
never reopened (Odoo `keyboard_usb_driver_L.py`); a dead fd left in select spins at 100% CPU
(vocalinux #241). Here each configured scanner has a supervisor task: it resolves the device's event
nodes, opens and grabs all of them, reads each through the loop's reader callbacks, and on ENODEV or
end of file removes the fd at once, discards the partial scan, reports the state and reopens with
exponential backoff. The node is read with plain `read(2)` of `struct input_event` records, so tests
drive the same code with a pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import re
import struct
from collections.abc import AsyncGenerator, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from evdev import InputEvent

from drivers.config import ScannerConfig
from drivers.scanner.decoder import Decoder
from drivers.scanner.events import DeviceState, ScannerEvent, StateName

LOG = logging.getLogger(__name__)

# struct input_event: struct timeval (two C longs), u16 type, u16 code, s32 value.
_EVENT = struct.Struct("@llHHi")
EVENT_SIZE = _EVENT.size


def pack_events(events: Iterable[Any]) -> bytes:
    """`InputEvent`s as the kernel writes them to an event node (for pipes standing in a node)."""
    return b"".join(_EVENT.pack(e.sec, e.usec, e.type, e.code, e.value) for e in events)


class GrabError(OSError):
    """The node is held by another reader (EVIOCGRAB failed): scans would not reach us."""


class OpenNode(Protocol):
    """An opened, grabbed event node."""

    path: str

    def fileno(self) -> int:
        """The fd the loop watches."""
        ...

    def read(self, size: int) -> bytes:
        """Up to `size` bytes of input_event records; OSError (ENODEV) once unplugged."""
        ...

    def close(self) -> None:
        """Release the grab and the fd; never raises."""
        ...


class EvdevNode:
    """A real /dev/input/eventN opened with python-evdev and grabbed."""

    def __init__(self, path: str) -> None:
        import evdev  # Linux only

        self.path = path
        self._dev = evdev.InputDevice(path)
        try:
            self._dev.grab()
        except OSError as exc:
            self._dev.close()
            raise GrabError(exc.errno, f"cannot grab {path}: {exc.strerror}") from exc

    def fileno(self) -> int:
        return int(self._dev.fd)

    def read(self, size: int) -> bytes:
        return os.read(self.fileno(), size)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._dev.ungrab()
        with contextlib.suppress(OSError):
            self._dev.close()


Opener = Callable[[str], OpenNode]
Resolver = Callable[[str], list[str]]


def _usb_parent(sys_entry: Path, sys_root: Path) -> Path | None:
    """The USB device directory (with idVendor/idProduct) above an input class entry."""
    try:
        here = (sys_entry / "device").resolve(strict=True)
    except OSError:
        return None
    root = sys_root.resolve()
    while here != here.parent and here.is_relative_to(root):
        if (here / "idVendor").is_file() and (here / "idProduct").is_file():
            return here
        here = here.parent
    return None


def _event_key(name: str) -> tuple[int, str]:
    m = re.search(r"(\d+)$", name)
    return (int(m.group(1)) if m else -1, name)


def resolve_nodes(
    spec: str, *, sys_root: Path = Path("/sys"), dev_root: Path = Path("/dev")
) -> list[str]:
    """Every event node of the scanner `spec` ("usb:VID:PID" or a /dev/input/... path).

    A path is followed to its USB device, so a by-id link to one interface also brings the
    device's other interfaces (scanners often have a keyboard and a keypad node). [] when absent.
    """
    classes = sys_root / "class" / "input"
    try:
        entries = sorted(
            (p.name for p in classes.iterdir() if p.name.startswith("event")), key=_event_key
        )
    except OSError:
        entries = []
    if spec.startswith("usb:"):
        _, vid, pid = spec.lower().split(":")
        want: Path | None = None
        found = []
        for name in entries:
            usb = _usb_parent(classes / name, sys_root)
            if (
                usb is not None
                and _read(usb / "idVendor") == vid
                and _read(usb / "idProduct") == pid
            ):
                if want is None:
                    want = usb  # the first matching device; a second identical one has its own spec
                if usb == want:
                    found.append(str(dev_root / "input" / name))
        return found
    path = Path(spec)
    if not path.exists():
        return []
    real = path.resolve()
    usb = _usb_parent(classes / real.name, sys_root)
    if usb is None:
        return [str(real)]
    return [
        str(dev_root / "input" / name)
        for name in entries
        if _usb_parent(classes / name, sys_root) == usb
    ]


def _read(path: Path) -> str:
    try:
        return path.read_text().strip().lower()
    except OSError:
        return ""


Emit = Callable[[ScannerEvent], None]


class NodeReader:
    """Reads one open node through the loop; feeds its decoder; reports loss exactly once."""

    def __init__(
        self,
        node: OpenNode,
        decoder: Decoder,
        emit: Emit,
        on_lost: Callable[[NodeReader, str], None],
        *,
        idle_gap_s: float,
    ) -> None:
        self.node = node
        self.decoder = decoder
        self._emit = emit
        self._on_lost = on_lost
        self._gap = idle_gap_s
        self._buf = b""
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._fd = node.fileno()
        self._watching = False
        self.reads = 0  # read(2) calls, so tests can prove there is no busy loop

    def start(self) -> None:
        """Watch the fd (non-blocking)."""
        os.set_blocking(self._fd, False)
        self._loop.add_reader(self._fd, self._readable)
        self._watching = True

    def stop(self, reason: str) -> None:
        """Stop watching, discard a partial scan, close the node."""
        self._unwatch()
        for ev in self.decoder.abort("unplugged" if reason != "closed" else "closed", reason):
            self._emit(ev)
        self.node.close()

    def _unwatch(self) -> None:
        if self._watching:
            self._loop.remove_reader(self._fd)
            self._watching = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _readable(self) -> None:
        self.reads += 1
        try:
            data = self.node.read(64 * EVENT_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            # ENODEV after unplug (python-evdev #191): drop the fd from the loop *now*.
            self._unwatch()
            self._on_lost(
                self,
                f"read failed: {errno.errorcode.get(exc.errno or 0, '?')} {exc.strerror or exc}",
            )
            return
        if not data:
            self._unwatch()
            self._on_lost(self, "device closed (end of file)")
            return
        self._buf += data
        usable = len(self._buf) - len(self._buf) % EVENT_SIZE
        for sec, usec, typ, code, value in _EVENT.iter_unpack(self._buf[:usable]):
            for out in self.decoder.feed(InputEvent(sec, usec, typ, code, value)):
                self._emit(out)
        self._buf = self._buf[usable:]
        self._arm_idle()

    def _arm_idle(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.decoder.pending:
            # Measured on the loop's clock from the last read: the kernel's event clock may differ.
            self._timer = self._loop.call_later(self._gap, self._idle)

    def _idle(self) -> None:
        self._timer = None
        for out in self.decoder.expire():
            self._emit(out)


class ScannerSupervisor:
    """Keeps one configured scanner open: resolve, open+grab all nodes, read, reopen with backoff."""

    def __init__(self, cfg: ScannerConfig, emit: Emit, opener: Opener, resolver: Resolver) -> None:
        self.cfg = cfg
        self.name = cfg.label
        self._emit = emit
        self._opener = opener
        self._resolver = resolver
        self.state: StateName | None = None
        self.attempts = 0  # open attempts, so tests can bound the retry rate
        self.readers: list[NodeReader] = []
        self._lost: asyncio.Future[str] | None = None
        self._failure: StateName | None = None  # the failure last reported in this streak
        self._reopening = False

    def _set(self, state: StateName, detail: str, nodes: Sequence[str] = ()) -> None:
        if state == self.state:
            return
        self.state = state
        level = logging.INFO if state == "connected" else logging.WARNING
        LOG.log(level, "scanner %s", state, extra={"device": self.name, "detail": detail})
        self._emit(DeviceState(device=self.name, state=state, detail=detail, nodes=tuple(nodes)))

    async def run(self) -> None:
        """Until cancelled. Never raises for device trouble; reports it as DeviceState."""
        lo, hi = self.cfg.reopen_min_ms / 1000, self.cfg.reopen_max_ms / 1000
        delay = lo
        try:
            while True:
                try:
                    lost = await self._attempt()
                except Exception as exc:  # a bug or an odd device: log, report, keep retrying
                    LOG.exception("scanner supervisor error", extra={"device": self.name})
                    self._close_all("closed")
                    self._fail("unplugged", f"internal error: {exc!r}")
                    lost = False
                if lost:
                    delay = lo  # was connected: the first retry comes soon
                await asyncio.sleep(delay)
                if not lost:
                    delay = min(delay * 2, hi)
                if not self._reopening:
                    self._reopening = True
                    self._set("reopening", f"retrying with backoff {lo:g}..{hi:g} s")
        finally:
            self._close_all("closed")

    def _fail(self, state: StateName, detail: str, paths: Sequence[str] = ()) -> None:
        # Reported once per kind of failure in a row, so an absent scanner does not flood the
        # journal; every attempt is still logged at debug level.
        LOG.debug("scanner open failed", extra={"device": self.name, "detail": detail})
        if state != self._failure:
            self._failure = state
            self._set(state, detail, paths)

    async def _attempt(self) -> bool:
        """One open attempt; True when it connected and the device was later lost."""
        self.attempts += 1
        paths = self._resolver(self.cfg.device)
        if not paths:
            self._fail("unplugged", f"no event node for {self.cfg.device}")
            return False
        nodes: list[OpenNode] = []
        try:
            for path in paths:
                nodes.append(self._opener(path))
        except GrabError as exc:
            self._close_nodes(nodes)
            self._fail("grab_failed", str(exc), paths)
            return False
        except OSError as exc:
            self._close_nodes(nodes)
            self._fail("unplugged", f"cannot open {exc.filename or paths}: {exc.strerror}", paths)
            return False
        self._lost = asyncio.get_running_loop().create_future()
        gap = self.cfg.idle_gap_ms / 1000
        for node in nodes:
            dec = Decoder(self.cfg, device=self.name, node=node.path)
            reader = NodeReader(node, dec, self._emit, self._node_lost, idle_gap_s=gap)
            reader.start()
            self.readers.append(reader)
        self._failure = None
        self._reopening = False
        self._set("connected", f"{len(nodes)} event node(s) grabbed", paths)
        reason = await self._lost
        self._close_all(reason)
        self._failure = "unplugged"
        self._set("unplugged", reason, paths)
        return True

    def _node_lost(self, reader: NodeReader, reason: str) -> None:
        # One node gone means the USB device is gone (or asleep): close all its nodes, reopen all.
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(f"{reader.node.path}: {reason}")

    def _close_all(self, reason: str) -> None:
        readers, self.readers = self.readers, []
        for reader in readers:
            reader.stop(reason)

    @staticmethod
    def _close_nodes(nodes: list[OpenNode]) -> None:
        for node in nodes:
            node.close()


class ScannerService:
    """All configured scanners; scans and device states go to `on_event` and to `events()`.

    `inject()` feeds simulated key events into the same decoder path (the simulated day, tests).
    """

    def __init__(
        self,
        scanners: Sequence[ScannerConfig],
        *,
        on_event: Emit | None = None,
        opener: Opener = EvdevNode,
        resolver: Resolver = resolve_nodes,
    ) -> None:
        names = [s.label for s in scanners]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"two scanners share the name {min(dupes)!r}; set `name`")
        self._on_event = on_event
        self._queues: list[asyncio.Queue[ScannerEvent]] = []
        self.supervisors = [
            ScannerSupervisor(cfg, self._emit, opener, resolver) for cfg in scanners if cfg.device
        ]
        self._configs = {cfg.label: cfg for cfg in scanners}
        self._injected: dict[tuple[str, str], Decoder] = {}

    def _emit(self, event: ScannerEvent) -> None:
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:  # a subscriber's bug must not stop the scanners
                LOG.exception("scanner event callback failed")
        for q in self._queues:
            q.put_nowait(event)

    async def events(self) -> AsyncGenerator[ScannerEvent, None]:
        """Every event from now on, in order."""
        q: asyncio.Queue[ScannerEvent] = asyncio.Queue()
        self._queues.append(q)
        try:
            while True:
                yield await q.get()
        finally:
            self._queues.remove(q)

    async def run(self) -> None:
        """Run every scanner's supervisor until cancelled (also when none is configured)."""
        if not self.supervisors:
            await asyncio.get_running_loop().create_future()
        async with asyncio.TaskGroup() as tg:
            for sup in self.supervisors:
                tg.create_task(sup.run(), name=f"scanner {sup.name}")

    def inject(
        self,
        device: str,
        events: Iterable[Any],
        *,
        node: str = "injected",
        end: bool = True,
    ) -> list[ScannerEvent]:
        """Decode simulated events as if read from `device`'s `node`; emit and return the results.

        With `end`, a scan still pending after the events ends as an idle-gap scan would.
        """
        cfg = self._configs.get(device) or ScannerConfig(name=device)
        dec = self._injected.get((device, node))
        if dec is None:
            dec = self._injected[(device, node)] = Decoder(cfg, device=device, node=node)
        out: list[ScannerEvent] = []
        for ev in events:
            out += dec.feed(ev)
        if end:
            out += dec.expire()
        for ev in out:
            self._emit(ev)
        return out
