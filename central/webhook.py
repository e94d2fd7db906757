"""Order status back to the POS: a signed webhook, retried, delivered at least once.

Events: `ready_for_pickup`, `out_for_delivery`, `cancelled` (from the station's `order_status`) and
`reported` (the state system confirmed the sale). Each is one row of `webhook_outbox` in central's
store, written in the same transaction as what caused it, and POSTed to `[intake] webhook_url` until
the POS answers 2xx (exponential backoff with jitter, up to 10 minutes between tries).

Every request carries:
- `Idempotency-Key: <event>:<station>:<order_id>` (also `idempotency_key` in the body): the same
  key on every retry, so the POS can drop a repeat (delivery is at least once);
- `X-Packstation-Timestamp: <unix seconds>` and
  `X-Packstation-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`, the secret
  read from `[intake] webhook_secret_file` (systemd credential). The POS recomputes it over the raw
  body and refuses a stale timestamp (the scheme of Stripe's and GitHub's webhooks).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import time

import aiohttp

from central.statesys.store import ReportStore

LOG = logging.getLogger(__name__)
MAX_DELAY_S = 600.0


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The `X-Packstation-Signature` header value."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: bytes, timestamp: str, body: bytes, header: str) -> bool:
    """What a POS does (and the tests): constant-time compare of the signature."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def retry_delay(attempts: int) -> float:
    """Seconds until the next try after `attempts` failed ones: exponential with jitter, capped."""
    cap = min(MAX_DELAY_S, 2.0 ** min(attempts + 1, 12))
    return random.uniform(cap / 2, cap)


async def post_signed(
    session: aiohttp.ClientSession, url: str, key: str, event: str, raw: bytes, secret: bytes
) -> None:
    """POST `raw` JSON with the idempotency key and, with a secret, the HMAC signature headers;
    aiohttp.ClientError unless the answer is a 2xx (the POS webhook and [notify])."""
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": key,
        "X-Packstation-Event": event,
        "X-Packstation-Timestamp": stamp,
    }
    if secret:
        headers["X-Packstation-Signature"] = signature(secret, stamp, raw)
    async with session.post(url, data=raw, headers=headers) as resp:
        await resp.read()
        if not 200 <= resp.status < 300:
            raise aiohttp.ClientError(f"HTTP {resp.status}")


class WebhookSender:
    """Drains `webhook_outbox` to the POS."""

    def __init__(self, reports: ReportStore, url: str, secret: bytes, timeout_s: float) -> None:
        self.reports = reports
        self.url = url
        self.secret = secret
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.delivered = 0

    async def drain_once(self, session: aiohttp.ClientSession) -> int:
        """Send what is due; returns the number delivered."""
        due = await asyncio.to_thread(self.reports.due_webhooks)
        done = 0
        for wid, key, event, body, attempts in due:
            try:
                await post_signed(session, self.url, key, event, body.encode(), self.secret)
                ok, why = True, ""
            except (TimeoutError, aiohttp.ClientError) as exc:
                ok, why = False, f"{type(exc).__name__}: {exc}"
            if ok:
                await asyncio.to_thread(self.reports.webhook_done, wid)
                done += 1
                self.delivered += 1
            else:
                await asyncio.to_thread(self.reports.webhook_later, wid, retry_delay(attempts), why)
                LOG.warning("POS webhook failed; will retry", extra={"key": key, "error": why})
        return done

    async def run(self, poll_s: float = 0.5) -> None:
        async with aiohttp.ClientSession(timeout=self.timeout) as session:
            while True:
                try:
                    await self.drain_once(session)
                except Exception:
                    LOG.exception("webhook sender failed")
                await asyncio.sleep(poll_s)
