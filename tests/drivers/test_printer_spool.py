"""The print spool and service: durable, idempotent, never blocking the asyncio loop; a held job
prints once when the printer is back, across restarts, resets and refusals."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from drivers.printer import service as service_module
from drivers.printer.document import Document, Text
from drivers.printer.service import PrinterEvent, PrinterService, PrinterSettings
from drivers.printer.session import AttemptResult, Timeouts
from drivers.printer.sim import SimPrinter
from drivers.printer.spool import JobState, Spool, SpoolConflict
from drivers.printer.status import UNKNOWN
from drivers.printer.transport import parse_target

DOC = Document((Text("ORDER 1042"), Text("Packages: 4")), 58, title="label 1042")


def settings(sim: SimPrinter, **kw: object) -> PrinterSettings:
    base: dict[str, object] = {
        "target": parse_target(sim.target),
        "width_mm": 58,
        "timeouts": Timeouts(io=1.0, status=0.2, confirm=1.0),
        "retry_s": 0.05,
    }
    base.update(kw)
    return PrinterSettings(**base)  # type: ignore[arg-type]


async def next_event(
    queue: asyncio.Queue[PrinterEvent], kind: str, timeout: float = 5
) -> PrinterEvent:
    async with asyncio.timeout(timeout):
        while True:
            event = await queue.get()
            if event.kind == kind:
                return event


def test_held_job_prints_once_when_paper_is_loaded(tmp_path: Path) -> None:
    async def scenario(sim: SimPrinter) -> None:
        svc = PrinterService(settings(sim), tmp_path / "spool.sqlite3")
        events = svc.subscribe()
        await svc.start()
        started = time.monotonic()
        record = await svc.submit("label-1042", DOC)
        assert time.monotonic() - started < 0.5  # durable, but not waiting for the printer
        assert record.state is JobState.QUEUED
        held = await next_event(events, "held")
        assert "out of paper" in held.message and held.status.state == "paper_end"
        sim.set_state(paper="ok")
        printed = await svc.wait_printed("label-1042", 5)
        assert printed.state is JobState.PRINTED and printed.attempts >= 2
        again = await svc.submit("label-1042", DOC)  # a retried call from the station
        assert again.state is JobState.PRINTED
        await asyncio.sleep(0.2)
        await svc.stop()

    with SimPrinter() as sim:
        sim.set_state(paper="end")
        asyncio.run(scenario(sim))
        assert len(sim.jobs) == 1 and sim.dropped == []
        assert sim.jobs[0].decoded.lines[:2] == ["ORDER 1042", "Packages: 4"]


def test_open_job_survives_a_restart_and_prints_once(tmp_path: Path) -> None:
    spool = tmp_path / "spool.sqlite3"

    async def first_run(sim: SimPrinter) -> None:
        svc = PrinterService(settings(sim), spool)
        events = svc.subscribe()
        await svc.start()
        await svc.submit("label-7", DOC)
        held = await next_event(events, "held")
        assert "refused" in held.message.lower()
        await svc.stop()

    async def second_run(sim: SimPrinter) -> None:
        svc = PrinterService(settings(sim), spool)
        await svc.start()
        assert (await svc.wait_printed("label-7", 5)).state is JobState.PRINTED
        await svc.stop()

    with SimPrinter() as sim:
        sim.refuse()
        asyncio.run(first_run(sim))
        assert Spool(spool).get("label-7").state is JobState.QUEUED  # type: ignore[union-attr]
        sim.refuse(False)
        asyncio.run(second_run(sim))
        time.sleep(0.1)
        assert len(sim.jobs) == 1


def test_reset_mid_job_is_retried_whole_and_printed_once(tmp_path: Path) -> None:
    async def scenario(sim: SimPrinter) -> None:
        svc = PrinterService(settings(sim), tmp_path / "spool.sqlite3")
        events = svc.subscribe()
        await svc.start()
        await svc.submit("label-9", DOC)
        await next_event(events, "held")
        await svc.wait_printed("label-9", 5)
        await svc.stop()

    with SimPrinter() as sim:
        sim.reset_after = 30
        asyncio.run(scenario(sim))
        time.sleep(0.1)
        assert len(sim.jobs) == 1 and len(sim.dropped) == 1
        assert b"\x10\x14\x08" in b"".join(j.data for j in sim.jobs)  # buffers cleared first


def test_same_id_different_content_is_refused(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    record, new = spool.add("label-1", "label", "t", b"abc")
    assert new and record.process_id == "0001"
    assert spool.add("label-1", "label", "t", b"abc") == (record, False)
    with pytest.raises(SpoolConflict, match="label-1"):
        spool.add("label-1", "label", "t", b"abd")
    spool.close()


def test_spool_file_is_wal_and_fully_synchronous(tmp_path: Path) -> None:
    Spool(tmp_path / "spool.sqlite3").close()
    db = sqlite3.connect(tmp_path / "spool.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_cancelled_job_is_never_sent(tmp_path: Path) -> None:
    async def scenario(sim: SimPrinter) -> None:
        svc = PrinterService(settings(sim), tmp_path / "spool.sqlite3")
        events = svc.subscribe()
        await svc.start()
        await svc.submit("slip-1", DOC, kind="slip")
        await next_event(events, "held")
        assert await svc.cancel("slip-1")
        await next_event(events, "cancelled")
        sim.set_state(cover_open=False)
        await asyncio.sleep(0.3)
        assert not await svc.cancel("slip-1")
        await svc.stop()

    with SimPrinter() as sim:
        sim.set_state(cover_open=True)
        asyncio.run(scenario(sim))
        assert sim.jobs == []


def test_a_slow_printer_never_blocks_the_event_loop(tmp_path: Path) -> None:
    async def scenario(sim: SimPrinter) -> float:
        svc = PrinterService(
            settings(sim, timeouts=Timeouts(io=1.0, status=0.4, confirm=1.0)),
            tmp_path / "spool.sqlite3",
        )
        await svc.start()
        await svc.submit("label-1", DOC)
        worst, last = 0.0, time.monotonic()
        for _ in range(60):  # 0.6 s of ticks while the worker waits on the silent printer
            await asyncio.sleep(0.01)
            now = time.monotonic()
            worst, last = max(worst, now - last), now
        status = await svc.status()
        assert status.state == "unknown"
        await svc.wait_printed("label-1", 5)
        await svc.stop()
        return worst

    with SimPrinter() as sim:
        sim.answer = "silent"
        assert asyncio.run(scenario(sim)) < 0.1


def test_an_attempt_that_ignores_its_timeouts_is_abandoned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def hangs(*args: object, **kwargs: object) -> AttemptResult:
        time.sleep(2.5)  # a driver stuck in a kernel call
        return AttemptResult(True, UNKNOWN, UNKNOWN)

    monkeypatch.setattr(service_module, "attempt", hangs)

    async def scenario(sim: SimPrinter) -> PrinterEvent:
        svc = PrinterService(
            settings(sim, timeouts=Timeouts(io=0.1, status=0.05, confirm=0.1)),
            tmp_path / "spool.sqlite3",
        )
        events = svc.subscribe()
        await svc.start()
        await svc.submit("label-1", DOC)
        event = await next_event(events, "held", timeout=3)
        await svc.stop(timeout=0.1)
        return event

    with SimPrinter() as sim:
        started = time.monotonic()
        event = asyncio.run(scenario(sim))
        assert "hung" in event.message
        assert time.monotonic() - started < 2.5


def test_settings_from_the_printer_section() -> None:
    from drivers.config import PrinterConfig
    from drivers.printer.service import settings_from_config

    cfg = PrinterConfig(
        target="tcp://127.0.0.1:9100",
        paper_width_mm=58,
        timeout_ms=2500,
        status_timeout_ms=300,
        confirm="process-id",
        retry_ms=1500,
    )
    s = settings_from_config(cfg)
    assert s.target == parse_target("tcp://127.0.0.1:9100") and s.width_mm == 58
    assert s.timeouts == Timeouts(2.5, 0.3, 20.0) and s.confirm == "process-id"
    assert s.retry_s == 1.5


def test_job_interrupted_mid_attempt_is_resent_after_clearing_the_buffer(tmp_path: Path) -> None:
    spool_path = tmp_path / "spool.sqlite3"
    spool = Spool(spool_path)
    spool.add("label-5", "label", "t", b"\x1b@ORDER 5\n\x1dV\x00")
    spool.mark_attempt("label-5")  # the daemon died while sending
    spool.close()

    async def scenario(sim: SimPrinter) -> None:
        svc = PrinterService(settings(sim), spool_path)
        await svc.start()
        record = await svc.wait_printed("label-5", 5)
        assert record.attempts == 2
        await svc.stop()

    with SimPrinter() as sim:
        asyncio.run(scenario(sim))
        (job,) = sim.wait_for_jobs(1)
        assert job.data.startswith(b"\x10\x14\x08")  # DLE DC4 8: clear what may remain
        assert job.decoded.lines == ["ORDER 5"]
