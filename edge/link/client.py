"""The station's link to central: journal rows out (at-least-once, go-back-N), the feed in.

One DEALER over CurveZMQ to one central endpoint at a time (the next in the list after a failed
session). The journal is the outbox: rows above `acked_seq` are sent in order, at most `window` in
flight, and marked acked only when central's cumulative ACK (sent after its COMMIT) arrives. After a
reconnect central's WELCOME says where its copy ends and sending resumes there; with no ACK progress
for `ack_timeout_ms`, everything unacknowledged is sent again. Central drops duplicates by
(station, seq), so the effect is exactly once.

Authentication failures are not silent: the socket monitor reports ZAP refusals
(EVENT_HANDSHAKE_FAILED_AUTH) and central's ERROR "revoked"/"identity"; the status turns
`auth_failed` and the link keeps retrying with back-off (the key may be allowed later).

    link = StationLink(cfg.link, station_id, journal, replica, on_status=callback, keys=...)
    task = asyncio.create_task(link.run())   # until cancelled
    link.wake()                              # after appending events (any thread)
    link.wake(committed)                     # on the loop, with the rows just committed
    link.status()                            # LinkStatus snapshot
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import msgspec
import zmq
import zmq.asyncio
import zmq.auth
from zmq.utils.monitor import parse_monitor_message

from edge import __version__
from edge.common import protocol as p
from edge.common.credentials import credential_path
from edge.common.errors import ConfigError
from edge.journal import Journal, JournalEvent, anchor
from edge.link.config import LinkSection
from edge.link.replica import Replica
from edge.link.tail import CommittedTail

LOG = logging.getLogger(__name__)
MAX_ACK_TIMEOUT_S = 60.0
# At most one commit of the acked cursor per this interval while ACKs stream in: each is an fsync
# (synchronous=FULL) that competes with the station's own journal writes. A lone ACK is still
# committed at once; a cursor that lags after a crash only makes the link resend events central
# already holds (central drops duplicates, WELCOME names its last committed seq).
ACK_COMMIT_INTERVAL_S = 0.1


class LinkState(StrEnum):
    OFFLINE = "offline"  # no session with central (never connected, lost, or between retries)
    CONNECTED = "connected"  # WELCOME received; events flow
    AUTH_FAILED = "auth_failed"  # central refused this station's key or identity


class LinkStatus(msgspec.Struct, frozen=True, kw_only=True):
    """What the indicator and `doctor` show; `oldest_unacked_age_s` is None when nothing waits."""

    state: LinkState
    endpoint: str
    outbox_depth: int
    oldest_unacked_age_s: int | None
    acked_seq: int
    last_seq: int
    reconnects: int
    resends: int
    auth_failures: int
    last_error: str


def load_link_keys(secret_key: Path, server_key: Path) -> tuple[bytes, bytes, bytes]:
    """(public, secret, server public) from the station's secret and central's public certificate
    files (the daemon's are edge.station.config.StationPaths.secret_key/server_key); ConfigError
    if not. Under systemd the files come through LoadCredential=
    (edge.common.credentials.credential_path).
    """
    secret_file, server_file = credential_path(secret_key), credential_path(server_key)
    for key, path in (("secret_key_file", secret_file), ("server_key_file", server_file)):
        if not path.exists():  # pyzmq words a missing file as "Invalid certificate file"
            problem = f"[link] cannot load CURVE keys: {key}: {path} does not exist"
            raise ConfigError([f"{problem} (make a pair with `packstation keys new`)"])
    try:
        public, secret = zmq.auth.load_certificate(secret_file)
        server, _ = zmq.auth.load_certificate(server_file)
    except (OSError, ValueError) as exc:
        raise ConfigError([f"[link] cannot load CURVE keys: {exc}"]) from exc
    if not secret:
        raise ConfigError([f"[link] secret_key_file: {secret_file} holds no secret key"])
    return public, secret, server


def _age_s(at: str) -> int:
    try:
        then = datetime.fromisoformat(at)
    except ValueError:
        return 0
    return max(0, int((datetime.now(UTC) - then).total_seconds()))


class SessionEnd(Exception):
    """The current session is over (timeout, refusal); `auth` marks an authentication refusal."""

    def __init__(self, reason: str, auth: bool = False) -> None:
        super().__init__(reason)
        self.auth = auth


class StationLink:
    """The link; see the module docstring for the contract."""

    def __init__(
        self,
        cfg: LinkSection,
        station_id: str,
        journal: Journal,
        replica: Replica,
        on_status: Callable[[LinkStatus], None] | None = None,
        keys: tuple[bytes, bytes, bytes] | None = None,
    ) -> None:
        if not zmq.has("curve"):
            raise ConfigError(["[link] this libzmq has no CURVE support: cannot encrypt the link"])
        self.cfg = cfg
        self.station_id = station_id
        self.journal = journal
        self.replica = replica
        self.on_status = on_status
        self.keys = keys or load_link_keys(Path(cfg.secret_key_file), Path(cfg.server_key_file))
        self.endpoints = [cfg.endpoint, *cfg.fallback_endpoints]
        self.boot_id = uuid.uuid4().hex
        self._state = LinkState.OFFLINE
        self._endpoint = ""
        self._last_error = ""
        self.reconnects = self.resends = self.auth_failures = self.failures = 0
        self._failure_logged = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._tail = CommittedTail()  # rows the daemon just committed (edge.link.tail)
        self._acked = journal.acked_seq()
        self._last_seq = journal.last_seq()
        self._oldest_age: int | None = None
        self._session_now: _Session | None = None
        self._claims: dict[str, asyncio.Future[p.Claimed]] = {}
        # set once central's copy of this journal is known not to be ahead of it (or adopted)
        self.anchored = asyncio.Event()
        self.diverged = ""  # why the journal and central's copy differ ("" = they do not)
        self._signed_at = -anchor.SIGN_INTERVAL_S  # last signature of the chain head
        # benchmarks: ("sent"|"ack"|"acked", seq); "ack" as received, "acked" once committed
        self.probe: Callable[[str, int], None] | None = None
        # each feed_record_skipped event journalled (its body and `at`, `seq`): `packstation status`
        self.on_skipped: Callable[[dict[str, object]], None] | None = None

    # -- public API --------------------------------------------------------------------------
    def wake(self, committed: Sequence[JournalEvent] = ()) -> None:
        """New events are in the journal: send them now. Safe from any thread; on the loop,
        `committed` (the rows just committed, in order) are sent without reading them back."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._tail.offer(committed)
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake_unseen)

    def _wake_unseen(self) -> None:
        self._tail.forget()  # appended elsewhere: the journal says what is new
        self._wake.set()

    def status(self) -> LinkStatus:
        return LinkStatus(
            state=self._state,
            endpoint=self._endpoint,
            outbox_depth=max(0, self._last_seq - self._acked),
            oldest_unacked_age_s=self._oldest_age,
            acked_seq=self._acked,
            last_seq=self._last_seq,
            reconnects=self.reconnects,
            resends=self.resends,
            auth_failures=self.auth_failures,
            last_error=self._last_error,
        )

    async def run(self) -> None:
        """Keep a session with central up until cancelled; never returns otherwise."""
        self._loop = asyncio.get_running_loop()
        ctx = zmq.asyncio.Context()
        ctx.linger = 0  # the journal resends anything unsent: never hang on close
        backoff, index = 0.5, 0
        try:
            while True:
                endpoint = self.endpoints[index % len(self.endpoints)]
                try:
                    welcomed = await self._session(ctx, endpoint)
                except Exception as exc:  # noqa: BLE001 -- a full disk, a bad endpoint: retry
                    welcomed = False
                    self._link_failure(exc)
                self.reconnects += 1
                if welcomed:
                    backoff = 0.5
                else:
                    index += 1
                    backoff = min(backoff * 2, self.cfg.reconnect_max_ms / 1000)
                try:
                    await self._refresh()
                except Exception as exc:  # noqa: BLE001 -- retried like the session
                    self._link_failure(exc)
                await asyncio.sleep(backoff)
        finally:
            self._set_state(LinkState.OFFLINE)
            ctx.destroy(linger=0)

    def _link_failure(self, exc: Exception) -> None:
        """A failure inside the link: logged (at most once per 10 s), then retried with back-off."""
        self.failures += 1
        now = time.monotonic()
        if now - self._failure_logged >= 10:
            self._failure_logged = now
            LOG.error(
                "link failure; retrying",
                extra={"error": repr(exc), "failures": self.failures},
                exc_info=not isinstance(exc, (OSError, sqlite3.Error, zmq.ZMQError)),
            )
        self._set_state(LinkState.OFFLINE, f"link failure: {exc}")

    # -- state -------------------------------------------------------------------------------
    def _set_state(self, state: LinkState, error: str = "") -> None:
        changed = state != self._state
        self._state = state
        if error:
            self._last_error = error
        if changed:
            level = logging.ERROR if state is LinkState.AUTH_FAILED else logging.INFO
            LOG.log(
                level,
                "link state",
                extra={"state": str(state), "endpoint": self._endpoint, "error": error},
            )
        self._emit()

    def _emit(self) -> None:
        if self.on_status is not None:
            try:
                self.on_status(self.status())
            except Exception:
                LOG.exception("on_status callback failed")

    async def _refresh(self) -> None:
        """Re-read outbox depth and the oldest unacked event's age from the journal."""

        def read() -> tuple[int, int, int | None]:
            acked, last = self.journal.acked_seq(), self.journal.last_seq()
            oldest = self.journal.events(acked, 1) if last > acked else []
            return acked, last, (_age_s(oldest[0].at) if oldest else None)

        self._acked, self._last_seq, self._oldest_age = await asyncio.to_thread(read)
        self._emit()

    # -- one session -------------------------------------------------------------------------
    def _socket(self, ctx: zmq.asyncio.Context) -> zmq.asyncio.Socket:
        sock = ctx.socket(zmq.DEALER)
        public, secret, server = self.keys
        sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = public, secret, server
        sock.linger = 0
        sock.setsockopt(zmq.IMMEDIATE, 1)  # queue only to a completed (authenticated) connection
        sock.setsockopt(zmq.RECONNECT_IVL, 500)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, self.cfg.reconnect_max_ms)
        sock.setsockopt(zmq.HEARTBEAT_IVL, self.cfg.heartbeat_ms)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, self.cfg.timeout_ms)
        sock.setsockopt(zmq.HANDSHAKE_IVL, self.cfg.timeout_ms)
        sock.sndhwm = 100_000
        return sock

    async def _session(self, ctx: zmq.asyncio.Context, endpoint: str) -> bool:
        """Connect, HELLO, then pump until the session ends; True if WELCOME was received."""
        self._endpoint = endpoint
        sock = self._socket(ctx)
        monitor = sock.get_monitor_socket()
        session = _Session(self, sock)
        tasks = [asyncio.create_task(self._watch(monitor, session))]
        self._session_now = session
        try:
            sock.connect(endpoint)
            await session.run()
        except SessionEnd as end:
            if end.auth:
                self.auth_failures += 1
                self._set_state(LinkState.AUTH_FAILED, str(end))
            else:
                self._set_state(LinkState.OFFLINE, str(end))
        finally:
            self._session_now = None
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(zmq.ZMQError):
                sock.disable_monitor()
            monitor.close(0)
            sock.close(0)
        return session.welcomed

    def can_claim(self) -> bool:
        """Whether a claim sent now would reach central (a session central welcomed)."""
        session = self._session_now
        return session is not None and session.welcomed

    async def claim(self, claim: p.Claim) -> p.Claimed | None:
        """Ask central to reserve a package (CLAIM); None when offline or central does not
        answer within `[link] claim_timeout_ms` (the station then judges alone)."""
        session = self._session_now
        if session is None or not self.can_claim():
            return None
        future: asyncio.Future[p.Claimed] = asyncio.get_running_loop().create_future()
        self._claims[claim.claim_id] = future
        try:
            # Not waiting for the send: with IMMEDIATE set it blocks while the connection is
            # down, and the session's end closes the socket, which cancels a pending send into
            # the caller's task (a scan's) as a CancelledError. zmq.Again: offline now.
            await session.sock.send_multipart(p.encode(p.CLAIM, claim), flags=zmq.DONTWAIT)
            async with asyncio.timeout(self.cfg.claim_timeout_ms / 1000):
                return await future
        except (TimeoutError, zmq.ZMQError):
            return None
        finally:
            self._claims.pop(claim.claim_id, None)

    def claim_answered(self, answer: p.Claimed) -> None:
        future = self._claims.get(answer.claim_id)
        if future is not None and not future.done():
            future.set_result(answer)

    async def _watch(self, monitor: zmq.asyncio.Socket, session: _Session) -> None:
        """Turn socket-monitor events into session signals (auth failure, handshake, drop)."""
        try:
            await self._watch_events(monitor, session)
        except (zmq.ZMQError, ValueError, KeyError) as exc:  # never leave a session blind
            session.fail(SessionEnd(f"socket monitor failed: {exc}"))

    async def _watch_events(self, monitor: zmq.asyncio.Socket, session: _Session) -> None:
        failed_handshakes = 0
        while True:
            event = parse_monitor_message(await monitor.recv_multipart())
            kind = event["event"]
            LOG.debug("socket event", extra={"event": int(kind), "value": event["value"]})
            if kind == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
                failed_handshakes += 1  # once may be a crash mid-handshake; thrice is the key
                if failed_handshakes >= 3:
                    session.fail(
                        SessionEnd("CURVE handshake keeps failing (wrong server key?)", auth=True)
                    )
            elif kind == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                if session.welcomed:  # libzmq reconnected under us: central must hear HELLO
                    session.fail(SessionEnd("reconnected to central"))
                session.handshaken.set()
            elif kind == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                session.fail(
                    SessionEnd(f"central refused this station's key ({event['value']})", auth=True)
                )
            elif kind == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
                session.fail(SessionEnd("CURVE handshake failed (wrong server key?)", auth=True))
            elif kind == zmq.EVENT_DISCONNECTED and session.welcomed:
                session.fail(SessionEnd("disconnected from central"))


class _Session:
    """One connection's pump: HELLO/WELCOME, windowed sending, ACKs, feed, heartbeats."""

    def __init__(self, link: StationLink, sock: zmq.asyncio.Socket) -> None:
        self.link = link
        self.sock = sock
        self.handshaken = asyncio.Event()
        self.welcomed = False
        self._welcome = asyncio.Event()
        self.pending_welcome: p.Welcome | None = None  # while recovering central's copy
        self._failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.window = link.cfg.window
        self.next_send = 1
        self.acked = link.journal.acked_seq()  # central's cumulative ACK, as received
        self.durable_acked = self.acked  # what the journal's cursor holds
        self._last_ack_commit = -ACK_COMMIT_INTERVAL_S
        self._ack_commit: asyncio.Task[None] | None = None  # a coalesced commit, due soon
        self.last_rx = time.monotonic()
        self.last_progress = time.monotonic()
        self.ack_timeout = link.cfg.ack_timeout_ms / 1000
        self.rewound_to = -1
        self.snap_pending = False
        self.snap_asked = 0.0

    def fail(self, end: SessionEnd) -> None:
        if not self._failed.done():
            self._failed.set_exception(end)

    async def run(self) -> None:
        tasks = [asyncio.create_task(t) for t in (self._hello(), self._receive(), self._tick())]
        try:
            done, _ = await asyncio.wait(
                [self._failed, *tasks], return_when=asyncio.FIRST_COMPLETED
            )
            for fut in done:
                fut.result()  # raises SessionEnd (or a bug)
        finally:
            if self._ack_commit is not None:
                tasks.append(self._ack_commit)
            for task in tasks:
                task.cancel()
            _, stuck = await asyncio.wait(tasks, timeout=5)
            if stuck:  # never let a task that ignores cancellation hold the link
                LOG.error("session tasks did not stop", extra={"tasks": len(stuck)})
            if self.durable_acked < self.acked:  # the ACKs received: into the cursor before we go
                try:
                    await self._commit_acked()
                except sqlite3.Error as exc:  # the cursor lags: those events are only resent
                    LOG.warning("acknowledged position not saved", extra={"error": str(exc)})

    async def _send(self, command: bytes, body: msgspec.Struct) -> None:
        await self.sock.send_multipart(p.encode(command, body))

    async def _hello(self) -> None:
        link = self.link
        timeout = link.cfg.timeout_ms / 1000
        try:
            async with asyncio.timeout(timeout):
                await self.handshaken.wait()
        except TimeoutError:
            raise SessionEnd(
                f"no CURVE handshake with {link._endpoint} within {timeout:g} s"
            ) from None
        link._tail.forget()  # a new session reads where central's copy ends
        last_seq = await asyncio.to_thread(link.journal.last_seq)
        link._last_seq = max(link._last_seq, last_seq)
        hello = p.Hello(
            station_id=link.station_id,
            boot_id=link.boot_id,
            last_written_seq=last_seq,
            last_qseq=await asyncio.to_thread(link.replica.last_qseq),
            sw_version=__version__,
        )
        await self._send(p.HELLO, hello)
        try:
            async with asyncio.timeout(timeout):
                await self._welcome.wait()
        except TimeoutError:
            raise SessionEnd("no WELCOME from central") from None
        await self._pump()

    async def _pump(self) -> None:
        """Send journal rows in order within the window; go back N when ACKs stall."""
        link = self.link
        while True:
            link._wake.clear()  # before reading: a wake-up during the read is not lost
            in_flight = self.next_send - 1 - self.acked
            room = min(self.window - in_flight, link.cfg.batch)
            rows: list[JournalEvent] = []
            start = self.next_send
            if room > 0:
                held = link._tail.rows(start, room)
                if held is not None:
                    rows = held
                else:
                    offers = link._tail.offers
                    rows = await asyncio.to_thread(link.journal.events, start - 1, room)
                    if self.next_send != start:  # rewound (go-back-N) while reading: read again
                        continue
                    if len(rows) < room:  # read to the journal's end
                        link._tail.learned_end(start - 1 + len(rows), offers)
            if rows:
                events = _fit(rows)
                rows = rows[: len(events)]
                await self._send(p.EVENTS, p.Events(events=events))
                self.next_send = rows[-1].seq + 1
                link._last_seq = max(link._last_seq, rows[-1].seq)
                if link.probe is not None:
                    link.probe("sent", rows[-1].seq)
                continue
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
            # races its timeout, and the session's clean-up would then wait forever
            try:
                async with asyncio.timeout(min(self.ack_timeout, 1.0)):
                    await link._wake.wait()
            except TimeoutError:
                link._tail.forget()  # a quiet second: read the journal (a row no one offered)
            self._check_stall()

    def _check_stall(self) -> None:
        if self.next_send - 1 <= self.acked:
            self.last_progress = time.monotonic()
            return
        if time.monotonic() - self.last_progress >= self.ack_timeout:
            self._go_back("no acknowledgement progress")
            self.ack_timeout = min(self.ack_timeout * 2, MAX_ACK_TIMEOUT_S)

    def _go_back(self, why: str) -> None:
        LOG.info("resending unacknowledged events", extra={"from_seq": self.acked + 1, "why": why})
        self.link.resends += 1
        self.next_send = self.acked + 1
        self.rewound_to = self.acked
        self.last_progress = time.monotonic()
        self.link._wake.set()

    async def _receive(self) -> None:
        while True:
            frames = await self.sock.recv_multipart()
            self.last_rx = time.monotonic()
            LOG.debug("received", extra={"command": frames[1][:16] if len(frames) > 1 else b""})
            try:
                command, body = p.decode(frames)
            except p.ProtocolError as exc:
                LOG.warning("malformed message from central ignored", extra={"error": str(exc)})
                continue
            await self._dispatch(command, body)

    async def _dispatch(self, command: bytes, body: msgspec.Struct) -> None:
        link = self.link
        if isinstance(body, p.Ack):
            await self._ack(body)
        elif isinstance(body, p.Welcome):
            local = await asyncio.to_thread(link.journal.last_seq)
            if body.last_committed_seq > local:
                # restored or new card: adopt central's copy before anything is sent or numbered
                LOG.error(
                    "journal behind central: recovering central's copy of the missing rows",
                    extra={"central_seq": body.last_committed_seq, "journal_seq": local},
                )
                self.pending_welcome = body
                await self._send(p.FETCH, p.Fetch(after=local))
                return
            await self._welcomed(body)
        elif isinstance(body, p.Fetched):
            await self._adopt(body)
        elif isinstance(body, p.QueueUpdate):
            if not self.snap_pending and not await asyncio.to_thread(
                link.replica.apply_update, body
            ):
                await self._ask_snapshot("feed gap")
            await self._report_skipped()
        elif isinstance(body, p.Snap):
            ok = await asyncio.to_thread(link.replica.apply_snapshot_part, body)
            if not ok:
                await self._ask_snapshot("snapshot part missing")
            elif body.last:
                self.snap_pending = False
            await self._report_skipped()
        elif isinstance(body, p.Claimed):
            link.claim_answered(body)
        elif isinstance(body, p.Error):
            self._error(body)
        del command

    def _error(self, body: p.Error) -> None:
        """Central's ERROR: end the session for those that say so, log the rest."""
        link = self.link
        if body.code == "reconnect":
            raise SessionEnd(f"central asked to reconnect: {body.reason}")
        if body.code == "held":  # central refused a forked chain: a supervisor decides
            link.diverged = f"{anchor.HELD}: {body.reason}"
        if body.code in ("revoked", "identity", "held"):
            raise SessionEnd(f"central refused this station: {body.code}: {body.reason}", auth=True)
        LOG.warning("central reported an error", extra={"code": body.code, "reason": body.reason})

    async def _welcomed(self, body: p.Welcome) -> None:
        link = self.link
        self.window = max(1, min(link.cfg.window, body.window))
        self.next_send = body.last_committed_seq + 1
        self.welcomed = True
        self._welcome.set()
        if body.last_committed_seq > self.acked:
            await self._ack(p.Ack(seq=body.last_committed_seq))
        link.diverged = ""  # central takes this journal as it is (again: released)
        link._set_state(LinkState.CONNECTED)
        link.anchored.set()

    async def _adopt(self, fetched: p.Fetched) -> None:
        """Central's rows for a journal behind it: adopt them, ask for more, then carry on."""
        link, welcome = self.link, self.pending_welcome
        if welcome is None:
            return
        local = await asyncio.to_thread(link.journal.last_seq)
        rows = [JournalEvent(**msgspec.structs.asdict(ev)) for ev in fetched.events]
        try:
            local = await asyncio.to_thread(anchor.adopt, link.journal, local, rows)
            link._tail.forget()  # rows appended behind the daemon's back
        except anchor.Diverged as exc:
            link.diverged = str(exc)
            raise SessionEnd(
                f"journal behind central and diverged: {exc}; nothing is sent until a supervisor"
                " decides (docs/journal.md)"
            ) from exc
        link._last_seq = max(link._last_seq, local)
        if local < welcome.last_committed_seq and fetched.events:
            await self._send(p.FETCH, p.Fetch(after=local))
            return
        if local < welcome.last_committed_seq:
            link.diverged = f"central's copy has no row {local + 1} (quarantined there)"
            raise SessionEnd(f"journal behind central: {link.diverged}")
        LOG.warning("journal recovered from central", extra={"journal_seq": local})
        self.pending_welcome = None
        await self._welcomed(welcome)

    async def _report_skipped(self) -> None:
        """Journal each feed record the station could not use: central sees it as an event."""
        link = self.link
        for kind, key, reason in link.replica.take_skipped():
            LOG.error(
                "feed record not usable here: skipped",
                extra={"kind": kind, "key": key, "reason": reason},
            )
            body = {"station": link.station_id, "kind": kind, "key": key, "reason": reason[:500]}
            event = await asyncio.to_thread(link.journal.append, "feed_record_skipped", body)
            link.wake()  # no rows given: the tail forgets, the journal is read
            if link.on_skipped is not None:
                link.on_skipped({**body, "at": event.at, "seq": event.seq})

    async def _ack(self, ack: p.Ack) -> None:
        link = self.link
        if link.probe is not None:
            link.probe("ack", ack.seq)  # central's ACK as received (before the cursor commit)
        if ack.seq > self.acked:
            self.acked = ack.seq
            if self._ack_commit is None:
                if time.monotonic() - self._last_ack_commit >= ACK_COMMIT_INTERVAL_S:
                    await self._commit_acked()
                else:
                    self._ack_commit = asyncio.create_task(self._commit_acks_later())
                    self._ack_commit.add_done_callback(self._ack_commit_done)
            self.last_progress = time.monotonic()
            self.ack_timeout = link.cfg.ack_timeout_ms / 1000
            link._wake.set()
        elif ack.gap and self.rewound_to != ack.seq and self.next_send - 1 > ack.seq:
            self._go_back("central saw a gap")

    async def _commit_acked(self) -> None:
        """Move the journal's cursor to the ACKs received; only then report them as acked."""
        link = self.link
        seq = self.acked
        await asyncio.to_thread(link.journal.mark_acked, seq)
        self._last_ack_commit = time.monotonic()
        self.durable_acked = max(self.durable_acked, seq)
        link._acked = max(link._acked, seq)
        if time.monotonic() - link._signed_at >= anchor.SIGN_INTERVAL_S:
            link._signed_at = time.monotonic()
            await asyncio.to_thread(anchor.sign_head, link.journal, link.keys[1])
        if link.probe is not None:
            link.probe("acked", seq)

    async def _commit_acks_later(self) -> None:
        """Commit once the interval since the last commit is over, until the cursor is current."""
        try:
            while self.durable_acked < self.acked:
                due = self._last_ack_commit + ACK_COMMIT_INTERVAL_S - time.monotonic()
                await asyncio.sleep(max(0.0, due))
                await self._commit_acked()
        finally:
            self._ack_commit = None

    def _ack_commit_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._failed.done():
            return
        exc = task.exception()
        if exc is not None:  # a journal that cannot commit ends the session, as inline would
            self._failed.set_exception(exc)

    async def _ask_snapshot(self, why: str) -> None:
        LOG.info("asking central for a feed snapshot", extra={"why": why})
        self.snap_pending = True
        self.snap_asked = time.monotonic()
        await self._send(
            p.SNAPREQ, p.SnapReq(last_qseq=await asyncio.to_thread(self.link.replica.last_qseq))
        )

    async def _tick(self) -> None:
        link = self.link
        interval = link.cfg.heartbeat_ms / 1000
        while True:
            await asyncio.sleep(interval)
            if self.welcomed:
                await self._send(p.PING, p.Ping(seq=link._last_seq, qseq=0))
            if self.welcomed and time.monotonic() - self.last_rx > link.cfg.timeout_ms / 1000:
                raise SessionEnd("central stopped answering (heartbeat timeout)")
            if (
                self.snap_pending
                and time.monotonic() - self.snap_asked > link.cfg.timeout_ms / 1000
            ):
                await self._ask_snapshot("snapshot did not complete")
            await link._refresh()


MESSAGE_BUDGET = p.MAX_MESSAGE_BYTES // 2  # central drops a peer whose message exceeds the max


def _fit(rows: list[JournalEvent]) -> list[p.Event]:
    """The leading rows that fit one message (at least one; an oversized body is cut, so central
    quarantines that event and still acknowledges it, instead of the link resending it forever)."""
    events: list[p.Event] = []
    size = 0
    for row in rows:
        ev = _wire(row)
        if len(ev.body) > MESSAGE_BUDGET:
            LOG.error("event too large to send; central will quarantine it", extra={"seq": row.seq})
            ev = msgspec.structs.replace(ev, body=ev.body[:MESSAGE_BUDGET])
        size += len(ev.body) + 256
        if events and size > MESSAGE_BUDGET:
            break
        events.append(ev)
    return events


def _wire(row: JournalEvent) -> p.Event:
    return p.Event(
        seq=row.seq,
        event_id=row.event_id,
        at=row.at,
        type=row.type,
        body=row.body,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
