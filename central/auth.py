"""Who may connect: allow-listed CURVE public keys, checked by our own ZAP handler (RFC 27).

A key ring is a directory of pyzmq certificate files `NAME.key`; NAME is the station id (or the
subscriber's name) and becomes the connection's ZAP User-Id, so identity always comes from the
authenticated key, never from a payload field (ZAP, RFC 27: the User-Id). The User-Id is the key
itself (Z85); the ring maps it to NAME. The ring is re-read when the directory changes; the service
checks every message's key against the current ring and shuts down the live connections of a key
that left it (central/guard.py), since ZAP itself runs only at the handshake.

Without a ZAP handler libzmq lets any CURVE client in (ZAP_ENFORCE_DOMAIN is off by default), so the
handler is started before any bind and `self_test` proves an unknown key is refused.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from pathlib import Path

import zmq
import zmq.asyncio
import zmq.auth
from zmq.utils.monitor import parse_monitor_message

from edge.common.errors import PackstationError

LOG = logging.getLogger(__name__)
ZAP_ENDPOINT = "inproc://zeromq.zap.01"
STATIONS = "stations"  # ZAP domain of the station ROUTER
SUBSCRIBERS = "subscribers"  # ZAP domain of the downstream PUB and replay sockets
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class SelfTestFailed(PackstationError):
    """Central would accept unknown keys (or cannot check): it must not start (exit 1)."""


class KeyRing:
    """The public keys in one directory, by Z85 key -> name; reloads when the directory changes."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._by_key: dict[bytes, str] = {}
        self._names: frozenset[str] = frozenset()
        self._stamp: tuple[tuple[str, int, int], ...] | None = None
        self._error_logged = 0.0
        self.reload()

    def _listing(self) -> tuple[tuple[str, int, int], ...]:
        try:
            with os.scandir(self.directory) as it:
                entries = sorted(it, key=lambda e: e.name)
            return tuple(
                (e.name, e.stat().st_mtime_ns, e.stat().st_size)
                for e in entries
                if e.name.endswith(".key")
            )
        except FileNotFoundError:
            return ()

    def reload(self) -> bool:
        """Re-read the directory if it changed; return True when the key set was replaced.

        A directory that cannot be read for any other reason (no descriptors left, permissions,
        not a directory) keeps the current keys: it is logged at most once per 10 s and retried at
        the next poll. Central never exits on it, and never drops a key because a read failed.
        """
        try:
            return self._reload()
        except OSError as exc:
            now = time.monotonic()
            if now - self._error_logged >= 10:
                self._error_logged = now
                LOG.error(
                    "key directory unreadable; keeping the current keys",
                    extra={"dir": str(self.directory), "error": str(exc)},
                )
            return False

    def _reload(self) -> bool:
        stamp = self._listing()
        if stamp == self._stamp:
            return False
        keys: dict[bytes, str] = {}
        for name, _, _ in stamp:
            stem = name.removesuffix(".key")
            try:
                public, _ = zmq.auth.load_certificate(self.directory / name)
            except FileNotFoundError:
                continue  # removed since the listing
            except ValueError as exc:
                LOG.error("unreadable key file ignored", extra={"file": name, "error": str(exc)})
                continue
            if NAME_RE.match(stem) and len(public) == 40:
                keys[public] = stem
            else:
                LOG.error("key file name or key is invalid; ignored", extra={"file": name})
        # reference swaps only: the ZAP thread and the service read without a lock
        self._by_key, self._names, self._stamp = keys, frozenset(keys.values()), stamp
        LOG.info("key ring loaded", extra={"dir": str(self.directory), "keys": len(keys)})
        return True

    def name_of(self, z85_key: bytes) -> str | None:
        """The name a Z85 public key is enrolled under; None when it is not (or no longer)."""
        return self._by_key.get(z85_key)

    def names(self) -> frozenset[str]:
        return self._names


class ZapHandler:
    """A ZAP REP socket on its own thread: CURVE keys in the domain's ring pass, all else fails."""

    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], rings: dict[str, KeyRing]) -> None:
        self._ctx = ctx
        self._rings = rings
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="zap", daemon=True)
        self.denied = 0

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("ZAP handler did not start")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _serve(self) -> None:
        sock = self._ctx.socket(zmq.REP)
        sock.linger = 0
        sock.bind(ZAP_ENDPOINT)
        self._ready.set()
        try:
            while not self._stop.is_set():
                if sock.poll(200):
                    request = sock.recv_multipart()
                    try:
                        reply = self.answer(request)
                    except Exception:  # never let the thread die: that would refuse everyone
                        LOG.exception("ZAP request failed; refused")
                        rid = request[1] if len(request) > 1 else b""
                        reply = [b"1.0", rid, b"500", b"internal error", b"", b""]
                    sock.send_multipart(reply)
        finally:
            sock.close()

    def answer(self, msg: list[bytes]) -> list[bytes]:
        """The ZAP reply to one request: `[version, request_id, status, text, user_id, metadata]`."""
        if len(msg) < 6:
            request_id = msg[1] if len(msg) > 1 else b""
            return [b"1.0", request_id, b"400", b"malformed ZAP request", b"", b""]
        version, request_id, domain, address, identity, mechanism = msg[:6]
        ring = self._rings.get(domain.decode(errors="replace"))
        name = None
        if version == b"1.0" and mechanism == b"CURVE" and ring is not None and len(msg) == 7:
            name = ring.name_of(zmq.utils.z85.encode(msg[6]))
        if identity:
            # A peer-chosen routing id could take over another station's replies once that
            # station disconnects (messaging.md 2.2): only ROUTER-assigned ids are accepted.
            LOG.warning("connection refused: client set its own routing id", extra={"key": name})
            self.denied += 1
            return [b"1.0", request_id, b"400", b"routing id not allowed", b"", b""]
        if name is None:
            self.denied += 1
            LOG.warning(
                "connection refused: unknown key",
                extra={"domain": domain.decode(errors="replace"), "address": address.decode()},
            )
            return [b"1.0", request_id, b"400", b"unknown key", b"", b""]
        # User-Id = the key itself (Z85): the service maps it to the name on every message, so a
        # connection stays bound to its key, not to a name a new key may be enrolled under
        return [b"1.0", request_id, b"200", b"OK", zmq.utils.z85.encode(msg[6]), b""]


def self_test(ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str, server_public: bytes) -> None:
    """Connect with a fresh, unknown key and require the handshake to fail; raise otherwise."""
    public, secret = zmq.curve_keypair()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = public, secret, server_public
    monitor = sock.get_monitor_socket()
    try:
        sock.connect(endpoint)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not monitor.poll(100):
                continue
            event = parse_monitor_message(monitor.recv_multipart())["event"]
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                raise SelfTestFailed("ZAP self-test failed: an unknown key was let in")
            if event in (zmq.EVENT_HANDSHAKE_FAILED_AUTH, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL):
                return
        raise SelfTestFailed(f"ZAP self-test: no handshake answer from {endpoint} within 10 s")
    finally:
        sock.disable_monitor()
        monitor.close()
        sock.close()


def local_endpoint(bound: str) -> str:
    """Where a client on this machine reaches a bound endpoint (wildcard -> loopback)."""
    return bound.replace("://0.0.0.0:", "://127.0.0.1:").replace("://*:", "://127.0.0.1:")
