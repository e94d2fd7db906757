"""Scale emulators: MT-SICS, Toledo 8217, Ohaus and ST/US scales on the master side of a pty.

Product code, not test code: the simulated pack day and the scenario tests drive the real scale
driver against these over a real pty (`os.openpty`) opened by pyserial.

    with SimScale("mt-sics") as sim:         # starts the pty and the emulator thread
        settings.port = sim.port             # a stable symlink, like /dev/serial/by-id/...
        sim.place(3_500, motion_s=0.3)       # package on: 0.3 s of motion, then stable 3.50 g
        sim.unplug(); sim.replug()           # master closed (read/write fail), then a new pty

`sim.port` is a symlink that always points at the current slave (`sim.slave_path`, /dev/pts/N):
like udev's by-id link it disappears on unplug and comes back on replug, so a driver configured
with it reopens the same path. Faults: `set_motion`, `set_overload`, `set_underload`,
`set_error_reply(raw)` (answer every request with those bytes), `inject_noise(bytes)` (sent just
before the next frame), `set_stalled(True)` (read requests, answer nothing), `set_split(True)`
(write frames one byte at a time). `commands` lists every command received.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import tempfile
import threading
import time
import tty
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Self

from drivers.scale.units import MG_PER_UNIT

PROTOCOL_NAMES = ("mt-sics", "toledo-8217", "ohaus", "st-us")
_DEFAULT_DECIMALS = {"g": 2, "kg": 3, "lb": 2, "oz": 3, "mg": 0}


class SimScale:
    """One emulated scale. Thread-safe setters; all I/O happens in its own thread."""

    def __init__(
        self,
        protocol: str,
        *,
        link: str | Path | None = None,
        weight_mg: int = 0,
        unit: str = "g",
        decimals: int | None = None,
        stream_interval_ms: int | None = None,
        repeat_as_status: bool = False,
    ) -> None:
        """`protocol`: one of PROTOCOL_NAMES. `link`: where the stable symlink goes (default: a
        fresh temporary directory). `unit`/`decimals`: what the display shows (8217: "lb" with
        2 or "kg" with 3 decimals). `stream_interval_ms`: send a frame this often unasked (ST/US
        continuous output). `repeat_as_status`: 8217 scales that send a weight once and then
        only a status byte until it changes."""
        if protocol not in PROTOCOL_NAMES:
            raise ValueError(f"unknown protocol {protocol!r}; one of {', '.join(PROTOCOL_NAMES)}")
        self.protocol = protocol
        self.unit = unit
        self.decimals = _DEFAULT_DECIMALS[unit] if decimals is None else decimals
        self._own_dir = None if link else Path(tempfile.mkdtemp(prefix="sim-scale-"))
        name = f"usb-Packstation_SimScale_{protocol}-if00-port0"
        self._link = Path(link) if link else (self._own_dir or Path()) / name
        self._stream_s = stream_interval_ms / 1000 if stream_interval_ms else None
        self._repeat_as_status = repeat_as_status
        self._lock = threading.Lock()
        self._gross_mg = weight_mg
        self._zero_mg = 0
        self._tare_mg = 0
        self._motion = False
        self._motion_until = 0.0
        self._overload = False
        self._underload = False
        self._error: bytes | None = None
        self._noise = b""
        self._stalled = False
        self._split_gap: float | None = None
        self._last_sent_weight: int | None = None
        self.commands: list[bytes] = []
        self._master: int | None = None
        self._slave: int | None = None
        self._slave_path = ""
        self._inbuf = b""
        self._unplug_done: threading.Event | None = None
        self._wake_r, self._wake_w = os.pipe()
        self._running = False
        self._thread = threading.Thread(target=self._run, name=f"sim scale {protocol}")
        self._thread.daemon = True

    # ---- life cycle ----------------------------------------------------------------------

    @property
    def port(self) -> str:
        """The stable path to give the driver (a symlink to the current pty slave)."""
        return str(self._link)

    @property
    def slave_path(self) -> str:
        """The current pty slave (/dev/pts/N); "" while unplugged."""
        return self._slave_path

    def start(self) -> Self:
        """Create the pty ("plug in") and start answering."""
        self._plug()
        self._running = True
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread, close the pty and remove the link."""
        self._running = False
        os.write(self._wake_w, b"x")
        if self._thread.is_alive():
            self._thread.join(2.0)
        self.unplug()
        os.close(self._wake_r)
        os.close(self._wake_w)
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def unplug(self) -> None:
        """Pull the cable: close the master (the driver's reads and writes fail), remove the link."""
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            done = threading.Event()  # the emulator thread closes its own fds: no stale-fd race
            with self._lock:
                self._unplug_done = done
            os.write(self._wake_w, b"x")
            done.wait(2.0)
        else:
            self._close_pty()

    def _close_pty(self) -> None:
        with self._lock:
            for fd in (self._master, self._slave):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._master = self._slave = None
            self._slave_path = ""
            self._inbuf = b""
            with contextlib.suppress(FileNotFoundError):
                self._link.unlink()

    def replug(self) -> None:
        """Plug back in: a new pty pair, the link pointed at its slave."""
        if self._master is not None:
            self.unplug()
        self._plug()
        os.write(self._wake_w, b"x")

    def _plug(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo or line editing before the driver sets its own mode
        os.set_blocking(master, False)
        path = os.ttyname(slave)
        tmp = self._link.with_name(self._link.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(path)
        os.replace(tmp, self._link)
        with self._lock:
            self._master, self._slave, self._slave_path = master, slave, path

    # ---- what the scale shows ------------------------------------------------------------

    def set_weight_mg(self, mg: int) -> None:
        """Gross weight on the pan, in mg."""
        with self._lock:
            self._gross_mg = mg

    def place(self, mg: int, motion_s: float = 0.0) -> None:
        """Put `mg` on the pan: in motion for `motion_s` seconds, then stable."""
        with self._lock:
            self._gross_mg = mg
            self._motion_until = time.monotonic() + motion_s

    def set_motion(self, on: bool) -> None:
        """Hold the scale in motion (until set_motion(False))."""
        with self._lock:
            self._motion = on

    def set_overload(self, on: bool) -> None:
        """Over capacity (Ohaus: the emulator then answers nothing, like no weight at all)."""
        with self._lock:
            self._overload = on

    def set_underload(self, on: bool) -> None:
        """Under zero / below the minimum."""
        with self._lock:
            self._underload = on

    def set_error_reply(self, raw: bytes | None) -> None:
        """Answer every weight request with `raw` (e.g. b"ES\\r\\n"); None to stop."""
        with self._lock:
            self._error = raw

    def inject_noise(self, data: bytes) -> None:
        """Send `data` just before the next frame (glued to it, no terminator between)."""
        with self._lock:
            self._noise += data

    def set_stalled(self, on: bool) -> None:
        """Keep reading requests but answer nothing (a hung scale)."""
        with self._lock:
            self._stalled = on

    def set_split(self, on: bool, gap_s: float = 0.001) -> None:
        """Write every frame one byte at a time, `gap_s` apart."""
        with self._lock:
            self._split_gap = gap_s if on else None

    @property
    def net_mg(self) -> int:
        """What the display shows: gross minus zero offset minus tare."""
        with self._lock:
            return self._gross_mg - self._zero_mg - self._tare_mg

    # ---- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        next_stream = time.monotonic()
        while self._running:
            with self._lock:
                unplug, self._unplug_done = self._unplug_done, None
            if unplug is not None:
                self._close_pty()
                unplug.set()
            master = self._master
            wait = 0.05 if self._stream_s is None else max(0.0, next_stream - time.monotonic())
            fds = [self._wake_r] if master is None else [self._wake_r, master]
            try:
                readable, _, _ = select.select(fds, [], [], wait)
            except (OSError, ValueError):  # unplug() closed the master under us: look again
                continue
            if self._wake_r in readable:
                os.read(self._wake_r, 64)
            if master is not None and master in readable:
                self._receive(master)
            if self._stream_s is not None and time.monotonic() >= next_stream:
                next_stream = time.monotonic() + self._stream_s
                self._send_frame()

    def _receive(self, master: int) -> None:
        try:
            data = os.read(master, 256)
        except (BlockingIOError, OSError):
            return  # unplugged meanwhile, or nothing after all
        if self.protocol == "toledo-8217":  # single-letter commands, no terminator
            for byte in data:
                self._command(bytes([byte]))
            return
        self._inbuf += data
        while True:
            cut = min(
                (i for i in (self._inbuf.find(b"\r"), self._inbuf.find(b"\n")) if i >= 0),
                default=-1,
            )
            if cut < 0:
                break
            line, self._inbuf = self._inbuf[:cut], self._inbuf[cut + 1 :]
            if line:
                self._command(line)

    def _command(self, command: bytes) -> None:
        with self._lock:
            self.commands.append(command)
            stalled = self._stalled
        if stalled:
            return
        reply = _HANDLERS[self.protocol](self, command.decode("latin-1").strip())
        if reply is not None:
            self._write(reply)

    def _send_frame(self) -> None:
        with self._lock:
            stalled = self._stalled
        if not stalled:
            self._write(self.weight_frame())

    def _write(self, frame: bytes) -> None:
        with self._lock:
            master, gap = self._master, self._split_gap
            data, self._noise = self._noise + frame, b""
        if master is None:
            return
        pieces = [data] if gap is None else [bytes([b]) for b in data]
        for piece in pieces:
            with contextlib.suppress(OSError):  # unplugged meanwhile, or nobody reading
                os.write(master, piece)
            if gap is not None:
                time.sleep(gap)

    # ---- frames ------------------------------------------------------------------------------

    def _moving(self) -> bool:
        return self._motion or time.monotonic() < self._motion_until

    def _value(self, mg: int) -> str:
        scaled = round(Fraction(mg) / MG_PER_UNIT[self.unit] * 10**self.decimals)
        sign = "-" if scaled < 0 else ""
        whole, frac = divmod(abs(scaled), 10**self.decimals)
        return f"{sign}{whole}.{frac:0{self.decimals}d}" if self.decimals else f"{sign}{whole}"

    def weight_frame(self) -> bytes:
        """The protocol's reply to a weight request in the current state."""
        with self._lock:
            if self._error is not None:
                return self._error
            return _FRAMES[self.protocol](self)

    def _zero(self) -> None:
        with self._lock:
            self._zero_mg, self._tare_mg = self._gross_mg, 0

    def _tare(self) -> int:
        with self._lock:
            self._tare_mg = self._gross_mg - self._zero_mg
            return self._tare_mg

    def _clear_tare(self) -> None:
        with self._lock:
            self._tare_mg = 0


# ---- per-protocol frames (called with the lock held) -------------------------------------------


def _mt_sics_frame(sim: SimScale) -> bytes:
    if sim._overload:
        return b"S +\r\n"
    if sim._underload:
        return b"S -\r\n"
    flag = "D" if sim._moving() else "S"
    value = sim._value(sim._gross_mg - sim._zero_mg - sim._tare_mg)
    return f"S {flag} {value:>10} {sim.unit}\r\n".encode()


def _toledo_frame(sim: SimScale) -> bytes:
    net = sim._gross_mg - sim._zero_mg - sim._tare_mg
    status: int | None = None
    if sim._overload:
        status = 0x02
    elif sim._underload or net < 0:
        status = 0x04
    elif sim._moving():
        status = 0x01
    elif net == 0:
        status = 0x10  # centre of zero
    elif sim._repeat_as_status and sim._last_sent_weight == net:
        status = 0x00  # "weight unchanged since last sent"
    if status is not None:
        return b"\x02?" + bytes([0x60 | status]) + b"\r"
    sim._last_sent_weight = net
    suffix = "N" if sim._tare_mg else ""
    return f"\x02{sim._value(net):>6}{suffix}\r".encode()


def _ohaus_frame(sim: SimScale) -> bytes:
    if sim._overload or sim._underload:
        return b""
    value = sim._value(sim._gross_mg - sim._zero_mg - sim._tare_mg)
    flag = "?" if sim._moving() else " "
    legend = "NET" if sim._tare_mg else ""
    return f"{value:>10} {sim.unit:<5}{flag} {legend}\r\n".encode()


def _st_us_frame(sim: SimScale) -> bytes:
    if sim._overload:
        return b"OL,GS,+99999999\r\n"
    if sim._underload:
        return b"UL,GS,-99999999\r\n"
    head = "US" if sim._moving() else "ST"
    mode = "NT" if sim._tare_mg else "GS"
    net = sim._gross_mg - sim._zero_mg - sim._tare_mg
    sign = "-" if net < 0 else "+"
    return f"{head},{mode},{sign}{sim._value(abs(net)):>8}{sim.unit}\r\n".encode()


_FRAMES = {
    "mt-sics": _mt_sics_frame,
    "toledo-8217": _toledo_frame,
    "ohaus": _ohaus_frame,
    "st-us": _st_us_frame,
}


# ---- per-protocol commands -----------------------------------------------------------------------


def _mt_sics_command(sim: SimScale, cmd: str) -> bytes | None:
    if cmd in ("S", "SI", "SIR"):
        return sim.weight_frame()
    if cmd in ("Z", "ZI"):
        if sim._moving():
            return b"Z I\r\n"
        sim._zero()
        return b"Z A\r\n"
    if cmd in ("T", "TI"):
        tare = sim._tare()
        return f"T S {sim._value(tare):>10} {sim.unit}\r\n".encode()
    if cmd == "TAC":
        sim._clear_tare()
        return b"TAC A\r\n"
    if cmd in ("@", "I4"):
        return b'I4 A "SIM0000001"\r\n'
    return b"ES\r\n"


def _toledo_command(sim: SimScale, cmd: str) -> bytes | None:
    actions = {"Z": sim._zero, "T": sim._tare, "C": sim._clear_tare}
    if cmd == "W":
        return sim.weight_frame()
    action = actions.get(cmd)
    if action is not None:
        action()
    return None


def _ohaus_command(sim: SimScale, cmd: str) -> bytes | None:
    if cmd in ("IP", "P", "SP"):
        frame = sim.weight_frame()
        return frame or None
    if cmd == "Z":
        sim._zero()
        return None
    if cmd == "T":
        sim._tare()
        return None
    return b"ES\r\n"


def _st_us_command(sim: SimScale, cmd: str) -> bytes | None:
    if cmd == "READ":
        return sim.weight_frame()
    if cmd == "ZERO":
        sim._zero()
        return b"OK\r\n"
    if cmd == "TARE":
        sim._tare()
        return b"OK\r\n"
    return b"ERR\r\n"


_HANDLERS = {
    "mt-sics": _mt_sics_command,
    "toledo-8217": _toledo_command,
    "ohaus": _ohaus_command,
    "st-us": _st_us_command,
}
