"""Pre-authentication budgets and key-bound connections on central's listening ZeroMQ sockets.

libzmq accepts every TCP connection a bound socket is offered and holds it until its ZMTP/CURVE
handshake completes or `ZMQ_HANDSHAKE_IVL` runs out; each costs a file descriptor. It has no cap on
connections per socket (`ZMQ_MAXSOCKETS` counts sockets of a context, not connections), so anyone
who can reach the port could use up the process's descriptors without a key. The guard watches the
socket monitor (`ZMQ_EVENT_ACCEPTED` carries the new connection's descriptor,
`ZMQ_EVENT_DISCONNECTED` its end; zmq_socket_monitor(3)) and the descriptor of every authenticated
message (`ZMQ_SRCFD`, zmq_msg_get(3)):

- a connection counts as unauthenticated until a message arrives on it (only a peer that passed the
  CURVE handshake and ZAP can send one: RFC 26, RFC 27);
- at most `max_pending` unauthenticated connections are held; the oldest is shut down when a new one
  would exceed it, and any held longer than `pending_s` is shut down (sockets whose clients stay
  silent after connecting, such as replay, set no time limit);
- every authenticated connection remembers the CURVE key it authenticated with (the ZAP User-Id is
  the key's Z85 text), so a revoked or rotated key's live connections are shut down at once, by key,
  whatever name a new key is enrolled under.

Shutting a connection down is `shutdown(2)` on a duplicate of libzmq's descriptor: libzmq sees the
peer gone, closes its own descriptor and reports DISCONNECTED; the descriptor stays libzmq's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import zmq
import zmq.asyncio
from zmq.utils.monitor import parse_monitor_message

LOG = logging.getLogger(__name__)
EVENTS = zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED


@dataclass
class GuardStats:
    accepted: int = 0
    shed_pending: int = 0  # unauthenticated connections shut down (cap or time limit)
    cut_revoked: int = 0  # authenticated connections shut down because their key was revoked


def shutdown_fd(fd: int) -> bool:
    """shutdown(2) the TCP connection behind libzmq's descriptor `fd`; False if it is gone."""
    try:
        dup = os.dup(fd)
    except OSError:
        return False
    try:
        with socket.socket(fileno=dup) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        return False
    return True


class ConnectionGuard:
    """Budgets for one listening socket; feed it `seen()` for every received message."""

    def __init__(self, name: str, max_pending: int, pending_s: float | None) -> None:
        self.name = name
        self.max_pending = max_pending
        self.pending_s = pending_s
        self.pending: dict[int, float] = {}  # fd -> accepted at (monotonic), insertion-ordered
        self.keys: dict[int, bytes] = {}  # fd -> Z85 CURVE key it authenticated with
        self.stats = GuardStats()
        self._last_shed_log = 0.0
        self.on_closed: Callable[[int], None] = lambda fd: None

    # -- bookkeeping (also driven directly by tests) ----------------------------------------
    def accepted(self, fd: int) -> None:
        self.stats.accepted += 1
        self.keys.pop(fd, None)  # a reused descriptor number is a new connection
        self.pending[fd] = time.monotonic()
        while len(self.pending) > self.max_pending:
            oldest = next(iter(self.pending))
            self._shed(oldest, "unauthenticated connections over the cap")

    def seen(self, frame: zmq.Frame) -> bytes:
        """Record the connection of an authenticated message; return its key (b"" if none)."""
        key = str(frame.get("User-Id") or "").encode()
        try:
            fd = int(frame.get(zmq.SRCFD))
        except (zmq.ZMQError, ValueError, TypeError):
            return key
        self.pending.pop(fd, None)
        if key:
            self.keys[fd] = key
        return key

    def closed(self, fd: int) -> None:
        self.pending.pop(fd, None)
        self.keys.pop(fd, None)
        self.on_closed(fd)

    def sweep(self) -> None:
        """Shut down unauthenticated connections held longer than `pending_s`."""
        if self.pending_s is None:
            return
        limit = time.monotonic() - self.pending_s
        for fd, since in list(self.pending.items()):
            if since < limit:
                self._shed(fd, "no authenticated message within the pre-auth time limit")

    def revoke(self, allowed: Callable[[bytes], bool]) -> int:
        """Shut down every live connection whose key `allowed` refuses; return how many."""
        cut = 0
        for fd, key in list(self.keys.items()):
            if not allowed(key):
                self.keys.pop(fd, None)
                if shutdown_fd(fd):
                    cut += 1
        if cut:
            self.stats.cut_revoked += cut
            LOG.warning(
                "revoked key: live connections shut down", extra={"socket": self.name, "count": cut}
            )
        return cut

    def _shed(self, fd: int, why: str) -> None:
        self.pending.pop(fd, None)
        shutdown_fd(fd)
        self.stats.shed_pending += 1
        now = time.monotonic()
        if now - self._last_shed_log >= 10:  # an alert, not a log flood
            self._last_shed_log = now
            LOG.warning(
                "unauthenticated connection shut down",
                extra={"socket": self.name, "reason": why, "shed_total": self.stats.shed_pending},
            )

    # -- the monitor task ---------------------------------------------------------------------
    async def run(self, sock: zmq.asyncio.Socket) -> None:
        monitor = sock.get_monitor_socket(EVENTS)
        try:
            while True:
                if await monitor.poll(500):
                    event = parse_monitor_message(await monitor.recv_multipart())
                    fd = int(event["value"])
                    if event["event"] == zmq.EVENT_ACCEPTED:
                        self.accepted(fd)
                    elif event["event"] == zmq.EVENT_DISCONNECTED:
                        self.closed(fd)
                self.sweep()
        finally:
            with contextlib.suppress(zmq.ZMQError):
                sock.disable_monitor()
            monitor.close(0)


async def keep_running(name: str, run: Callable[[], object], interval_s: float = 10.0) -> None:
    """Run the coroutine factory `run` forever: an exception restarts it after a back-off.

    Central must not exit on resource errors (no descriptors left, a key directory that cannot be
    read, a store that is down): the failing part is retried, logged at most once per
    `interval_s`, and everything else keeps serving.
    """
    backoff, last_log, failures = 0.1, 0.0, 0
    while True:
        started = time.monotonic()
        try:
            await run()  # type: ignore[misc]
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 -- any failure restarts the part, never central
            failures += 1
            if time.monotonic() - last_log >= interval_s:
                last_log = time.monotonic()
                LOG.error(
                    "central task failed; retrying",
                    extra={"task": name, "error": repr(exc), "failures": failures},
                )
        if time.monotonic() - started > 30:
            backoff = 0.1
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 5.0)
