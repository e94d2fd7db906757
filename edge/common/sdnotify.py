"""systemd's notify protocol, inline: one AF_UNIX datagram per message to $NOTIFY_SOCKET.

READY=1 once the journal is open and verified, STATUS= lines, WATCHDOG=1 every half
$WATCHDOG_USEC, STOPPING=1 on shutdown (systemd man pages sd_notify(3), sd_watchdog_enabled(3)).
A leading '@' names a Linux abstract socket. Outside systemd (no $NOTIFY_SOCKET) every call is a no-op.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

LOG = logging.getLogger(__name__)


class Notifier:
    """Sends notify messages; failures are logged once and never raised (systemd is optional)."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = _address(env.get("NOTIFY_SOCKET", ""))
        self.watchdog_interval_s = _watchdog_interval(env)
        self._warned = False
        self._sock: socket.socket | None = None
        if self.address is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            # Never block the loop: a receiver that stops reading fills its queue, and a blocking
            # sendto would then hang the daemon (and starve the watchdog). Drop the message instead.
            self._sock.setblocking(False)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, **fields: str) -> bool:
        """Send `KEY=value` lines in one datagram, e.g. send(READY="1", STATUS="ok")."""
        if self._sock is None or self.address is None:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            self._sock.sendto(message, self.address)
        except OSError as exc:
            if not self._warned:
                LOG.warning("sd_notify failed", extra={"error": str(exc)})
                self._warned = True
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.send(READY="1", STATUS=status)

    def status(self, status: str) -> bool:
        return self.send(STATUS=status.replace("\n", " "))

    def watchdog(self) -> bool:
        return self.send(WATCHDOG="1")

    def stopping(self) -> bool:
        return self.send(STOPPING="1")

    async def watchdog_loop(self) -> None:
        """WATCHDOG=1 every half $WATCHDOG_USEC, forever; returns at once without a watchdog.

        Run it as a task on the service's own event loop: a hung loop stops the pings, and
        systemd kills and restarts the service (WatchdogSec=).
        """
        interval_s = self.watchdog_interval_s
        if not interval_s:
            return
        while True:
            self.watchdog()
            await asyncio.sleep(interval_s)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _address(value: str) -> str | bytes | None:
    if not value:
        return None
    if value.startswith("@"):  # abstract namespace: the name starts with a NUL byte
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None  # vsock and other schemes are not used on a Pi


def _watchdog_interval(env: os._Environ[str] | dict[str, str]) -> float | None:
    """Half of $WATCHDOG_USEC in seconds, when the watchdog is meant for this process."""
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    return int(usec) / 2_000_000
