"""Downstream: PUB of accepted events with a global sequence, replay, `tail` and `export`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zmq
import zmq.auth

from central.downstream import Subscriber
from edge.cli import run
from edge.common import protocol as p
from tests.support.central import REPO, LinkRunner, Setup, make_setup, running_central, until
from tests.support.events import body as event_body

pytestmark = pytest.mark.slow  # central as a subprocess


def _tail(setup: Setup, *args: str) -> subprocess.Popen[str]:
    cmd = [
        sys.executable,
        "-m",
        "edge",
        "central",
        "tail",
        "--config",
        str(setup.config),
        "--key",
        str(setup.keys / "tailer.key_secret"),
        *args,
    ]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO
    )


def _keys(setup: Setup, name: str = "tailer") -> tuple[bytes, bytes, bytes]:
    public, secret = zmq.auth.load_certificate(setup.keys / f"{name}.key_secret")
    server, _ = zmq.auth.load_certificate(setup.keys / "central.key")
    assert secret is not None
    return public, secret, server


async def _stream(setup: Setup, root: Path, counts: dict[str, int]) -> None:
    runners = [LinkRunner(setup, name, root) for name in counts]
    for r in runners:
        r.start()
    for r in runners:
        r.append(counts[r.name], type_="scan" if r.name.endswith("1") else "seal")
    await until(lambda: all(r.journal.acked_seq() == r.journal.last_seq() for r in runners), 30)
    for r in runners:
        await r.stop()


def test_late_subscriber_gets_everything_then_live_events(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01", "station-02"])
    with running_central(setup):
        asyncio.run(_stream(setup, tmp_path, {"station-01": 150, "station-02": 100}))
        tail = _tail(setup, "--since", "0", "--count", "400")  # joins after 250 were stored
        try:
            asyncio.run(_stream(setup, tmp_path, {"station-01": 90, "station-02": 60}))
            out, err = tail.communicate(timeout=60)
        finally:
            tail.kill()
        assert tail.returncode == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["gseq"] for r in rows] == list(range(1, 401))  # no gap, no duplicate
    for station, n in (("station-01", 240), ("station-02", 160)):
        assert sorted(r["seq"] for r in rows if r["station_id"] == station) == list(range(1, n + 1))
    assert rows[0]["body"]["station"] in ("station-01", "station-02")


def test_pub_topics_are_by_event_type_and_station(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01", "station-02"])
    with running_central(setup):
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        sub = ctx.socket(zmq.SUB)
        sub.linger = 0
        sub.curve_publickey, sub.curve_secretkey, sub.curve_serverkey = _keys(setup)
        sub.setsockopt(zmq.SUBSCRIBE, b"event/seal/station-02/")
        sub.connect(setup.pub)
        mon = Subscriber(setup.pub, setup.replay, _keys(setup), [])
        mon.replay(0)  # a round trip through the same key: the SUB handshake is done by now
        mon.close()
        asyncio.run(_stream(setup, tmp_path, {"station-01": 20, "station-02": 30}))
        got = []
        while sub.poll(2000):
            topic, version, body = sub.recv_multipart()
            assert version == p.VERSION
            got.append((topic, body))
        sub.close()
        ctx.term()
    assert len(got) == 30
    assert {t for t, _ in got} == {b"event/seal/station-02/"}


def test_subscriber_replays_from_a_given_gseq_then_goes_live(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01"])
    with running_central(setup):
        asyncio.run(_stream(setup, tmp_path, {"station-01": 50}))
        sub = Subscriber(setup.pub, setup.replay, _keys(setup), ["event/scan/"])
        events = list(sub.events(since=20, idle_timeout_ms=500))
        sub.close()
    assert [e.seq for e in events] == list(range(21, 51))


def test_replay_refuses_a_revoked_subscriber(tmp_path: Path) -> None:
    """Revoked: its live replay connection is shut down and a new handshake is refused."""
    setup = make_setup(tmp_path, ["station-01"])
    with running_central(setup) as central:
        sub = Subscriber(setup.pub, setup.replay, _keys(setup), [])
        assert sub.replay(0).head == 0
        (tmp_path / "subscribers" / "tailer.key").unlink()
        refused = False
        for _ in range(50):
            try:
                sub.replay(0, timeout_ms=500)
            except (ConnectionRefusedError, TimeoutError):
                refused = True
                break
            time.sleep(0.1)
        assert refused
        with pytest.raises((ConnectionRefusedError, TimeoutError)):
            sub.replay(0, timeout_ms=1000)  # for good, not one lost answer
        sub.close()
        log = central.log.read_text()
    assert "connection refused: unknown key" in log


def test_export_prints_every_stored_event(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    setup = make_setup(tmp_path, ["station-01"])
    with running_central(setup):
        asyncio.run(_stream(setup, tmp_path, {"station-01": 40}))
    assert run(["central", "export", "--config", str(setup.config)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["seq"] for r in rows] == list(range(1, 41))
    assert rows[0]["type"] == "scan" and len(rows[0]["hash"]) == 64
    assert run(["central", "export", "--since", "35", "--config", str(setup.config)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 5
    assert run(["central", "export", "--quarantine", "--config", str(setup.config)]) == 0
    assert capsys.readouterr().out == ""


def test_subscriber_that_falls_behind_fills_pub_drops_from_replay(tmp_path: Path) -> None:
    """PUB drops at its high-water mark: the subscriber sees the gseq jump and replays it."""
    setup = make_setup(tmp_path, ["station-01"], pub_hwm=5)
    with running_central(setup):
        sub = Subscriber(setup.pub, setup.replay, _keys(setup), [], rcvhwm=5)
        stream = sub.events(since=0, idle_timeout_ms=1500)

        async def burst() -> None:
            runner = LinkRunner(setup, "station-01", tmp_path)
            runner.start()
            runner.journal.append("scan", event_body(first=True))
            runner.link.wake()
            await until(lambda: runner.journal.acked_seq() == 1)
            await asyncio.to_thread(next, stream)  # now live; stop reading during the burst
            with runner.journal.transaction() as txn:
                for i in range(2999):
                    txn.append("scan", event_body(n=i, pad="x" * 8000))  # ~24 MB in all
            runner.link.wake()
            await until(lambda: runner.journal.acked_seq() == 3000, 60)
            await runner.stop()

        asyncio.run(burst())
        rest = list(stream)
        sub.close()
    assert [e.seq for e in rest] == list(range(2, 3001))
    assert sub.gaps_filled >= 1  # the PUB really dropped, and the gap was replayed
