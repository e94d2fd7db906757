"""The station daemon: one asyncio loop wiring the devices, the pack workflow, the journal and central.

Every input goes through `Station.feed`: the workflow computes the next state and its effects, the
journal commits the step's events together with the new state (one fsync'd transaction, on the
loop thread; start-up, audit and housekeeping use the writer thread), and only then are signals
shown, labels printed and weights requested, so the technician hears "ok" only for what is on
disk. A `kill -9` at any point leaves either the old state with none of the step's events, or the
new state with all of them.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import signal
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import msgspec

from edge.common import heap
from edge.common.errors import ConfigError, DeviceError
from edge.common.sdnotify import Notifier
from edge.journal import ChainBroken, Journal, JournalError, JournalEvent, anchor
from edge.scan.classify import AgentBadge, OrderTicket, ScanRouter, SealCode
from edge.station.config import StationConfig, StationPaths
from edge.station.disk_guard import DiskGuard
from edge.station.one_input import one_input
from edge.station.ports import FeedResult, StationPorts
from edge.station.status import Observer, station_status
from edge.workflow.machine import Workflow
from edge.workflow.ports import LabelJob, PrintJob, Signal
from edge.workflow.state import (
    BadgeScanned,
    DeviceStateChanged,
    DiskStateChanged,
    Effect,
    Indicate,
    Input,
    NextOrderRequested,
    OrderStatus,
    PackageScanned,
    PrintFailed,
    PrintFinished,
    PrintLabel,
    PrintSlip,
    Record,
    RequestWeight,
    Resumed,
    SealScanned,
    Tick,
    TicketScanned,
    WeightCaptured,
    WorkflowState,
    decode_state,
    encode_state,
)

LOG = logging.getLogger(__name__)
STATE_KEY = "workflow"
# Steps between WAL checkpoints, run after a step's signals (not inside a commit, where
# SQLite's automatic one would make that scan wait); a scan step writes about 5 WAL pages.
CHECKPOINT_EVERY = 100
GIL_SWITCH_S = 0.001
T = TypeVar("T")


def load_ports(cfg: StationConfig) -> StationPorts:
    """Build the ports named by [station] ports ("module:function" taking the config)."""
    spec = cfg.station.ports or "edge.station.wiring:build_ports"
    module_name, _, func_name = spec.partition(":")
    try:
        factory: Callable[[StationConfig], StationPorts] = getattr(
            importlib.import_module(module_name), func_name
        )
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError([f"[station] ports: cannot load {spec!r}: {exc}"]) from exc
    return factory(cfg)


ScanInput = BadgeScanned | TicketScanned | PackageScanned | SealScanned


def route_scan(router: ScanRouter, text: str, device: str, aim_id: str | None) -> ScanInput:
    """A decoded scan -> a workflow input, by the [scan] badge, ticket and seal patterns.

    Anything else goes to the Verifier as a package scan, text and AIM identifier apart as the
    scanner driver decoded them; the Rust core recognises it (tag, Retail ID, GS1...) and names
    it `malformed` when it is no package at all: the technician gets a reason, never silence."""
    code = router.route(text)
    if isinstance(code, AgentBadge):
        return BadgeScanned(code.code, device)
    if isinstance(code, OrderTicket):
        return TicketScanned(code.code.removeprefix("ORD-"), code.code, device)
    if isinstance(code, SealCode):
        return SealScanned(code.code, device)
    return PackageScanned(text, device, aim_id)


class Station:
    """The daemon. `run()` returns when SIGTERM/SIGINT arrives (or `stop()` is called)."""

    def __init__(self, cfg: StationConfig, ports: StationPorts, notifier: Notifier | None = None):
        self.cfg = cfg
        self.paths = StationPaths.of(cfg)
        self.ports = ports
        self.notifier = notifier or Notifier()
        self.router = ScanRouter(cfg.scan)
        self.workflow = Workflow(
            verifier=ports.verifier,
            limits=ports.limits,
            weigh_rule=ports.weigh_rule,
            central=ports.central,
            settings=cfg.workflow,
            fifo=cfg.verify.fifo,
            staging=cfg.staging,
            count=cfg.count,
            counter=ports.counter,
            privacy=ports.privacy,
        )
        self.state = WorkflowState()
        self._state_bytes = encode_state(self.state)  # as last committed
        self._last_seq = 0
        self._commits = 0  # since the last WAL checkpoint
        self.journal: Journal | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._status = ""
        self.boot = str(uuid.uuid4())
        self.observer = Observer(self.paths.status_socket, cfg.station.metrics_listen)

    # -- the one entry point for inputs --------------------------------------------------------

    async def feed(self, event: Input) -> FeedResult:
        """Step the workflow, commit its events with the new state, then perform its effects."""
        async with self._lock:
            try:
                prepare = getattr(self.ports.verifier, "prepare", None)  # a reserving verifier
                if prepare is not None and isinstance(event, PackageScanned):
                    await prepare(self.state, event)  # edge/scan/pipeline.py
                step = self.workflow.step(self.state, event, time.time_ns() // 1_000_000)
                records = step.records()
                new_bytes = encode_state(step.state)
                seq, appended = 0, []
                if records or new_bytes != self._state_bytes:
                    # On the loop thread: a step is one short fsync'd transaction, and handing it
                    # to the writer thread and back cost more than the commit (issue 20); steps
                    # are serialised by the lock anyway, and SQLite releases the GIL in the fsync.
                    began = time.perf_counter()
                    appended = self._commit(records, new_bytes)
                    seq = appended[-1].seq if appended else 0
                    self.observer.committed(records, time.perf_counter() - began)
            except Exception as exc:
                # Nothing was committed, so nothing happened: the state stays as it was, and the
                # technician gets an error signal instead of an "ok" (the caller gets the error).
                LOG.exception("input not committed", extra={"input": type(event).__name__})
                self._perform([Indicate(Signal.DEVICE_ERROR, f"not recorded: {exc}")])
                raise
            self.state, self._state_bytes = step.state, new_bytes
            self._last_seq = seq or self._last_seq
            if appended:
                self._committed(appended)
                self._opened(appended)
        if appended:
            self.ports.sink.wake(appended)
        signals = self._perform(step.effects)
        if seq:
            self._after_commit()
        self._update_status()
        return FeedResult(
            seq=self._last_seq,
            phase=str(self.state.phase),
            events=[r.type for r in records],
            signals=signals,
        )

    async def feed_scan(self, raw: str, device: str = "", aim_id: str | None = None) -> FeedResult:
        return await self.feed(route_scan(self.router, raw, device, aim_id))

    async def inject_scan(self, text: str, device: str) -> list[FeedResult]:
        """An injected scan typed through the scanner decoder (when the ports have one); one
        result per whole scan decoded. ValueError when the decoder cannot take the text."""
        decoder = self.ports.scan_decoder
        if decoder is None:
            return [await self.feed_scan(text, device)]
        return [await self.feed_scan(t, device, aim) for t, aim in decoder.decode(text, device)]

    async def device_state(self, device: str, ok: bool, detail: str = "") -> FeedResult:
        return await self.feed(DeviceStateChanged(device, ok, detail))

    async def next_order(self) -> FeedResult:
        return await self.feed(NextOrderRequested())

    def snapshot(self) -> dict[str, Any]:
        state: dict[str, Any] = msgspec.to_builtins(self.state)
        return state

    def status_info(self) -> dict[str, Any]:
        """`packstation status`: read through the status socket (edge.station.status)."""
        return station_status(self)

    def _commit(self, records: list[Record], state_bytes: bytes) -> list[JournalEvent]:
        journal = self._journal()
        with journal.transaction() as txn:
            for record in records:
                txn.append(record.type, {**record.body, "station": self.cfg.station.id})
            txn.put_state(STATE_KEY, state_bytes)
        return txn.appended

    def _after_commit(self) -> None:
        """Every CHECKPOINT_EVERY commits, the WAL checkpoint: the signals are out already."""
        self._commits += 1
        if self._commits < CHECKPOINT_EVERY:
            return
        self._commits = 0
        try:
            self._journal().checkpoint()
        except sqlite3.Error as exc:  # the next one copies what this one did not
            LOG.warning("journal checkpoint failed", extra={"error": str(exc)})

    def _committed(self, events: list[JournalEvent]) -> None:
        """The rows just committed, to the verifier pipeline (its availability book folds them:
        no scan reads the journal back). They are on disk whatever this does."""
        committed = getattr(self.ports.verifier, "committed", None)  # edge/scan/pipeline.py
        if committed is None:
            return
        try:
            committed(events)
        except Exception:
            LOG.exception("committed rows not folded", extra={"seq": events[-1].seq})

    def _opened(self, events: list[JournalEvent]) -> None:
        """An order just loaded (its `order_loaded` row is on disk), to the verifier pipeline:
        availability reserves the packages it names at central while the technician picks."""
        opened = getattr(self.ports.verifier, "opened", None)  # edge/scan/pipeline.py
        progress = self.state.order
        if opened is None or progress is None or all(e.type != "order_loaded" for e in events):
            return
        try:
            opened(progress.order)
        except Exception:
            LOG.exception("order not opened ahead", extra={"order_id": progress.order.order_id})

    def _perform(self, effects: list[Effect]) -> list[tuple[str, str]]:
        signals: list[tuple[str, str]] = []
        for effect in effects:
            if isinstance(effect, Indicate):
                signals.append((str(effect.signal), effect.detail))
                try:
                    self.ports.indicator.signal(effect.signal, effect.detail)
                except Exception:  # a broken LED must not stop packing
                    LOG.exception("indicator failed", extra={"signal": str(effect.signal)})
            elif isinstance(effect, PrintLabel | PrintSlip):
                self._spawn(self._print(effect.job))
            elif isinstance(effect, RequestWeight) and self.ports.scale is not None:
                self._spawn(self._weigh(effect.uid))
            elif isinstance(effect, OrderStatus):
                self.ports.central.order_finished(effect.order_id, effect.status)
        return signals

    async def _print(self, job: PrintJob) -> None:
        try:
            outcome = await self.ports.printer.submit(job)
        except Exception as exc:  # a driver bug still ends the job, with a reason
            LOG.exception("printer failed", extra={"job": job.job_id})
            await self.feed(PrintFailed(job.job_id, f"printer error: {exc}"))
            return
        if outcome.ok:
            seal = outcome.seal_code if isinstance(job, LabelJob) else None
            await self.feed(PrintFinished(job.job_id, seal))
        else:
            await self.feed(PrintFailed(job.job_id, outcome.reason or "print failed"))

    async def _weigh(self, uid: str) -> None:
        assert self.ports.scale is not None
        try:
            reading = await self.ports.scale.weigh()
        except DeviceError as exc:
            await self.feed(DeviceStateChanged("scale", False, str(exc)))
            return
        await self.feed(WeightCaptured(reading.net_mg, uid, reading.division_mg))
        if "scale" in self.state.devices_down:
            await self.feed(DeviceStateChanged("scale", True, ""))

    # -- life cycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Open and verify the journal, restore the workflow and resume it."""
        path = self.paths.journal
        self.journal = await self._in_writer(Journal, path)
        await self._in_writer(self.journal.defer_checkpoints)  # run after the signals (feed)
        # Only what is new since the last verified checkpoint; the whole chain is audited in the
        # background once the station is up (`_audit`).
        result = await self._in_writer(self.journal.verify_new)
        if not result.ok:
            raise ChainBroken.at(path, result)
        if self.ports.anchor is not None:  # a restored or new card catches up before any event
            diverged = await self.ports.anchor()
            if diverged:  # two histories: starting would journal on one and send nothing
                raise anchor.DivergedAtStart.of(path, diverged)
        self._last_seq = await self._in_writer(self.journal.last_seq)
        raw = await self._in_writer(self.journal.get_state, STATE_KEY)
        if raw is not None:
            try:
                self.state, self._state_bytes = decode_state(raw), raw
            except msgspec.DecodeError as exc:
                raise JournalError(f"{path}: stored workflow state unreadable: {exc}") from exc
        await self.feed(Resumed(boot=self.boot))
        for device, detail in self.ports.down_at_start:  # until the service says otherwise
            await self.device_state(device, False, detail)
        LOG.info(
            "station ready",
            extra={"journal": str(path), "events": result.checked, "phase": str(self.state.phase)},
        )
        self._update_status()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        try:
            await self.start()
            await self._check_disk()  # before READY: no order slips in under a full disk
            self._spawn(self._ticker())
            self._spawn(self.observer.run(self))
            self._spawn(self._disk_watch())
            for service in self.ports.services:
                self._spawn(service.run(self))
            if self.notifier.watchdog_interval_s:
                self._spawn(self.notifier.watchdog_loop())
            await asyncio.sleep(0)  # each service's first step (the inject socket binds) first
            await self._in_writer(self._journal().release_memory)  # the check's page cache
            release_startup_memory()
            self.notifier.ready(self._status)  # journal verified, state restored, inputs open
            # The full audit once the station is up: it reads the whole chain, and neither its
            # CPU nor its memory belongs to start-up.
            self._spawn(self._audit())
            await self._stop.wait()
        finally:
            self.notifier.stopping()
            await self._shutdown()
            self.notifier.close()
        return 0

    def stop(self) -> None:
        self._stop.set()

    async def _audit(self) -> None:
        """The full chain check, off the loop, after start-up checked only the new rows. A break
        stops the station and drops the checkpoint, so the next start checks everything and
        refuses to run on the broken chain, as it would have at start-up. Small batches: a
        step's commit waits for the journal's lock at most one batch read."""
        journal = self._journal()
        result = await self._in_writer(journal.verify, 100)
        if result.ok:
            return
        await self._in_writer(journal.drop_checkpoint)
        LOG.critical(
            "journal chain broken (background audit): stopping",
            extra={"journal": str(self.paths.journal), "seq": result.first_bad_seq},
        )
        self._stop.set()

    async def _shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        async with self._lock:  # no step half-way
            if self.journal is not None:
                await self._in_writer(self.journal.close)
        self._writer.shutdown(wait=True)
        LOG.info("station stopped", extra={"phase": str(self.state.phase)})

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            LOG.error("station task failed", exc_info=task.exception())

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(1)
            if self.state.session is not None:
                await one_input("tick", self.feed(Tick()))

    async def _check_disk(self) -> None:
        guard = DiskGuard(
            self.paths.journal.parent,
            min_free_mb=self.cfg.journal.min_free_mb,
            min_free_percent=self.cfg.journal.min_free_percent,
        )
        unacked = await self._in_writer(self._journal().unacked_count)
        status = await self._in_writer(guard.check, unacked)
        if status.ok == bool(self.state.disk_block):  # changed
            if not status.ok:
                LOG.warning("disk guard", extra={"detail": status.detail})
            await self.feed(DiskStateChanged(status.ok, status.detail))

    async def _disk_watch(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.journal.disk_check_s)
            await one_input("disk check", self._check_disk())

    def _update_status(self) -> None:
        s = self.state
        parts = [f"phase={s.phase}"]
        if s.session is not None:
            parts.append(f"agent={s.session.agent}")
        if s.order is not None:
            parts.append(f"order={s.order.order.order_id}")
        if s.disk_block:
            parts.append("orders refused: disk space low")
        if s.devices_down:
            parts.append("down=" + ",".join(sorted(s.devices_down)))
        status = " ".join(parts)
        if status != self._status:
            self._status = status
            self.notifier.status(status)

    def _journal(self) -> Journal:
        assert self.journal is not None, "journal not open"
        return self.journal

    async def _in_writer(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writer, fn, *args)


def release_startup_memory() -> None:
    """Hand the start-up garbage (module import and file parsing temporaries) back to the OS
    (glibc's malloc keeps freed heap otherwise): RSS on a 1-2 GB Pi matters. What survives
    start-up (modules, configuration, the loaded files) lives as long as the daemon: frozen,
    the collector no longer walks it, so no full collection pauses a scan (issue 20)."""
    gc.collect()
    gc.freeze()
    heap.trim()


def run_station(cfg: StationConfig) -> int:
    """Build the ports and run the daemon until SIGTERM."""
    ports = load_ports(cfg)
    # A thread running Python (the background chain audit, a label's rendering) keeps the GIL
    # for up to the switch interval each time the loop comes back from I/O (the commit's fsync,
    # the sockets): 1 ms instead of CPython's 5 ms bounds what a scan waits for it.
    sys.setswitchinterval(GIL_SWITCH_S)

    async def main() -> int:
        return await Station(cfg, ports).run()

    return asyncio.run(main())


__all__ = [
    "FeedResult",
    "Station",
    "load_ports",
    "route_scan",
    "run_station",
]
