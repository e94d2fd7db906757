"""The serial side: one thread owns the port, polls the scale, parses replies and reports them.

Blocking pyserial calls run only in this thread, never on the asyncio loop. The thread reports
through a sink callable (the async layer passes one that hops onto its loop with
`call_soon_threadsafe`). Unplug: pyserial raises SerialException on read ("device reports
readiness to read but returned no data") or write (EIO), as seen with pyserial 3.5 on a pty; the
thread closes the port, reports it, and reopens with exponential backoff, waiting on an Event so
it neither busy-loops nor delays stop().
"""

from __future__ import annotations

import enum
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import serial

from drivers.scale.protocols import ImplicitUnit, Parser, ProtocolSpec
from drivers.scale.reading import Event, Noise

LOG = logging.getLogger(__name__)

READ_SLICE_S = 0.02  # longest a read blocks: bounds command latency and stop() time


@dataclass(frozen=True, slots=True)
class PortSettings:
    """Everything the port thread needs (built from ScaleConfig by `settings_from_config`)."""

    port: str
    protocol: ProtocolSpec
    baud: int
    bytesize: Literal[7, 8]
    parity: Literal["N", "E", "O"]
    stopbits: Literal[1, 2]
    mode: Literal["poll", "stream"] = "poll"
    poll_interval_ms: int = 100
    timeout_ms: int = 2000
    implicit_unit: ImplicitUnit = "auto"
    backoff_ms: int = 250
    backoff_max_ms: int = 5000


class DeviceState(enum.Enum):
    """Where the scale connection stands."""

    CONNECTED = "connected"
    UNPLUGGED = "unplugged"  # lost, or never opened: the reason is in the event's detail
    REOPENING = "reopening"  # retrying with backoff (reported once per outage)
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """A change of connection state, for the technician's indicator and the journal."""

    state: DeviceState
    port: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Received:
    """A parsed event and when (time.monotonic seconds) its last byte arrived."""

    at: float
    event: Event


@dataclass(frozen=True, slots=True)
class Silence:
    """No reply within timeout_ms (poll) or no frame for timeout_ms (stream)."""

    at: float
    detail: str


WorkerMessage = Received | Silence | DeviceEvent
Sink = Callable[[WorkerMessage], None]


class PortWorker:
    """Owns the serial port in a daemon thread. `start()`, `send(bytes)`, `stop()`."""

    def __init__(self, settings: PortSettings, sink: Sink) -> None:
        self.settings = settings
        self._sink = sink
        self._stop = threading.Event()
        self._commands: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"scale {settings.port}")
        self._thread.daemon = True
        self._state: DeviceState | None = None

    def start(self) -> None:
        """Start the thread (it opens the port itself)."""
        self._thread.start()

    def send(self, command: bytes) -> None:
        """Queue a command (zero, tare...) for the thread to write between polls."""
        self._commands.put(command)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop polling, close the port and wait for the thread (blocking; bounded)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _report(self, state: DeviceState, detail: str = "") -> None:
        if state is self._state:
            return
        self._state = state
        quiet = state in (DeviceState.CONNECTED, DeviceState.STOPPED)
        log = LOG.info if quiet else LOG.warning
        log("scale %s", state.value, extra={"port": self.settings.port, "detail": detail})
        self._sink(DeviceEvent(state, self.settings.port, detail))

    def _run(self) -> None:
        backoff = self.settings.backoff_ms / 1000
        while not self._stop.is_set():
            try:
                port = self._open()
            except (serial.SerialException, OSError, ValueError) as exc:
                reason = f"cannot open {self.settings.port}: {exc}"
                if self._state is None or self._state is DeviceState.CONNECTED:
                    self._report(DeviceState.UNPLUGGED, reason)
                else:
                    limit = self.settings.backoff_max_ms / 1000
                    self._report(
                        DeviceState.REOPENING, f"{reason}; retrying, every {limit:g} s at most"
                    )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.settings.backoff_max_ms / 1000)
                continue
            backoff = self.settings.backoff_ms / 1000
            self._report(DeviceState.CONNECTED)
            try:
                self._serve(port)
            except (serial.SerialException, OSError) as exc:
                self._report(DeviceState.UNPLUGGED, f"{self.settings.port}: {exc}")
                self._stop.wait(backoff)
            except Exception as exc:  # a bug must not leave the station without a scale thread
                LOG.exception("scale thread failed; reopening", extra={"port": self.settings.port})
                self._report(DeviceState.UNPLUGGED, f"internal error: {exc!r}")
                self._stop.wait(backoff)
            finally:
                _close_quietly(port)
        self._report(DeviceState.STOPPED)

    def _open(self) -> serial.Serial:
        s = self.settings
        port = serial.Serial(
            s.port,
            baudrate=s.baud,
            bytesize=s.bytesize,
            parity=s.parity,
            stopbits=s.stopbits,
            timeout=READ_SLICE_S,
            write_timeout=1.0,
            exclusive=True,  # a second program on the same scale would steal replies
        )
        port.reset_input_buffer()  # bytes from before we opened are stale
        return port

    def _serve(self, port: serial.Serial) -> None:
        s = self.settings
        parser: Parser = s.protocol.make_parser(s.implicit_unit)
        timeout = s.timeout_ms / 1000
        interval = s.poll_interval_ms / 1000
        sent_at: float | None = None  # when the unanswered weigh request went out
        next_poll = last_rx = time.monotonic()
        while not self._stop.is_set():
            while not self._commands.empty():
                port.write(self._commands.get_nowait())
            now = time.monotonic()
            if sent_at is not None and now - sent_at >= timeout:
                self._sink(Silence(now, f"no reply within {s.timeout_ms} ms"))
                sent_at = None
            if s.mode == "poll" and sent_at is None and now >= next_poll:
                port.write(s.protocol.weigh_command)
                sent_at, next_poll = now, now + interval
            elif s.mode == "stream" and now - last_rx >= timeout:
                self._sink(Silence(now, f"no frame for {s.timeout_ms} ms"))
                last_rx = now
            data = port.read(port.in_waiting or 1)
            if not data:
                continue
            at = time.monotonic()
            for event in parser.feed(data):
                self._sink(Received(at, event))
                if not isinstance(event, Noise):  # noise (wrong baud?) is not an answer
                    sent_at, last_rx = None, at


def _close_quietly(port: serial.Serial) -> None:
    try:
        port.close()
    except (serial.SerialException, OSError) as exc:  # already gone: nothing left to release
        LOG.debug("closing scale port failed", extra={"error": str(exc)})
