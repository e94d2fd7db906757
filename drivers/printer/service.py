"""The printer service the station daemon talks to: asyncio in front, one worker thread behind.

`await submit(...)` stores the job durably and returns at once; the worker prints jobs oldest
first, holds them while the printer reports a problem and retries every `retry_s`, and reports
each step as a `PrinterEvent` to every subscriber's asyncio queue. Each attempt runs in its own
thread under a hard deadline, so even a transport that ignores its timeout cannot stall the
worker; a hung attempt blocks new attempts (so nothing prints twice) until it ends.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from drivers.config import PrinterConfig
from drivers.printer.document import Document
from drivers.printer.escpos_encode import QrMode, encode
from drivers.printer.session import AttemptResult, Confirm, Timeouts, attempt, read_status
from drivers.printer.spool import JobRecord, JobState, Spool
from drivers.printer.status import UNKNOWN, PrinterStatus
from drivers.printer.transport import Target, TransportError, open_transport, parse_target

LOG = logging.getLogger(__name__)

EventKind = Literal["queued", "printed", "held", "warning", "cancelled"]


@dataclass(frozen=True)
class PrinterSettings:
    """Everything the service needs to reach and drive the printer."""

    target: Target
    width_mm: Literal[58, 80] = 80
    timeouts: Timeouts = field(default_factory=Timeouts)
    confirm: Confirm = "status"
    qr_mode: QrMode = "native"
    retry_s: float = 5.0


def settings_from_config(cfg: PrinterConfig) -> PrinterSettings:
    """PrinterSettings from the [printer] section (ValueError for a malformed target)."""
    return PrinterSettings(
        target=parse_target(cfg.target),
        width_mm=cfg.paper_width_mm,
        timeouts=Timeouts(
            cfg.timeout_ms / 1000, cfg.status_timeout_ms / 1000, cfg.confirm_timeout_ms / 1000
        ),
        confirm=cfg.confirm,
        qr_mode=cfg.qr_mode,
        retry_s=cfg.retry_ms / 1000,
    )


@dataclass(frozen=True)
class PrinterEvent:
    """One step of one job, for the daemon (journal, indicator) and logs."""

    kind: EventKind
    job_id: str
    message: str = ""
    status: PrinterStatus = UNKNOWN
    attempts: int = 0


class PrinterService:
    """See the module docstring. Create, `await start()`, `submit`, `await stop()`."""

    def __init__(self, settings: PrinterSettings, spool_path: Path) -> None:
        self.settings = settings
        self.spool = Spool(spool_path)
        self.last_status: PrinterStatus = UNKNOWN
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: list[asyncio.Queue[PrinterEvent]] = []
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self._hung: threading.Thread | None = None
        self._io_lock = threading.Lock()  # one connection to the printer at a time

    # -- asyncio side ---------------------------------------------------------------------
    async def start(self) -> None:
        """Start the worker; jobs left open by a previous run are printed first."""
        self._loop = asyncio.get_running_loop()
        self._worker = threading.Thread(target=self._run, name="printer-spool", daemon=True)
        self._worker.start()

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current attempt; open jobs stay in the spool for the next start."""
        self._stopping.set()
        self._wake.set()
        if self._worker is not None:
            await asyncio.to_thread(self._worker.join, timeout)
            if self._worker.is_alive():  # still in an attempt: it finishes on its own
                LOG.warning("printer worker still busy at stop; spool left open")
                return
        self.spool.close()

    def subscribe(self) -> asyncio.Queue[PrinterEvent]:
        """A queue receiving every event from now on."""
        queue: asyncio.Queue[PrinterEvent] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    async def submit(
        self, job_id: str, doc: Document | bytes, *, kind: str = "label", title: str = ""
    ) -> JobRecord:
        """Store a job durably and queue it; idempotent on `job_id` (SpoolConflict if the
        content differs). Returns without waiting for the printer."""
        data = doc if isinstance(doc, bytes) else encode(doc, qr_mode=self.settings.qr_mode)
        title = title or (doc.title if isinstance(doc, Document) else "")
        record, new = await asyncio.to_thread(self.spool.add, job_id, kind, title, data)
        if new:
            self._emit(PrinterEvent("queued", job_id))
            self._wake.set()
        return record

    async def wait_printed(self, job_id: str, timeout: float) -> JobRecord:
        """Wait until `job_id` printed (or was cancelled); TimeoutError after `timeout` s."""
        async with asyncio.timeout(timeout):
            while True:
                record = await asyncio.to_thread(self.spool.get, job_id)
                if record is None:
                    raise KeyError(job_id)
                if record.state in (JobState.PRINTED, JobState.CANCELLED):
                    return record
                await asyncio.sleep(0.05)

    async def cancel(self, job_id: str) -> bool:
        """Withdraw an unprinted job (a supervisor's decision)."""
        done = await asyncio.to_thread(self.spool.cancel, job_id)
        if done:
            self._emit(PrinterEvent("cancelled", job_id))
        return done

    async def status(self) -> PrinterStatus:
        """Query the printer now (DLE EOT), between jobs; UNKNOWN if it cannot be reached."""
        return await asyncio.to_thread(self._query_status)

    def beep_nowait(self, data: bytes) -> None:
        """Send a short unspooled command (the buzzer) between jobs; dropped on any error."""
        threading.Thread(target=self._send_raw, args=(data,), daemon=True).start()

    # -- worker side ----------------------------------------------------------------------
    def _emit(self, event: PrinterEvent) -> None:
        log = LOG.warning if event.kind in ("held", "warning") else LOG.info
        log(
            "print job %s",
            event.kind,
            extra={"job_id": event.job_id, "detail": event.message, "printer": event.status.state},
        )
        if self._loop is None:
            return
        for queue in self._subscribers:
            try:
                self._loop.call_soon_threadsafe(queue.put_nowait, event)
            except RuntimeError:  # the loop closed during shutdown
                return

    def _run(self) -> None:
        while not self._stopping.is_set():
            job = self.spool.next_open()
            if job is None:
                self._wake.wait()
                self._wake.clear()
                continue
            if not self._print_once(job):
                self._wake.wait(self.settings.retry_s)
                self._wake.clear()

    def _print_once(self, job: JobRecord) -> bool:
        if self._hung is not None and self._hung.is_alive():
            return False  # an earlier attempt may still be writing this job
        self.spool.mark_attempt(job.job_id)
        outcome: list[AttemptResult] = []
        runner = threading.Thread(
            target=self._attempt, args=(job, outcome), name=f"print-{job.job_id}", daemon=True
        )
        runner.start()
        runner.join(self._hard_deadline())
        if runner.is_alive():
            self._hung = runner
            result = AttemptResult(False, UNKNOWN, UNKNOWN, "the printer connection hung")
        else:
            result = outcome[0]
        self.last_status = (
            result.status_after if result.status_after.known else result.status_before
        )
        if result.printed:
            self.spool.mark_printed(job.job_id)
            self._emit(PrinterEvent("printed", job.job_id, "", self.last_status, job.attempts + 1))
            if result.warning:
                self._emit(PrinterEvent("warning", job.job_id, result.warning, self.last_status))
            return True
        self.spool.mark_failed(job.job_id, result.error)
        self._emit(
            PrinterEvent("held", job.job_id, result.error, self.last_status, job.attempts + 1)
        )
        return False

    def _attempt(self, job: JobRecord, outcome: list[AttemptResult]) -> None:
        s = self.settings
        with self._io_lock:
            outcome.append(
                attempt(
                    s.target,
                    job.data,
                    timeouts=s.timeouts,
                    confirm=s.confirm,
                    pid=job.process_id,
                    clear_first=job.attempts > 0,
                )
            )

    def _hard_deadline(self) -> float:
        t = self.settings.timeouts
        return 4 * t.io + 8 * t.status + t.confirm + 1.0

    def _query_status(self) -> PrinterStatus:
        if not self._io_lock.acquire(timeout=self._hard_deadline()):
            return self.last_status
        try:
            with open_transport(self.settings.target, self.settings.timeouts.io) as t:
                return read_status(t, self.settings.timeouts.status)
        except TransportError:
            return UNKNOWN
        finally:
            self._io_lock.release()

    def _send_raw(self, data: bytes) -> None:
        if not self._io_lock.acquire(timeout=self.settings.timeouts.io):
            return
        try:
            with open_transport(self.settings.target, self.settings.timeouts.io) as t:
                t.write(data, self.settings.timeouts.io)
        except TransportError as exc:
            LOG.warning("printer buzzer: %s", exc)
        finally:
            self._io_lock.release()
