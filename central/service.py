"""The central sync service: ROUTER for stations, group commit, feed, downstream, intake.

One asyncio loop. The ROUTER task validates each message (User-Id still allowed, PSS/1 framing,
msgpack schema) and queues events; the committer stores everything queued in one transaction
(off the loop) and only then sends each station a cumulative ACK. Nothing a station sends can
raise out of the loop: malformed messages are quarantined and answered with ERROR.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import zmq
import zmq.asyncio
import zmq.auth
from zmq.utils.monitor import parse_monitor_message

from central import auth
from central.config import CentralConfig
from central.downstream import Downstream
from central.feed import FeedSender
from central.intake import IntakeServer
from central.notify import Notifications
from central.reporting import Reporting
from central.store import Rejected, SqlStore, open_store
from edge.common import protocol as p
from edge.common.credentials import credential_path
from edge.common.errors import ConfigError
from edge.common.sdnotify import Notifier

LOG = logging.getLogger(__name__)


def load_server_keys(path: Path) -> tuple[bytes, bytes]:
    """(public, secret) from central's certificate file; ConfigError when unusable."""
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise ConfigError([f"{path}: cannot read central's secret key: {exc}"]) from exc
    if not secret:
        raise ConfigError([f"{path}: holds no secret key (use the NAME.key_secret file)"])
    return public, secret


STATION_COMMANDS = frozenset({p.HELLO, p.EVENTS, p.PING, p.SNAPREQ})
NO_HELLO = "this connection has not said HELLO: reconnect"


@dataclass
class Pending:
    """Messages received since the last commit started."""

    events: list[tuple[str, p.Event]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    routes: dict[str, bytes] = field(default_factory=dict)


class RouteGuard:
    """Routing ids by connection (file descriptor), so a closed connection's ids can be retired.

    A station may choose its own ROUTING_ID; one that picks another station's id after that
    station disconnected would otherwise receive its ACKs and feed (messaging.md 2.2). Retired ids
    are refused for good: ROUTER-assigned ids are never reused, so only a forger reuses one.
    """

    def __init__(self) -> None:
        self.dead: set[bytes] = set()
        self._by_fd: dict[int, dict[bytes, str]] = {}

    def seen(self, route: bytes, frame: zmq.Frame, station: str) -> bool:
        if route in self.dead:
            return False
        fd = int(frame.get(zmq.SRCFD))
        self._by_fd.setdefault(fd, {})[route] = station
        return True

    def closed(self, fd: int) -> set[str]:
        """Retire the routes of a closed connection; return the stations that used them."""
        routes = self._by_fd.pop(fd, {})
        self.dead.update(routes)
        return set(routes.values())


@dataclass
class Stats:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    malformed: int = 0
    refused: int = 0
    commits: int = 0


class CentralService:
    """Run with `await CentralService(cfg).run()`; `ready` is set once the self-test passed.

    Under systemd (Type=notify): READY=1 once serving, STATUS= lines as stations come and go,
    WATCHDOG=1 from the loop every half WatchdogSec, STOPPING=1 when the run ends.
    """

    def __init__(
        self, cfg: CentralConfig, store: SqlStore | None = None, notifier: Notifier | None = None
    ) -> None:
        if not zmq.has("curve"):
            raise ConfigError(["this libzmq has no CURVE support: central cannot encrypt"])
        self.cfg = cfg
        c = cfg.central
        self.public, self.secret = load_server_keys(credential_path(c.secret_key_file))
        self.stations = auth.KeyRing(Path(c.station_keys_dir))
        self.subscribers = auth.KeyRing(Path(c.subscriber_keys_dir))
        self.store = store or open_store(c.store)
        self._store_url = None if store is not None else c.store  # the intake's worker opens it
        self.epoch = uuid.uuid4().hex
        self.pending = Pending()
        self.stats = Stats()
        self.ready = asyncio.Event()
        self._wake_commit = asyncio.Event()
        self._room = asyncio.Event()  # set while the queue has room: backpressure on reading
        self._room.set()
        self._refusal_logged: dict[str, float] = {}
        self.bound: dict[str, str] = {}
        self.routes = RouteGuard()
        self.hello_routes: dict[str, bytes] = {}  # station -> route of its latest HELLO
        self.last_contact: dict[str, float] = {}  # station -> its last message ([notify])
        self.notifier = notifier or Notifier()
        self._status = ""

    def _server_socket(
        self, ctx: zmq.asyncio.Context, kind: int, domain: str
    ) -> zmq.asyncio.Socket:
        sock = ctx.socket(kind)
        sock.linger = 0
        sock.zap_domain = domain.encode()
        sock.curve_server = True
        sock.curve_secretkey = self.secret
        sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)
        return sock

    async def run(self) -> None:
        ctx = zmq.asyncio.Context()
        sync_ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.shadow(ctx.underlying)
        zap = auth.ZapHandler(
            sync_ctx, {auth.STATIONS: self.stations, auth.SUBSCRIBERS: self.subscribers}
        )
        zap.start()  # before any bind: without a handler libzmq would let every key in
        router = self._server_socket(ctx, zmq.ROUTER, auth.STATIONS)
        router.setsockopt(zmq.ROUTER_MANDATORY, 1)
        router.setsockopt(zmq.MAXMSGSIZE, p.MAX_MESSAGE_BYTES)
        router.setsockopt(zmq.HEARTBEAT_IVL, 5000)
        router.setsockopt(zmq.HEARTBEAT_TIMEOUT, 15000)
        router.setsockopt(zmq.HANDSHAKE_IVL, 10000)
        router.sndhwm = router.rcvhwm = 100_000
        tasks: list[asyncio.Task[None]] = []
        try:
            router.bind(self.cfg.central.bind)
            self.bound["stations"] = router.get_string(zmq.LAST_ENDPOINT)
            await asyncio.to_thread(
                auth.self_test, sync_ctx, auth.local_endpoint(self.bound["stations"]), self.public
            )
            self.router = router
            self.feed = FeedSender(self.store, self._send)
            self.downstream = Downstream(self.cfg.downstream, self.store, self.subscribers)
            self.downstream.bind(ctx, lambda kind: self._server_socket(ctx, kind, auth.SUBSCRIBERS))
            self.bound.update(self.downstream.bound)
            intake = IntakeServer(
                self.cfg.intake, self.store, self.feed.push_all, store_url=self._store_url
            )
            self._intake = intake
            await intake.start()
            if intake.address:
                self.bound["intake"] = intake.address
            reporting = Reporting.from_config(self.cfg, self.store)  # state system, POS webhook
            tasks = [
                asyncio.create_task(self._receive(router)),
                asyncio.create_task(self._watch_disconnects(router)),
                asyncio.create_task(self._commit_loop()),
                asyncio.create_task(self._watch_keys()),
                asyncio.create_task(self._poll_feed()),
                asyncio.create_task(self.downstream.run()),
                asyncio.create_task(self.notifier.watchdog_loop()),
            ]
            if reporting is not None:
                tasks.append(asyncio.create_task(reporting.run()))
            tasks += self._notify_tasks()
            LOG.info("central ready", extra={"epoch": self.epoch, **self.bound})
            self._status = self._status_line()
            self.notifier.ready(self._status)
            self.ready.set()
            await asyncio.gather(*tasks)
        finally:
            self.notifier.stopping()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            router.close(0)
            with contextlib.suppress(Exception):
                await self._intake.aclose()
            with contextlib.suppress(Exception):
                self.downstream.close()
            zap.stop()
            ctx.term()
            self.notifier.close()

    def _notify_tasks(self) -> list[asyncio.Task[None]]:
        """The [notify] tail and sender (central/notify/), when a target is configured."""
        notify = Notifications.from_config(
            self.cfg.notify, self.store, self.last_contact, self.stations.names
        )
        return [] if notify is None else [asyncio.create_task(notify.run())]

    async def _send(self, route: bytes, frames: list[bytes]) -> bool:
        """Send without ever blocking the loop; a full or gone peer loses it (it will resync)."""
        if route in self.routes.dead:
            return False
        try:
            await self.router.send_multipart([route, *frames], flags=zmq.NOBLOCK)
        except zmq.ZMQError:
            return False
        return True

    # -- receiving ---------------------------------------------------------------------------
    def _backlog(self) -> int:
        return len(self.pending.events) + len(self.pending.rejected)

    async def _receive(self, router: zmq.asyncio.Socket) -> None:
        while True:
            if self._backlog() > 4 * self.cfg.central.batch_max_events:
                self._room.clear()  # stop reading: TCP pushes back on the stations, nothing drops
                await self._room.wait()
            frames = await router.recv_multipart(copy=False)
            try:
                await self._handle(frames)
            except Exception:  # the loop must never die on what a peer sent
                LOG.exception("message handling failed")

    async def _handle(self, frames: list[zmq.Frame]) -> None:
        route = frames[0].bytes
        user = str(frames[-1].get("User-Id")) if len(frames) > 1 else ""
        station = user if user in self.stations.names() else None
        if station is None:
            self._refuse(user or "?", "revoked")
            await self._send(
                route, p.encode(p.ERROR, p.Error(code="revoked", reason="key not allowed"))
            )
            return
        if not self.routes.seen(route, frames[-1], station):
            LOG.error(
                "message on a closed connection's routing id refused (hijack attempt?)",
                extra={"station": station},
            )
            stale = p.Error(code="reconnect", reason="stale routing id: reconnect")
            with contextlib.suppress(zmq.ZMQError):
                await self.router.send_multipart([route, *p.encode(p.ERROR, stale)], zmq.NOBLOCK)
            return
        self.stats.received += 1
        self.last_contact[station] = time.time()
        raw = [f.bytes for f in frames[1:]]
        try:
            command, body = p.decode(raw)
        except p.ProtocolError as exc:
            self._malformed(station, exc, raw)
            await self._send(
                route, p.encode(p.ERROR, p.Error(code=exc.code, reason=exc.reason[:300]))
            )
            return
        if command not in STATION_COMMANDS:
            err = p.ProtocolError("command", f"{command.decode()} is not sent by stations")
            self._malformed(station, err, raw)
            await self._send(route, p.encode(p.ERROR, p.Error(code=err.code, reason=err.reason)))
        elif isinstance(body, p.Hello):
            await self._hello(station, route, body)
        elif self.hello_routes.get(station) != route:
            # A connection that never said HELLO here (libzmq reconnected it under the station,
            # e.g. to a restarted central): it must start over, or it would never learn
            # where this central's copy of its journal ends.
            await self._send(route, p.encode(p.ERROR, p.Error(code="reconnect", reason=NO_HELLO)))
        elif isinstance(body, p.Events):
            self.pending.events.extend((station, ev) for ev in body.events)
            self.pending.routes[station] = route
            self._wake_commit.set()
        elif command == p.PING:
            await self._send(route, p.encode(p.PONG, p.Ping()))
        elif isinstance(body, p.SnapReq):
            await self.feed.snapshot(station, route)

    def _refuse(self, who: str, why: str) -> None:
        self.stats.refused += 1
        last = self._refusal_logged.get(who, 0.0)
        if time.monotonic() - last > 10:  # an alert, not a log flood
            self._refusal_logged[who] = time.monotonic()
            LOG.warning("message refused", extra={"user_id": who, "reason": why})

    def _malformed(self, station: str, exc: p.ProtocolError, raw: list[bytes]) -> None:
        self.stats.malformed += 1
        blob = msgspec.msgpack.encode([f[:16384] for f in raw[:8]])
        self.pending.rejected.append(
            Rejected(station_id=station, reason=f"malformed: {exc}", raw=blob)
        )
        self._wake_commit.set()

    async def _hello(self, station: str, route: bytes, hello: p.Hello) -> None:
        if hello.station_id != station:
            self._refuse(station, f"claims to be {hello.station_id!r}")
            LOG.error(
                "station identity mismatch: refused",
                extra={"key_name": station, "claimed": hello.station_id},
            )
            err = p.Error(code="identity", reason=f"this key belongs to {station!r}")
            await self._send(route, p.encode(p.ERROR, err))
            return
        last = await asyncio.to_thread(self.store.last_committed, station)
        if last > hello.last_written_seq:
            LOG.error(
                "central holds more of this station's journal than the station: station lost data",
                extra={"station": station, "central": last, "station_seq": hello.last_written_seq},
            )
        self.hello_routes[station] = route
        welcome = p.Welcome(
            last_committed_seq=last, server_epoch=self.epoch, window=self.cfg.central.window
        )
        await self._send(route, p.encode(p.WELCOME, welcome))
        LOG.info("station connected", extra={"station": station, "last_committed": last})
        await self.feed.hello(station, route, hello.last_qseq)

    async def _watch_disconnects(self, router: zmq.asyncio.Socket) -> None:
        """A closed connection's routing ids die with it: nothing is sent to them again."""
        monitor = router.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        try:
            while True:
                event = parse_monitor_message(await monitor.recv_multipart())
                for station in self.routes.closed(int(event["value"])):
                    peer = self.feed.peers.get(station)
                    if peer is not None and peer.route in self.routes.dead:
                        self.feed.forget(station)
        finally:
            router.disable_monitor()
            monitor.close(0)

    # -- committing --------------------------------------------------------------------------
    def _take(self) -> Pending:
        """Up to batch_max_events events (whole stations' runs stay in order) off the queue."""
        limit = self.cfg.central.batch_max_events
        batch, rest = self.pending.events[:limit], self.pending.events[limit:]
        taken = Pending(events=batch, rejected=self.pending.rejected, routes=self.pending.routes)
        self.pending = Pending(events=rest, routes=dict(self.pending.routes) if rest else {})
        return taken

    async def _commit_loop(self) -> None:
        while True:
            await self._wake_commit.wait()
            self._wake_commit.clear()
            while self.pending.events or self.pending.rejected:
                batch = self._take()
                self._room.set()
                try:
                    result = await asyncio.to_thread(
                        self.store.commit_batch, batch.events, batch.rejected
                    )
                except Exception:  # store down: no ACK, stations resend after their timeout
                    LOG.exception(
                        "commit failed; nothing acknowledged", extra={"events": len(batch.events)}
                    )
                    await asyncio.sleep(0.5)
                    continue
                self._account(result.accepted, result.duplicates, result.quarantined)
                for alarm in result.integrity_alarms:
                    LOG.error(
                        "integrity alarm: duplicate seq with a different hash",
                        extra={"event": alarm},
                    )
                for station, seq in result.acks.items():
                    route = batch.routes.get(station)
                    if route is not None:
                        ack = p.Ack(seq=seq, gap=station in result.gaps)
                        await self._send(route, p.encode(p.ACK, ack))
                if result.accepted:
                    self.downstream.wake()

    def _account(self, accepted: int, duplicates: int, quarantined: int) -> None:
        self.stats.commits += 1
        self.stats.accepted += accepted
        self.stats.duplicates += duplicates
        self.stats.quarantined += quarantined
        if quarantined:
            LOG.warning("events quarantined", extra={"count": quarantined})

    # -- housekeeping ------------------------------------------------------------------------
    async def _watch_keys(self) -> None:
        last_report, reported = time.monotonic(), Stats()
        while True:
            await asyncio.sleep(self.cfg.central.keys_poll_ms / 1000)
            if time.monotonic() - last_report >= 60 and self.stats != reported:
                last_report, reported = time.monotonic(), Stats(**vars(self.stats))
                LOG.info("central counters", extra=vars(self.stats))
            self._update_status()
            self.subscribers.reload()
            if self.stations.reload():
                for station in set(self.feed.peers) - self.stations.names():
                    self.feed.forget(station)
                    LOG.warning(
                        "station key revoked: connection cut off", extra={"station": station}
                    )

    def _status_line(self) -> str:
        s = self.stats
        return f"serving stations={len(self.feed.peers)} accepted={s.accepted} quarantined={s.quarantined}"

    def _update_status(self) -> None:
        status = self._status_line()
        if status != self._status:
            self._status = status
            self.notifier.status(status)

    async def _poll_feed(self) -> None:
        last_prune = 0.0
        while True:
            await asyncio.sleep(self.cfg.central.feed_poll_ms / 1000)
            try:
                await self.feed.push_all()
                if time.monotonic() - last_prune > 60:
                    last_prune = time.monotonic()
                    await asyncio.to_thread(self.store.prune_feed, self.cfg.central.feed_keep)
            except Exception:
                LOG.exception("feed push failed")
