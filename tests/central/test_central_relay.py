"""The downstream relay: nothing read back while nobody subscribes, batches once someone does."""

from __future__ import annotations

import asyncio
from pathlib import Path

import zmq
import zmq.asyncio

from central.auth import KeyRing
from central.config import DownstreamSection
from central.downstream import Downstream, _decode_published
from central.store import open_store
from edge.common import protocol as p
from edge.journal import Journal
from tests.support.central import until
from tests.support.events import body


def _events(tmp: Path, n: int, after: int = 0) -> list[tuple[str, p.Event]]:
    journal = Journal(tmp / f"j{after}.sqlite3")
    with journal.transaction() as txn:
        for i in range(n):
            txn.append("scan", body("scan", station=f"station-{after}", n=after + i))
    out = [
        (
            f"station-{after}",
            p.Event(
                seq=ev.seq,
                event_id=ev.event_id,
                at=ev.at,
                type=ev.type,
                body=ev.body,
                prev_hash=ev.prev_hash,
                hash=ev.hash,
            ),
        )
        for ev in journal.iter_events()
    ]
    journal.close()
    return out


async def _scenario(tmp: Path) -> None:
    store = open_store(f"sqlite://{tmp / 'central.sqlite3'}")
    ctx = zmq.asyncio.Context()
    cfg = DownstreamSection(
        pub_bind="tcp://127.0.0.1:*", replay_bind="tcp://127.0.0.1:*", poll_ms=50
    )
    down = Downstream(cfg, store, KeyRing(tmp / "keys"))
    down.bind(ctx, ctx.socket)
    task = asyncio.create_task(down.run())
    try:
        await until(lambda: down.position == 0, 10)  # the relay starts at the (empty) head
        store.commit_batch(_events(tmp, 30), [])
        down.wake()
        await until(lambda: down.position == 30, 10)
        assert down.skipped == 30
        assert down.published == 0  # nobody subscribed: nothing read back or sent

        sync = zmq.Context()
        sub = sync.socket(zmq.SUB)
        sub.linger = 0
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(down.bound["pub"])
        await until(lambda: down.subscriptions == 1, 10)
        store.commit_batch(_events(tmp, 1500, after=100), [])
        down.wake()
        await until(lambda: down.published == 1500, 10)
        got = []
        while len(got) < 1500 and sub.poll(5000):
            ev = _decode_published(sub.recv_multipart())
            assert ev is not None
            got.append(ev.gseq)
        assert got == list(range(31, 1531))  # in order, none lost, after the skipped ones
        sub.close()
        sync.term()
        await until(lambda: down.subscriptions == 0, 10)  # a disconnect unsubscribes
        store.commit_batch(_events(tmp, 5, after=5000), [])
        down.wake()
        await until(lambda: down.skipped == 35, 10)
        assert down.published == 1500
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        down.close()
        ctx.destroy(linger=0)  # also the guards' monitor sockets
        store.close()


def test_relay_skips_without_subscribers_and_publishes_batches_in_order(tmp_path: Path) -> None:
    asyncio.run(_scenario(tmp_path))
