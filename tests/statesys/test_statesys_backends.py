"""The bridge on PostgreSQL (its tables created idempotently there too) and behind BioTrack: a
retried sale_dispense is settled by nonce_replay, never dispensed twice."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp import web

from central.statesys.biotrack import BioTrackClient
from central.statesys.bridge import Bridge
from central.statesys.store import CONFIRMED, ReportStore
from tests.support.central import PgCluster
from tests.support.statesys import LICENSE, make_rig, package, tag

_names = itertools.count()


@pytest.mark.slow
def test_exactly_once_on_postgresql(tmp_path: Path, pg: PgCluster) -> None:
    url = pg.create_db(f"statesys_{next(_names)}")

    async def main() -> None:
        rig = await make_rig(tmp_path, [package(tag(0x100 + i)) for i in range(12)], store_url=url)
        try:
            ReportStore(rig.store)  # a second open: CREATE ... IF NOT EXISTS, nothing changes
            rig.emulator.inject("POST", "/sales/v2/receipts", "timeout", hang_s=1.5)
            for i in range(12):
                rig.station.sealed_order(f"{i}", [tag(0x100 + i)])
            for _ in range(20):
                await rig.drain()
                if all(j.state == CONFIRMED for j in rig.reports.jobs()):
                    break
            stats = rig.emulator.stats(LICENSE)
            assert stats["receipts"] == 12 and stats["duplicates"] == 0
            assert rig.reports.counts() == {"confirmed": 12}
        finally:
            await rig.close()

    asyncio.run(main())


class BioTrackMock:
    """BioTrackTHC JSON API 4.0, as much as the bridge uses: login, sale_dispense (NOT idempotent
    without the nonce check), nonce_replay; the first dispense's answer can be lost."""

    def __init__(self) -> None:
        self.dispensed: list[dict[str, Any]] = []
        self.by_nonce: dict[str, dict[str, Any]] = {}
        self.lose_next_answer = False
        self.splits: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = msgspec.json.Decoder(float_hook=Decimal).decode(await request.read())
        assert body["API"] == "4.0"
        action = body["action"]
        if action == "login":
            return web.json_response({"success": 1, "sessionid": "s-1"})
        if body.get("sessionid") != "s-1":
            return web.json_response({"success": 0, "error": "Your session has expired."})
        if action == "nonce_replay":
            found = self.by_nonce.get(body["nonce"])
            if found is None:
                return web.json_response(
                    {"success": 0, "error": "nonce not found", "errorcode": 62}
                )
            return web.json_response(found)
        if action == "sale_dispense":
            tid = f"T{len(self.dispensed) + 1}"
            self.dispensed.append(body)
            answer = {"success": 1, "transactionid": tid}
            self.by_nonce[body["nonce"]] = answer
            if self.lose_next_answer:
                self.lose_next_answer = False
                await asyncio.sleep(6)  # committed; the client's timeout (2 s) fires first
            return web.json_response(answer)
        if action == "inventory_split":
            answer = {"success": 1, "barcode_id": [f"62000000000000{len(self.splits) + 1:02d}"]}
            self.splits.append(body)
            self.by_nonce[body["nonce"]] = answer
            return web.json_response(answer)
        return web.json_response({"success": 0, "error": f"unknown action {action}"})


def test_biotrack_retry_is_settled_by_nonce_replay(tmp_path: Path) -> None:
    async def main() -> None:
        mock = BioTrackMock()
        app = web.Application()
        app.router.add_post("/serverjson.asp", mock.handle)
        runner = web.AppRunner(app, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        rig = await make_rig(tmp_path, [package(tag(0x100)), package(tag(0x101))])
        # 2 s: a loaded machine answers the other calls in time; only the lost answer times out
        client = BioTrackClient(f"http://127.0.0.1:{port}/serverjson.asp", LICENSE, "u", "p", 2.0)
        rig.bridge = Bridge(rig.reports, client, base_backoff_s=0.0, max_backoff_s=0.0)
        try:
            mock.lose_next_answer = True
            rig.station.sealed_order("1", [tag(0x100)])
            rig.station.sealed_order("2", [tag(0x101)])
            for _ in range(10):
                await rig.drain()
                if all(j.state == CONFIRMED for j in rig.reports.jobs()):
                    break
            assert len(mock.dispensed) == 2  # one each, despite the lost answer
            assert {j.remote_id for j in rig.reports.jobs()} == {"T1", "T2"}
            # the two sales go in parallel (one per call): which reaches the mock first is not fixed
            by_tag = {d["data"][0]["barcodeid"]: d for d in mock.dispensed}
            first = by_tag[tag(0x100)]
            assert set(by_tag) == {tag(0x100), tag(0x101)} and first["data"][0]["quantity"] == 1
            assert isinstance(first["sale_time"], int)
        finally:
            await client.close()
            await rig.close()
            await runner.cleanup()

    asyncio.run(main())


def test_biotrack_weigh_out_splits_then_sells_the_new_lot(tmp_path: Path) -> None:
    async def main() -> None:
        mock = BioTrackMock()
        app = web.Application()
        app.router.add_post("/serverjson.asp", mock.handle)
        runner = web.AppRunner(app, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        bulk = tag(0x500)
        rig = await make_rig(tmp_path, [package(bulk, "28", "Grams")], repackage=True)
        client = BioTrackClient(f"http://127.0.0.1:{port}/serverjson.asp", LICENSE, "u", "p", 2.0)
        rig.bridge = Bridge(rig.reports, client, base_backoff_s=0.0, max_backoff_s=0.0)
        try:
            rig.station.sealed_order(
                "5", [bulk], weights={bulk: 3500}, child_tags={bulk: tag(0x501)}
            )
            await rig.drain()
            assert [j.state for j in rig.reports.jobs()] == [CONFIRMED, CONFIRMED]
            (split,) = mock.splits
            assert split["data"][0]["barcodeid"] == bulk
            assert split["data"][0]["remove_quantity"] == Decimal("3.5")
            (sale,) = mock.dispensed
            assert sale["data"][0]["barcodeid"] == "6200000000000001"  # BioTrack's new lot
        finally:
            await client.close()
            await rig.close()
            await runner.cleanup()

    asyncio.run(main())
