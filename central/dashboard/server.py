"""The dashboard's HTTP side on aiohttp: the page, its JSON snapshot and a server-sent event stream.

    GET /dashboard/                 the page (plain HTML/JS/CSS shipped in this package)
    GET /dashboard/?token=TOKEN     checks the token, sets an HttpOnly cookie, redirects to the page
    GET /dashboard/static/<file>    app.js, style.css
    GET /dashboard/api/state        the snapshot (JSON)
    GET /dashboard/api/stream       text/event-stream: one `state` event per change

Every route needs the viewer token (or the intake token): `Authorization: Bearer TOKEN`, or the
cookie the token link set. Read-only: nothing here writes to the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from central.dashboard.model import DashboardModel

LOG = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
COOKIE = "packstation_view"
PREFIX = "/dashboard"
HEARTBEAT_S = 15
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Dashboard:
    """The model, its refresh loop and the SSE subscribers. `wake()` after every commit."""

    def __init__(self, model: DashboardModel, tokens: list[bytes], poll_ms: int = 500) -> None:
        self.model = model
        self.tokens = [t for t in tokens if t]
        self.poll_s = poll_ms / 1000
        self._wake = asyncio.Event()
        self._changed = asyncio.Condition()
        self._closing = False

    def wake(self) -> None:
        self._wake.set()

    async def close(self) -> None:
        """End every open stream (before the HTTP server shuts down)."""
        self._closing = True
        async with self._changed:
            self._changed.notify_all()

    async def run(self) -> None:
        """Refresh on every wake (or every poll_ms), tell the streams when something changed."""
        while True:
            try:
                changed = await asyncio.to_thread(self.model.refresh)
            except Exception:  # a store hiccup must not end the dashboard
                LOG.exception("dashboard refresh failed")
                changed = False
            if changed:
                async with self._changed:
                    self._changed.notify_all()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            self._wake.clear()

    # -- auth ----------------------------------------------------------------------------------
    def _ok(self, presented: str) -> bool:
        given = presented.encode()
        return bool(given) and any(hmac.compare_digest(given, t) for t in self.tokens)

    def authorized(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and self._ok(auth[7:].strip()):
            return True
        return self._ok(request.cookies.get(COOKIE, ""))

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(PREFIX):
            return await handler(request)
        token = request.query.get("token", "")
        if token and request.path in (PREFIX, PREFIX + "/"):
            if not self._ok(token):
                return _unauthorized()
            response = web.Response(status=303, headers={"Location": PREFIX + "/"})
            response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path=PREFIX)
            return response
        if not self.authorized(request):
            return _unauthorized()
        return await handler(request)

    # -- routes --------------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        """Mount the dashboard on an existing aiohttp app (call before it starts)."""
        app.middlewares.append(self.guard)
        app.router.add_get(PREFIX, self._page)
        app.router.add_get(PREFIX + "/", self._page)
        app.router.add_get(PREFIX + "/static/{name}", self._static)
        app.router.add_get(PREFIX + "/api/state", self._state)
        app.router.add_get(PREFIX + "/api/stream", self._stream)

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers=_no_store())

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = STATIC / name
        if name not in {"app.js", "style.css"} or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers=_no_store())

    async def _state(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.model.snapshot(), headers=_no_store())

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        sent = -1
        while not self._closing:
            snap = self.model.snapshot()
            if snap.get("version", 0) != sent:
                sent = snap.get("version", 0)
                data = json.dumps(snap, default=str)
                await response.write(f"event: state\ndata: {data}\n\n".encode())
            else:
                await response.write(b": keep-alive\n\n")
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), HEARTBEAT_S)
        return response


def _unauthorized() -> web.Response:
    return web.json_response(
        {"error": "missing or wrong viewer token (open /dashboard/?token=TOKEN once)"}, status=401
    )


def _no_store() -> dict[str, str]:
    return {"Cache-Control": "no-store"}


def make_app(dashboard: Dashboard) -> web.Application:
    """A stand-alone aiohttp application serving only the dashboard."""
    app = web.Application()
    dashboard.add_routes(app)

    async def root(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(PREFIX + "/")

    app.router.add_get("/", root)
    return app


class DashboardServer:
    """Serves `make_app(dashboard)` on [dashboard] listen and runs the refresh loop."""

    def __init__(self, dashboard: Dashboard, listen: str) -> None:
        self.dashboard = dashboard
        self.listen = listen
        self.address = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        host, _, port = self.listen.rpartition(":")
        self._runner = web.AppRunner(
            make_app(self.dashboard), access_log=None, handler_cancellation=True
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, int(port))
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        sock = sockets[0].getsockname() if sockets else (host, port)
        self.address = f"{sock[0]}:{sock[1]}"

    async def aclose(self) -> None:
        await self.dashboard.close()
        if self._runner is not None:
            await self._runner.cleanup()
