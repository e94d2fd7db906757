"""The printer adapter refuses a label with a required field missing and prints a slip naming the
field, on a real print spool and a simulated ESC/POS printer."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from drivers.config import PrinterConfig
from drivers.printer.sim import SimPrinter
from edge.station.config import StationConfig, StationSection
from edge.station.wiring.printer import SpoolPrinter
from edge.station.wiring.seed import SeedCentral
from edge.workflow.ports import HaltInfo, LabelJob, Pick, SlipJob
from tests.support.station import BADGES, tag, write_seed

assert {"code": "BADGE-ALICE", "name": "Alice"} in BADGES

NOW = "2026-11-22T14:05:00-06:00"
ALICE, ALICE_NAME = "BADGE-ALICE", "Alice"  # tests.support.station.BADGES[0]


class Handle:
    """The one StationHandle call a printer service makes."""

    async def device_state(self, device: str, ok: bool, detail: str) -> None:
        return None

    def __getattr__(self, name: str) -> Any:  # the rest of the protocol is not used here
        raise AttributeError(name)


def run_jobs(tmp: Path, sim: SimPrinter, *jobs: Any, prints: int = 1) -> list[Any]:
    """Submit `jobs` and keep the spool running until the printer has `prints` jobs."""
    write_seed(tmp / "seed")
    cfg = StationConfig(
        station=StationSection(state_dir=str(tmp), seed_dir=str(tmp / "seed")),
        printer=PrinterConfig(target=sim.target),
    )
    central = SeedCentral.from_config(cfg)
    printer = SpoolPrinter(cfg, central.inventory, badges=central.badge, orders=central.order)

    async def scenario() -> list[Any]:
        service = asyncio.create_task(printer.run(Handle()))  # type: ignore[arg-type]
        try:
            outcomes = [await printer.submit(job) for job in jobs]
            for _ in range(1000):  # the refusal slip is spooled, not awaited by submit
                if len(sim.jobs) >= prints:
                    break
                await asyncio.sleep(0.01)
            return outcomes
        finally:
            service.cancel()
            await asyncio.gather(service, return_exceptions=True)

    return asyncio.run(scenario())


def test_missing_thc_refuses_the_label_and_the_slip_names_the_field(tmp_path: Path) -> None:
    write_seed(tmp_path / "seed")
    central = SeedCentral.from_config(
        StationConfig(
            station=StationSection(state_dir=str(tmp_path), seed_dir=str(tmp_path / "seed"))
        )
    )
    the_order = central.order("4001")  # one line: FLW-OLD, whose package has no THC/CBD figures
    assert the_order is not None
    job = LabelJob(
        job_id="4001-label-1",
        order=the_order,
        picks=[Pick(line=1, uid=tag(5), raw=tag(5))],
        agent=ALICE,
        at=NOW,
    )
    with SimPrinter() as sim:
        (outcome,) = run_jobs(tmp_path, sim, job)
        assert not outcome.ok and "required field 'thc' is missing" in outcome.reason
        (slip,) = sim.wait_for_jobs(1)
    text = " ".join(" ".join(slip.decoded.lines).split())
    assert "STOP - ORDER HALTED" in text and "Reason: label_missing_field" in text
    assert "it would lack thc" in text and "Product: FLW-OLD product" in text
    assert "scan the order ticket: the label prints again" in text
    assert slip.decoded.qr_payloads == []  # a slip, not a label: nothing to seal


def test_a_halt_slip_names_the_product_and_the_agent(tmp_path: Path) -> None:
    halt = HaltInfo(code="on_hold", reason="package on hold", uid=tag(7), raw=tag(7), line=1)
    job = SlipJob(job_id="2001-slip-1", order_id="2001", agent=ALICE, halt=halt, at=NOW)
    with SimPrinter() as sim:
        (outcome,) = run_jobs(tmp_path, sim, job)
        assert outcome.ok
        (printed,) = sim.wait_for_jobs(1)
    text = " ".join(" ".join(printed.decoded.lines).split())
    assert "Product: FLW-HOLD product" in text and "hold tray" in text
    assert f"Agent {ALICE_NAME}" in text and ALICE not in text
