"""The built-in ports of the station daemon: the Rust core, the drivers and central's state.

`build_ports(cfg)` is what `[station] ports = ""` (the default) runs. Each adapter turns one real
part into the port the pure workflow or the daemon expects (edge/workflow/ports.py):

- Verifier: the Rust core's `OrderCheck` session per order, rebuilt from the workflow's accepted
  picks whenever they differ from what the session holds (after a restart, a halt or a refused
  weighing), so the session never drifts from the journalled state.
- LimitChecker: `edge.limits.engine.LimitEngine` over the picked packages' inventory measures.
- WeighRule: the scale driver's weigh-out rule (label, allowance, scale division).
- CentralState: the replica of central's feed (`edge.station.wiring.central.ReplicaCentral`), or the
  files in `[station] seed_dir` (`edge.station.wiring.seed.SeedCentral`) for tests and simulation.
- EventSink and a Service: the central link (`edge.station.wiring.central.LinkService`).
- LabelPrinter: the durable `PrinterService` spool with exit labels built by `edge.label.content`.
- Indicator, Scale, the scanner reader: the drivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from drivers.config import ScannerConfig
from drivers.indicator import Indicator as DriverIndicator
from drivers.indicator import build_indicator
from drivers.printer.escpos_encode import encode
from drivers.printer.service import (
    PrinterEvent,
    PrinterService,
    settings_from_config,
    spool_path_for,
)
from drivers.printer.spool import JobState, SpoolConflict
from drivers.scale import Capture, NoReading, WeighOutAccepted, WeighOutRules, check_weigh_out
from drivers.scale import Scale as DriverScale
from drivers.scale.serial_port import DeviceEvent
from drivers.scale.serial_port import DeviceState as ScaleState
from drivers.scanner.device import ScannerService
from drivers.scanner.events import DeviceState as ScannerState
from drivers.scanner.events import Scan, ScanDiscarded
from drivers.scanner.sim import events_for
from edge._core import Inventory, OrderCheck, RestoreError, ScanCoreError
from edge.common.errors import BadInput, ConfigError, DeviceError
from edge.label import inputs as label_inputs
from edge.label.content import (
    ExitLabel,
    HaltSlip,
    build_label,
    local_time,
    seal_code_for,
)
from edge.label.inputs import load_warnings, warnings_dir
from edge.label.jobs import label_job_id, slip_job_id
from edge.label.layout import layout_label, layout_slip
from edge.limits.engine import Cart, LimitEngine, line_from_package, parse_prior, resolve_rules_dir
from edge.link.replica import Replica, replica_path
from edge.scan.gs1 import Gs1Reader
from edge.scan.verify import open_order_check, order_json, store_today, verify_scan
from edge.station.config import StationConfig, station_info
from edge.station.wiring.central import LinkService, ReplicaCentral
from edge.station.wiring.seed import SeedCentral
from edge.workflow.ports import (
    LabelJob,
    LimitBucket,
    LimitResult,
    Order,
    OrderLine,
    Pick,
    PrintJob,
    PrintOutcome,
    ScaleReading,
    ScanVerdict,
    Signal,
    SlipJob,
    StationHandle,
    StationPorts,
    WeighResult,
)

LOG = logging.getLogger(__name__)
INDICATOR_LOG = "indicator.log"  # <state_dir>/indicator.log with the recording back-end


# -- verdicts -------------------------------------------------------------------------------------


class CoreVerifier:
    """edge.workflow.ports.Verifier over the Rust core: one live session, for the order being packed."""

    def __init__(self, cfg: StationConfig, inventory: Callable[[], Inventory]) -> None:
        self.cfg = cfg
        self.inventory = inventory
        self._order_id: str | None = None
        self._inventory: Inventory | None = None
        self._today = ""
        self._check: OrderCheck | None = None
        self._held: list[tuple[str, int]] = []  # (raw, line) the session has accepted
        self._gs1 = Gs1Reader(cfg.scan.gs_substitutes)

    def check(
        self, order: Order, accepted: Sequence[Pick], raw: str, at: str, aim_id: str | None = None
    ) -> ScanVerdict:
        today = store_today(self.cfg, datetime.fromisoformat(at))
        wanted = [(p.raw, p.line) for p in accepted]
        inventory = self.inventory()
        fresh = (
            self._check is None
            or self._order_id != order.order_id
            or self._inventory is not inventory
            or self._today != today
            or self._held != wanted
        )
        if fresh:
            try:
                self._open(order, wanted, inventory, today)
            except (ScanCoreError, ValueError) as exc:
                self._check = None
                reason = f"Order {order.order_id} cannot be checked: {exc}"
                return ScanVerdict(verdict="malformed", reason=reason)
        assert self._check is not None
        v = verify_scan(self._check, raw, aim_id, self._gs1)
        if v.accepted and v.line is not None:
            self._held.append((raw, v.line))
        return v

    def _open(
        self, order: Order, wanted: list[tuple[str, int]], inventory: Inventory, today: str
    ) -> None:
        # the session holds the workflow's picks (restored here), never any the order came with
        data = order_json(order.with_picks(()))
        check = open_order_check(data, inventory, self.cfg, today=today)
        try:
            check.restore(wanted)
        except RestoreError:  # picks journalled before an inventory change: judge them again
            check = open_order_check(data, inventory, self.cfg, today=today)
            check.replay([raw for raw, _ in wanted])
        self._check, self._order_id, self._inventory = check, order.order_id, inventory
        self._today, self._held = today, list(wanted)


# -- limits ---------------------------------------------------------------------------------------


def _whole(value: Fraction) -> int:
    return value.numerator // value.denominator


class EngineLimits:
    """edge.workflow.ports.LimitChecker over edge.limits.engine.LimitEngine and the inventory's measures."""

    def __init__(self, cfg: StationConfig, inventory: Callable[[], Inventory]) -> None:
        self.cfg = cfg
        self.inventory = inventory
        self.engine = LimitEngine(
            resolve_rules_dir(cfg.limits.rules_dir), timezone=cfg.station.timezone
        )

    def check(self, order: Order, picks: Sequence[Pick], at: str) -> LimitResult:
        try:
            cart = Cart(
                jurisdiction=self.cfg.station.jurisdiction,
                customer_class=order.customer.class_,
                at=datetime.fromisoformat(at),
                lines=tuple(self._line(p) for p in picks),
                prior=parse_prior(list(order.prior), f"order {order.order_id}"),
            )
            verdict = self.engine.check(cart)
        except (BadInput, ConfigError) as exc:
            return LimitResult(allowed=False, reason=f"limits cannot be checked: {exc}")
        buckets = [
            LimitBucket(
                name=b.name,
                used=_whole(b.prior_used + b.cart_used),
                limit=_whole(b.cap),
                unit=b.unit,
            )
            for b in verdict.buckets
        ]
        reason = verdict.reason or ("within the limits" if verdict.allowed else "over the limit")
        return LimitResult(allowed=verdict.allowed, reason=reason, buckets=buckets)

    def _line(self, pick: Pick) -> Any:
        pkg = self.inventory().lookup(pick.uid)
        if pkg is None:
            raise BadInput(f"package {pick.uid} is not in the inventory")
        fields: dict[str, Any] = {
            "Label": pkg.label,
            "Category": pkg.category,
            "NetWeightMg": pick.net_mg if pick.net_mg is not None else pkg.net_weight_mg,
            "ConcentrateMg": pkg.concentrate_mg,
            "ThcMg": pkg.thc_mg,
            "VolumeMl": pkg.volume_ml,
        }
        return line_from_package(fields)


# -- weighing -------------------------------------------------------------------------------------


class DriverWeighRule:
    """edge.workflow.ports.WeighRule: the scale driver's weigh-out rule (drivers/scale/weigh_rules.py)."""

    def __init__(self, rules: WeighOutRules) -> None:
        self.rules = rules

    def judge(self, line: OrderLine, net_mg: int, division_mg: int = 0) -> WeighResult:
        labelled = line.labelled_weight_mg
        if labelled is None:
            reason = f"line {line.line} is weighed out but has no labelled weight"
            return WeighResult(ok=False, reason=reason, min_mg=0, max_mg=0, code="no_label_weight")
        low, high = labelled, labelled + self.rules.over_tolerance_mg
        capture = Capture(net_mg=net_mg, unit="g", division_mg=division_mg, raw=b"")
        result = check_weigh_out(capture, labelled, self.rules)
        if isinstance(result, WeighOutAccepted):
            return WeighResult(
                ok=True, reason=f"{net_mg} mg within {low}..{high} mg", min_mg=low, max_mg=high
            )
        code = {"under": "short_weight", "over": "over_weight"}.get(
            result.refusal.value, "coarse_scale"
        )
        return WeighResult(ok=False, reason=result.reason, min_mg=low, max_mg=high, code=code)


class ScalePort:
    """edge.workflow.ports.Scale over the serial scale driver; also the Service reporting its state."""

    def __init__(self, cfg: StationConfig) -> None:
        self.scale = DriverScale.from_config(cfg.scale)
        self.timeout_s = cfg.workflow.weigh_timeout_s
        self._started = asyncio.Event()

    async def weigh(self) -> ScaleReading:
        await self._started.wait()
        got = await self.scale.capture(self.timeout_s)
        if isinstance(got, NoReading):
            raise DeviceError(f"scale: no reading ({got.reason.value}): {got.detail}")
        return ScaleReading(net_mg=got.net_mg, division_mg=got.division_mg)

    async def run(self, station: StationHandle) -> None:
        events = self.scale.device_events()
        first = await self.scale.start()
        self._started.set()
        await _scale_state(station, first)
        try:
            async for event in events:
                await _scale_state(station, event)
        finally:
            events.close()
            await self.scale.stop()


async def _scale_state(station: StationHandle, event: DeviceEvent) -> None:
    if event.state in (ScaleState.CONNECTED, ScaleState.UNPLUGGED):
        ok = event.state is ScaleState.CONNECTED
        await station.device_state("scale", ok, "" if ok else event.detail or "scale unplugged")


# -- printing -------------------------------------------------------------------------------------


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
    """edge.workflow.ports.LabelPrinter over the durable PrinterService spool.

    A label's spool job id is derived from its content (`label-<seal code>`), and a reprint of
    the same order carries the same content (time and agent of the first request), so the spool
    prints an exit label once however often the workflow asks: a job held for paper prints when
    the paper is back, and the next request finds it printed. Also the Service that reports the
    printer's state (held = down, printed = up) to the daemon.
    """

    def __init__(self, cfg: StationConfig, inventory: Callable[[], Inventory]) -> None:
        self.cfg = cfg
        self.inventory = inventory
        self.service = PrinterService(
            settings_from_config(cfg.printer), spool_path_for(cfg.printer, cfg.station.state_dir)
        )
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
        halt = job.halt
        at = datetime.fromisoformat(job.at) if job.at else datetime.now().astimezone()
        steps = ["Put the package aside for the supervisor."]
        if halt.candidates:
            steps.append("It may be: " + ", ".join(halt.candidates[:5]))
        return HaltSlip(
            order_id=job.order_id,
            code=halt.code,
            what_happened=halt.reason,
            what_to_do=tuple(steps),
            scanned=halt.raw or (halt.uid or ""),
            order_line=halt.line,
            station_id=self.cfg.station.id,
            agent_id=job.agent,
            at=local_time(at, self.cfg.station.timezone).isoformat(timespec="seconds"),
            timezone=self.cfg.station.timezone,
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


# -- indicator ------------------------------------------------------------------------------------


class IndicatorPort:
    """edge.workflow.ports.Indicator over the driver; with the `recording` back-end each signal is also
    appended to <state_dir>/indicator.log as `<CLOCK_MONOTONIC ns> <signal> <detail>` (tests,
    the simulated day and the benchmark watch it from outside the process)."""

    def __init__(self, cfg: StationConfig, indicator: DriverIndicator) -> None:
        self.indicator = indicator
        self._log_fd: int | None = None
        if cfg.indicator.backend == "recording":
            path = Path(cfg.station.state_dir) / INDICATOR_LOG
            self._log_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def signal(self, signal: Signal, detail: str = "") -> None:
        self.indicator.signal(signal)
        if self._log_fd is not None:
            line = f"{time.monotonic_ns()} {signal.value} {detail}".replace("\n", " ") + "\n"
            with contextlib.suppress(OSError):
                os.write(self._log_fd, line.encode())


# -- scanners -------------------------------------------------------------------------------------


class ScannerPort:
    """The scanner reader (a Service) and the inject channel's decoder (edge.workflow.ports.ScanDecoder)."""

    def __init__(self, cfg: StationConfig) -> None:
        self.configs = {s.label: s for s in cfg.scanner}
        self.service = ScannerService(cfg.scanner)

    def decode(self, text: str, device: str) -> list[tuple[str, str | None]]:
        scanner = self.configs.get(device) or ScannerConfig(name=device)
        aim: str | None = None
        if scanner.aim_ids and text.startswith("]") and len(text) >= 3:
            aim, text = text[:3], text[3:]
        try:
            events = events_for(text, layout_name=scanner.layout, aim_id=aim)
        except Exception as exc:  # keymap.LayoutError and friends: the text cannot be typed
            raise ValueError(f"cannot type {text!r} on a {scanner.layout} scanner: {exc}") from exc
        out: list[tuple[str, str | None]] = []
        for event in self.service.inject(device, events, node="injected"):
            if isinstance(event, ScanDiscarded):
                raise ValueError(  # noqa: TRY004 - the decoder refused the input
                    f"scan discarded by the decoder: {event.reason} {event.detail}"
                )
            if isinstance(event, Scan):
                out.append((event.text, event.aim_id))
        return out

    async def run(self, station: StationHandle) -> None:
        reader = asyncio.get_running_loop().create_task(self.service.run())
        try:
            async for event in self.service.events():
                if isinstance(event, Scan) and event.node != "injected":
                    await station.feed_scan(event.text, event.device, event.aim_id)
                elif isinstance(event, ScannerState):
                    ok = event.state == "connected"
                    await station.device_state(
                        "scanner",
                        ok,
                        "" if ok else f"{event.device}: {event.state} {event.detail}".strip(),
                    )
                elif isinstance(event, ScanDiscarded) and event.node != "injected":
                    LOG.warning(
                        "scan discarded", extra={"device": event.device, "reason": event.reason}
                    )
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader


# -- the factory ----------------------------------------------------------------------------------


def build_central(cfg: StationConfig, replica: Replica) -> SeedCentral | ReplicaCentral:
    """Central's state: the seed files when `[station] seed_dir` is set, else the replica the
    link keeps. Read now, so READY means "loaded" (and a bad file is logged at start)."""
    central: SeedCentral | ReplicaCentral = (
        SeedCentral.from_config(cfg) if cfg.station.seed_dir else ReplicaCentral(cfg, replica)
    )
    central.inventory()
    central.badge("")
    central.next_order()
    return central


def check_compliance_files(cfg: StationConfig, limits: EngineLimits) -> None:
    """The jurisdiction's limit rules and label warnings must load before the station opens: a
    station that cannot check limits or print a compliant label does not start (exit 78)."""
    code = cfg.station.jurisdiction
    limits.engine.rules(code)
    load_warnings(code, warnings_dir(cfg.printer.warnings_dir))


def build_ports(cfg: StationConfig) -> StationPorts:
    """The built-in wiring ([station] ports = ""): real drivers, the Rust core, central's state.
    ConfigError names what is wrong (a bad printer target, a scanner name used twice, missing
    limit rules or label warnings for the jurisdiction)."""
    try:
        return _build_ports(cfg)
    except ValueError as exc:
        raise ConfigError([str(exc)]) from exc


def _build_ports(cfg: StationConfig) -> StationPorts:
    replica = Replica(replica_path(cfg.link.replica_path, Path(cfg.station.state_dir)))
    central = build_central(cfg, replica)
    link = LinkService(cfg, replica)
    limits = EngineLimits(cfg, central.inventory)
    check_compliance_files(cfg, limits)
    inventory = central.inventory
    printer = SpoolPrinter(cfg, inventory)
    indicator = IndicatorPort(
        cfg, build_indicator(cfg.indicator, printer_send=printer.service.beep_nowait)
    )
    scanners = ScannerPort(cfg)
    services: list[Any] = [printer, scanners, link]
    if isinstance(central, ReplicaCentral):
        services.append(central)  # rebuilds the inventory index when the replica moved
    scale: ScalePort | None = None
    if cfg.scale.enabled:
        scale = ScalePort(cfg)
        services.append(scale)
    return StationPorts(
        verifier=CoreVerifier(cfg, inventory),
        limits=EngineLimits(cfg, inventory),
        weigh_rule=DriverWeighRule(
            WeighOutRules(
                over_tolerance_mg=cfg.scale.over_tolerance_mg,
                max_division_mg=cfg.scale.max_division_mg,
            )
        ),
        central=central,
        printer=printer,
        indicator=indicator,
        sink=link,
        scale=scale,
        services=services,
        scan_decoder=scanners,
    )


__all__ = [
    "CoreVerifier",
    "DriverWeighRule",
    "EngineLimits",
    "IndicatorPort",
    "ScalePort",
    "ScannerPort",
    "SpoolPrinter",
    "build_ports",
    "order_json",
]
