"""The LabelPrinter: the durable `PrinterService` spool with exit labels built by
`edge.label.content`; also the Service reporting the printer's state."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec

from drivers.printer.escpos_encode import encode
from drivers.printer.service import (
    PrinterEvent,
    PrinterService,
    settings_from_config,
)
from drivers.printer.spool import JobState, SpoolConflict
from edge.common.errors import BadInput, ConfigError
from edge.common.labs import LabResult
from edge.label import inputs as label_inputs
from edge.label.box import build_box, layout_box
from edge.label.content import (
    BoxLabel,
    ExitLabel,
    HaltSlip,
    MissingField,
    agent_on_label,
    build_label,
    build_slip,
    seal_code_for,
)
from edge.label.jobs import label_job_id, slip_job_id
from edge.label.layout import layout_label, layout_slip
from edge.label.profile import Profile
from edge.label.slips import SlipContext
from edge.scan import Inventory
from edge.station.config import StationConfig, StationPaths, station_info, station_profile
from edge.station.ports import StationHandle
from edge.workflow.ports import (
    Badge,
    HaltInfo,
    LabelJob,
    Order,
    PrintJob,
    PrintOutcome,
    SlipJob,
)

# The container-label fields of INVENTORY.json the core's index does not keep (docs/formats.md).
LABEL_FIELDS = ("HarvestDate", "LabName", "LabTestDate", "LabBatch")
LabelFields = Callable[[str], Mapping[str, str]]  # UID -> those of LABEL_FIELDS it has


def label_fields_of(pkg: Mapping[str, Any] | None) -> dict[str, str]:
    """The LABEL_FIELDS of one INVENTORY.json package object that are strings."""
    if pkg is None:
        return {}
    return {k: v for k in LABEL_FIELDS if isinstance(v := pkg.get(k), str)}


def label_packages(
    inventory: Inventory,
    uids: Sequence[str],
    extra: LabelFields | None = None,
) -> dict[str, label_inputs.Package]:
    """The label's view of the picked packages; `extra` (UID -> the container-label fields the
    core does not keep, read for the picked packages only) adds those fields."""
    out: dict[str, label_inputs.Package] = {}
    for uid in uids:
        pkg = inventory.lookup(uid)
        if pkg is not None:
            more = extra(uid) if extra is not None else {}
            out[uid] = label_inputs.Package(
                Label=uid,
                Item=label_inputs.InventoryItemInfo(Name=pkg.name or pkg.sku),
                Batch=pkg.batch,
                Sku=pkg.sku,
                Location=pkg.location,
                Category=pkg.category,
                NetWeightMg=pkg.net_weight_mg,
                ThcMg=pkg.thc_mg,
                CbdMg=pkg.cbd_mg,
                HarvestDate=more.get("HarvestDate"),
                PackagedDate=pkg.packaged_date,
                LabName=more.get("LabName"),
                LabTestDate=more.get("LabTestDate"),
                LabBatch=more.get("LabBatch"),
                Quantity=msgspec.Raw(pkg.quantity.encode()) if pkg.quantity else msgspec.Raw(),
                UnitOfMeasureName=pkg.unit_of_measure,
            )
    return out


def slip_context(inventory: Inventory, order: Order | None, halt: HaltInfo) -> SlipContext:
    """The product name and vault location of the halt's package and, for a wrong batch, the
    batch the line wants and where a package of it is."""
    product = location = want_batch = want_location = ""
    if halt.uid:
        pkg = inventory.lookup(halt.uid)
        if pkg is not None:
            product, location = pkg.name or pkg.sku, pkg.location or ""
    line = order.line_of(halt.line) if halt.line is not None and order is not None else None
    if line is not None and line.batch:
        want_batch = line.batch
        sku = line.sku
        if sku is None and halt.uid:
            scanned = inventory.lookup(halt.uid)
            sku = scanned.sku if scanned is not None else None
        for uid in inventory.labels():
            pkg = inventory.lookup(uid)
            if pkg is not None and pkg.batch == line.batch and (sku is None or pkg.sku == sku):
                want_location = pkg.location or ""
                break
    return SlipContext(
        product=product, location=location, want_batch=want_batch, want_location=want_location
    )


class SpoolPrinter:
    """edge.station.ports.LabelPrinter over the durable PrinterService spool.

    A label's spool job id is derived from its content (`label-<seal code>`), and a reprint of
    the same order carries the same content (time and agent of the first request), so the spool
    prints an exit label once however often the workflow asks: a job held for paper prints when
    the paper is back, and the next request finds it printed. Also the Service that reports the
    printer's state (held = down, printed = up) to the daemon.
    """

    def __init__(
        self,
        cfg: StationConfig,
        inventory: Callable[[], Inventory],
        *,
        label_fields: LabelFields | None = None,
        badges: Callable[[str], Badge | None] | None = None,
        orders: Callable[[str], Order | None] | None = None,
        lab_results: Callable[[str, str | None], Sequence[LabResult]] | None = None,
    ) -> None:
        self.cfg = cfg
        self.inventory = inventory
        self.label_fields = label_fields  # UID -> its container-label fields
        self.badges = badges  # badge value -> record: the agent's display name
        self.orders = orders  # order id -> Order: the wrong-batch slip's wanted batch
        # (tag, batch) -> the lab results central fed: the COA values and link of the label
        self.lab_results = lab_results
        self.service = PrinterService(settings_from_config(cfg.printer), StationPaths.of(cfg).spool)
        self.width: Any = cfg.printer.paper_width_mm
        self._waiters: dict[str, list[asyncio.Future[PrinterEvent]]] = {}
        self._events = self.service.subscribe()
        self._started = asyncio.Event()

    async def submit(self, job: PrintJob) -> PrintOutcome:
        await self._started.wait()
        try:  # laying out and encoding (QR codes) is CPU work: off the loop
            spool_id, kind, title, data, seal = await asyncio.to_thread(self._render, job)
        except MissingField as exc:
            if isinstance(job, LabelJob):
                await self._refusal_slip(job, exc)
            return PrintOutcome(job_id=job.job_id, ok=False, reason=str(exc))
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

    async def _refusal_slip(self, job: LabelJob, exc: MissingField) -> None:
        """A label refused for a missing field gets a slip naming the field (spooled, not
        awaited: the label's outcome is the workflow's answer)."""
        uid = next((p.uid for p in job.picks if p.uid in exc.where), None)
        halt = HaltInfo(code="label_missing_field", reason=str(exc), uid=uid)
        ctx = slip_context(self.inventory(), None, halt)
        ctx = SlipContext(product=ctx.product, location=ctx.location, field=exc.field)
        at = datetime.fromisoformat(job.at) if job.at else datetime.now().astimezone()
        slip = build_slip(
            job.order.order_id,
            halt,
            station_info(self.cfg.station),
            self._agent(job.agent),
            at,
            ctx,
        )
        doc = layout_slip(slip, self.width)
        data = encode(doc, qr_mode=self.service.settings.qr_mode)
        # the label's refusal is journalled by the workflow whether the slip spools or not
        with contextlib.suppress(SpoolConflict, sqlite3.Error, OSError):
            await self.service.submit(slip_job_id(slip), data, kind="slip", title=doc.title)

    def _agent(self, code: str) -> str:
        return agent_on_label(self.badges(code)) if self.badges is not None and code else ""

    def _render(self, job: PrintJob) -> tuple[str, str, str, bytes, str | None]:
        """(spool job id, kind, title, ESC/POS bytes, seal code) of a job."""
        qr_mode = self.service.settings.qr_mode
        if isinstance(job, LabelJob) and job.order.channel == "wholesale":
            box = self._box(job)
            doc = layout_box(box, self.width, self.cfg.printer.qr_module_dots)
            data = encode(doc, qr_mode=qr_mode)
            return label_job_id(box), "label", doc.title, data, seal_code_for(box)
        if isinstance(job, LabelJob):
            label, profile = self._label(job)
            doc = layout_label(
                label, self.width, self.cfg.printer.qr_module_dots, symbol=profile.symbol
            )
            data = encode(doc, qr_mode=qr_mode)
            return label_job_id(label), "label", doc.title, data, seal_code_for(label)
        slip = self._slip(job)
        doc = layout_slip(slip, self.width)
        return slip_job_id(slip), "slip", doc.title, encode(doc, qr_mode=qr_mode), None

    def _label(self, job: LabelJob) -> tuple[ExitLabel, Profile]:
        at = datetime.fromisoformat(job.at) if job.at else datetime.now().astimezone()
        order = job.order.with_picks(job.picks)
        uids = [p.uid for p in job.picks]
        packages = label_packages(self.inventory(), uids, self.label_fields)
        weighed = {(p.line, p.uid): p.net_mg for p in job.picks if p.net_mg is not None}
        profile = station_profile(self.cfg, at)
        labs: dict[str, Sequence[LabResult]] = {}
        if self.lab_results is not None and (
            profile.version.coa_values or profile.version.coa_link
        ):
            for uid, package in packages.items():
                try:
                    labs[uid] = self.lab_results(uid, package.Batch or None)
                except msgspec.DecodeError as exc:  # central validates; a bad copy refuses
                    field = "coa_link" if profile.version.coa_link else "coa_values"
                    why = f"the lab results central sent for {uid} cannot be read ({exc})"
                    where = f"order {order.order_id}, package {uid}: {why}"
                    raise MissingField(field, where) from exc
        label = build_label(
            order,
            packages,
            station_info(self.cfg.station),
            profile,
            self._agent(job.agent),
            at,
            weighed,
            labs,
        )
        return label, profile

    def _box(self, job: LabelJob) -> BoxLabel:
        """A wholesale order's box label (edge/label/box.py): the gross weights are the picks'
        readings."""
        at = datetime.fromisoformat(job.at) if job.at else datetime.now().astimezone()
        order = job.order.with_picks(job.picks)
        packages = label_packages(self.inventory(), [p.uid for p in job.picks])
        gross = {(p.line, p.uid): p.gross_mg for p in job.picks if p.gross_mg is not None}
        return build_box(
            order,
            packages,
            station_info(self.cfg.station),
            station_profile(self.cfg, at),
            self._agent(job.agent),
            at,
            gross,
        )

    def _slip(self, job: SlipJob) -> HaltSlip:
        at = datetime.fromisoformat(job.at) if job.at else datetime.now().astimezone()
        order = self.orders(job.order_id) if self.orders is not None else None
        ctx = slip_context(self.inventory(), order, job.halt)
        return build_slip(
            job.order_id, job.halt, station_info(self.cfg.station), self._agent(job.agent), at, ctx
        )

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
