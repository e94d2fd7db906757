"""Intake: orders, inventory and badges from files (`central import`) or the HTTP API.

HTTP was chosen for POS integrations over ZeroMQ REQ/REP: point-of-sale systems already speak
HTTP/JSON (webhooks, REST clients in every language, curl for a technician), need no ZeroMQ or
CURVE library, and get a status code per request. The API is small and synchronous: a 200 means
the change is committed and will reach the stations.

    POST   /v1/orders          ORDERS.json (an array) or one ORDER.json object: upsert
    DELETE /v1/orders/<id>     take an order off the queue
    PUT    /v1/inventory       INVENTORY.json: the full vault snapshot (missing labels are removed)
    PUT    /v1/badges          BADGES.json: the full badge allow-list
    GET    /v1/health          {"status": "ok", "head": <newest gseq>, "qseq": <newest qseq>}
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from central.config import IntakeSection
from central.store.base import SqlStore
from edge.common.chain import canonical_json
from edge.common.credentials import credential_path
from edge.common.errors import BadInput, ConfigError
from edge.common.protocol import FeedItem

LOG = logging.getLogger(__name__)
Change = tuple[FeedItem, str | None]


def _need(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise BadInput(f"{where}: {what}")


def order_changes(data: Any, where: str = "orders") -> list[Change]:
    """ORDERS.json (or one ORDER.json) -> feed upserts, each for its `station` or for all."""
    orders = data if isinstance(data, list) else [data]
    changes: list[Change] = []
    for i, order in enumerate(orders):
        at = f"{where}[{i}]"
        _need(isinstance(order, dict), at, "expected an order object")
        oid = order.get("order_id")
        _need(isinstance(oid, str) and bool(oid), at, "order_id: expected a non-empty string")
        lines = order.get("lines")
        _need(isinstance(lines, list) and bool(lines), at, "lines: expected a non-empty list")
        station = order.get("station")
        _need(station is None or isinstance(station, str), at, "station: expected a string")
        changes.append((FeedItem(kind="order", key=oid, body=canonical_json(order)), station))
    return changes


def _packages(data: Any) -> list[Any]:
    if isinstance(data, dict) and isinstance(data.get("Data"), list):
        return list(data["Data"])  # METRC's paged object
    _need(isinstance(data, list), "inventory", 'expected an array or {"Data": [...]}')
    return list(data)


def inventory_changes(data: Any, existing: set[str]) -> list[Change]:
    """INVENTORY.json -> upserts of every package and deletes of labels no longer listed."""
    changes: list[Change] = []
    seen: set[str] = set()
    for i, pkg in enumerate(_packages(data)):
        at = f"inventory[{i}]"
        _need(isinstance(pkg, dict), at, "expected a package object")
        label = pkg.get("Label")
        _need(isinstance(label, str) and bool(label), at, "Label: expected a non-empty string")
        item = pkg.get("Item")
        _need(isinstance(item, dict) and isinstance(item.get("Name"), str), at, "Item.Name missing")
        for key in ("Sku", "Batch"):
            _need(isinstance(pkg.get(key), str), at, f"{key}: expected a string")
        _need(label not in seen, at, f"Label {label} listed twice")
        seen.add(label)
        changes.append((FeedItem(kind="package", key=label, body=canonical_json(pkg)), None))
    changes += [(FeedItem(kind="package", key=k, body=None), None) for k in sorted(existing - seen)]
    return changes


def badge_changes(data: Any, existing: set[str]) -> list[Change]:
    """BADGES.json -> the full allow-list: [{"badge", "name", "supervisor"?, "expires_at"?}]."""
    _need(isinstance(data, list), "badges", "expected an array of badge objects")
    changes: list[Change] = []
    seen: set[str] = set()
    for i, badge in enumerate(data):
        at = f"badges[{i}]"
        _need(isinstance(badge, dict), at, "expected a badge object")
        code = badge.get("badge")
        _need(isinstance(code, str) and bool(code), at, "badge: expected a non-empty string")
        _need(isinstance(badge.get("name"), str), at, "name: expected a string")
        _need(isinstance(badge.get("supervisor", False), bool), at, "supervisor: expected a bool")
        expires = badge.get("expires_at")
        _need(expires is None or isinstance(expires, str), at, "expires_at: expected a string")
        seen.add(code)
        changes.append((FeedItem(kind="badge", key=code, body=canonical_json(badge)), None))
    changes += [(FeedItem(kind="badge", key=k, body=None), None) for k in sorted(existing - seen)]
    return changes


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc}") from exc
    except ValueError as exc:
        raise BadInput(f"{path}: invalid JSON: {exc}") from exc


def import_file(store: SqlStore, kind: str, path: Path) -> tuple[int, int]:
    """`central import KIND FILE`: validate all, then commit in one transaction; (changes, qseq)."""
    data = read_json(path)
    try:
        if kind == "orders":
            changes = order_changes(data)
        elif kind == "inventory":
            changes = inventory_changes(data, store.feed_keys("package"))
        else:
            changes = badge_changes(data, store.feed_keys("badge"))
    except BadInput as exc:
        raise BadInput(f"{path}: {exc}") from exc
    return len(changes), store.feed_put(changes)


Pushed = Callable[[], Awaitable[None]]
STATUS_TEXT = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    500: "Internal Server Error",
}


class IntakeServer:
    """A minimal HTTP/1.1 server (one request per connection) for the intake API."""

    def __init__(self, cfg: IntakeSection, store: SqlStore, pushed: Pushed) -> None:
        self.cfg = cfg
        self.store = store
        self.pushed = pushed
        self.address = ""
        self._token = b""
        self._server: asyncio.Server | None = None

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
        host, _, port = self.cfg.listen.rpartition(":")
        self._server = await asyncio.start_server(self._serve, host, int(port))
        sock = self._server.sockets[0].getsockname()
        self.address = f"{sock[0]}:{sock[1]}"

    def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(30):
                status, body = await self._request(reader)
        except (TimeoutError, ValueError, asyncio.IncompleteReadError, ConnectionError):
            status, body = 400, {"error": "malformed HTTP request"}
        except Exception:
            LOG.exception("intake request failed")
            status, body = 500, {"error": "internal error"}
        payload = json.dumps(body).encode()
        head = (
            f"HTTP/1.1 {status} {STATUS_TEXT.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        )
        try:
            writer.write(head.encode() + payload)
            await writer.drain()
            writer.close()
        except ConnectionError:
            pass

    async def _request(self, reader: asyncio.StreamReader) -> tuple[int, dict[str, Any]]:
        method, path, _ = (await reader.readuntil(b"\r\n")).decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if not hmac.compare_digest(
            headers.get("authorization", "").encode(), b"Bearer " + self._token
        ):
            return 401, {"error": "missing or wrong bearer token"}
        length = int(headers.get("content-length", "0"))
        if length > self.cfg.max_body_mb * 1024 * 1024:
            return 413, {"error": f"body larger than {self.cfg.max_body_mb} MiB"}
        raw = await reader.readexactly(length) if length else b""
        return await self._route(method, path, raw)

    async def _route(self, method: str, path: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        if (method, path) == ("GET", "/v1/health"):
            head = await asyncio.to_thread(self.store.head)
            _, qseq = await asyncio.to_thread(self.store.feed_floor)
            return 200, {"status": "ok", "head": head, "qseq": qseq}
        try:
            changes = await self._changes(method, path, raw)
        except BadInput as exc:
            return 400, {"error": str(exc)}
        if changes is None:
            return 404, {"error": f"no such resource: {method} {path}"}
        qseq = await asyncio.to_thread(self.store.feed_put, changes)
        await self.pushed()
        LOG.info("intake accepted", extra={"path": path, "changes": len(changes), "qseq": qseq})
        return 200, {"accepted": len(changes), "qseq": qseq}

    async def _changes(self, method: str, path: str, raw: bytes) -> list[Change] | None:
        if method == "DELETE" and path.startswith("/v1/orders/") and len(path) > 11:
            return [(FeedItem(kind="order", key=path[11:], body=None), None)]
        if (method, path) not in {
            ("POST", "/v1/orders"),
            ("PUT", "/v1/inventory"),
            ("PUT", "/v1/badges"),
        }:
            return None
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise BadInput(f"invalid JSON: {exc}") from exc
        if path == "/v1/orders":
            return order_changes(data)
        kind = "package" if path == "/v1/inventory" else "badge"
        existing = await asyncio.to_thread(self.store.feed_keys, kind)
        return (
            inventory_changes(data, existing)
            if kind == "package"
            else badge_changes(data, existing)
        )
