"""Byte pipes to a printer, every operation bounded by a hard timeout.

Targets: `tcp://HOST:PORT` (raw port 9100), `usb:VID:PID` (pyusb, bulk endpoints), `serial:PATH`
or `serial:PATH@BAUD` (pyserial), `file:PATH` (a device node such as /dev/usb/lp0, or a capture
file). No call blocks longer than its timeout: Odoo PR #247055 hung forever on a USB write with
the cover open, and python-escpos's Network waits 60 s (python-escpos 3.1 `printer/network.py`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import stat
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal, Self

Scheme = Literal["tcp", "usb", "serial", "file"]
CHUNK = 4096


class TransportError(Exception):
    """The printer cannot be reached or stopped taking bytes; the message says which."""


@dataclass(frozen=True)
class Target:
    """A parsed printer target."""

    scheme: Scheme
    host: str = ""
    port: int = 9100
    vid: int = 0
    pid: int = 0
    path: str = ""
    baud: int = 9600

    def __str__(self) -> str:
        if self.scheme == "tcp":
            return f"tcp://{self.host}:{self.port}"
        if self.scheme == "usb":
            return f"usb:{self.vid:04x}:{self.pid:04x}"
        if self.scheme == "serial":
            return f"serial:{self.path}@{self.baud}"
        return f"file:{self.path}"


TARGET_FORMS = "tcp://HOST:PORT, usb:VID:PID (hex), serial:PATH[@BAUD] or file:PATH"


def parse_target(text: str) -> Target:
    """Parse a target string; ValueError says what was expected."""
    bad = ValueError(f"printer target {text!r}: expected {TARGET_FORMS}")
    if text.startswith("tcp://"):
        host, sep, port = text[6:].rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise bad
        return Target("tcp", host=host.strip("[]"), port=int(port))
    if text.startswith("usb:"):
        parts = text[4:].split(":")
        try:
            vid, pid = (int(p, 16) for p in parts)
        except ValueError:
            raise bad from None
        if not (0 <= vid <= 0xFFFF and 0 <= pid <= 0xFFFF):
            raise bad
        return Target("usb", vid=vid, pid=pid)
    if text.startswith("serial:") and len(text) > 7:
        path, _, baud = text[7:].partition("@")
        if baud and not baud.isdigit():
            raise bad
        return Target("serial", path=path, baud=int(baud or 9600))
    if text.startswith("file:") and len(text) > 5:
        return Target("file", path=text[5:])
    raise bad


class Transport(ABC):
    """One open connection to a printer."""

    target: Target
    can_read: bool = True

    @abstractmethod
    def write(self, data: bytes, timeout: float) -> None:
        """Send all of `data` within `timeout` seconds or raise TransportError."""

    @abstractmethod
    def read(self, max_bytes: int, timeout: float) -> bytes:
        """Up to `max_bytes` that arrive within `timeout` seconds; b"" if none did."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection; never raises."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TcpTransport(Transport):
    """Raw TCP (JetDirect port 9100)."""

    def __init__(self, target: Target, timeout: float) -> None:
        self.target = target
        try:
            self._sock = socket.create_connection((target.host, target.port), timeout=timeout)
        except OSError as exc:
            raise TransportError(f"{target}: cannot connect: {_reason(exc)}") from exc
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def write(self, data: bytes, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        view = memoryview(data)
        try:
            while view:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TransportError(f"{self.target}: write timed out after {timeout:g} s")
                self._sock.settimeout(left)
                sent = self._sock.send(view[:CHUNK])
                view = view[sent:]
        except TimeoutError as exc:
            raise TransportError(f"{self.target}: write timed out after {timeout:g} s") from exc
        except OSError as exc:
            raise TransportError(f"{self.target}: write failed: {_reason(exc)}") from exc

    def read(self, max_bytes: int, timeout: float) -> bytes:
        try:
            ready, _, _ = select.select([self._sock], [], [], max(timeout, 0))
            if not ready:
                return b""
            data = self._sock.recv(max_bytes)
        except OSError as exc:
            raise TransportError(f"{self.target}: read failed: {_reason(exc)}") from exc
        if not data:
            raise TransportError(f"{self.target}: the printer closed the connection")
        return data

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()


class FileTransport(Transport):
    """A device node (usblp, a parallel port...) or a capture file, in non-blocking mode."""

    def __init__(self, target: Target, timeout: float) -> None:
        self.target = target
        flags = os.O_NONBLOCK | os.O_NOCTTY
        try:
            info = os.stat(target.path)
        except OSError as exc:
            raise TransportError(f"{target}: {_reason(exc)}") from exc
        self.can_read = stat.S_ISCHR(info.st_mode)  # only a device answers status
        try:
            self._fd = os.open(
                target.path, flags | (os.O_RDWR if self.can_read else os.O_APPEND | os.O_WRONLY)
            )
        except OSError as exc:
            if not self.can_read:
                raise TransportError(f"{target}: cannot open: {_reason(exc)}") from exc
            try:  # write-only device (no back channel): status stays unknown
                self._fd = os.open(target.path, flags | os.O_WRONLY)
                self.can_read = False
            except OSError as exc2:
                raise TransportError(f"{target}: cannot open: {_reason(exc2)}") from exc2

    def write(self, data: bytes, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        view = memoryview(data)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TransportError(f"{self.target}: write timed out after {timeout:g} s")
            try:
                view = view[os.write(self._fd, view[:CHUNK]) :]
            except BlockingIOError:
                select.select([], [self._fd], [], min(left, 0.05))
            except OSError as exc:
                raise TransportError(f"{self.target}: write failed: {_reason(exc)}") from exc

    def read(self, max_bytes: int, timeout: float) -> bytes:
        if not self.can_read:
            return b""
        ready, _, _ = select.select([self._fd], [], [], max(timeout, 0))
        if not ready:
            return b""
        try:
            return os.read(self._fd, max_bytes)
        except BlockingIOError:
            return b""
        except OSError as exc:
            raise TransportError(f"{self.target}: read failed: {_reason(exc)}") from exc

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


class SerialTransport(Transport):
    """An RS-232 or USB-serial printer (pyserial, with read and write timeouts)."""

    def __init__(self, target: Target, timeout: float) -> None:
        import serial

        self.target = target
        try:
            self._port: Any = serial.Serial(
                target.path, target.baud, timeout=0, write_timeout=timeout, exclusive=True
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise TransportError(f"{target}: cannot open: {exc}") from exc

    def write(self, data: bytes, timeout: float) -> None:
        import serial

        self._port.write_timeout = timeout
        try:
            self._port.write(data)
            self._port.flush()
        except serial.SerialTimeoutException as exc:
            raise TransportError(f"{self.target}: write timed out after {timeout:g} s") from exc
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"{self.target}: write failed: {exc}") from exc

    def read(self, max_bytes: int, timeout: float) -> bytes:
        import serial

        self._port.timeout = max(timeout, 0)
        try:  # pyserial's read(n) waits for all n bytes: take the first, then what is there
            first = bytes(self._port.read(1))
            waiting = min(int(self._port.in_waiting), max_bytes - 1) if first else 0
            if waiting <= 0:
                return first
            self._port.timeout = 0
            return first + bytes(self._port.read(waiting))
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"{self.target}: read failed: {exc}") from exc

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing must never raise
            self._port.close()


class UsbTransport(Transport):
    """A USB printer class device through pyusb bulk endpoints (usblp is detached)."""

    def __init__(self, target: Target, timeout: float) -> None:
        self.target = target
        self._ms = max(1, int(timeout * 1000))
        try:
            import usb.core
            import usb.util
        except ImportError as exc:
            raise TransportError(f"{target}: pyusb is not installed") from exc
        try:
            dev: Any = usb.core.find(idVendor=target.vid, idProduct=target.pid)
            if dev is None:
                raise TransportError(f"{target}: no such USB device (unplugged or powered off?)")
            if dev.is_kernel_driver_active(0):
                dev.detach_kernel_driver(0)  # usblp would hold it (python-escpos #259, #373)
            try:
                cfg = dev.get_active_configuration()
            except usb.core.USBError:  # not configured yet
                dev.set_configuration()
                cfg = dev.get_active_configuration()
            intf = cfg[(0, 0)]
            self._out = _endpoint(intf, usb.util.ENDPOINT_OUT)
            self._in = _endpoint(intf, usb.util.ENDPOINT_IN)
        except TransportError:
            raise
        except Exception as exc:
            raise TransportError(f"{target}: cannot open: {exc}") from exc
        if self._out is None:
            raise TransportError(f"{target}: no bulk OUT endpoint")
        self.can_read = self._in is not None
        self._dev = dev

    def write(self, data: bytes, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for start in range(0, len(data), CHUNK):
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                raise TransportError(f"{self.target}: write timed out after {timeout:g} s")
            try:
                self._out.write(data[start : start + CHUNK], timeout=left_ms)
            except Exception as exc:
                raise TransportError(f"{self.target}: write failed: {exc}") from exc

    def read(self, max_bytes: int, timeout: float) -> bytes:
        if self._in is None:
            return b""
        try:
            return bytes(self._in.read(max(max_bytes, 64), timeout=max(1, int(timeout * 1000))))
        except Exception as exc:
            if "timeout" in str(exc).lower() or getattr(exc, "errno", None) == errno.ETIMEDOUT:
                return b""
            raise TransportError(f"{self.target}: read failed: {exc}") from exc

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing must never raise
            import usb.util

            usb.util.dispose_resources(self._dev)


def _endpoint(intf: Any, direction: int) -> Any:
    import usb.util

    return usb.util.find_descriptor(
        intf,
        custom_match=lambda e: (
            usb.util.endpoint_direction(e.bEndpointAddress) == direction
            and usb.util.endpoint_type(e.bmAttributes) == usb.util.ENDPOINT_TYPE_BULK
        ),
    )


def _reason(exc: OSError) -> str:
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timed out"
    return exc.strerror or str(exc)


def open_transport(target: Target, timeout: float) -> Transport:
    """Open `target`, waiting at most `timeout` seconds; TransportError when it cannot."""
    if target.scheme == "tcp":
        return TcpTransport(target, timeout)
    if target.scheme == "file":
        return FileTransport(target, timeout)
    if target.scheme == "serial":
        return SerialTransport(target, timeout)
    return UsbTransport(target, timeout)
