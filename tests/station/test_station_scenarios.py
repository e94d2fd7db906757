"""The pack day against the real daemon and its built-in wiring, with simulated devices.

`python -m edge station` runs as a subprocess with `[station] ports = ""`: scans are injected as
evdev key events through the real scanner decoder, verdicts and limits come from the Rust core
over a generated INVENTORY.json and config/limits/IL.toml, weights from the real scale driver
reading a pty MT-SICS emulator (drivers/scale/sim.py), labels and slips go through the durable
print spool to a TCP ESC/POS printer emulator (drivers/printer/sim.py), whose printed QR code is
what the technician scans to seal the bag. Central is absent: its state comes from seed files.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.printer.sim import SimPrinter
from drivers.scale.sim import SimScale
from tests.support.station import (
    REPO,
    Daemon,
    journal_events,
    signals_logged,
    tag,
    write_real_station,
)

pytestmark = pytest.mark.slow  # the real daemon as a subprocess, with simulated devices


class Bench:
    """One station with its simulated devices, under tmp."""

    def __init__(self, tmp: Path, printer: SimPrinter, scale: SimScale) -> None:
        self.tmp = tmp
        self.printer = printer
        self.scale = scale
        self.config = write_real_station(tmp, printer.target, scale.port)

    def daemon(self) -> Daemon:
        return Daemon(self.config)

    def events(self, type_: str | None = None) -> list[dict[str, Any]]:
        return journal_events(self.tmp, type_)

    def printed(self, count: int) -> list[str]:
        """The text of the first `count` printed jobs (waits for them)."""
        return [job.decoded.text for job in self.printer.wait_for_jobs(count)]


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Bench]:
    with SimPrinter() as printer, SimScale("mt-sics") as scale:
        yield Bench(tmp_path, printer, scale)


def ok(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply["ok"], reply
    return reply


def signals(reply: dict[str, Any]) -> list[str]:
    return [s for s, _ in ok(reply)["signals"]]


def load(d: Daemon, order_id: str) -> None:
    assert signals(d.send("scan BADGE-ALICE")) == ["ready"]
    assert ok(d.send(f"scan ORD-{order_id}"))["phase"] == "picking"


def weigh(b: Bench, d: Daemon, mg: int, phase: str) -> dict[str, Any]:
    b.scale.place(mg)
    return d.wait_phase(phase, 15)


def seal_from_the_printed_label(b: Bench, index: int) -> str:
    job = b.printer.wait_for_jobs(index + 1)[index]
    (payload,) = job.decoded.qr_payloads
    return payload


def halted_with(b: Bench, reply: dict[str, Any], code: str) -> dict[str, Any]:
    """The order halted with `code`: halt signal, journalled halt, a slip on paper."""
    assert signals(reply)[-1] == "halt"
    assert ok(reply)["phase"] == "halted"
    halt = b.events("halt")[-1]["body"]
    assert halt["code"] == code
    slip = b.printed(1)[-1]
    assert code.upper().replace("_", " ") in slip.upper() or code in slip
    return halt


def test_happy_path_the_printed_label_seals_the_order(bench: Bench) -> None:
    with bench.daemon() as d:
        load(d, "1042")
        assert signals(d.send(f"scan {tag(1)}")) == ["scan_ok"]
        assert signals(d.send(f"scan {tag(2)}")) == ["scan_ok"]  # line 2 by SKU and batch
        assert signals(d.send(f"scan {tag(6)}")) == ["weighing"]
        weigh(bench, d, 3550, "seal")
        seal = seal_from_the_printed_label(bench, 0)
        label = bench.printed(1)[0]
        assert "Ada #C-88" in label and "1042" in label  # IL profile: first name + number
        assert "Agent Alice" in label and "BADGE-ALICE" not in label  # never the badge value
        # the 3.55 g portion of the 454 g bulk package (90800 mg THC, 1300 mg CBD), rounded down
        assert "THC 710 mg" in label and "CBD 10 mg" in label and "THC 90800 mg" not in label
        reply = d.send(f"scan {seal}")
        assert signals(reply)[-1] == "sealed" and reply["phase"] == "ready"
    status = bench.events("order_status")[-1]["body"]
    assert status["status"] == "ready_for_pickup" and status["order_id"] == "1042"
    weight = bench.events("weight")[0]["body"]
    assert weight["net_mg"] == 3550 and weight["ok"]
    limits = bench.events("limits")[0]["body"]
    assert limits["allowed"] and any(b["name"] == "cannabis flower" for b in limits["buckets"])
    assert signals_logged(bench.tmp)[-1] == "sealed"  # the indicator saw it too
    assert len(bench.printer.jobs) == 1


def test_delivery_order_from_the_queue_goes_out_for_delivery(bench: Bench) -> None:
    with bench.daemon() as d:
        ok(d.send("scan BADGE-ALICE"))
        assert ok(d.send("scan BADGE-ALICE"))["phase"] == "picking"  # re-badge = next order
        assert d.state()["order"]["order"]["order_id"] == "2001"
        d.send(f"scan {tag(4)}")
        d.wait_phase("seal", 15)
        ok(d.send(f"scan {seal_from_the_printed_label(bench, 0)}"))
        reply = d.send("next")  # 2001 left the queue
        assert "no order is assigned" in str(bench.events("order_refused")[-1]["body"])
        assert reply["phase"] == "ready"
    assert bench.events("order_status")[-1]["body"]["status"] == "out_for_delivery"


def test_wrong_batch_halts_quarantines_and_a_supervisor_clears(bench: Bench) -> None:
    with bench.daemon() as d:
        load(d, "1042")
        d.send(f"scan {tag(1)}")
        halt = halted_with(bench, d.send(f"scan {tag(3)}"), "wrong_batch")
        assert halt["uid"] == tag(3) and "batch B-2" in halt["reason"]
        assert bench.events("quarantine")[-1]["body"]["uid"] == tag(3)
        assert signals(d.send(f"scan {tag(2)}")) == ["halt"]  # refused while halted
        d.send("scan BADGE-BOSS")
        assert ok(d.send("scan BADGE-BOSS"))["phase"] == "picking"
        assert signals(d.send(f"scan {tag(2)}")) == ["scan_ok"]
    verdicts = [e["body"]["verdict"] for e in bench.events("verdict")]
    assert verdicts == ["match", "wrong_batch", "match"]


def test_a_hand_typed_tag_with_a_slip_is_a_near_miss(bench: Bench) -> None:
    typo = tag(1)[:-2] + tag(1)[-1] + tag(1)[-2]  # two neighbours swapped
    with bench.daemon() as d:
        load(d, "1042")
        halt = halted_with(bench, d.send(f"scan {typo}"), "near_miss")
        assert tag(1) in halt["candidates"]
    assert bench.events("quarantine") == []  # it names no real package


def test_an_expired_package_halts(bench: Bench) -> None:
    with bench.daemon() as d:
        load(d, "4001")
        halted_with(bench, d.send(f"scan {tag(5)}"), "expired")
    assert bench.events("quarantine")[-1]["body"]["uid"] == tag(5)


def test_a_customer_over_the_limit_halts_and_can_only_be_cancelled(bench: Bench) -> None:
    with bench.daemon() as d:
        load(d, "3001")
        halted_with(bench, d.send(f"scan {tag(4)}"), "over_limit")
        limits = bench.events("limits")[-1]["body"]
        assert not limits["allowed"] and "infused" in str(limits["buckets"])
        d.send("scan BADGE-BOSS")
        d.send("scan BADGE-BOSS")
        assert bench.events("override_refused")
        reply = d.send("scan ORD-3001")  # the supervisor cancels it
        assert reply["phase"] == "ready"
    assert bench.events("order_status")[-1]["body"]["status"] == "cancelled"
    assert len(bench.printer.jobs) == 1  # the slip; never a label


def test_short_weight_halts_then_a_new_reading_after_the_clear(bench: Bench) -> None:
    with bench.daemon() as d:
        load(d, "1042")
        d.send(f"scan {tag(1)}")
        d.send(f"scan {tag(2)}")
        d.send(f"scan {tag(6)}")
        weigh(bench, d, 3400, "halted")
        assert bench.events("halt")[-1]["body"]["code"] == "short_weight"
        bench.scale.place(0)  # lift it off (the driver must see the empty pan), add product
        time.sleep(0.5)
        d.send("scan BADGE-BOSS")
        assert ok(d.send("scan BADGE-BOSS"))["phase"] == "weighing"
        weigh(bench, d, 3520, "seal")
    weights = [(e["body"]["net_mg"], e["body"]["ok"]) for e in bench.events("weight")]
    assert weights == [(3400, False), (3520, True)]


def test_a_duplicate_scan_halts(bench: Bench) -> None:
    with bench.daemon() as d:
        load(d, "1042")
        d.send(f"scan {tag(1)}")
        halted_with(bench, d.send(f"scan {tag(1)}"), "duplicate")
    assert bench.events("quarantine") == []


def test_printer_out_of_paper_while_printing_the_label_prints_it_once(bench: Bench) -> None:
    with bench.daemon() as d:
        load(d, "2001")
        bench.printer.set_state(paper="end")
        d.send(f"scan {tag(4)}")
        deadline = time.monotonic() + 10
        while "device_error" not in signals_logged(bench.tmp) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "device_error" in signals_logged(bench.tmp)
        assert d.state()["phase"] == "label"
        assert bench.printer.jobs == []
        bench.printer.set_state(paper="ok")
        d.wait_phase("seal", 15)
        ok(d.send(f"scan {seal_from_the_printed_label(bench, 0)}"))
        time.sleep(0.5)  # a second copy would arrive within a retry interval
    assert len(bench.printer.jobs) == 1
    assert bench.events("print_failed")[0]["body"]["kind"] == "label"
    assert bench.events("order_status")[-1]["body"]["status"] == "out_for_delivery"


def test_kill_9_mid_order_resumes_at_the_same_step_with_the_same_picks(bench: Bench) -> None:
    d = bench.daemon()
    d.start()
    try:
        load(d, "1042")
        d.send(f"scan {tag(1)}")
        d.send(f"scan {tag(2)}")
        before = d.state()
        d.kill9()
        d.start()
        after = d.state()
        assert after["phase"] == "picking"
        assert after["order"]["picks"] == before["order"]["picks"]
        assert signals(d.send(f"scan {tag(1)}")) == ["halt"]  # the restored session: duplicate
        assert bench.events("halt")[-1]["body"]["code"] == "duplicate"
    finally:
        d.terminate()
    verify = subprocess.run(
        [sys.executable, "-m", "edge", "journal", "verify", str(bench.tmp / "journal.sqlite3")],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stderr
    assert len(bench.events("station_resumed")) == 2


def test_scans_pass_through_the_real_decoder(bench: Bench) -> None:
    with bench.daemon() as d:
        reply = d.send("scan BADGE-alice")  # lower case: no badge pattern -> a package scan
        assert reply["events"] == ["scan", "scan_refused"]
        bad = d.send("scan \u00e9t\u00e9")  # the us layout cannot type it
        assert not bad["ok"] and "cannot type" in bad["error"]
        raw = d.send("scan --raw \u00e9t\u00e9")  # the raw path skips the decoder
        assert raw["ok"]


def test_kill_9_while_the_label_waits_for_paper_still_prints_it_once(bench: Bench) -> None:
    d = bench.daemon()
    d.start()
    try:
        load(d, "2001")
        bench.printer.set_state(paper="end")
        d.send(f"scan {tag(4)}")
        deadline = time.monotonic() + 10
        while not bench.events("print_failed") and time.monotonic() < deadline:
            time.sleep(0.05)
        d.kill9()
        bench.printer.set_state(paper="ok")
        d.start()  # the spool still holds the job; the workflow asks for the label again
        d.wait_phase("seal", 15)
        ok(d.send(f"scan {seal_from_the_printed_label(bench, 0)}"))
        time.sleep(0.5)
    finally:
        d.terminate()
    assert len(bench.printer.jobs) == 1
    assert bench.events("order_status")[-1]["body"]["status"] == "out_for_delivery"
