"""The intake's HTTP server in-process, on its own event loop thread, over a real SQLite store;
and a small blocking HTTP client for it (http.client, or a raw socket for what that cannot send)."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from central.config import IntakeSection
from central.intake import IntakeServer
from central.store import open_store
from central.store.base import SqlStore

TOKEN = "t0ken-for-the-intake-api-tests"


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Harness:
    server: IntakeServer
    store: SqlStore
    host: str
    port: int
    loop: asyncio.AbstractEventLoop
    pushes: list[int]

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        token: str | None = TOKEN,
        headers: dict[str, str] | None = None,
        chunked: bool = False,
    ) -> Reply:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        head = {"Content-Type": "application/json"} if body is not None else {}
        if token is not None:
            head["Authorization"] = f"Bearer {token}"
        head.update(headers or {})
        payload: Any = body
        if body is not None and not isinstance(body, bytes):
            payload = json.dumps(body).encode()
        if chunked and isinstance(payload, bytes):
            data = payload
            payload = iter([data[i : i + 65536] for i in range(0, len(data), 65536)])
        conn.request(method, path, body=payload, headers=head, encode_chunked=chunked)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        return Reply(resp.status, json.loads(raw) if raw else None, dict(resp.getheaders()))

    def raw(self, data: bytes, timeout: float = 10) -> bytes:
        """Send bytes as they are, then end the sending side; everything the server answers
        until it closes."""
        with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            out = b""
            while chunk := sock.recv(65536):
                out += chunk
        return out


async def _stop(server: IntakeServer) -> None:
    """aclose(), then end what is left on the loop (a connection lingering on an unread body),
    as asyncio.run does for central."""
    await server.aclose()
    rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in rest:
        task.cancel()
    await asyncio.gather(*rest, return_exceptions=True)


@contextlib.contextmanager
def running_intake(
    tmp: Path, max_body_mb: int = 64, worker_commits: bool = True, store_url: str | None = None
) -> Iterator[Harness]:
    """`worker_commits`: large bodies are committed by the worker process (as in central);
    otherwise parsed there and committed in-process (a store given without its URL).
    `store_url`: another store than a SQLite file under `tmp` (a PostgreSQL database)."""
    token_file = tmp / "intake.token"
    token_file.write_text(TOKEN + "\n")
    url = store_url or f"sqlite://{tmp / 'central.sqlite3'}"
    store = open_store(url)
    cfg = IntakeSection(listen="127.0.0.1:0", token_file=str(token_file), max_body_mb=max_body_mb)
    pushes: list[int] = []

    async def pushed() -> None:
        pushes.append(1)

    server = IntakeServer(cfg, store, pushed, store_url=url if worker_commits else None)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
    host, port = server.address.rsplit(":", 1)
    try:
        yield Harness(server, store, host, int(port), loop, pushes)
    finally:
        asyncio.run_coroutine_threadsafe(_stop(server), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        store.close()
