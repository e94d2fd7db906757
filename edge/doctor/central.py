"""Does central answer? One CURVE handshake with the station's keys, watched by a socket monitor.

The handshake is the whole question: with central's ZAP allow-list, HANDSHAKE_SUCCEEDED means
central knows this station's key; HANDSHAKE_FAILED_AUTH means it does not. No application message
is sent, so the check leaves nothing in central's store.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass

import zmq
from zmq.utils.monitor import recv_monitor_message


class Handshake(enum.Enum):
    """How a connection attempt to central ended."""

    ACCEPTED = "accepted"  # CURVE handshake done, key allowed
    REFUSED = "refused"  # central's ZAP handler refused this station's key
    BAD_SERVER_KEY = "bad server key"  # central could not decrypt: not central's public key
    PROTOCOL = "protocol"  # something answered that does not speak CURVE (not central?)
    DROPPED = "dropped"  # connected, then closed before any handshake result
    NO_ANSWER = "no answer"  # nothing listens there, or packets are dropped


@dataclass(frozen=True)
class HandshakeResult:
    outcome: Handshake
    detail: str  # the last monitor events, for the person reading the report


_WATCHED = (
    zmq.EVENT_CONNECTED
    | zmq.EVENT_CONNECT_DELAYED
    | zmq.EVENT_CONNECT_RETRIED
    | zmq.EVENT_DISCONNECTED
    | zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
)
_FINAL: dict[int, Handshake] = {
    zmq.EVENT_HANDSHAKE_SUCCEEDED: Handshake.ACCEPTED,
    zmq.EVENT_HANDSHAKE_FAILED_AUTH: Handshake.REFUSED,
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: Handshake.PROTOCOL,
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: Handshake.BAD_SERVER_KEY,
}


def try_handshake(
    endpoint: str, public: bytes, secret: bytes, server_public: bytes, timeout_s: float
) -> HandshakeResult:
    """Connect a CURVE DEALER to `endpoint` and report how the handshake ended (within timeout)."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    try:
        sock.setsockopt(zmq.LINGER, 0)
        sock.curve_publickey, sock.curve_secretkey = public, secret
        sock.curve_serverkey = server_public
        sock.setsockopt(zmq.HANDSHAKE_IVL, max(1, int(timeout_s * 1000)))
        sock.setsockopt(zmq.RECONNECT_IVL, 200)
        monitor = sock.get_monitor_socket(_WATCHED)
        try:
            sock.connect(endpoint)
            return _watch(monitor, time.monotonic() + timeout_s)
        finally:
            sock.disable_monitor()
            monitor.close(linger=0)
    finally:
        sock.close(linger=0)
        ctx.term()


def _watch(monitor: zmq.Socket[bytes], deadline: float) -> HandshakeResult:
    seen: list[str] = []
    connected = dropped = False
    while (left := deadline - time.monotonic()) > 0:
        if not monitor.poll(int(left * 1000) + 1):
            break
        event = recv_monitor_message(monitor)["event"]
        seen.append(_name(event))
        if event in _FINAL:
            return HandshakeResult(_FINAL[event], ", ".join(seen[-4:]))
        connected |= event == zmq.EVENT_CONNECTED
        dropped |= connected and event == zmq.EVENT_DISCONNECTED
    outcome = Handshake.DROPPED if dropped else Handshake.NO_ANSWER
    return HandshakeResult(outcome, ", ".join(seen[-4:]) or "no connection events")


def _name(event: int) -> str:
    try:
        name = zmq.Event(event).name or str(event)
        return name.removeprefix("EVENT_").lower()
    except ValueError:
        return str(event)
