"""The intake's HTTP server on aiohttp: auth, limits, streaming bodies, status codes.

- Header limits are the parser's (aiohttp's llhttp: a line or field over 8 KiB, more than 64
  fields: 400) and are enforced before the token is looked at; a body must arrive within
  BODY_TIMEOUT_S (408).
- `Authorization: Bearer <token>` on everything but GET /v1/health and /v1/openapi.json (401).
- Bodies stream (Content-Length or chunked) into memory, or past 1 MiB into a spool file, and stop
  at [intake] max_body_mb (413); `Expect: 100-continue` is answered after the token, size and
  type are checked, so a refused client never sends its body.
- Content-Type must be JSON when given (415); a wrong method on a known path gets 405 with Allow;
  paths are percent-decoded (`DELETE /v1/orders/10%2041` withdraws order `10 41`); a query
  string is ignored.
- Parsing and checking run off the loop (central/intake/work.py); 400 names the field's JSON path.
- `Idempotency-Key` on POST/PUT/DELETE: a retry gets the stored answer (central/intake/tables.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web

from central.config import IntakeSection
from central.intake import api
from central.intake.receipts import state_receipt
from central.intake.records import Change, Kind, full
from central.intake.tables import IntakeTables
from central.intake.work import PROCESS_THRESHOLD, Parser
from central.store.base import SqlStore
from central.wholesale import LicenseRefused, release
from edge.common.credentials import credential_path
from edge.common.errors import ConfigError
from edge.common.feed import MAX_KEY, RecordError
from edge.common.protocol import FeedItem

LOG = logging.getLogger(__name__)
Pushed = Callable[[], Awaitable[None]]
# The state-system report's state for an order, or None: central/intake/receipts.py.
Receipt = Callable[[str], dict[str, Any] | None]
BODY_TIMEOUT_S = 60  # a request's body must arrive within this
MAX_HEADERS = 64
MAX_FIELD = 8190
MAX_IDEMPOTENCY_KEY = 255
KEEP_ALIVE_S = 15
WRITES: dict[str, Kind] = {
    "/v1/orders": "orders",
    "/v1/inventory": "inventory",
    "/v1/badges": "badges",
}
_ENCODER = msgspec.json.Encoder()


def _json(status: int, body: msgspec.Struct, **headers: str) -> web.Response:
    return web.Response(
        status=status, body=_ENCODER.encode(body), content_type="application/json", headers=headers
    )


def _problem(status: int, error: str, path: str | None = None, **headers: str) -> web.Response:
    return _json(status, api.Problem(error=error, path=path), **headers)


class TooLarge(Exception):
    pass


class IntakeServer:
    """Start with `await start()`; `address` is then "host:port". `aclose()` stops it."""

    def __init__(
        self,
        cfg: IntakeSection,
        store: SqlStore,
        pushed: Pushed,
        receipt: Receipt | None = None,
        store_url: str | None = None,
    ) -> None:
        """`store_url` (the store's [central] store URL) lets large bodies be committed by the
        worker process over its own connection; without it they are parsed there and committed
        here."""
        self.cfg = cfg
        self.store = store
        self.store_url = store_url
        self.body_timeout_s: float = BODY_TIMEOUT_S
        self.pushed = pushed
        self.receipt: Receipt = receipt or (lambda order_id: state_receipt(store, order_id))
        self.address = ""
        self._token = b""
        self._runner: web.AppRunner | None = None
        self._parser = Parser()
        self._inflight: set[tuple[str, str, str]] = set()
        self._write_lock = asyncio.Lock()  # full lists are diffed against the live keys
        self._openapi = _ENCODER.encode(api.openapi())
        self.tables: IntakeTables | None = None

    @property
    def limit(self) -> int:
        return self.cfg.max_body_mb * 1024 * 1024

    async def start(self) -> None:
        if not self.cfg.enabled:
            return
        # Under systemd the unit hands the file over with LoadCredential=intake.token:...
        token_file = credential_path(self.cfg.token_file)
        try:
            self._token = token_file.read_bytes().strip()
        except OSError as exc:
            raise ConfigError([f"[intake] token_file: cannot read {token_file}: {exc}"]) from exc
        if len(self._token) < 16:
            raise ConfigError(
                [f"[intake] token_file: {self.cfg.token_file}: token shorter than 16 characters"]
            )
        self.tables = await asyncio.to_thread(IntakeTables, self.store)
        self._runner = web.AppRunner(
            self.app(),
            access_log=None,
            handle_signals=False,
            max_line_size=MAX_FIELD,
            max_field_size=MAX_FIELD,
            max_headers=MAX_HEADERS,
            keepalive_timeout=KEEP_ALIVE_S,
            shutdown_timeout=1.0,
            lingering_time=1.0,  # an unread body (a refused request) is drained this long at most
        )
        await self._runner.setup()
        host, _, port = self.cfg.listen.rpartition(":")
        await web.TCPSite(self._runner, host, int(port)).start()
        bound = self._runner.addresses[0]
        self.address = f"{bound[0]}:{bound[1]}"

    def app(self) -> web.Application:
        """The routes (docs/schemas/openapi.json describes each one)."""
        app = web.Application(middlewares=[self._guard], client_max_size=self.limit)
        expect = self._expect
        app.router.add_route("POST", "/v1/orders", self._write, expect_handler=expect)
        app.router.add_route("PUT", "/v1/inventory", self._write, expect_handler=expect)
        app.router.add_route("PUT", "/v1/badges", self._write, expect_handler=expect)
        app.router.add_route("GET", "/v1/orders/{order_id}", self._order)
        app.router.add_route("DELETE", "/v1/orders/{order_id}", self._delete)
        app.router.add_route("GET", "/v1/health", self._health)
        app.router.add_route("GET", "/v1/openapi.json", self._openapi_doc)
        return app

    async def aclose(self) -> None:
        await self._parser.aclose()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- the checks every request passes -----------------------------------------------------
    def _authorized(self, request: web.BaseRequest) -> bool:
        given = request.headers.get("Authorization", "").encode("latin-1", "replace")
        return bool(self._token) and hmac.compare_digest(given, b"Bearer " + self._token)

    def _refusal(self, request: web.BaseRequest) -> web.Response | None:
        """401, 413 or 415 before any body is read (also answers an `Expect: 100-continue`)."""
        if not self._authorized(request):
            return _problem(401, "missing or wrong bearer token", **{"WWW-Authenticate": "Bearer"})
        if request.method in ("POST", "PUT"):
            length = request.content_length
            if length is not None and length > self.limit:
                return _problem(413, f"body larger than {self.cfg.max_body_mb} MiB")
            ctype = request.headers.get("Content-Type")
            if ctype is not None and not _is_json(request.content_type):
                return _problem(415, f"Content-Type {ctype[:80]!r}: send application/json")
        return None

    async def _expect(self, request: web.Request) -> web.StreamResponse | None:
        if request.headers.get("Expect", "").lower() != "100-continue":
            return _problem(417, "only Expect: 100-continue is understood")
        refused = self._refusal(request)
        if refused is not None:
            refused.force_close()  # the body will not come: do not wait for it
            return refused
        if request.version >= (1, 1):
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            request.writer.output_size = 0
        return None

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        public = request.path in ("/v1/health", "/v1/openapi.json") and request.method == "GET"
        try:
            if not public:
                refused = self._refusal(request)
                if refused is not None:
                    if request.method in ("POST", "PUT"):
                        refused.force_close()  # its body is never read
                    return refused
            return await handler(request)
        except web.HTTPException as exc:  # 404 and 405 from the router, as JSON
            headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else {}
            text = {404: f"no such resource: {request.path}", 405: "method not allowed"}
            return _problem(exc.status, text.get(exc.status, exc.reason), **headers)
        except Exception:
            LOG.exception("intake request failed", extra={"path": request.path})
            return _problem(500, "internal error")

    # -- bodies ----------------------------------------------------------------------------------
    async def _body(self, request: web.Request) -> bytes | Path:
        """The whole body: bytes, or a spool file past PROCESS_THRESHOLD; TooLarge at the limit.
        Spool writes go through a worker thread (a write can wait on the page cache)."""
        buf = bytearray()
        spool: Any = None
        size = 0
        try:
            async for chunk in request.content.iter_chunked(256 * 1024):
                size += len(chunk)
                if size > self.limit:
                    raise TooLarge
                buf += chunk
                if len(buf) >= PROCESS_THRESHOLD:
                    if spool is None:
                        fd, name = tempfile.mkstemp(prefix="packstation-intake-", suffix=".json")
                        spool = (os.fdopen(fd, "wb"), Path(name))
                    await asyncio.to_thread(spool[0].write, bytes(buf))
                    buf = bytearray()
            if spool is None:
                return bytes(buf)
            await asyncio.to_thread(spool[0].write, bytes(buf))
            await asyncio.to_thread(spool[0].close)
            return Path(spool[1])
        except BaseException:
            if spool is not None:
                spool[0].close()
                spool[1].unlink(missing_ok=True)
            raise

    # -- handlers --------------------------------------------------------------------------------
    async def _write(self, request: web.Request) -> web.StreamResponse:
        kind = WRITES[request.path]
        try:
            async with asyncio.timeout(self.body_timeout_s):
                body = await self._body(request)
        except TooLarge:
            refused = _problem(413, f"body larger than {self.cfg.max_body_mb} MiB")
            refused.force_close()  # the rest of the body is not read
            return refused
        except TimeoutError:
            late = _problem(408, f"body not complete within {self.body_timeout_s} s")
            late.force_close()
            return late
        try:
            digest = await asyncio.to_thread(_digest, body)
            return await self._idempotent(
                request, digest, lambda: self._apply(kind, body, request.path)
            )
        finally:
            if isinstance(body, Path):  # freeing 50 MB of extents can take a while: not here
                await asyncio.to_thread(body.unlink, True)

    async def _apply(self, kind: Kind, body: bytes | Path, where: str) -> web.Response:
        try:
            if isinstance(body, Path) and self.store_url and kind != "orders":
                async with self._write_lock:
                    count, qseq = await self._parser.commit_large(kind, body, self.store_url)
                await self.pushed()
                LOG.info("intake accepted", extra={"path": where, "changes": count, "qseq": qseq})
                return _json(200, api.Accepted(accepted=count, qseq=qseq))
            raw = body if isinstance(body, bytes) else await asyncio.to_thread(body.read_bytes)
            upserts = await self._parser.parse(kind, raw)
        except RecordError as exc:
            return _problem(400, f"{exc.path}: {exc.message}", exc.path)
        return await self._commit(kind, upserts, where)

    async def _commit(self, kind: Kind, upserts: list[Change], where: str) -> web.Response:
        warnings: list[str] = []
        async with self._write_lock:
            if kind == "orders":  # wholesale: the buyer's license first (central/wholesale.py)
                try:
                    upserts, warnings = await asyncio.to_thread(
                        release, self.store, upserts, self.cfg.license_max_age_days
                    )
                except LicenseRefused as exc:
                    return _problem(422, f"{exc.path}: {exc.message}", exc.path)
            existing: set[str] = set()
            if kind != "orders":
                feed_kind = "package" if kind == "inventory" else "badge"
                existing = await asyncio.to_thread(self.store.feed_keys, feed_kind)
            changes = await asyncio.to_thread(full, kind, upserts, existing)
            qseq = await asyncio.to_thread(self.store.feed_put, changes)
        await self.pushed()
        LOG.info("intake accepted", extra={"path": where, "changes": len(changes), "qseq": qseq})
        return _json(200, api.Accepted(accepted=len(changes), qseq=qseq, warnings=warnings))

    async def _idempotent(
        self, request: web.Request, digest: str, run: Callable[[], Awaitable[web.Response]]
    ) -> web.Response:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return await run()
        if not key or len(key) > MAX_IDEMPOTENCY_KEY:
            return _problem(400, f"Idempotency-Key: 1 to {MAX_IDEMPOTENCY_KEY} characters")
        assert self.tables is not None
        slot = (request.method, request.path, key)
        if slot in self._inflight:
            return _problem(409, "a request with this Idempotency-Key is still running")
        self._inflight.add(slot)
        try:
            seen = await asyncio.to_thread(self.tables.recall, *slot)
            if seen is not None:
                if seen.digest != digest:
                    return _problem(422, "Idempotency-Key already used with another body")
                return web.Response(
                    status=seen.status,
                    body=_ENCODER.encode(seen.response),
                    content_type="application/json",
                    headers={"Idempotent-Replayed": "true"},
                )
            response = await run()
            if response.status < 500:
                assert isinstance(response.body, bytes)
                answer = msgspec.json.decode(response.body)
                await asyncio.to_thread(
                    self.tables.remember, *slot, digest, response.status, answer
                )
            return response
        finally:
            self._inflight.discard(slot)

    async def _delete(self, request: web.Request) -> web.StreamResponse:
        order_id = request.match_info["order_id"]
        if not 1 <= len(order_id) <= MAX_KEY:
            return _problem(404, f"no such order: order ids are 1 to {MAX_KEY} characters")
        assert self.tables is not None
        tables = self.tables

        async def run() -> web.Response:
            if await asyncio.to_thread(tables.queued, order_id) is None:  # nothing to take off
                qseq = (await asyncio.to_thread(self.store.feed_floor))[1]
                return _json(200, api.Accepted(accepted=0, qseq=qseq))
            item = FeedItem(kind="order", key=order_id, body=None)
            return await self._commit("orders", [(item, None)], request.path)

        return await self._idempotent(request, "", run)

    async def _order(self, request: web.Request) -> web.StreamResponse:
        order_id = request.match_info["order_id"]
        report = await asyncio.to_thread(self._report, order_id)
        if report is None:
            return _problem(404, f"no such order: {order_id[:MAX_KEY]}")
        return _json(200, report)

    def _report(self, order_id: str) -> api.OrderReport | None:
        """In a worker thread: the tracker, caught up, and the queue."""
        assert self.tables is not None
        self.tables.catch_up()
        tracked = self.tables.tracked(order_id)
        queued = self.tables.queued(order_id)
        receipt = self.receipt(order_id)
        if tracked is not None:
            return api.OrderReport(
                order_id=order_id,
                status=tracked.status,  # type: ignore[arg-type]
                at=tracked.at,
                station=tracked.station_id,
                queued=queued is not None,
                event=tracked.event,
                gseq=tracked.gseq,
                receipt=receipt,
            )
        if queued is not None:
            station, at, _ = queued
            return api.OrderReport(
                order_id=order_id,
                status="queued",
                at=at,
                station=station,
                queued=True,
                receipt=receipt,
            )
        gone = self.tables.withdrawn(order_id)
        if gone is not None:
            return api.OrderReport(
                order_id=order_id,
                status="withdrawn",
                at=gone,
                station=None,
                queued=False,
                receipt=receipt,
            )
        return None

    async def _health(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return _json(200, api.Health(status="ok"))
        head = await asyncio.to_thread(self.store.head)
        _, qseq = await asyncio.to_thread(self.store.feed_floor)
        return _json(200, api.Health(status="ok", head=head, qseq=qseq))

    async def _openapi_doc(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=self._openapi, content_type="application/json")


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


def _digest(body: bytes | Path) -> str:
    h = hashlib.sha256()
    if isinstance(body, bytes):
        h.update(body)
    else:
        with body.open("rb") as f:
            while block := f.read(1024 * 1024):
                h.update(block)
    return h.hexdigest()
