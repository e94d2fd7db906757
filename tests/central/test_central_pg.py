"""Central on PostgreSQL: end to end, two instances sharing one store, kill -9 during a stream."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import time
from pathlib import Path

import pytest
import zmq.auth

from central.downstream import Subscriber
from tests.support.central import (
    CentralProcess,
    LinkRunner,
    PgCluster,
    delivery_report,
    make_setup,
    running_central,
    start_sender,
    until,
)

pytestmark = pytest.mark.slow  # PostgreSQL and central as subprocesses

_names = itertools.count()


def test_two_central_instances_share_one_store(tmp_path: Path, pg: PgCluster) -> None:
    url = pg.create_db(f"shared_{next(_names)}")
    a = make_setup(tmp_path / "a", ["station-01", "station-02"], store=url)
    b = make_setup(tmp_path / "b", [], store=url)
    # instance b uses a's keys: same central identity, same allow-list
    b.config.write_text(
        a.config.read_text()
        .replace(a.endpoint, b.endpoint)
        .replace(a.pub, b.pub)
        .replace(a.replay, b.replay)
        .replace(a.intake, b.intake)
    )

    async def scenario() -> None:
        one = LinkRunner(a, "station-01", tmp_path)
        two = LinkRunner(a, "station-02", tmp_path, endpoint=b.endpoint)
        for r in (one, two):
            r.start()
            r.append(300)
        await until(lambda: one.journal.acked_seq() == 300 and two.journal.acked_seq() == 300, 60)
        for r in (one, two):
            await r.stop()

    with running_central(a), running_central(b):
        asyncio.run(scenario())
        public, secret = zmq.auth.load_certificate(a.keys / "tailer.key_secret")
        server, _ = zmq.auth.load_certificate(a.keys / "central.key")
        assert secret is not None
        sub = Subscriber(b.pub, b.replay, (public, secret, server), [])
        events = list(sub.events(0, idle_timeout_ms=300))
        sub.close()
    assert [e.gseq for e in events] == list(range(1, 601))  # one global order across instances
    for s in ("station-01", "station-02"):
        report = delivery_report(url, s, tmp_path / s / "journal.sqlite3")
        assert (report["central"], report["lost"], report["gaps"], report["chain_breaks"]) == (
            300,
            0,
            0,
            0,
        )


@pytest.mark.timeout(180)
def test_kill9_central_on_postgresql(tmp_path: Path, pg: PgCluster) -> None:
    url = pg.create_db(f"crash_{next(_names)}")
    setup = make_setup(tmp_path, ["station-01"], store=url)
    central = CentralProcess(setup)
    journal = tmp_path / "station-01" / "journal.sqlite3"
    sender: subprocess.Popen[bytes] | None = None
    total = 2000
    try:
        central.start()
        sender = start_sender(setup, "station-01", total, 500, tmp_path / "station.log")
        for _ in range(3):
            time.sleep(1.0)
            central.kill9()
            time.sleep(0.5)
            central.start()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            report = delivery_report(url, "station-01", journal)
            if report["central"] == total:
                break
            time.sleep(0.5)
    finally:
        if sender is not None:
            sender.kill()
            sender.wait(10)
        central.kill9()
    assert delivery_report(url, "station-01", journal) == {
        "journal": total,
        "central": total,
        "lost": 0,
        "duplicated": 0,
        "gaps": 0,
        "chain_breaks": 0,
        "quarantined": 0,
    }


@pytest.mark.timeout(180)
def test_postgresql_crash_under_a_running_central(tmp_path: Path, pg: PgCluster) -> None:
    """The database dies mid-stream: nothing is acknowledged that was not committed, central
    reconnects once PostgreSQL is back, and the station's backlog drains with no loss."""
    url = pg.create_db(f"dbcrash_{next(_names)}")
    setup = make_setup(tmp_path, ["station-01"], store=url)
    journal = tmp_path / "station-01" / "journal.sqlite3"
    total = 1500
    with running_central(setup) as central:
        sender = start_sender(setup, "station-01", total, 500, tmp_path / "station.log")
        try:
            time.sleep(1.0)
            pg.crash()
            time.sleep(1.5)
            pg.launch()
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                if delivery_report(url, "station-01", journal)["central"] == total:
                    break
                time.sleep(0.5)
        finally:
            sender.kill()
            sender.wait(10)
        assert central.proc is not None and central.proc.poll() is None
        assert "commit failed; nothing acknowledged" in central.log.read_text()
    assert delivery_report(url, "station-01", journal) == {
        "journal": total,
        "central": total,
        "lost": 0,
        "duplicated": 0,
        "gaps": 0,
        "chain_breaks": 0,
        "quarantined": 0,
    }
