"""Shared by the box-label and COA tests: print jobs through the station's real print spool
(`SpoolPrinter` over `PrinterService`) to a simulated ESC/POS printer, from seed files whose
inventory the test may replace, with the lab results the test feeds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from drivers.config import PrinterConfig
from drivers.printer.sim import SimPrinter
from edge.common.labs import LabResult
from edge.label.profile import LabelSection
from edge.station.config import StationConfig, StationSection
from edge.station.wiring.printer import SpoolPrinter
from edge.station.wiring.seed import SeedCentral
from edge.workflow.ports import PrintJob, PrintOutcome
from tests.support.station import write_seed


class Handle:
    """The one StationHandle call a printer service makes."""

    async def device_state(self, device: str, ok: bool, detail: str) -> None:
        return None

    def __getattr__(self, name: str) -> Any:  # the rest of the protocol is not used here
        raise AttributeError(name)


LabLookup = Callable[[str, str | None], Sequence[LabResult]]


def spool_jobs(
    tmp: Path,
    sim: SimPrinter,
    *jobs: PrintJob,
    prints: int = 1,
    inventory: list[dict[str, Any]] | None = None,
    jurisdiction: str = "IL",
    lab_results: LabLookup | None = None,
) -> list[PrintOutcome]:
    """Submit `jobs` and keep the spool running until the printer has `prints` jobs."""
    write_seed(tmp / "seed")
    if inventory is not None:
        (tmp / "seed" / "inventory.json").write_text(json.dumps(inventory))
    cfg = StationConfig(
        station=StationSection(
            state_dir=str(tmp), seed_dir=str(tmp / "seed"), jurisdiction=jurisdiction
        ),
        printer=PrinterConfig(target=sim.target),
        label=LabelSection(allow_unverified=True),
    )
    central = SeedCentral.from_config(cfg)
    printer = SpoolPrinter(
        cfg,
        central.inventory,
        label_fields=central.label_fields,
        badges=central.badge,
        orders=central.order,
        lab_results=lab_results or central.lab_results,
    )

    async def scenario() -> list[PrintOutcome]:
        service = asyncio.create_task(printer.run(Handle()))  # type: ignore[arg-type]
        try:
            outcomes = [await printer.submit(job) for job in jobs]
            for _ in range(1000):  # a refusal slip is spooled, not awaited by submit
                if len(sim.jobs) >= prints:
                    break
                await asyncio.sleep(0.01)
            return outcomes
        finally:
            service.cancel()
            await asyncio.gather(service, return_exceptions=True)

    return asyncio.run(scenario())
