"""Delivery rules at central: ack after commit, dedupe by (station, seq), quarantine, go-back-N."""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path

import msgspec
import pytest

from central.store import open_store
from edge.common import protocol as p
from tests.support.central import (
    LinkRunner,
    RawStation,
    chain_events,
    delivery_report,
    make_setup,
    running_central,
    until,
)

pytestmark = pytest.mark.slow  # central as a subprocess


def test_link_drains_the_journal_and_marks_it_acked(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01"])

    async def scenario() -> None:
        runner = LinkRunner(setup, "station-01", tmp_path)
        runner.append(300)  # a backlog before the link ever connects
        runner.start()
        await until(lambda: runner.journal.acked_seq() == 300)
        runner.append(200)
        await until(lambda: runner.journal.acked_seq() == 500)
        status = runner.link.status()
        assert status.outbox_depth == 0 and status.state == "connected"
        await runner.stop()

    with running_central(setup):
        asyncio.run(scenario())
    report = delivery_report(setup.store, "station-01", tmp_path / "station-01" / "journal.sqlite3")
    assert report == {
        "journal": 500,
        "central": 500,
        "lost": 0,
        "duplicated": 0,
        "gaps": 0,
        "chain_breaks": 0,
        "quarantined": 0,
    }


def test_replayed_events_make_no_duplicates(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01"])
    events = chain_events(100)
    with running_central(setup):
        raw = RawStation(setup, "station-01")
        raw.hello()
        for _ in range(3):  # the same 100 events, three times, in shuffled batches
            for i in range(0, 100, 25):
                raw.send(p.encode(p.EVENTS, p.Events(events=events[i : i + 25])))
        acks = []
        while not acks or acks[-1].seq < 100:
            acks.append(raw.recv_until(p.ACK))
        raw.send(p.encode(p.EVENTS, p.Events(events=events[:10])))  # an old replay after the ack
        assert raw.recv_until(p.ACK).seq == 100  # cumulative ack, nothing new stored
        raw.close()
    store = open_store(setup.store)
    assert store.counts() == {"events": 100, "quarantined": 0}
    assert [e.event_id for e in store.events_after(0, 1000)] == [e.event_id for e in events]
    store.close()


def test_failed_chain_event_is_quarantined_and_still_covered(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01"])
    good = chain_events(5)
    bad = msgspec.structs.replace(good[2], body=b'{"seq":999}')  # tampered: hash no longer fits
    batch = [good[0], good[1], bad, good[3], good[4]]
    with running_central(setup):
        raw = RawStation(setup, "station-01")
        raw.hello()
        raw.send(p.encode(p.EVENTS, p.Events(events=batch)))
        assert raw.recv_until(p.ACK).seq == 5  # no hole: seq 3 is covered by the ack
        raw.close()
    store = open_store(setup.store)
    assert [e.seq for e in store.events_after(0, 100)] == [1, 2, 4, 5]
    (q,) = store.quarantined()
    assert q["seq"] == 3 and "hash does not match" in q["reason"]
    assert msgspec.msgpack.decode(q["raw"], type=p.Event) == bad  # kept whole, for the auditor
    store.close()


def test_gap_asks_the_station_to_go_back(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01"])
    events = chain_events(6)
    with running_central(setup):
        raw = RawStation(setup, "station-01")
        raw.hello()
        raw.send(p.encode(p.EVENTS, p.Events(events=events[:2])))
        assert raw.recv_until(p.ACK).seq == 2
        raw.send(p.encode(p.EVENTS, p.Events(events=events[4:])))  # 3 and 4 lost in transit
        ack = raw.recv_until(p.ACK)
        assert (ack.seq, ack.gap) == (2, True)
        raw.send(p.encode(p.EVENTS, p.Events(events=events[2:])))
        assert raw.recv_until(p.ACK).seq == 6
        raw.close()
    store = open_store(setup.store)
    assert store.counts() == {"events": 6, "quarantined": 0}
    store.close()


def test_duplicate_seq_with_different_content_is_an_integrity_alarm(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01"])
    events = chain_events(3)
    forged = chain_events(1)[0]  # seq 1 again, other event_id and hash
    with running_central(setup) as central:
        raw = RawStation(setup, "station-01")
        raw.hello()
        raw.send(p.encode(p.EVENTS, p.Events(events=events)))
        assert raw.recv_until(p.ACK).seq == 3
        raw.send(p.encode(p.EVENTS, p.Events(events=[forged])))
        assert raw.recv_until(p.ACK).seq == 3
        raw.close()
        log = central.log.read_text()
    store = open_store(setup.store)
    assert store.counts() == {"events": 3, "quarantined": 1}
    assert "integrity alarm" in store.quarantined()[0]["reason"]
    assert store.events_after(0, 10)[0].event_id == events[0].event_id  # the original stays
    store.close()
    assert "integrity alarm" in log


def _garbage(rng: random.Random, i: int) -> list[bytes]:
    """One of many kinds of malformed message."""
    kind = i % 8
    if kind == 0:
        return [os.urandom(rng.randrange(0, 64)) for _ in range(rng.randrange(1, 6))]
    if kind == 1:
        return [b"PSS9", p.EVENTS, b"\x80"]
    if kind == 2:
        return [p.VERSION, b"EXPLODE", b""]
    if kind == 3:
        return [p.VERSION, p.EVENTS, os.urandom(rng.randrange(1, 300))]
    if kind == 4:  # schema-valid msgpack, wrong types
        return [p.VERSION, p.EVENTS, msgspec.msgpack.encode({"events": [{"seq": "one"}]})]
    if kind == 5:  # hash of the wrong length
        ev = {
            "seq": 1,
            "event_id": "x",
            "at": "",
            "type": "t",
            "body": b"{}",
            "prev_hash": b"",
            "hash": b"1",
        }
        return [p.VERSION, p.EVENTS, msgspec.msgpack.encode({"events": [ev]})]
    if kind == 6:  # a huge integer
        return [p.VERSION, p.ACK, msgspec.msgpack.encode({"seq": 2**64 - 1})]
    return [p.VERSION, p.HELLO, msgspec.msgpack.encode({"station_id": 7})]


def test_malformed_flood_neither_crashes_central_nor_loses_real_events(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01"])
    rng = random.Random(9)

    async def scenario(raw: RawStation) -> None:
        runner = LinkRunner(setup, "station-01", tmp_path)
        runner.start()
        for chunk in range(10):
            runner.append(50)
            for i in range(1000):
                raw.send(_garbage(rng, chunk * 1000 + i))
            await asyncio.sleep(0.05)
        await until(lambda: runner.journal.acked_seq() == 500, 60)
        await runner.stop()

    with running_central(setup) as central:
        raw = RawStation(setup, "station-01")
        asyncio.run(scenario(raw))
        raw.close()
        assert central.proc is not None and central.proc.poll() is None  # still running
    report = delivery_report(setup.store, "station-01", tmp_path / "station-01" / "journal.sqlite3")
    assert (report["central"], report["lost"], report["duplicated"], report["gaps"]) == (
        500,
        0,
        0,
        0,
    )
    assert report["chain_breaks"] == 0
    store = open_store(setup.store)
    malformed = [q for q in store.quarantined() if q["reason"].startswith("malformed")]
    store.close()
    # every malformed message is kept in quarantine (none silently dropped); the ACK and PING
    # kinds decode but are not station commands, and are quarantined as such
    assert len(malformed) == 10_000


def test_oversized_events_are_quarantined_and_the_stream_goes_on(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01"])

    async def scenario() -> None:
        runner = LinkRunner(setup, "station-01", tmp_path)
        runner.append(3)
        runner.journal.append("photo", {"blob": "x" * (300 * 1024)})  # over the 256 KiB body cap
        runner.journal.append("photo", {"blob": "y" * (3 * 1024 * 1024)})  # over a message
        runner.append(3)
        runner.start()
        await until(lambda: runner.journal.acked_seq() == 8, 30)
        await runner.stop()

    with running_central(setup):
        asyncio.run(scenario())
    report = delivery_report(setup.store, "station-01", tmp_path / "station-01" / "journal.sqlite3")
    assert (report["central"], report["quarantined"], report["gaps"]) == (6, 2, 2)
    store = open_store(setup.store)
    reasons = sorted(q["reason"] for q in store.quarantined())
    store.close()
    assert reasons[0].startswith("body larger than") and reasons[1].startswith("body larger than")


def test_frozen_central_shows_offline_then_the_backlog_drains(tmp_path: Path) -> None:
    """SIGSTOP central: the station notices (status offline, for the indicator), keeps
    journalling, and drains everything once central runs again."""
    import signal

    setup = make_setup(tmp_path, ["station-01"])

    async def scenario(pid: int) -> None:
        runner = LinkRunner(setup, "station-01", tmp_path)
        runner.start()
        runner.append(10)
        await until(lambda: runner.journal.acked_seq() == 10)
        os.kill(pid, signal.SIGSTOP)
        try:
            runner.append(40)
            await until(lambda: runner.link.status().state == "offline", 15)
            await until(lambda: runner.link.status().outbox_depth == 40, 5)
        finally:
            os.kill(pid, signal.SIGCONT)
        await until(lambda: runner.journal.acked_seq() == 50, 30)
        assert runner.link.status().state == "connected" and runner.link.reconnects >= 1
        await runner.stop()

    with running_central(setup) as central:
        assert central.proc is not None
        asyncio.run(scenario(central.proc.pid))
    report = delivery_report(setup.store, "station-01", tmp_path / "station-01" / "journal.sqlite3")
    assert (report["central"], report["lost"], report["duplicated"]) == (50, 0, 0)


def test_link_falls_back_to_the_next_endpoint(tmp_path: Path) -> None:
    from tests.support.central import free_port

    setup = make_setup(tmp_path, ["station-01"])
    dead = f"tcp://127.0.0.1:{free_port()}"  # nothing listens here

    async def scenario() -> None:
        runner = LinkRunner(
            setup, "station-01", tmp_path, endpoint=dead, fallback_endpoints=[setup.endpoint]
        )
        runner.start()
        runner.append(25)
        await until(lambda: runner.journal.acked_seq() == 25, 30)
        assert runner.link.status().endpoint == setup.endpoint
        await runner.stop()

    with running_central(setup):
        asyncio.run(scenario())
