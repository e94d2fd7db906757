"""The processes and sockets of a simulated pack day: central, the station daemon, the inject client.

Each service runs as its own `python -m edge ...` process, exactly as systemd would start it, with the
configuration files the simulator wrote; their logs go to files under the run directory.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from edge.common.errors import PackstationError


class SimError(PackstationError):
    """The simulated day could not run (a service did not start, a reply never came...)."""


def _ephemeral_low() -> int:
    """The first port of the kernel's range for outgoing connections."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_PORTS_FROM = 10_000
_next_port = itertools.count(random.randrange(_PORTS_FROM, 2 * _PORTS_FROM))


def free_port() -> int:
    """A loopback port free right now (the service binds it a moment later), below the kernel's
    ephemeral range and not handed out before in this process. A port the kernel hands out on
    bind-to-0 can be taken by any outgoing connection before the service binds it (a simulated
    central's dashboard died on "address already in use" that way)."""
    ceiling = _ephemeral_low()
    for _ in range(max(0, ceiling - _PORTS_FROM)):
        port = _PORTS_FROM + next(_next_port) % (ceiling - _PORTS_FROM)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # no room below the range
        s.bind(("127.0.0.1", 0))
        bound: int = s.getsockname()[1]
        return bound


def cli(*args: str, cwd: Path | None = None, timeout: float = 60) -> str:
    """Run one `packstation` command to completion; SimError with its stderr when it fails."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "edge", *args],
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise SimError(f"packstation {' '.join(args[:3])}: no answer in {timeout:g} s") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise SimError(
            f"packstation {' '.join(args[:3])}: exit {proc.returncode}: {' | '.join(tail)}"
        )
    return proc.stdout


class Service:
    """One long-running packstation process (central or station) with its log file."""

    def __init__(self, name: str, args: list[str], log: Path) -> None:
        self.name = name
        self.args = args
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._log_file: IO[bytes] | None = None

    def start(self) -> None:
        self._log_file = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edge", "--log-format", "logfmt", *self.args],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.starts += 1

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise SimError(f"{self.name} exited with {self.proc.returncode}; see {self.log}")

    def stop(self, *, kill: bool = False, timeout: float = 10) -> int | None:
        """SIGTERM (or SIGKILL: a crash) and wait; the exit code, None if it was not running."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return proc.returncode


def wait_for(what: str, probe: Any, timeout: float, interval: float = 0.02) -> Any:
    """Poll `probe()` until it returns something truthy; SimError naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SimError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def tcp_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class InjectClient:
    """Line client of the station's inject socket: one command, one JSON reply after commit."""

    def __init__(self, path: Path, timeout: float = 30) -> None:
        self.path = path
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buf = b""

    def connect(self, wait: float = 20, service: Service | None = None) -> None:
        def attempt() -> bool:
            if service is not None:
                service.check_alive()
            if not self.path.exists():
                return False
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(self.path))
            except OSError:
                sock.close()
                return False
            sock.settimeout(self.timeout)
            self._sock, self._buf = sock, b""
            return True

        wait_for(f"the station's inject socket {self.path}", attempt, wait, 0.05)

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None

    def send(self, command: str) -> dict[str, Any]:
        """Send one command; its reply (SimError when the reply says ok=false or never comes)."""
        if self._sock is None:
            raise SimError("inject channel not connected")
        try:
            self._sock.sendall(command.encode() + b"\n")
            while b"\n" not in self._buf:
                chunk = self._sock.recv(65536)
                if not chunk:
                    raise SimError(f"station closed the inject channel during {command!r}")
                self._buf += chunk
        except TimeoutError as exc:
            raise SimError(
                f"no reply from the station to {command!r} in {self.timeout:g} s"
            ) from exc
        except OSError as exc:
            raise SimError(f"inject channel: {exc}") from exc
        line, _, self._buf = self._buf.partition(b"\n")
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            raise SimError(f"station refused {command!r}: {reply.get('error')}")
        return reply

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.send("state")["state"]
        return state


def env_without_notify() -> None:
    """The services must not talk to the simulator's own systemd (if it runs under one)."""
    for key in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        os.environ.pop(key, None)
