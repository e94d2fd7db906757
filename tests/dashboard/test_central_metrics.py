"""Central's Prometheus metrics: counted from a real store, served on a real socket."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from central.metrics import CentralMetrics, CentralMetricsServer
from central.store import open_store
from tests.support.events import Chain


def _value(text: str, series: str) -> float:
    m = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    assert m, f"{series} not in:\n{text}"
    return float(m.group(1))


def test_scrape_counts_what_was_stored(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    chain = Chain(store, "st-1")
    chain.add("scan", kind="package", raw="X")
    chain.add("verdict", verdict="match", order_id="A")
    chain.add("scan", kind="package", raw="X")
    chain.add("verdict", verdict="duplicate", order_id="A")
    chain.add("halt", code="duplicate", order_id="A")
    metrics = CentralMetrics(store, connected=lambda: 1)
    metrics.commit.observe(0.004)

    async def scrape() -> tuple[str, str]:
        server = CentralMetricsServer(metrics, "127.0.0.1:0")
        await server.start()
        host, port = server.address.split(":")
        texts = []
        for _ in range(2):
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            texts.append((await reader.read()).decode())
            writer.close()
            await writer.wait_closed()
            chain.add("halt", code="wrong_batch", order_id="A")
        await server.aclose()
        return texts[0], texts[1]

    first, second = asyncio.run(scrape())
    assert first.startswith("HTTP/1.1 200 OK")
    assert _value(first, 'packstation_central_scans_total{station="st-1"}') == 2
    assert _value(first, 'packstation_central_verdicts_total{kind="duplicate"}') == 1
    assert _value(first, 'packstation_central_halts_total{code="duplicate"}') == 1
    assert _value(first, 'packstation_central_commit_seconds_bucket{le="0.005"}') == 1
    assert _value(first, 'packstation_central_commit_seconds_bucket{le="0.0025"}') == 0
    assert _value(first, "packstation_central_stations_connected") == 1
    assert _value(first, "packstation_central_quarantined") == 0
    assert "packstation_central_statesys_jobs{" not in first  # no bridge table: not configured
    # counted once each: the second scrape adds only the new halt
    assert _value(second, 'packstation_central_halts_total{code="duplicate"}') == 1
    assert _value(second, 'packstation_central_halts_total{code="wrong_batch"}') == 1
    assert _value(second, 'packstation_central_scans_total{station="st-1"}') == 2
