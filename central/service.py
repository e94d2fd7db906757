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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import zmq
import zmq.asyncio
import zmq.auth

from central import auth, stock
from central.config import CentralConfig
from central.dashboard import Dashboard, DashboardServer, build_dashboard
from central.downstream import Downstream
from central.feed import FeedSender
from central.guard import ConnectionGuard, keep_running
from central.intake import IntakeServer
from central.metrics import CentralMetrics, CentralMetricsServer
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


STATION_COMMANDS = frozenset({p.HELLO, p.EVENTS, p.PING, p.SNAPREQ, p.CLAIM, p.FETCH})
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
    over_quota: int = 0  # malformed messages not stored: the station's quarantine quota is full


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
        # claims wait here for the claim loop: one transaction (one fsync) answers all queued
        self._claims: list[tuple[str, bytes, p.Claim]] = []
        self._wake_claims = asyncio.Event()
        self._room = asyncio.Event()  # set while the queue has room: backpressure on reading
        self._room.set()
        self._refusal_logged: dict[str, float] = {}
        self._quarantine_bytes: dict[str, int] | None = None  # per station, read at first use
        self._quota_alerted: dict[str, float] = {}
        self.held: dict[str, str] = {}  # station -> why (forked chain), re-read every key poll
        self._holding: set[str] = set()  # held here, not yet in the store
        self.bound: dict[str, str] = {}
        self.routes = RouteGuard()
        self.guard = ConnectionGuard("stations", c.max_unauthenticated, c.handshake_ms / 1000)
        self.hello_routes: dict[str, bytes] = {}  # station -> route of its latest HELLO
        self.last_contact: dict[str, float] = {}  # station -> its last message ([notify])
        self.notifier = notifier or Notifier()
        self._status = ""
        self.dashboard: Dashboard | None = None
        self.metrics = CentralMetrics(self.store, lambda: len(self.feed.peers))

    def _server_socket(
        self, ctx: zmq.asyncio.Context, kind: int, domain: str
    ) -> zmq.asyncio.Socket:
        sock = ctx.socket(kind)
        sock.linger = 0
        sock.zap_domain = domain.encode()
        sock.curve_server = True
        sock.curve_secretkey = self.secret
        sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)
        # a connection that has not finished its CURVE handshake by then is closed by libzmq
        sock.setsockopt(zmq.HANDSHAKE_IVL, self.cfg.central.handshake_ms)
        return sock

    async def run(self) -> None:
        ctx = zmq.asyncio.Context()
        sync_ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.shadow(ctx.underlying)
        zap = auth.ZapHandler(
            sync_ctx, {auth.STATIONS: self.stations, auth.SUBSCRIBERS: self.subscribers}
        )
        zap.start()  # before any bind: without a handler libzmq would let every key in
        router = self._station_socket(ctx)
        tasks: list[asyncio.Task[None]] = []
        try:
            router.bind(self.cfg.central.bind)
            self.bound["stations"] = router.get_string(zmq.LAST_ENDPOINT)
            await asyncio.to_thread(
                auth.self_test, sync_ctx, auth.local_endpoint(self.bound["stations"]), self.public
            )
            self.router = router
            self.feed = FeedSender(self.store, self._send)
            self.downstream = Downstream(
                self.cfg.downstream,
                self.store,
                self.subscribers,
                self.cfg.central.max_unauthenticated,
                self.cfg.central.handshake_ms / 1000,
            )
            self.downstream.bind(ctx, lambda kind: self._server_socket(ctx, kind, auth.SUBSCRIBERS))
            self.bound.update(self.downstream.bound)
            intake = IntakeServer(
                self.cfg.intake, self.store, self.feed.push_all, store_url=self._store_url
            )
            self._intake = intake
            await intake.start()
            if intake.address:
                self.bound["intake"] = intake.address
            self.guard.on_closed = self._closed
            tasks = await self._start_dashboard() + await self._start_metrics()
            tasks += [asyncio.create_task(keep_running(n, f)) for n, f in self._parts(router)]
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
            if self._dashboard_server is not None:
                with contextlib.suppress(Exception):
                    await self._dashboard_server.aclose()
            zap.stop()
            ctx.term()
            self.notifier.close()

    def _station_socket(self, ctx: zmq.asyncio.Context) -> zmq.asyncio.Socket:
        router = self._server_socket(ctx, zmq.ROUTER, auth.STATIONS)
        router.setsockopt(zmq.ROUTER_MANDATORY, 1)
        router.setsockopt(zmq.MAXMSGSIZE, p.MAX_MESSAGE_BYTES)
        router.setsockopt(zmq.HEARTBEAT_IVL, 5000)
        router.setsockopt(zmq.HEARTBEAT_TIMEOUT, 15000)
        router.setsockopt(zmq.HANDSHAKE_IVL, self.cfg.central.handshake_ms)
        router.sndhwm = router.rcvhwm = 100_000
        return router

    def _parts(self, router: zmq.asyncio.Socket) -> list[tuple[str, Callable[[], object]]]:
        """Central's long-running parts; each is restarted when it fails, so a resource error
        never ends central (central/guard.py keep_running)."""
        parts: list[tuple[str, Callable[[], object]]] = [
            ("receive", lambda: self._receive(router)),
            ("connections", lambda: self.guard.run(router)),
            ("commit", self._commit_loop),
            ("claims", self._claim_loop),
            ("keys", self._watch_keys),
            ("feed", self._poll_feed),
            ("downstream", self.downstream.run),
            ("watchdog", self.notifier.watchdog_loop),
        ]
        reporting = Reporting.from_config(self.cfg, self.store)  # state system, POS webhook
        if reporting is not None:
            parts.append(("reporting", reporting.run))
        return parts

    _dashboard_server: DashboardServer | None = None

    async def _start_dashboard(self) -> list[asyncio.Task[None]]:
        """[dashboard] listen: serve the read-only dashboard and run its refresh loop."""
        self.dashboard = build_dashboard(self.cfg, self.store, lambda: set(self.feed.peers))
        if self.dashboard is None:
            return []
        self._dashboard_server = DashboardServer(self.dashboard, self.cfg.dashboard.listen)
        await self._dashboard_server.start()
        self.bound["dashboard"] = self._dashboard_server.address
        return [asyncio.create_task(self.dashboard.run())]

    async def _start_metrics(self) -> list[asyncio.Task[None]]:
        """[central] metrics_listen: Prometheus text format at /metrics."""
        if not self.cfg.central.metrics_listen:
            return []
        server = CentralMetricsServer(self.metrics, self.cfg.central.metrics_listen)
        await server.start()
        self.bound["metrics"] = server.address
        return [asyncio.create_task(server.run())]

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
        return len(self.pending.events) + len(self.pending.rejected) + len(self._claims)

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
        # the ZAP User-Id is the connection's CURVE key: a revoked or replaced key is refused
        # even when a new key is enrolled under the same name
        key = self.guard.seen(frames[-1]) if len(frames) > 1 else b""
        station = self.stations.name_of(key)
        if station is None:
            self._refuse(key.decode(errors="replace") or "?", "revoked")
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
        elif station in self.held:
            reason = f"held since its chain forked ({self.held[station]}): a supervisor decides"
            await self._send(route, p.encode(p.ERROR, p.Error(code="held", reason=reason[:300])))
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
        elif isinstance(body, p.Claim):
            self._claims.append((station, route, body))  # answered by _claim_loop
            self._wake_claims.set()
        elif isinstance(body, p.Fetch):
            await self._fetch(station, route, body)

    async def _fetch(self, station: str, route: bytes, req: p.Fetch) -> None:
        """Central's copy of the station's own journal: the anchor a restored station recovers
        from (its key only ever reads its own rows)."""
        events = await asyncio.to_thread(self.store.station_events, station, req.after, req.limit)
        last = await asyncio.to_thread(self.store.last_committed, station)
        LOG.info(
            "journal rows sent for recovery",
            extra={"station": station, "after": req.after, "rows": len(events)},
        )
        await self._send(
            route, p.encode(p.FETCHED, p.Fetched(events=events, last_committed_seq=last))
        )

    async def _hold(self, station: str, why: str) -> None:
        if station in self.held:
            return
        self.held[station] = why
        self._holding.add(station)
        LOG.error(
            "station held: its chain forked; refused until `packstation central release`",
            extra={"station": station, "why": why},
        )
        try:
            await asyncio.to_thread(self.store.hold, station, why)
        except Exception:
            LOG.exception("hold not stored")
            return
        self._holding.discard(station)

    def _quota_allows(self, station: str, size: int) -> bool:
        """Whether `size` more bytes of malformed messages fit in the station's quarantine quota
        (`quarantine_max_mb`); over it, an alert at most once a minute per station."""
        if self._quarantine_bytes is None:
            try:
                self._quarantine_bytes = self.store.quarantine_bytes()
            except Exception:  # noqa: BLE001 -- store down: count from zero, commits will fail too
                self._quarantine_bytes = {}
        used = self._quarantine_bytes.get(station, 0)
        if used + size <= self.cfg.central.quarantine_max_mb * 1024 * 1024:
            self._quarantine_bytes[station] = used + size
            return True
        self.stats.over_quota += 1
        last = self._quota_alerted.get(station, 0.0)
        if time.monotonic() - last >= 60:
            self._quota_alerted[station] = time.monotonic()
            LOG.error(
                "quarantine quota reached: malformed messages counted, no longer stored",
                extra={
                    "station": station,
                    "quota_mb": self.cfg.central.quarantine_max_mb,
                    "dropped_total": self.stats.over_quota,
                },
            )
        return False

    async def _claim_loop(self) -> None:
        """Reserve packages for stations' open orders (central/stock.py), answer, tell all. The
        claims queued while one transaction ran share the next: an order's claims sent ahead
        (and several stations' scans) cost one commit, and the receive loop never waits."""
        while True:
            await self._wake_claims.wait()
            self._wake_claims.clear()
            while self._claims:
                limit = self.cfg.central.batch_max_events
                batch, self._claims = self._claims[:limit], self._claims[limit:]
                self._room.set()
                asked = [(station, claim) for station, _, claim in batch]
                try:
                    answers = await asyncio.to_thread(stock.claim_all, self.store, asked)
                except Exception:  # store trouble: no answer, the stations judge on their own
                    LOG.exception("claims failed", extra={"claims": len(batch)})
                    continue
                for (_, route, _), answer in zip(batch, answers, strict=True):
                    if answer is not None:
                        await self._send(route, p.encode(p.CLAIMED, answer))
                if any(a is not None and a.ok for a in answers):
                    await self.feed.push_all()

    def _refuse(self, who: str, why: str) -> None:
        self.stats.refused += 1
        last = self._refusal_logged.get(who, 0.0)
        if time.monotonic() - last > 10:  # an alert, not a log flood
            self._refusal_logged[who] = time.monotonic()
            LOG.warning("message refused", extra={"user_id": who, "reason": why})

    def _malformed(self, station: str, exc: p.ProtocolError, raw: list[bytes]) -> None:
        self.stats.malformed += 1
        blob = msgspec.msgpack.encode([f[:16384] for f in raw[:8]])
        if not self._quota_allows(station, len(blob)):
            return  # counted, not stored: one key must not fill the store
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

    def _closed(self, fd: int) -> None:
        """A closed connection's routing ids die with it: nothing is sent to them again."""
        for station in self.routes.closed(fd):
            peer = self.feed.peers.get(station)
            if peer is not None and peer.route in self.routes.dead:
                self.feed.forget(station)

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
                    began = time.perf_counter()
                    result = await asyncio.to_thread(
                        self.store.commit_batch, batch.events, batch.rejected
                    )
                    self.metrics.commit.observe(time.perf_counter() - began)
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

                for fork in result.forks:
                    station_id, seq_text = fork.rsplit(":", 1)
                    await self._hold(station_id, f"seq {seq_text} differs from central's copy")
                for station, seq in result.acks.items():
                    route = batch.routes.get(station)
                    if route is not None:
                        ack = p.Ack(seq=seq, gap=station in result.gaps)
                        await self._send(route, p.encode(p.ACK, ack))
                if result.accepted:
                    self.downstream.wake()
                if self.dashboard is not None:
                    self.dashboard.wake()

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
            try:
                held = await asyncio.to_thread(self.store.holds)
            except Exception:  # noqa: BLE001 -- store down: keep the holds known
                held = dict(self.held)
            for station in set(self.held) - set(held) - self._holding:
                LOG.warning("station released by a supervisor", extra={"station": station})
            self.held = {**held, **{k: v for k, v in self.held.items() if k in self._holding}}
            if self.subscribers.reload():
                self.downstream.revoke()
            if self.stations.reload():
                # live connections are bound to the key they authenticated with: re-check each
                self.guard.revoke(lambda key: self.stations.name_of(key) is not None)
                for station in set(self.feed.peers) - self.stations.names():
                    self.feed.forget(station)
                    LOG.warning(
                        "station key revoked: connection cut off", extra={"station": station}
                    )

    def _status_line(self) -> str:
        s = self.stats
        g = self.guard.stats
        line = f"serving stations={len(self.feed.peers)} accepted={s.accepted} quarantined={s.quarantined}"
        extra = {"held": len(self.held), "shed": g.shed_pending, "cut": g.cut_revoked}
        return line + "".join(f" {k}={v}" for k, v in extra.items() if v)  # alerts, when any

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
