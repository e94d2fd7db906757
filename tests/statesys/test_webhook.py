"""The POS webhook: signed, retried until a 2xx, the same idempotency key on every try, and the
`reported` event once the state system confirmed the sale (real HTTP both ways)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from central.statesys import report_state
from central.webhook import WebhookSender, verify
from tests.support.statesys import make_rig, package, tag

SECRET = b"a-webhook-secret-of-32-bytes...."


def test_webhook_signed_retried_idempotent_and_reported(tmp_path: Path) -> None:
    async def main() -> None:
        got: list[dict[str, Any]] = []
        answers = iter([500, 200, 503, 200, 200, 200, 200, 200])

        async def pos(request: web.Request) -> web.Response:
            raw = await request.read()
            h = request.headers
            got.append(
                {
                    "key": h["Idempotency-Key"],
                    "ok_sig": verify(
                        SECRET, h["X-Packstation-Timestamp"], raw, h["X-Packstation-Signature"]
                    ),
                    "body": json.loads(raw),
                }
            )
            return web.Response(status=next(answers))

        app = web.Application()
        app.router.add_post("/hook", pos)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        rig = await make_rig(tmp_path, [package(tag(0x100)), package(tag(0x101))], webhooks=True)
        rig.bridge.webhooks = True
        sender = WebhookSender(rig.reports, f"http://127.0.0.1:{port}/hook", SECRET, 2.0)
        try:
            rig.station.sealed_order("77", [tag(0x100)])
            rig.station.sealed_order("78", [tag(0x101)], channel="delivery")
            await rig.drain()
            assert report_state(rig.store, "77")["receipt"]["state"] == "confirmed"  # type: ignore[index]
            async with aiohttp.ClientSession() as session:
                for _ in range(20):
                    await sender.drain_once(session)
                    if all(w["delivered_at"] for w in rig.reports.webhooks()):
                        break
                    with rig.reports._txn():  # the backoff is seconds: make them due now
                        rig.reports._x("UPDATE webhook_outbox SET next_at = 0")
            assert all(g["ok_sig"] for g in got)
            delivered = {w["key"] for w in rig.reports.webhooks() if w["delivered_at"]}
            assert delivered == {
                "ready_for_pickup:station-01:77",
                "out_for_delivery:station-01:78",
                "reported:station-01:77",
                "reported:station-01:78",
            }
            # a failed try is repeated with the same key; the body names it too
            keys = [g["key"] for g in got]
            assert len(keys) == 6 and len(set(keys)) == 4
            assert all(g["body"]["idempotency_key"] == g["key"] for g in got)
            reported = next(g["body"] for g in got if g["key"] == "reported:station-01:77")
            assert reported["external"] == "station-01-77" and reported["state_id"]
        finally:
            await rig.close()
            await runner.cleanup()

    asyncio.run(main())
