"""A simulated ESC/POS network printer on loopback: records jobs, answers status, renders PNGs.

The tests and the simulated pack day both use it. It listens on 127.0.0.1 (ephemeral port by
default), decodes what arrives with `drivers.printer.escpos_decode`, answers DLE EOT with the scripted
state and GS ( H process-ID requests once the job printed, and can misbehave on purpose: stay
silent, answer garbage, refuse connections, or reset the connection in the middle of a job.
Print data that arrives while the cover is open or the paper is out is held, like a real
printer's buffer: it prints when the state recovers, unless a DLE DC4 "clear buffers" drops it.
"""

from __future__ import annotations

import contextlib
import logging
import re
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Self

from drivers.printer.escpos_decode import (
    BufferClear,
    DecodedJob,
    Decoder,
    ProcessIdRequest,
    StatusQuery,
    decode,
)
from drivers.printer.escpos_encode import process_id_response

LOG = logging.getLogger(__name__)

Paper = Literal["ok", "near_end", "end"]
Answer = Literal["normal", "silent", "garbage"]


@dataclass
class SimJob:
    """A job the simulated printer printed (or dropped)."""

    data: bytes
    decoded: DecodedJob
    png: Path | None = None


@dataclass
class _Conn:
    sock: socket.socket
    decoder: Decoder = field(default_factory=Decoder)
    data: bytearray = field(default_factory=bytearray)  # all bytes, realtime included
    held: bool = False  # print data arrived while blocked


class SimPrinter:
    """See the module docstring. Use as a context manager or call start()/stop()."""

    def __init__(
        self, *, render_dir: Path | None = None, width_mm: int = 80, port: int = 0
    ) -> None:
        self.render_dir = render_dir
        self.width_mm = width_mm
        self.cover_open = False
        self.paper: Paper = "ok"
        self.error = False
        self.answer: Answer = "normal"
        self.reset_after: int | None = None  # bytes of print data before a mid-job reset
        self.jobs: list[SimJob] = []
        self.dropped: list[bytes] = []  # partial or cleared jobs that never printed
        self.connections = 0
        self.status_queries: list[int] = []
        self.beeps: list[tuple[int, int]] = []  # ESC B n t received (the printer's buzzer)
        self._held: list[bytes] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._want_closed = threading.Event()
        self._listener: socket.socket | None = None
        self._port = port
        self._thread: threading.Thread | None = None

    # -- control ----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._port

    @property
    def target(self) -> str:
        return f"tcp://127.0.0.1:{self._port}"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._listen()
        self._thread = threading.Thread(target=self._serve, name="sim-printer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._close_listener()

    def refuse(self, on: bool = True) -> None:
        """Close the port (connections are refused) or open it again on the same number."""
        if on:  # the server thread closes it, so no select() still holds the socket open
            self._want_closed.set()
            deadline = time.monotonic() + 2
            while self._listener is not None and time.monotonic() < deadline:
                time.sleep(0.005)
        else:
            with self._lock:
                self._want_closed.clear()
                if self._listener is None:
                    self._listen()

    def set_state(
        self,
        *,
        cover_open: bool | None = None,
        paper: Paper | None = None,
        error: bool | None = None,
    ) -> None:
        """Change the printer's state; held print data prints once it is ready again."""
        with self._lock:
            if cover_open is not None:
                self.cover_open = cover_open
            if paper is not None:
                self.paper = paper
            if error is not None:
                self.error = error
            if self._ready():
                for data in self._held:
                    self._print(data)
                self._held.clear()

    def wait_for_jobs(self, count: int, timeout: float = 10.0) -> list[SimJob]:
        """Wait until `count` jobs printed; return them (AssertionError on timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.jobs) >= count:
                    return list(self.jobs)
            time.sleep(0.01)
        raise AssertionError(f"simulated printer: {len(self.jobs)} jobs, expected {count}")

    # -- state ------------------------------------------------------------------------------
    def _ready(self) -> bool:
        return not (self.cover_open or self.paper == "end" or self.error)

    def status_byte(self, n: int) -> int:
        """The DLE EOT n answer for the current state (fixed bits 0xx1xx10)."""
        value = 0x12
        if n == 1 and not self._ready():
            value |= 0x08
        elif n == 2:
            value |= (0x04 if self.cover_open else 0) | (0x20 if self.paper == "end" else 0)
            value |= 0x40 if self.error else 0
        elif n == 4:
            value |= {"ok": 0, "near_end": 0x0C, "end": 0x6C}[self.paper]
        return value

    # -- server -----------------------------------------------------------------------------
    def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        sock.listen(64)
        self._port = sock.getsockname()[1]
        self._listener = sock

    def _close_listener(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _serve(self) -> None:
        conns: dict[socket.socket, _Conn] = {}
        while not self._stop.is_set():
            if self._want_closed.is_set():
                self._close_listener()
            listener = self._listener
            watch = [*conns] + ([listener] if listener is not None else [])
            try:
                ready, _, _ = select.select(watch, [], [], 0.05)
            except (OSError, ValueError):  # the listener closed under us (refuse)
                continue
            for sock in ready:
                if sock is listener:
                    self._accept(listener, conns)
                else:
                    self._receive(conns, conns[sock])
        for conn in list(conns.values()):
            self._finish(conns, conn)

    def _accept(self, listener: socket.socket, conns: dict[socket.socket, _Conn]) -> None:
        try:
            sock, _ = listener.accept()
        except OSError:
            return
        self.connections += 1
        conns[sock] = _Conn(sock)

    def _receive(self, conns: dict[socket.socket, _Conn], conn: _Conn) -> None:
        try:
            chunk = conn.sock.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            self._finish(conns, conn)
            return
        conn.data += chunk
        with self._lock:
            for request in conn.decoder.feed(chunk):
                self._answer(conn, request)
            if not self._ready() and _has_print_data(chunk):
                conn.held = True
        if self.reset_after is not None and len(conn.data) >= self.reset_after:
            self.reset_after = None
            self.dropped.append(bytes(conn.data))
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.sock.close()  # RST: the host sees "connection reset by peer"
            del conns[conn.sock]

    def _answer(self, conn: _Conn, request: object) -> None:
        reply = b""
        if isinstance(request, StatusQuery):
            self.status_queries.append(request.n)
            if self.answer == "normal":
                reply = bytes([self.status_byte(request.n)])
            elif self.answer == "garbage":
                reply = b"\x00\xff"
        elif isinstance(request, ProcessIdRequest) and self._ready() and not conn.held:
            reply = process_id_response(request.pid)
        elif isinstance(request, BufferClear):
            if self._held:
                self.dropped.extend(self._held)
            self._held.clear()
            if conn.held:
                self.dropped.append(bytes(conn.data))
                conn.data.clear()
                conn.held = False
        if reply:
            with contextlib.suppress(OSError):
                conn.sock.sendall(reply)

    def _finish(self, conns: dict[socket.socket, _Conn], conn: _Conn) -> None:
        conns.pop(conn.sock, None)
        with contextlib.suppress(OSError):
            conn.sock.close()
        data = bytes(conn.data)
        if not _has_print_data(data):
            return
        with self._lock:
            if conn.held:
                self._held.append(data)
            else:
                self._print(data)

    def _print(self, data: bytes) -> None:
        decoded = decode(data)
        self.beeps.extend(decoded.beeps)
        if not decoded.blocks and not decoded.cuts:
            return  # status polls and beeps only
        job = SimJob(data, decoded)
        if self.render_dir is not None:
            job.png = self._render(job, len(self.jobs) + 1)
        self.jobs.append(job)

    def _render(self, job: SimJob, number: int) -> Path | None:
        from drivers.printer.render_png import render

        assert self.render_dir is not None
        self.render_dir.mkdir(parents=True, exist_ok=True)
        first = next((line for line in job.decoded.lines if line.strip()), "job")
        slug = re.sub(r"[^A-Za-z0-9]+", "-", first).strip("-").lower()[:40] or "job"
        path = self.render_dir / f"{number:04d}-{slug}.png"
        try:
            render(job.decoded.blocks, self.width_mm).save(path)
        except OSError as exc:
            LOG.warning("simulated printer: cannot write %s: %s", path, exc)
            return None
        return path


_REALTIME = re.compile(rb"\x10\x04[\x01-\x04]|\x10\x14\x08.{7}|\x1d\(H\x06\x00.{6}", re.DOTALL)


def _has_print_data(data: bytes) -> bool:
    """True if `data` holds anything besides real-time requests."""
    return bool(_REALTIME.sub(b"", data))
