"""The simulated pack day end to end: `packstation simulate` as a user runs it, checked against the
records it leaves (the station's journal, central's SQLite store, the label PNGs)."""

from __future__ import annotations

import csv
import json
import random
import re
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge.journal import Journal
from edge.sim import data as simdata

ORDERS = 13  # the smallest day that still has every incident


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("sim") / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge",
            "simulate",
            "--orders",
            str(ORDERS),
            "--seed",
            "7",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return out, proc


@pytest.mark.slow
def test_the_day_succeeds_and_prints_its_summary(
    day: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    _, proc = day
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "All invariants hold." in proc.stdout
    assert f"{ORDERS}/{ORDERS} orders" in proc.stderr  # the progress bar reached the end
    for name in ("labels (PNG)", "journal", "central export"):
        assert name in proc.stdout


@pytest.mark.slow
def test_summary_matches_the_journal(day: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = day
    summary = json.loads((out / "summary.json").read_text())
    journal = Journal(out / "station" / "journal.sqlite3", readonly=True)
    try:
        verified = journal.verify()
        events = list(journal.iter_events())
    finally:
        journal.close()
    assert verified.ok and verified.checked == len(events) == summary["station_events"]
    types = Counter(e.type for e in events)
    statuses = Counter(e.fields()["status"] for e in events if e.type == "order_status")
    halts = Counter(e.fields()["code"] for e in events if e.type == "halt")
    assert summary["sealed"] == statuses["ready_for_pickup"] + statuses["out_for_delivery"]
    assert summary["cancelled"] == statuses["cancelled"] == 1  # the over-limit order
    assert summary["shipped"] == statuses["ready_to_ship"] == 1  # the wholesale order
    assert summary["sealed"] + summary["shipped"] + summary["cancelled"] == ORDERS
    assert summary["halts"] == dict(halts)
    # every mistake of the day was caught by the station, under its own code
    for code in (
        "wrong_batch",
        "near_miss",
        "expired",
        "over_limit",
        "short_weight",
        "duplicate",
        "sold",
    ):
        assert halts[code] >= 1, (code, dict(halts))
    # sold once: counted from central's store, and the one re-scan of a sealed package caught
    assert summary["packages_sold_twice"] == 0
    assert summary["sales"] >= summary["sealed"]
    assert summary["labels_printed"] == types["label_printed"] >= summary["sealed"]
    assert summary["chain_ok"] is True
    # orders come in by ticket and from the station's queue (badging again)
    sources = Counter(e.fields()["source"] for e in events if e.type == "order_loaded")
    assert sources["ticket"] >= 1 and sources["queue"] >= 1
    assert sum(sources.values()) == ORDERS


@pytest.mark.slow
def test_central_stored_every_event_once(
    day: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, _ = day
    summary = json.loads((out / "summary.json").read_text())
    journal = Journal(out / "station" / "journal.sqlite3", readonly=True)
    try:
        events = list(journal.iter_events())
    finally:
        journal.close()
    # the day's events; stopping the daemon may add the link's own "central offline" afterwards
    day_end = summary["drained_seq"]
    assert all(
        e.type == "device_state" and e.fields()["device"] == "central" for e in events[day_end:]
    )
    station = [(e.seq, e.hash) for e in events[:day_end]]
    conn = sqlite3.connect(f"file:{out / 'central' / 'central.sqlite3'}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT seq, hash FROM events WHERE station_id = 'station-01' ORDER BY seq"
        ).fetchall()
    finally:
        conn.close()
    central = [
        (int(seq), bytes(h) if not isinstance(h, str) else bytes.fromhex(h)) for seq, h in rows
    ]
    assert central == station
    assert summary["central_events"] == len(station) == day_end > 0
    assert summary["station_events"] == len(events)
    assert summary["central_restarts"] == 1  # central went down mid-day and came back
    exported = (out / "central-export.jsonl").read_text().splitlines()
    assert len(
        [line for line in exported if json.loads(line)["station_id"] == "station-01"]
    ) == len(station)


@pytest.mark.slow
def test_every_bag_staged_and_released_one_count_and_the_report_written(
    day: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, _ = day
    summary = json.loads((out / "summary.json").read_text())
    journal = Journal(out / "station" / "journal.sqlite3", readonly=True)
    try:
        events = [(e.type, e.fields()) for e in journal.iter_events()]
    finally:
        journal.close()
    types = Counter(t for t, _ in events)
    bags = summary["sealed"] + summary["shipped"]  # the wholesale box is staged and released too
    assert summary["staged"] == types["order_staged"] == bags
    assert summary["released"] == types["picked_up"] + types["departed"] == bags
    refused = [b["code"] for t, b in events if t == "release_refused"]
    assert refused == ["wrong_location"] and summary["release_refused"] == 1
    (closed,) = [b for t, b in events if t == "count_closed"]
    assert len(closed["missing"]) == 1 and summary["count_discrepancies"] == 1
    assert all(b["driver"] == "BADGE-DRVR0001" for t, b in events if t == "departed")
    pdf, csv_path = Path(summary["outputs"]["report_pdf"]), Path(summary["outputs"]["report_csv"])
    assert pdf.parent == out and pdf.name.startswith("report-") and pdf.read_bytes()[:5] == b"%PDF-"
    rows = list(csv.DictReader(csv_path.read_text().splitlines()))
    totals = {r["name"]: int(r["value"]) for r in rows if r["record"] == "total"}
    assert totals["sealed"] == bags and totals["released"] == summary["released"]
    assert totals["count_discrepancies"] == 1 and totals["release_refusals"] == 1


@pytest.mark.slow
def test_every_label_and_slip_is_a_png(day: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = day
    summary = json.loads((out / "summary.json").read_text())
    pngs = sorted((out / "labels").glob("*.png"))
    assert len(pngs) == summary["printer_jobs"] >= summary["labels_printed"] + 1  # + slips
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


@pytest.mark.slow
def test_a_second_run_replaces_its_own_output_but_not_other_directories(tmp_path: Path) -> None:
    other = tmp_path / "precious"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    proc = subprocess.run(
        [sys.executable, "-m", "edge", "simulate", "--orders", "1", "--out", str(other)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "not the output of an earlier" in proc.stderr
    assert (other / "notes.txt").read_text() == "keep me"


def test_generated_day_has_every_incident_and_stays_in_limits_otherwise() -> None:
    now = datetime(2026, 11, 22, 15, 0, tzinfo=ZoneInfo("America/Chicago"))
    for seed in range(20):
        rng = random.Random(seed)
        n = ORDERS if seed % 2 else 150  # a big day has neighbouring tags on the shelf
        vault = simdata.generate_vault(rng, now.date(), per_batch=max(12, n // 2 + 2))
        plan = simdata.generate_day(rng, vault, now, n)
        assert sorted(p.incident for p in plan if p.incident) == sorted(simdata.INCIDENTS)
        labels = [pick for p in plan for pick in p.picks.values()]
        assert len(labels) == len(set(labels))  # a package goes into one bag only
        for p in plan:
            assert set(p.picks) == {line["line"] for line in p.order["lines"]}
            if p.incident in ("wrong_batch", "typo_tag", "expired", "duplicate_scan"):
                assert p.wrong is not None
            if p.incident == "typo_tag":  # a transposition that names no package at all
                assert p.wrong is not None
                assert p.wrong not in {pkg["Label"] for pkg in vault.packages}
                assert sorted(p.wrong) == sorted(p.picks[1])
                assert sum(a != b for a, b in zip(p.wrong, p.picks[1], strict=True)) == 2


@pytest.mark.slow
def test_every_sealed_order_is_one_receipt_at_the_state_system(
    day: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, proc = day
    summary = json.loads((out / "summary.json").read_text())
    state = summary["state_system"]
    assert state["receipts"] == state["sealed_orders"] == summary["sealed"] > 0
    assert state["duplicates"] == 0 and state["quantity_differs"] == 0
    assert state["reports"].get("failed", 0) == 0 and "pending" not in state["reports"]
    # the injected faults were met (a 500, a timeout after committing, a 429 on a read-back)
    assert state["calls"]["GET /sales/v2/receipts/external/{id}"] >= 2
    for line in (
        "sales receipts at the state system",
        "duplicates",
        "packages whose state quantity differs from central's",
    ):
        assert line in proc.stdout


@pytest.mark.slow
def test_one_wholesale_order_ships_on_a_manifest_and_one_is_refused(
    day: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    from pypdf import PdfReader

    from edge.sim.technician import GROSS_MG

    out, _ = day
    summary = json.loads((out / "summary.json").read_text())
    assert "expired on" in summary["incidents"]["wholesale_refused"]
    journal = Journal(out / "station" / "journal.sqlite3", readonly=True)
    try:
        events = [(e.type, e.fields()) for e in journal.iter_events()]
    finally:
        journal.close()
    (loaded,) = [b for t, b in events if t == "order_loaded" and b["channel"] == "wholesale"]
    order_id = loaded["order_id"]
    assert loaded["order"]["license_check"]["status"] == "active"
    assert all(b["order_id"] != "9001" for t, b in events if t == "order_loaded")
    packed = [
        b["uid"]
        for t, b in events
        if t == "verdict" and b["order_id"] == order_id and b["outcome"] == "accepted"
    ]
    pdf = PdfReader(out / "manifests" / f"MAN-{order_id}.pdf")
    manifest, invoice = pdf.pages[0].extract_text(), pdf.pages[1].extract_text()
    assert len(packed) == 3 and f"Packages: {len(packed)}" in manifest
    for uid in packed:
        assert manifest.count(uid) == 1 and invoice.count(uid) == 1
    gross = [b["net_mg"] for t, b in events if t == "weight" and b["order_id"] == order_id]
    # each package weighed gross on the simulated scale (placed at GROSS_MG, a little over)
    assert len(gross) == 3 and all(GROSS_MG <= g < GROSS_MG + 100 for g in gross)
    for g in gross:
        assert f"{g // 1000}.{g % 1000:03d} g" in manifest
    # the box label the station printed: every packed package, the manifest id, the seal
    from PIL import Image

    boxes = []
    for png in sorted((out / "labels").glob("*.png")):
        with Image.open(png) as img:
            meta = dict(img.text)  # type: ignore[attr-defined]
        if "WHOLESALE BOX" in meta["packstation:text"]:
            boxes.append(meta)
    (box,) = boxes
    text = " ".join(box["packstation:text"].split())
    assert re.findall(r"Tag (\S+)", text) == packed and f"MANIFEST MAN-{order_id}" in text
    for g in gross:
        assert f"Gross {g // 1000}.{g % 1000:03d} g" in text
    seals = [
        b["seal_code"] for t, b in events if t == "label_printed" and b["order_id"] == order_id
    ]
    assert box["packstation:qr"] == seals[-1]
    state = summary["state_system"]
    assert state["calls"]["POST /transfers/v2/templates/outgoing"] == 1
    # the packet's COA pages: the results central's lab pull fetched from the emulator
    assert state["lab_results"] >= len(packed) and state["calls"]["GET /labtests/v2/results"]
    coa_pages = [page.extract_text() for page in pdf.pages[2:]]
    assert coa_pages and all("Simulated Testing Labs" in text for text in coa_pages)
    assert all("LAB-SIM-0001" in text and "pass" in text for text in coa_pages)
    for uid in packed:
        assert sum(text.count(uid) for text in coa_pages) == 1  # on its batch's page only
    alone = PdfReader(out / "manifests" / f"COA-{order_id}.pdf")
    assert len(alone.pages) == len(coa_pages)


def test_a_fault_of_the_simulator_ends_the_day_with_a_summary_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from edge.sim import day as sim_day

    def broken_import(run: object) -> str:
        raise RuntimeError("the day's import broke")

    # central is up by then: it must be stopped, and the summary written, as on any other failure
    monkeypatch.setattr(sim_day.sim_setup, "import_day", broken_import)
    sim = sim_day.SimRun(sim_day.SimOptions(orders=2, out=tmp_path / "day"), io.StringIO())
    summary = sim.day()
    failure = summary.failures[0]  # first; what the day then did not do follows it
    assert failure.startswith("the simulator failed: RuntimeError: the day's import broke")
    assert not sim.central.alive() and not sim.station.alive()
    trace = (tmp_path / "day" / "logs" / "simulate.log").read_text()
    assert "broken_import" in trace and "RuntimeError" in trace
    written = json.loads((tmp_path / "day" / "summary.json").read_text())
    assert written["failures"] == summary.failures and "orders were packed" in str(written)
