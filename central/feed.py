"""Central -> station feed (Clone pattern, zguide ch5): a snapshot, then sequenced updates.

Each change to an order, package or badge gets a global `qseq` in the store; a station sees the
changes addressed to it or to every station. Every QUPD names the previous qseq sent to that
station (`prev_qseq`), so a station that missed one notices the gap and asks for a new snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from central.store.base import SqlStore
from edge.common import protocol as p

LOG = logging.getLogger(__name__)
SNAP_PART_ITEMS = 500
Send = Callable[[bytes, list[bytes]], Awaitable[bool]]


@dataclass
class FeedPeer:
    """One connected station's position in the feed (None until its HELLO is answered)."""

    station_id: str
    route: bytes
    sent_qseq: int | None = None


class FeedSender:
    """Sends snapshots and updates to connected stations; one lock keeps each peer's order."""

    def __init__(self, store: SqlStore, send: Send) -> None:
        self._store = store
        self._send = send
        self._lock = asyncio.Lock()
        self.peers: dict[str, FeedPeer] = {}

    async def hello(self, station_id: str, route: bytes, last_qseq: int) -> None:
        """Start (or restart) a station's feed: deltas if its position is retained, else a snapshot."""
        low, high = await asyncio.to_thread(self._store.feed_floor)
        peer = FeedPeer(station_id, route)
        self.peers[station_id] = peer
        if last_qseq == 0 or last_qseq < low or last_qseq > high:
            await self.snapshot(station_id, route)
        else:
            peer.sent_qseq = last_qseq
            await self.push(peer)

    async def snapshot(self, station_id: str, route: bytes) -> None:
        async with self._lock:
            peer = self.peers.setdefault(station_id, FeedPeer(station_id, route))
            peer.route = route
            snap = await asyncio.to_thread(self._store.feed_snapshot, station_id)
            snap_id = uuid.uuid4().hex
            parts = [
                snap.items[i : i + SNAP_PART_ITEMS]
                for i in range(0, max(len(snap.items), 1), SNAP_PART_ITEMS)
            ]
            for n, items in enumerate(parts):
                body = p.Snap(
                    snap_id=snap_id, qseq=snap.qseq, part=n, last=n == len(parts) - 1, items=items
                )
                await self._send(route, p.encode(p.SNAP, body))
            peer.sent_qseq = snap.qseq
            LOG.info(
                "feed snapshot sent",
                extra={"station": station_id, "qseq": snap.qseq, "items": len(snap.items)},
            )
        await self.push(peer)

    async def push(self, peer: FeedPeer) -> None:
        """Send every change after the peer's position, each chained to the one before."""
        async with self._lock:
            while peer.sent_qseq is not None and self.peers.get(peer.station_id) is peer:
                changes = await asyncio.to_thread(
                    self._store.feed_after, peer.station_id, peer.sent_qseq, 500
                )
                for qseq, item in changes:
                    update = p.QueueUpdate(qseq=qseq, prev_qseq=peer.sent_qseq, item=item)
                    await self._send(peer.route, p.encode(p.QUPD, update))
                    peer.sent_qseq = qseq
                if len(changes) < 500:
                    return

    async def push_all(self) -> None:
        for peer in list(self.peers.values()):
            await self.push(peer)

    def forget(self, station_id: str) -> None:
        self.peers.pop(station_id, None)
