"""The LabelPrinter: the durable `PrinterService` spool with exit labels built by
`edge.label.content`; also the Service reporting the printer's state."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from drivers.printer.escpos_encode import encode
from drivers.printer.service import (
    PrinterEvent,
    PrinterService,
    settings_from_config,
)
from drivers.printer.spool import JobState, SpoolConflict
from edge.common.errors import BadInput, ConfigError
from edge.label import inputs as label_inputs
from edge.label.content import (
    ExitLabel,
    HaltSlip,
    build_label,
    build_slip,
    seal_code_for,
)
from edge.label.inputs import load_warnings, warnings_dir
from edge.label.jobs import label_job_id, slip_job_id
from edge.label.layout import layout_label, layout_slip
from edge.scan import Inventory
from edge.station.config import StationConfig, StationPaths, station_info
from edge.station.ports import StationHandle
from edge.workflow.ports import LabelJob, PrintJob, PrintOutcome, SlipJob


def label_packages(inventory: Inventory, uids: Sequence[str]) -> dict[str, label_inputs.Package]:
    out: dict[str, label_inputs.Package] = {}
    for uid in uids:
        pkg = inventory.lookup(uid)
        if pkg is not None:
            out[uid] = label_inputs.Package(
                Label=uid,
                Item=label_inputs.InventoryItemInfo(Name=pkg.name or pkg.sku),
                Batch=pkg.batch,
                Sku=pkg.sku,
                NetWeightMg=pkg.net_weight_mg,
                ThcMg=pkg.thc_mg,
                CbdMg=pkg.cbd_mg,
            )
    return out


class SpoolPrinter:
    """edge.station.ports.LabelPrinter over the durable PrinterService spool.

    A label's spool job id is derived from its content (`label-<seal code>`), and a reprint of
    the same order carries the same content (time and agent of the first request), so the spool
    prints an exit label once however often the workflow asks: a job held for paper prints when
    the paper is back, and the next request finds it printed. Also the Service that reports the
    printer's state (held = down, printed = up) to the daemon.
    """

    def __init__(self, cfg: StationConfig, inventory: Callable[[], Inventory]) -> None:
        self.cfg = cfg
        self.inventory = inventory
        self.service = PrinterService(settings_from_config(cfg.printer), StationPaths.of(cfg).spool)
        self.width: Any = cfg.printer.paper_width_mm
        self._waiters: dict[str, list[asyncio.Future[PrinterEvent]]] = {}
        self._events = self.service.subscribe()
        self._started = asyncio.Event()

    async def submit(self, job: PrintJob) -> PrintOutcome:
        await self._started.wait()
        try:  # laying out and encoding (QR codes) is CPU work: off the loop
            spool_id, kind, title, data, seal = await asyncio.to_thread(self._render, job)
        except (BadInput, ConfigError, ValueError) as exc:
            return PrintOutcome(job_id=job.job_id, ok=False, reason=str(exc))
        waiter = self._wait(spool_id)
        try:
            record = await self.service.submit(spool_id, data, kind=kind, title=title)
        except (SpoolConflict, sqlite3.Error, OSError) as exc:  # an outcome, not a crash
            self._drop(spool_id, waiter)
            return PrintOutcome(job_id=job.job_id, ok=False, reason=f"print spool: {exc}")
        if record.state is JobState.PRINTED:
            self._drop(spool_id, waiter)
            return PrintOutcome(job_id=job.job_id, ok=True, seal_code=seal)
        if record.state is JobState.CANCELLED:
            self._drop(spool_id, waiter)
            return PrintOutcome(job_id=job.job_id, ok=False, reason="print job was cancelled")
        event = await waiter
        if event.kind == "printed":
            return PrintOutcome(job_id=job.job_id, ok=True, seal_code=seal)
        return PrintOutcome(job_id=job.job_id, ok=False, reason=event.message or event.kind)

    def _render(self, job: PrintJob) -> tuple[str, str, str, bytes, str | None]:
        """(spool job id, kind, title, ESC/POS bytes, seal code) of a job."""
        qr_mode = self.service.settings.qr_mode
        if isinstance(job, LabelJob):
            label = self._label(job)
            doc = layout_label(label, self.width, self.cfg.printer.qr_module_dots)
            data = encode(doc, qr_mode=qr_mode)
            return label_job_id(label), "label", doc.title, data, seal_code_for(label)
        slip = self._slip(job)
        doc = layout_slip(slip, self.width)
        return slip_job_id(slip), "slip", doc.title, encode(doc, qr_mode=qr_mode), None

    def _label(self, job: LabelJob) -> ExitLabel:
        at = datetime.fromisoformat(job.at) if job.at else datetime.now().astimezone()
        order = job.order.with_picks(job.picks)
        packages = label_packages(self.inventory(), [p.uid for p in job.picks])
        warnings = load_warnings(
            self.cfg.station.jurisdiction, warnings_dir(self.cfg.printer.warnings_dir)
        )
        return build_label(order, packages, station_info(self.cfg.station), warnings, job.agent, at)

    def _slip(self, job: SlipJob) -> HaltSlip:
        at = datetime.fromisoformat(job.at) if job.at else datetime.now().astimezone()
        return build_slip(job.order_id, job.halt, station_info(self.cfg.station), job.agent, at)

    def _wait(self, spool_id: str) -> asyncio.Future[PrinterEvent]:
        fut: asyncio.Future[PrinterEvent] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(spool_id, []).append(fut)
        return fut

    def _drop(self, spool_id: str, fut: asyncio.Future[PrinterEvent]) -> None:
        waiters = self._waiters.get(spool_id, [])
        if fut in waiters:
            waiters.remove(fut)
        fut.cancel()

    async def run(self, station: StationHandle) -> None:
        await self.service.start()
        self._started.set()
        try:
            while True:
                event = await self._events.get()
                if event.kind in ("printed", "held", "cancelled"):
                    for fut in self._waiters.pop(event.job_id, []):
                        if not fut.done():
                            fut.set_result(event)
                # every time, not only on a change seen here: the daemon may have restarted
                # with the printer down (the workflow journals changes only)
                if event.kind == "held":
                    await station.device_state("printer", False, event.message or "job held")
                elif event.kind == "printed":
                    await station.device_state("printer", True, "")
        finally:
            await self.service.stop()
