"""Central's reporting tasks: the state-system bridge (central/statesys/) and the POS webhook.

`Reporting.from_config(cfg, store)` is None when there is nothing to do ([state_system] kind =
"none" and no [intake] webhook_url). Otherwise `run()` runs, in central's loop:

- the event tail (central/statesys/ingest.py): stored events -> jobs and webhooks;
- the bridge (central/statesys/bridge.py): jobs -> the state system, exactly once;
- the package pull (central/statesys/pull.py) every `pull_interval_s`;
- the METRC lab-result pull (central/statesys/labpull.py) every `lab_pull_interval_s`;
- the webhook sender (central/webhook.py).

Keys are read once at start from `[state_system] vendor_key_file` / `user_key_file` (through
systemd's `$CREDENTIALS_DIRECTORY`, like central's CURVE key) and never leave central. With several
central instances on one PostgreSQL store, one of them reports at a time (an advisory lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from central.config import CentralConfig
from central.statesys.base import AuthFailed, StateError, StateSystem
from central.statesys.biotrack import BioTrackClient
from central.statesys.bridge import Bridge
from central.statesys.ingest import Ingest, IngestOptions
from central.statesys.labpull import pull_labs
from central.statesys.metrc import MetrcClient
from central.statesys.pull import pull_once
from central.statesys.sale import can_repackage
from central.statesys.store import ReportStore, dumps, loads
from central.store.base import SqlStore
from central.webhook import WebhookSender
from edge.common.credentials import credential_path
from edge.common.errors import ConfigError

LOG = logging.getLogger(__name__)
PG_REPORTER_LOCK = 7340017


DEADLINE = timedelta(hours=24)


def overdue(reports: ReportStore, at: datetime | None = None) -> list[str]:
    """External numbers of sales sealed more than DEADLINE before `at` and not yet confirmed."""
    limit = (at or datetime.now(UTC)) - DEADLINE
    late = []
    for job in reports.open_jobs():
        if job.kind != "sale" or job.reason.startswith(("voided", "not sent")):
            continue
        try:
            sealed = datetime.fromisoformat(job.origin_at)
        except ValueError:
            continue
        if sealed < limit:
            late.append(job.external)
    return late


def _read_key(configured: str, what: str) -> str:
    path = credential_path(configured)
    try:
        text = Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError([f"[state_system] {what}: cannot read {path}: {exc}"]) from exc
    if not text:
        raise ConfigError([f"[state_system] {what}: {path} is empty"])
    return text


def make_system(cfg: CentralConfig) -> StateSystem | None:
    s = cfg.state_system
    timeout = s.timeout_ms / 1000
    if s.kind == "metrc":
        vendor = _read_key(s.vendor_key_file, "vendor_key_file")
        user = _read_key(s.user_key_file, "user_key_file")
        return MetrcClient(s.base_url, s.license, vendor, user, timeout)
    if s.kind == "biotrack":
        password = _read_key(s.user_key_file, "user_key_file")
        return BioTrackClient(s.base_url, s.license, s.username, password, timeout)
    return None


@dataclass
class Reporting:
    cfg: CentralConfig
    reports: ReportStore
    system: StateSystem | None
    webhook: WebhookSender | None
    bridge: Bridge | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    ingest_poll_s: float = 0.2

    @classmethod
    def from_config(cls, cfg: CentralConfig, store: SqlStore) -> Reporting | None:
        system = make_system(cfg)
        hook = None
        if cfg.intake.webhook_url:
            path = credential_path(cfg.intake.webhook_secret_file)
            try:
                secret = Path(path).read_bytes().strip()
            except OSError as exc:
                raise ConfigError(
                    [f"[intake] webhook_secret_file: cannot read {path}: {exc}"]
                ) from exc
            if len(secret) < 16:
                raise ConfigError([f"[intake] webhook_secret_file: {path}: shorter than 16 bytes"])
            reports = ReportStore(store)
            hook = WebhookSender(
                reports, cfg.intake.webhook_url, secret, cfg.intake.webhook_timeout_ms / 1000
            )
        if system is None and hook is None:
            return None
        reports = hook.reports if hook else ReportStore(store)
        out = cls(cfg=cfg, reports=reports, system=system, webhook=hook)
        if system is not None:
            out.bridge = Bridge(
                reports,
                system,
                max_backoff_s=cfg.state_system.max_backoff_s,
                webhooks=hook is not None,
            )
        return out

    # -- pieces ------------------------------------------------------------------------------
    async def _facility(self) -> dict[str, object] | None:
        known = self.reports.meta("facility")
        if known:
            return dict(loads(known))
        if self.system is None:
            return None
        try:
            facility = await self.system.facility()
        except StateError as exc:
            LOG.warning("state system facility not readable yet", extra={"error": str(exc)})
            return None
        await asyncio.to_thread(self.reports.set_meta, "facility", dumps(facility))
        return facility

    async def _options(self) -> IngestOptions | None:
        s = self.cfg.state_system
        repackage = s.repackaging == "child_package"
        if self.system is not None and s.repackaging == "auto":
            facility = await self._facility()
            if facility is None:
                return None  # wait: whether a weigh-out is a child package depends on it
            repackage = can_repackage("auto", facility)
        return IngestOptions(
            enabled=self.system is not None,
            timezone=s.timezone,
            repackage=repackage,
            quarantine_location=s.quarantine_location,
            adjustment_reasons=list(s.adjustment_reasons),
            webhooks=self.webhook is not None,
            deliveries=s.deliveries,
        )

    async def ingest_loop(self) -> None:
        options = None
        while options is None:
            options = await self._options()
            if options is None:
                await asyncio.sleep(2)
        ingest = Ingest(self.reports, options)
        while True:
            try:
                while await asyncio.to_thread(ingest.step):
                    self.wake.set()
            except Exception:
                LOG.exception("state report ingest failed")
            await asyncio.sleep(self.ingest_poll_s)

    async def bridge_loop(self) -> None:
        assert self.bridge is not None
        while True:
            try:
                moved = await self.bridge.round()
            except Exception:
                LOG.exception("state report round failed")
                moved = 0
            if moved:
                continue
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), 0.5)

    async def deadline_loop(self, every_s: float = 60.0) -> None:
        """ "Sales must be recorded in Metrc within 24 hrs" (BLAZE's offline procedure,
        https://support.blaze.me/hc/en-us/articles/retail-offline-processing-sales): alert when a
        sale sealed more than `DEADLINE` ago is still not confirmed."""
        while True:
            try:
                late = await asyncio.to_thread(overdue, self.reports)
                if late:
                    await asyncio.to_thread(
                        self.reports.alert,
                        "deadline",
                        f"{len(late)} sale(s) sealed over 24 h ago are not confirmed at the state"
                        f" system (oldest: {late[0]}): see `packstation central reports list`",
                    )
                else:
                    await asyncio.to_thread(self.reports.clear_alerts, "deadline")
            except Exception:
                LOG.exception("deadline check failed")
            await asyncio.sleep(every_s)

    async def pull_loop(self) -> None:
        assert self.system is not None
        interval = self.cfg.state_system.pull_interval_s
        while True:
            started = time.monotonic()
            try:
                await pull_once(self.reports, self.system)
            except StateError as exc:
                LOG.warning("state package pull failed", extra={"error": str(exc)})
            except Exception:
                LOG.exception("state package pull failed")
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    async def lab_pull_loop(self) -> None:
        """METRC lab results of the packages central holds, every `lab_pull_interval_s`."""
        assert self.system is not None and self.bridge is not None
        interval = self.cfg.state_system.lab_pull_interval_s
        while True:
            started = time.monotonic()
            try:
                await pull_labs(self.reports, self.system, self.bridge.backoff)
            except AuthFailed as exc:  # as the bridge does: alert; its probe clears it
                self.bridge.auth_problem = str(exc)
                await asyncio.to_thread(
                    self.reports.alert,
                    "auth",
                    f"the state system refused central's key ({exc}); the lab pull stopped: fix "
                    "[state_system] vendor_key_file/user_key_file",
                )
                LOG.error("state system refused the key: lab pull stopped")
            except StateError as exc:
                LOG.warning("lab result pull stopped", extra={"error": str(exc)})
            except Exception:
                LOG.exception("lab result pull failed")
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    async def _leader(self) -> None:
        """On PostgreSQL, wait until this instance holds the reporter lock."""
        store = self.reports.store
        if not self.reports.pg:
            return
        while True:
            with store._lock:
                (got,) = store._x("SELECT pg_try_advisory_lock(?)", (PG_REPORTER_LOCK,)).fetchone()
            if got:
                return
            await asyncio.sleep(10)

    async def run(self) -> None:
        await self._leader()
        tasks = [asyncio.create_task(self.ingest_loop())]
        if self.bridge is not None:
            tasks += [
                asyncio.create_task(self.bridge_loop()),
                asyncio.create_task(self.pull_loop()),
                asyncio.create_task(self.deadline_loop()),
            ]
            lab_pull = self.cfg.state_system.lab_pull_interval_s
            if self.system is not None and self.system.name == "metrc" and lab_pull:
                tasks.append(asyncio.create_task(self.lab_pull_loop()))
        if self.webhook is not None:
            tasks.append(asyncio.create_task(self.webhook.run()))
        LOG.info(
            "reporting started",
            extra={
                "state_system": self.cfg.state_system.kind,
                "webhook": bool(self.webhook),
            },
        )
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.system is not None:
                await self.system.close()
