"""The Verifier the daemon uses: the Rust core's verdict, then whether the package may be sold.

`AvailabilityVerifier` wraps `CoreVerifier`: after the core's verdict it folds the station's own
journal (read-only, from where it last read: the sales, holds and quarantines of this station,
at once and offline) and asks edge.scan.availability with the package as central serves it (its
remaining `Quantity` and central's `Packstation` block: other stations' sales, holds and
quarantines). A core-accepted scan that is refused here is taken back out of the core session.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from edge.common import protocol as p
from edge.journal import Journal, JournalError
from edge.scan.availability import (
    LocalBook,
    Rules,
    judge,
    refused_by_central,
    store_clock,
    wanted,
)
from edge.scan.verify import store_today
from edge.station.config import StationConfig, StationPaths
from edge.workflow.ports import Order, Pick, ScanVerdict, Verifier
from edge.workflow.state import PackageScanned, Phase, WorkflowState

LOG = logging.getLogger(__name__)
Lookup = Callable[[str], dict[str, Any] | None]
Claimer = Callable[[p.Claim], Awaitable[p.Claimed | None]]


class JournalBook:
    """The station's LocalBook, kept up to date from its journal file (read-only)."""

    def __init__(self, station_id: str, path: Path) -> None:
        self.book = LocalBook(station=station_id)
        self.path = path
        self._journal: Journal | None = None

    def catch_up(self) -> LocalBook:
        if self._journal is None:
            if not self.path.is_file():
                return self.book
            try:
                self._journal = Journal(self.path, readonly=True)
            except JournalError as exc:
                LOG.error("journal not readable for availability", extra={"error": str(exc)})
                return self.book
        while rows := self._journal.events(self.book.last_seq, 1000):
            for row in rows:
                try:
                    body = json.loads(row.body)
                except ValueError:
                    body = {}
                self.book.fold(row.seq, row.type, body if isinstance(body, dict) else {}, row.at)
            self.book.last_seq = rows[-1].seq
        return self.book

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()


class ForgettingVerifier(Verifier, Protocol):
    """The core's verifier, or a wrapper of it (batch lock, lab gate) that passes `forget` on."""

    def forget(self) -> None: ...


class AvailabilityVerifier:
    """edge.workflow.ports.Verifier: the core's verdict, refused for a package not to be sold."""

    def __init__(
        self,
        cfg: StationConfig,
        core: ForgettingVerifier,
        lookup: Lookup,
        claim: Claimer | None = None,
    ) -> None:
        self.cfg = cfg
        self.core = core
        self.lookup = lookup
        self.claim = claim
        self._prepared: tuple[tuple[object, ...], ScanVerdict] | None = None
        self.journal = JournalBook(cfg.station.id, StationPaths.of(cfg).journal)
        self._clock = store_clock(cfg.station.timezone)
        passed = set(cfg.verify.lab_passed_states)
        self._passed = frozenset(passed)
        self._not_required = frozenset(cfg.verify.lab_not_required_categories)

    def check(
        self, order: Order, accepted: Sequence[Pick], raw: str, at: str, aim_id: str | None = None
    ) -> ScanVerdict:
        prepared, self._prepared = self._prepared, None
        if prepared is not None and prepared[0] == (order.order_id, tuple(accepted), raw, aim_id):
            return prepared[1]  # judged (and reserved at central) just before this step
        return self._judge(order, accepted, raw, at, aim_id)[1]

    def _judge(
        self, order: Order, accepted: Sequence[Pick], raw: str, at: str, aim_id: str | None
    ) -> tuple[ScanVerdict, ScanVerdict]:
        """(the core's verdict, the verdict after availability)."""
        verdict = self.core.check(order, accepted, raw, at, aim_id)
        book = self.journal.catch_up()
        rules = self._rules(at)
        try:
            out = judge(verdict, order, self.lookup, book, rules)
        except Exception:  # a package central served oddly must not take the station down
            LOG.exception("availability check failed", extra={"raw": raw})
            return verdict, verdict
        if verdict.accepted and not out.accepted:
            self.core.forget()
        return verdict, out

    def _rules(self, at: str) -> Rules:
        return Rules(
            today=store_today(self.cfg, datetime.fromisoformat(at)),
            lab_passed=self._passed,
            not_required_categories=self._not_required,
            local_time=self._clock,
        )

    # -- before the workflow steps: reserve the package at central -------------------------------

    async def prepare(self, state: WorkflowState, event: PackageScanned) -> None:
        """Judge a package scan before the workflow steps (the same verdict `check` then
        returns) and, when it would be accepted, reserve the package at central (CLAIM), so
        that of two stations taking the last unit exactly one gets it. Offline, or without an
        answer in `[link] claim_timeout_ms`, the local verdict stands."""
        self._prepared = None
        progress = state.order
        if self.claim is None or progress is None or state.phase != Phase.PICKING:
            return
        try:
            await self._prepare(progress.order, list(progress.picks), event)
        except Exception:  # the step then judges the scan itself, without central's word
            LOG.exception("reserving at central failed", extra={"raw": event.raw})
            self._prepared = None

    async def _prepare(self, order: Order, picks: list[Pick], event: PackageScanned) -> None:
        assert self.claim is not None
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        core, verdict = self._judge(order, picks, event.raw, at, event.aim_id)
        key = (order.order_id, tuple(picks), event.raw, event.aim_id)
        # A hold seen in the last copy of central's inventory may be over by now (sealed, or
        # cancelled): central, asked, has the last word on it.
        ask = verdict.accepted or (verdict.verdict == "held" and core.accepted)
        if ask and verdict.uid is not None:
            amount = wanted(verdict, order, self.lookup(verdict.uid))
            request = p.Claim(
                claim_id=uuid.uuid4().hex,
                order_id=order.order_id,
                uid=verdict.uid,
                amount=amount,
                unit=verdict.unit,
                at=at,
            )
            answer = await self.claim(request)
            if answer is not None and answer.ok:
                verdict = core if not verdict.accepted else verdict
            elif answer is not None:
                self.core.forget()
                verdict = refused_by_central(
                    verdict,
                    answer.verdict,
                    answer.order_id,
                    answer.station,
                    answer.at,
                    answer.reason,
                    self._rules(at),
                )
        self._prepared = (key, verdict)
