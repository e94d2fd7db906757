"""The reporting worker: every job in `statesys_jobs` reaches the state system exactly once.

Per round:
1. Order: jobs are taken in creation order; a job waits while an earlier job on any of its packages
   is not `confirmed` (a failed one included), so a package is never reported after a later
   adjustment, and an archive never overtakes its sale.
2. Read-back first: a job in `sent` (its request left, or may have, before a crash or a timeout) is
   looked up before anything is sent again: a receipt by `ExternalReceiptNumber`
   (`GET /sales/v2/receipts/external/{n}`), a child package by its tag (`GET /packages/v2/{label}`),
   a transfer template by its name (`GET /transfers/v2/templates/outgoing`) or a BioTrack request
   by its nonce (`nonce_replay`). Found = `confirmed`; not found = `pending`.
   PUT/DELETE calls are idempotent (https://api-mo.metrc.com/Documentation/getting-started) and are
   simply repeated.
3. Send: a job becomes `sent` in the store (committed) before its request leaves; receipts go at
   most 10 per call (https://www.thcompliance.com/metrc/), a few calls at a time.
4. Outcome (central/statesys/base.py): ids -> `confirmed`; timeout/5xx -> stays `sent`, backoff
   with jitter; 429 -> `pending` after `Retry-After`; 401/403 -> `pending`, the worker stops and
   alerts until a probe (`GET /facilities/v2/`) succeeds, no retry spent; other 4xx -> `failed`
   with the state system's message, for a person (`packstation central reports retry ORDER`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

from central.statesys.base import AuthFailed, RateLimited, Rejected, Sale, StateError, StateSystem
from central.statesys.ingest import webhook
from central.statesys.store import (
    CONFIRMED,
    FAILED,
    NOT_SENT,
    PENDING,
    READ_BACK,
    SENT,
    VOIDED,
    Job,
    ReportStore,
)

LOG = logging.getLogger(__name__)
AUTH_PROBE_S = 30.0


@dataclass
class BridgeStats:
    posts: int = 0
    confirmed: int = 0
    read_backs: int = 0
    found_by_read_back: int = 0
    transient: int = 0
    rate_limited: int = 0
    rejected: int = 0
    auth_failures: int = 0


@dataclass
class Bridge:
    reports: ReportStore
    system: StateSystem
    parallel: int = 4
    max_backoff_s: float = 600.0
    base_backoff_s: float = 1.0
    webhooks: bool = False
    stats: BridgeStats = field(default_factory=BridgeStats)
    paused_until: float = 0.0  # 401/403: no job is sent before this (a probe clears it)
    auth_problem: str = ""
    _solo: set[int] = field(default_factory=set)  # jobs to send alone (a whole-batch refusal)

    def backoff(self, attempts: int) -> float:
        """Exponential backoff with full jitter, capped."""
        cap = min(self.max_backoff_s, self.base_backoff_s * 2 ** min(attempts, 20))
        return random.uniform(cap / 2, cap)

    # -- scheduling ----------------------------------------------------------------------------
    @staticmethod
    def runnable(jobs: list[Job], at: float) -> list[Job]:
        """The jobs that may go now: first on each of their packages, due, not failed."""
        busy: set[str] = set()
        ready: list[Job] = []
        for job in jobs:
            free = not busy.intersection(job.packages)
            holds = not (job.state == FAILED and job.reason.startswith((VOIDED, NOT_SENT)))
            if holds:
                busy.update(job.packages)
            if free and job.state in (PENDING, SENT) and job.next_at <= at:
                ready.append(job)
        return ready

    async def round(self) -> int:
        """One pass over what is runnable; returns the number of jobs that moved."""
        now = time.time()
        if self.paused_until > now:
            return 0
        if self.auth_problem and not await self._probe():
            return 0
        ready = self.runnable(await asyncio.to_thread(self.reports.open_jobs), now)
        if not ready:
            return 0
        batches: list[list[Job]] = []
        sales = [j for j in ready if j.kind == "sale" and j.state == PENDING]
        alone = [j for j in sales if j.id in self._solo]
        size = self.system.max_batch
        for endpoint in ("receipts", "deliveries"):  # one endpoint per call
            grouped = [j for j in sales if j.id not in self._solo and _endpoint(j) == endpoint]
            batches += [grouped[i : i + size] for i in range(0, len(grouped), size)]
        batches += [[j] for j in alone]
        batches += [[j] for j in ready if not (j.kind == "sale" and j.state == PENDING)]
        moved = 0
        for i in range(0, len(batches), self.parallel):
            group = batches[i : i + self.parallel]
            results = await asyncio.gather(*(self._run(b) for b in group))
            moved += sum(results)
            if self.auth_problem:
                break
        return moved

    async def _run(self, batch: list[Job]) -> int:
        try:
            if batch[0].state == SENT:
                await self._read_back(batch[0])
            elif batch[0].kind == "sale":
                await self._post_sales(batch)
            else:
                await self._other(batch[0])
        except StateError as exc:
            await self._failed_call(batch, exc)
        return len(batch)

    # -- the calls -----------------------------------------------------------------------------
    async def _mark(self, jobs: list[Job], state: str, **kw: object) -> None:
        await asyncio.to_thread(self.reports.mark, [j.id for j in jobs], state, **kw)  # type: ignore[arg-type]

    async def _confirm(self, job: Job, remote_id: str) -> None:
        hooks = []
        if self.webhooks and job.kind == "sale":
            key, event, body = webhook(
                "reported", {"station": job.station, "order_id": job.order_id}, ""
            )
            body |= {"external": job.external, "state_id": remote_id}
            hooks.append((key, event, body))
        await asyncio.to_thread(
            self.reports.mark,
            [job.id],
            CONFIRMED,
            remote_ids=[remote_id],
            count_attempt=True,
            webhooks=hooks,
        )
        self.stats.confirmed += 1

    async def _post_sales(self, batch: list[Job]) -> None:
        await self._mark(batch, SENT)  # committed before the request leaves
        self.stats.posts += 1
        sales = [
            Sale(j.external, await self._receipt(j), j.body.get("channel", "pickup")) for j in batch
        ]
        if _endpoint(batch[0]) == "deliveries":
            ids = await self.system.post_deliveries(sales)
        else:
            ids = await self.system.post_sales(sales)
        for job, remote in zip(batch, ids, strict=True):
            await self._confirm(job, remote)
            self._solo.discard(job.id)

    async def _receipt(self, job: Job) -> dict[str, Any]:
        """The receipt to send. BioTrack names a split's new lot itself (`inventory_split` returns
        its id), so a sale of a weighed-out container sells the id BioTrack gave it."""
        receipt: dict[str, Any] = job.body["receipt"]
        if self.system.name != "biotrack":
            return receipt
        txs = []
        for tx in receipt["Transactions"]:
            child = await asyncio.to_thread(self.reports.job, f"child:{tx['PackageLabel']}")
            sold = child.remote_id if child is not None and child.remote_id else tx["PackageLabel"]
            txs.append({**tx, "PackageLabel": sold})
        return {**receipt, "Transactions": txs}

    async def _read_back(self, job: Job) -> None:
        self.stats.read_backs += 1
        found = None
        if job.kind == "sale" and _endpoint(job) == "deliveries":
            found = await self.system.find_delivery(Sale(job.external, await self._receipt(job)))
        elif job.kind == "sale":
            found = await self.system.find_sale(job.external)
        elif job.kind == "child":
            found = await self.system.find_child(job.external, str(job.body["source"]))
        elif job.kind == "transfer":  # a POST too: the template (or manifest) by its name
            found = await self.system.find_transfer(job.external)
            if found is None:
                await self._mark([job], PENDING)
                await self._other(job)
                return
        else:  # PUT/DELETE: idempotent, repeat them
            await self._other(job)
            return
        if found is None:
            await self._mark([job], PENDING)
            if job.kind == "child":
                await self._other(job)
            return
        self.stats.found_by_read_back += 1
        LOG.info(
            "state system already had it (read back)",
            extra={"external": job.external, "state_id": found.id},
        )
        await self._confirm(job, found.id)

    async def _other(self, job: Job) -> None:
        await self._mark([job], SENT)
        self.stats.posts += 1
        if job.kind == "child":
            remote = await self.system.create_child(job.body["package"])
        elif job.kind == "archive":
            sale = await asyncio.to_thread(self.reports.job, str(job.body["sale_key"]))
            if sale is None or sale.state != CONFIRMED:
                why = "the sale was never confirmed" if sale else "no sale"
                await self._mark([job], FAILED, reason=f"{VOIDED}: nothing to archive ({why})")
                return
            if _endpoint(sale) == "deliveries":
                await self.system.archive_delivery(sale.remote_id, sale.external)
            else:
                await self.system.archive_sale(sale.remote_id, sale.external)
            remote = sale.remote_id
        elif job.kind == "move":
            body = job.body
            await self.system.move_location(body["label"], body["location"], body["note"])
            remote = body["location"]
        elif job.kind == "adjust":
            await self.system.adjust(job.body["adjust"])
            remote = str(job.body["adjust"].get("Label", ""))
        elif job.kind == "transfer":  # a wholesale order's manifest (central/manifest.py)
            remote = await self.system.create_transfer(
                job.body["template"], job.body.get("biotrack")
            )
        else:
            await self._mark([job], FAILED, reason=f"unknown job kind {job.kind}")
            return
        await self._confirm(job, remote)

    async def _failed_call(self, batch: list[Job], exc: StateError) -> None:
        names = ", ".join(j.external for j in batch[:3])
        if isinstance(exc, RateLimited):
            self.stats.rate_limited += 1
            state = SENT if batch[0].state == SENT and batch[0].kind == "sale" else PENDING
            await self._mark(batch, state, reason=str(exc), delay_s=exc.retry_after)
        elif isinstance(exc, AuthFailed):
            self.stats.auth_failures += 1
            self.auth_problem = str(exc)
            self.paused_until = time.time() + AUTH_PROBE_S
            # a refused key wrote nothing: back to where they were, no retry spent
            state = SENT if batch[0].state == SENT and batch[0].kind == "sale" else PENDING
            await self._mark(batch, state, reason=f"waiting: {exc}")
            await asyncio.to_thread(
                self.reports.alert,
                "auth",
                f"the state system refused central's key ({exc}); reporting stopped: fix "
                "[state_system] vendor_key_file/user_key_file",
            )
            LOG.error("state system refused the key: reporting stopped", extra={"error": str(exc)})
        elif isinstance(exc, Rejected):
            self.stats.rejected += 1
            await self._rejected(batch, exc)
        else:
            self.stats.transient += 1
            attempts = max(j.attempts for j in batch) + 1
            await self._mark(
                batch,
                SENT,
                reason=str(exc)[:300],
                delay_s=self.backoff(attempts),
                count_attempt=True,
            )
            LOG.warning(
                "state system call failed; will read back", extra={"jobs": names, "error": str(exc)}
            )

    async def _rejected(self, batch: list[Job], exc: Rejected) -> None:
        rows = {r for r in exc.messages if r is not None}
        if len(batch) > 1 and not rows:
            self._solo.update(j.id for j in batch)  # which one? send each alone to find out
            await self._mark(batch, PENDING)
            return
        # refused on a read-back, the first try may still have landed: say so (a void then
        # waits for the retried read-back instead of assuming there is nothing to archive)
        prefix = READ_BACK if batch[0].state == SENT else ""
        for i, job in enumerate(batch):
            message = exc.for_row(i) if (rows or len(batch) == 1) else None
            if i in rows or (not rows and message):
                reason = prefix + (message or str(exc))
                await self._mark([job], FAILED, reason=reason[:500], count_attempt=True)
                LOG.error(
                    "state system refused a report: waits for a person",
                    extra={"external": job.external, "reason": message},
                )
            else:
                await self._mark([job], PENDING)

    async def _probe(self) -> bool:
        """After a 401/403: is the key good again? A cheap GET, no job spent."""
        try:
            await self.system.facility()
        except AuthFailed as exc:
            self.paused_until = time.time() + AUTH_PROBE_S
            self.auth_problem = str(exc)
            return False
        except StateError:
            self.paused_until = time.time() + 5
            return False
        LOG.info("state system accepts the key again: reporting resumes")
        self.auth_problem = ""
        await asyncio.to_thread(self.reports.clear_alerts, "auth")
        return True

    def resume(self) -> None:
        """Probe at once (a person fixed the key and ran `reports retry`)."""
        self.paused_until = 0.0


def _endpoint(job: Job) -> str:
    """Where a sale goes: `receipts` (POST /sales/v2/receipts) or `deliveries`."""
    return str(job.body.get("endpoint", "receipts"))
