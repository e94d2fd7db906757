"""`packstation status`, the info log lines and the station's metrics against a real daemon."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support.central import free_port
from tests.support.station import REPO, Daemon, tag, write_station

pytestmark = pytest.mark.slow  # the daemon runs as a subprocess


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge", *args],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def metric(text: str, name: str) -> int:
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert m, f"{name} not in metrics:\n{text}"
    return int(float(m.group(1)))


def test_status_log_lines_and_metrics_of_a_running_daemon(tmp_path: Path) -> None:
    config = write_station(tmp_path)
    port = free_port()
    text = config.read_text().replace(
        "[station]\n", f'[station]\nmetrics_listen = "127.0.0.1:{port}"\n', 1
    )
    config.write_text(text)
    with Daemon(config) as d:
        assert d.send("scan BADGE-ALICE")["ok"]
        assert d.send("scan ORD-1042")["phase"] == "picking"
        assert d.send(f"scan {tag(1)}")["phase"] == "picking"
        assert d.send(f"scan {tag(1)}")["phase"] == "halted"  # the same package twice
        assert d.send("scan BADGE-BOSS")["phase"] == "override"
        assert d.send("scan BADGE-BOSS")["phase"] == "picking"
        last_seq = d.send("state")["ok"] and _journal_last(tmp_path)

        shown = cli("status", "--config", str(config), "--json")
        assert shown.returncode == 0, shown.stderr
        info = json.loads(shown.stdout)
        assert (info["station"], info["agent"], info["order"]) == (
            "station-01",
            "BADGE-ALICE",
            "1042",
        )
        assert info["step"] == "picking"
        # the stand-in link acknowledges nothing (the ticker may journal more meanwhile)
        assert info["outbox"]["depth"] == info["outbox"]["last_seq"] >= last_seq
        assert info["outbox"]["oldest_unacked"]["seq"] == 1
        assert set(info["devices"]) >= {"scanner", "scale", "printer", "indicator", "central"}
        assert info["disk"]["free_mb"] > 0
        human = cli("status", "--config", str(config))
        assert human.returncode == 0
        assert re.search(r"^agent +BADGE-ALICE$", human.stdout, re.MULTILINE), human.stdout
        assert re.search(r"^outbox +\d+ events not yet acknowledged", human.stdout, re.MULTILINE)

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            scraped = r.read().decode()
        assert metric(scraped, "packstation_scans_total") == 6
        assert metric(scraped, 'packstation_halts_total{code="duplicate"}') == 1
        assert metric(scraped, 'packstation_verdicts_total{kind="match"}') == 1
        assert metric(scraped, "packstation_commit_seconds_count") >= 6
        assert metric(scraped, 'packstation_commit_seconds_bucket{le="+Inf"}') >= 6
        assert 'packstation_link_state{state="connected"} 0' in scraped
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            assert metric(r.read().decode(), "packstation_outbox_depth") >= 0
        assert d.terminate() == 0

    log = d.log()
    for pattern in (
        r"msg=login .*agent=BADGE-ALICE",
        r'msg="order loaded" .*order=1042',
        r"msg=halt .*code=duplicate",
        r"msg=override .*action=clear",
    ):
        assert re.search(pattern, log), f"{pattern} not in the station log:\n{log[-3000:]}"
    gone = cli("status", "--config", str(config))
    assert gone.returncode == 4
    assert gone.stderr.startswith("packstation: no station daemon answers on ")


def _journal_last(tmp: Path) -> int:
    from edge.journal import Journal

    journal = Journal(tmp / "journal.sqlite3", readonly=True)
    try:
        return journal.last_seq()
    finally:
        journal.close()


def test_metrics_port_answers_404_elsewhere(tmp_path: Path) -> None:
    import asyncio

    from edge.common.metrics import MetricsServer, Registry

    async def scenario() -> tuple[bytes, bytes]:
        reg = Registry()
        reg.counter("x_total", "x").inc(3, kind='a"b')
        server = MetricsServer(reg, "127.0.0.1:0")
        await server.start()
        host, port = server.address.split(":")
        out = []
        for path in ("/metrics", "/other"):
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            out.append(await reader.read())
            writer.close()
            await writer.wait_closed()
        await server.aclose()
        return out[0], out[1]

    ok, missing = asyncio.run(scenario())
    assert ok.startswith(b"HTTP/1.1 200 OK") and b'x_total{kind="a\\"b"} 3\n' in ok
    assert missing.startswith(b"HTTP/1.1 404")
