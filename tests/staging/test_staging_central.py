"""Staging, hand-off and the day's report against the real daemon and a real central: every step
and every refusal journalled at the station reaches central, which knows where every bag is and
writes the reconciliation (csv, json, pdf read back) whose totals this test recounts from the store."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from drivers.printer.sim import SimPrinter
from edge.cli import run
from tests.support.central import delivery_report, running_central
from tests.support.linked import wait_until as wait
from tests.support.staging import (
    Receiver,
    central_with_orders,
    link,
    pack,
    release_refused,
    station_config,
)
from tests.support.station import Daemon, journal_events, tag

pytestmark = pytest.mark.slow  # the daemon and central as subprocesses


def _stage_and_release(d: Daemon, station: Path) -> None:
    wait(lambda: "central" not in d.state()["devices_down"])
    wait(lambda: d.send("scan BADGE-ALICE")["phase"] == "ready")
    # a delivery bag put on a pickup shelf halts with a slip; the supervisor clears it
    seal_2001 = pack(d, "2001", tag(4))
    assert d.send("scan LOC-SHELF-A1")["phase"] == "halted"
    assert journal_events(station, "slip_requested")[-1]["body"]["code"] == "wrong_location"
    d.send("scan BADGE-BOSS")
    assert d.send("scan BADGE-BOSS")["phase"] == "stage"
    assert d.send("scan LOC-BIN-7")["phase"] == "ready"
    seal_5001 = pack(d, "5001", tag(3))
    assert d.send("scan LOC-SHELF-A1")["phase"] == "ready"
    # hand-off: every refusal, then the releases
    assert release_refused(d, seal_2001) == "no_location"
    assert release_refused(d, "LOC-SHELF-A1", seal_2001) == "wrong_location"
    forged = seal_2001[:-1] + ("1" if seal_2001.endswith("0") else "0")
    assert release_refused(d, "LOC-BIN-7", forged) == "seal_mismatch"
    d.send("scan LOC-BIN-7")
    d.send(f"scan {seal_2001}")
    assert d.send("scan BADGE-BOSS")["signals"][-1][0] == "sealed"  # the driver
    assert release_refused(d, "LOC-BIN-7", seal_2001) == "already_released"
    d.send("scan LOC-SHELF-A1")
    assert d.send(f"scan {seal_5001}")["signals"][-1][0] == "sealed"


def _recount(store_url: str) -> Counter[str]:
    """Counted straight from central's stored events, not through the report's code."""
    from central.store import open_store

    store = open_store(store_url)
    try:
        events = [(e.type, json.loads(e.body)) for e in _all(store)]
    finally:
        store.close()
    counts = Counter(t for t, _ in events)
    sold = {b["order_id"] for t, b in events if t == "order_status" and b["status"] != "cancelled"}
    counts["packages_sold"] = sum(
        1
        for t, b in events
        if t == "verdict" and b["outcome"] != "halt" and b.get("order_id") in sold
    )
    return counts


def test_stage_release_refuse_and_report_the_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup, cfg = central_with_orders(tmp_path)
    station = tmp_path / "station"
    station.mkdir()
    journal = station / "journal.sqlite3"
    files = {fmt: tmp_path / f"report.{fmt}" for fmt in ("json", "csv", "pdf")}
    day = datetime.now(UTC).date().isoformat()
    with SimPrinter() as printer, running_central(setup):
        with Daemon(station_config(station, printer.target, link(setup))) as d:
            _stage_and_release(d, station)
            wait(lambda: delivery_report(setup.store, "station-01", journal)["lost"] == 0)
        # central knows where every bag is
        capsys.readouterr()
        assert run(["central", "report", "bags", "--json", *cfg]) == 0
        bags = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        for fmt, path in files.items():
            args = ["central", "report", "day", "--date", day, "--format", fmt]
            assert run([*args, "--output", str(path), *cfg]) == 0
        assert run(["central", "report", "day", "--date", "2026-13-01", *cfg]) == 2
    assert [(b["order_id"], b["location"], b["released"], b["driver"]) for b in bags] == [
        ("2001", "LOC-BIN-7", "departed", "BADGE-BOSS"),
        ("5001", "LOC-SHELF-A1", "picked_up", None),
    ]
    stored = _recount(setup.store)
    report = json.loads(files["json"].read_text())
    totals = report["totals"]
    assert totals["staged"] == stored["order_staged"] == 2
    assert totals["released"] == stored["picked_up"] + stored["departed"] == 2
    assert totals["halts"] == stored["halt"] == 1
    assert totals["overrides"] == stored["override"] == 1
    assert totals["release_refusals"] == stored["release_refused"] == 4
    assert totals["sealed"] == stored["order_status"] == 2
    assert totals["packages_sold"] == stored["packages_sold"] == 2
    by_id = {o["order_id"]: o for o in report["orders"]}
    assert by_id["2001"]["packed_by"] == "BADGE-ALICE" and by_id["2001"]["driver"] == "BADGE-BOSS"
    assert report["halts"][0]["cleared_by"] == "BADGE-BOSS"
    assert {p["tag"] for p in report["packages"]} == {tag(3), tag(4)}
    rows = list(csv.DictReader(io.StringIO(files["csv"].read_text())))
    assert {r["order_id"] for r in rows if r["record"] == "order"} == {"2001", "5001"}
    assert {r["name"]: int(r["value"]) for r in rows if r["record"] == "total"} == totals
    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(files["pdf"]).pages)
    cells = text.splitlines()  # one line per table cell: each order is a row of its own
    for order_id in ("2001", "5001"):
        assert order_id in cells
    assert tag(3) in text and "LOC-BIN-7" in text and "wrong_location" in text


def _all(store: Any) -> list[Any]:
    from central.report.ledger import stored_events

    return list(stored_events(store))


def test_a_cycle_count_at_the_bench_reaches_central_notifies_and_is_reported(
    tmp_path: Path,
) -> None:
    setup, cfg = central_with_orders(tmp_path)
    receiver = Receiver()
    receiver.status = 200
    with setup.config.open("a") as f:
        f.write(f'[notify]\nwebhook_url = "{receiver.url}"\npoll_ms = 100\n')
    station = tmp_path / "station"
    station.mkdir()
    journal = station / "journal.sqlite3"
    day = datetime.now(UTC).date().isoformat()
    try:
        with SimPrinter() as printer, running_central(setup):
            with Daemon(station_config(station, printer.target, link(setup))) as d:
                wait(lambda: "central" not in d.state()["devices_down"])
                wait(lambda: d.send("scan BADGE-BOSS")["phase"] == "ready")
                assert d.send("scan COUNT-FLW-BD-35")["phase"] == "count"
                d.send(f"scan {tag(1)}")
                d.send(f"scan {tag(2)}")
                assert d.send("scan COUNT-FLW-BD-35")["phase"] == "count_review"  # tag(3) missing
                slips = journal_events(station, "slip_requested")
                assert slips[-1]["body"]["code"] == "count_discrepancy"
                assert d.send("scan BADGE-BOSS")["phase"] == "ready"  # approves the adjustment
                (adjustment,) = journal_events(station, "count_adjustment")
                assert adjustment["body"]["uid"] == tag(3) and adjustment["body"]["quantity"] == 0
                wait(lambda: delivery_report(setup.store, "station-01", journal)["lost"] == 0)
            wait(lambda: any(b["kind"] == "quarantine" for _, b in receiver.got))
            out = tmp_path / "report.json"
            args = ["central", "report", "day", "--date", day, "--format", "json"]
            assert run([*args, "--output", str(out), *cfg]) == 0
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
    (note,) = [b for _, b in receiver.got if b["kind"] == "quarantine"]
    assert note["uid"] == tag(3) and note["code"] == "count_missing"
    report = json.loads(out.read_text())
    (count,) = report["counts"]
    assert count["missing"] == [tag(3)] and count["approved_by"] == "BADGE-BOSS"
    assert report["totals"]["count_discrepancies"] == 1 == _recount(setup.store)["count_closed"]
