"""Downstream: accepted events re-published on a PUB socket, and replay by global sequence.

PUB drops at its high-water mark and a late subscriber misses what came before it joined (the
zguide: "slow joiner", chapter 1; high-water marks, chapter 2), so PUB is only the fast path: every
message carries `gseq`, and the replay ROUTER answers "everything after gseq N" from the store. A
subscriber that sees a gseq jump, or starts late, replays the gap. The relay publishes from the
store (a transactional outbox), so events committed by other central instances sharing a PostgreSQL
store are published too.

The PUB socket is an XPUB with XPUB_VERBOSER, so the relay counts subscriptions (each subscribe
and unsubscribe, a disconnect included, reaches it). With nobody subscribed it reads nothing
back: it moves its position to the store's head (a subscriber that joins later replays from the
store first anyway). Otherwise it publishes each batch read from the store (up to 1000 events)
in one go on the socket, without a loop round trip per event; the wire format is unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator

import msgspec
import zmq
import zmq.asyncio

from central.auth import KeyRing
from central.config import DownstreamSection
from central.guard import ConnectionGuard, keep_running
from central.store.base import SqlStore
from edge.common import protocol as p

LOG = logging.getLogger(__name__)
MakeSocket = Callable[[int], zmq.asyncio.Socket]
QUIET_CHECK_MS = 1000  # a subscriber with no message for this long asks replay for the tail


class Downstream:
    """Owns the PUB and replay sockets; `wake()` after a commit publishes at once."""

    def __init__(
        self,
        cfg: DownstreamSection,
        store: SqlStore,
        ring: KeyRing,
        max_pending: int = 64,
        pending_s: float = 10.0,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.ring = ring
        self.bound: dict[str, str] = {}
        self._wake = asyncio.Event()
        self.published = 0
        # PUB clients send their subscription at once; replay clients may stay silent until
        # they ask, so only the cap (not a time limit) applies to them
        self.pub_guard = ConnectionGuard("pub", max_pending, pending_s)
        self.replay_guard = ConnectionGuard("replay", max_pending, None)
        self.subscriptions = 0  # live subscriptions on the PUB socket (XPUB_VERBOSER)
        self.skipped = 0  # events not read back because nobody subscribed
        self.position: int | None = None  # the gseq relayed (or skipped) up to, once running

    def bind(self, ctx: zmq.asyncio.Context, make: MakeSocket) -> None:
        del ctx
        # XPUB (a PUB that reads its subscribers' subscriptions): each subscription message tells
        # which key a connection authenticated with, so a revoked subscriber can be cut off, and
        # (VERBOSER: unsubscriptions too) how many listen, so nobody listening costs no reads
        self.pub = make(zmq.XPUB)
        self.pub.setsockopt(zmq.XPUB_VERBOSER, 1)
        self.pub.sndhwm = self.cfg.pub_hwm
        self.pub.bind(self.cfg.pub_bind)
        self._pub_sync: zmq.Socket[bytes] = zmq.Socket.shadow(self.pub.underlying)
        self.replay = make(zmq.ROUTER)
        self.replay.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self.replay.setsockopt(zmq.MAXMSGSIZE, 64 * 1024)
        self.replay.bind(self.cfg.replay_bind)
        self.bound = {
            "pub": str(self.pub.get_string(zmq.LAST_ENDPOINT)),
            "replay": str(self.replay.get_string(zmq.LAST_ENDPOINT)),
        }

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        self.pub.close(0)
        self.replay.close(0)

    async def run(self) -> None:
        await asyncio.gather(
            keep_running("relay", self._relay),
            keep_running("replay", self._serve_replay),
            keep_running("subscriptions", self._read_subscriptions),
            keep_running("pub connections", lambda: self.pub_guard.run(self.pub)),
            keep_running("replay connections", lambda: self.replay_guard.run(self.replay)),
        )

    def _allowed(self, key: bytes) -> bool:
        return self.ring.name_of(key) is not None

    def revoke(self) -> None:
        """The subscriber ring changed: shut down every live connection of a key no longer in it."""
        self.pub_guard.revoke(self._allowed)
        self.replay_guard.revoke(self._allowed)

    async def _read_subscriptions(self) -> None:
        while True:
            frames = await self.pub.recv_multipart(copy=False)
            kind = frames[0].bytes[:1]
            if kind == b"\x01":
                self.subscriptions += 1
                self._wake.set()  # someone listens: publish what comes from now on
            elif kind == b"\x00":
                self.subscriptions = max(0, self.subscriptions - 1)
                continue  # an unsubscription (also of a connection gone): nothing to check
            key = self.pub_guard.seen(frames[-1])
            if not self._allowed(key):
                self.pub_guard.revoke(self._allowed)

    async def _relay(self) -> None:
        position = await asyncio.to_thread(self.store.head)  # history is served by replay
        self.position = position
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.cfg.poll_ms / 1000):
                    await self._wake.wait()
            self._wake.clear()
            try:
                position = self.position = await self._publish_after(position)
            except Exception:
                LOG.exception("downstream relay failed; retrying")

    async def _publish_after(self, position: int) -> int:
        while True:
            if self.subscriptions == 0:
                head = await asyncio.to_thread(self.store.head)
                self.skipped += max(0, head - position)
                return max(position, head)
            events = await asyncio.to_thread(self.store.events_after, position, 1000)
            if events:
                self._send_batch(events)
                position = events[-1].gseq
            if len(events) < 1000:
                return position

    def _send_batch(self, events: list[p.Published]) -> None:
        """Every event of a batch onto the socket at once: XPUB never blocks (at its high-water
        mark it drops, which subscribers repair by replay), so no send waits for the loop."""
        send = self._pub_sync.send_multipart
        version, encode, topic = p.VERSION, p.ENCODER.encode, p.topic
        for ev in events:
            try:
                name = topic(ev.type, ev.station_id)
            except ValueError:  # stored before types were checked: replay still has it
                LOG.warning("event not published: no valid topic", extra={"gseq": ev.gseq})
                continue
            send([name, version, encode(ev)], flags=zmq.NOBLOCK)
            self.published += 1

    async def _serve_replay(self) -> None:
        while True:
            frames = await self.replay.recv_multipart(copy=False)
            route = frames[0].bytes
            key = self.replay_guard.seen(frames[-1]) if len(frames) > 1 else b""
            if not self._allowed(key):
                reply = p.encode(p.ERROR, p.Error(code="revoked", reason="key not allowed"))
            else:
                reply = await self._answer([f.bytes for f in frames[1:]])
            with contextlib.suppress(zmq.ZMQError):
                await self.replay.send_multipart([route, *reply], flags=zmq.NOBLOCK)

    async def _answer(self, raw: list[bytes]) -> list[bytes]:
        try:
            command, body = p.decode(raw)
        except p.ProtocolError as exc:
            return p.encode(p.ERROR, p.Error(code=exc.code, reason=exc.reason[:300]))
        if not isinstance(body, p.ReplayRequest):
            reason = f"{command.decode()} is not a replay request"
            return p.encode(p.ERROR, p.Error(code="command", reason=reason))
        events = await asyncio.to_thread(self.store.events_after, body.after, body.limit)
        head = await asyncio.to_thread(self.store.head)
        return p.encode(p.REPLAYED, p.ReplayBatch(events=events, head=head))


def normalize_topic(topic: str) -> str:
    """A filter naming a station gets the topic terminator: `event/t/station-02` must not match
    `event/t/station-021/` (a ZeroMQ subscription is a byte prefix)."""
    parts = topic.split("/")
    if len(parts) == 3 and parts[0] == "event" and parts[2]:
        return topic + "/"
    return topic


def _curve_client(sock: zmq.Socket[bytes], keys: tuple[bytes, bytes, bytes]) -> None:
    sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = keys


class Subscriber:
    """A downstream client that never misses an event: replay first, then live, replaying gaps.

    Synchronous (for `packstation central tail` and integrators' scripts). `keys` is
    (own public, own secret, central's public).
    """

    def __init__(
        self,
        pub: str,
        replay: str,
        keys: tuple[bytes, bytes, bytes],
        topics: list[str],
        rcvhwm: int = 100_000,
    ) -> None:
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.linger = 0
        self.sub.rcvhwm = rcvhwm
        self.gaps_filled = 0
        _curve_client(self.sub, keys)
        # Everything, filtered here: only a complete gseq stream shows gaps to replay.
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.topics = [normalize_topic(t).encode() for t in topics]
        self.sub.connect(pub)  # subscribe before replaying, so nothing falls between the two
        self.req = self.ctx.socket(zmq.DEALER)
        self.req.linger = 0
        _curve_client(self.req, keys)
        self.req.connect(replay)

    def close(self) -> None:
        self.sub.close(0)
        self.req.close(0)
        self.ctx.term()

    def replay(self, after: int, timeout_ms: int = 10_000) -> p.ReplayBatch:
        """One replay round trip; raise TimeoutError or ConnectionRefusedError."""
        if not self.req.poll(timeout_ms, zmq.POLLOUT):  # no connection (e.g. the key is refused)
            raise TimeoutError("no connection to central's replay endpoint (key refused?)")
        self.req.send_multipart(p.encode(p.REPLAY, p.ReplayRequest(after=after, limit=1000)))
        if not self.req.poll(timeout_ms):
            raise TimeoutError("no answer from central's replay endpoint")
        _, body = p.decode(self.req.recv_multipart())
        if isinstance(body, p.Error):
            raise ConnectionRefusedError(f"central refused the replay: {body.code}: {body.reason}")
        assert isinstance(body, p.ReplayBatch)
        return body

    def _wanted(self, ev: p.Published) -> bool:
        try:
            t = p.topic(ev.type, ev.station_id)
        except ValueError:
            return not self.topics
        return not self.topics or any(t.startswith(x) for x in self.topics)

    def events(self, since: int, idle_timeout_ms: int | None = None) -> Iterator[p.Published]:
        """Every event with gseq > since, in order, forever (or until idle for idle_timeout_ms)."""
        position = since
        while True:  # catch up from the store
            batch = self.replay(position)
            for ev in batch.events:
                position = ev.gseq
                if self._wanted(ev):
                    yield ev
            if not batch.events or position >= batch.head:
                break
        quiet_since = time.monotonic()
        check_ms = min(QUIET_CHECK_MS, idle_timeout_ms or QUIET_CHECK_MS)
        while True:
            if not self.sub.poll(check_ms):
                # PUB may have dropped the newest events, which no later message would reveal
                tail = list(self._fill(position, 2**63 - 1))
                if tail:
                    self.gaps_filled += 1
                    position, quiet_since = tail[-1].gseq, time.monotonic()
                    yield from (ev for ev in tail if self._wanted(ev))
                idle = (time.monotonic() - quiet_since) * 1000
                if idle_timeout_ms is not None and idle >= idle_timeout_ms:
                    return
                continue
            quiet_since = time.monotonic()
            got = _decode_published(self.sub.recv_multipart())
            if got is None or got.gseq <= position:
                continue
            if got.gseq > position + 1:  # a gap (PUB dropped or we were slow): fill it
                self.gaps_filled += 1
                yield from (ev for ev in self._fill(position, got.gseq) if self._wanted(ev))
            position = got.gseq
            if self._wanted(got):
                yield got

    def _fill(self, position: int, upto: int) -> Iterator[p.Published]:
        while position < upto - 1:
            batch = self.replay(position)
            if not batch.events:
                return
            for ev in batch.events:
                if ev.gseq >= upto:
                    return
                position = ev.gseq
                yield ev


_PUBLISHED = msgspec.msgpack.Decoder(p.Published)


def _decode_published(frames: list[bytes]) -> p.Published | None:
    if len(frames) != 3 or frames[1] != p.VERSION:
        return None
    try:
        return _PUBLISHED.decode(frames[2])
    except msgspec.DecodeError:
        return None
