"""Availability, the last stage of the daemon's verifier pipeline: whether the package may be sold.

`Availability` (an edge/scan/pipeline.py stage, after the core's verdict, the batch lock and the
lab gate) asks edge.scan.availability with the package as central serves it (its remaining
`Quantity` and central's `Packstation` block: other stations' sales, holds and quarantines) and
the station's own book (`JournalBook`: the sales, holds and quarantines of this station, at once
and offline). The book is read from the journal file once, then folded from the rows the daemon
commits (`committed`), so a scan reads no journal. Before the workflow steps it reserves an
accepted package at central (`reserve`, CLAIM).

Reserving ahead: when an order is loaded (`opened`) the stage sends the CLAIM of every package
the order names (its UID lines, up to `[link] claim_ahead`) at once, exactly the claim that line's
scan would send. The round trip to central then runs while the technician picks, and the scan
finds central's answer waiting: an "ok" costs the station's own commit only. A claim ahead that
central refused, or that got no answer, is asked again at the scan (a hold elsewhere may have
ended since); a scan that comes before the answer waits for that same claim.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge.common import protocol as p
from edge.journal import Journal, JournalError
from edge.scan.availability import (
    LocalBook,
    Rules,
    judge,
    line_wants,
    refused_by_central,
    store_clock,
    wanted,
)
from edge.scan.pipeline import CommittedEvent, Scan, Stage
from edge.scan.verify import store_today
from edge.station.config import StationConfig, StationPaths
from edge.workflow.ports import Order, ScanVerdict

LOG = logging.getLogger(__name__)
Lookup = Callable[[str], dict[str, Any] | None]
Claimer = Callable[[p.Claim], Awaitable[p.Claimed | None]]
AheadKey = tuple[str, str, int]  # order id, package UID, amount: a whole-package claim


class JournalBook:
    """The station's LocalBook: its journal file read once (read-only, at the first use, or when
    a committed row does not follow the last one folded), then the rows the daemon commits."""

    def __init__(self, station_id: str, path: Path) -> None:
        self.book = LocalBook(station=station_id)
        self.path = path
        self._journal: Journal | None = None
        self._read = False  # the file was read up to book.last_seq

    def current(self) -> LocalBook:
        """The book, with every row committed so far."""
        return self.book if self._read else self.catch_up()

    def committed(self, events: Sequence[CommittedEvent]) -> None:
        """Fold the rows just committed; read the file when they do not follow the book. Before
        the first use nothing is read (start-up does not wait for it): that use reads them."""
        if not events or not self._read:
            return
        if events[0].seq != self.book.last_seq + 1:
            self.catch_up()
            return
        try:
            for event in events:
                self.book.fold(event.seq, event.type, _body(event.body), event.at)
        except Exception:
            self._read = False  # the next scan reads the file from the last row folded
            raise
        self.book.last_seq = events[-1].seq

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
                self.book.fold(row.seq, row.type, _body(row.body), row.at)
            self.book.last_seq = rows[-1].seq
        self._read = True
        return self.book

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()


def _body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        body = {}
    return body if isinstance(body, dict) else {}


class Availability(Stage):
    """The verdict before it, refused for a package not to be sold (see the module docstring)."""

    def __init__(
        self,
        cfg: StationConfig,
        lookup: Lookup,
        claim: Claimer | None = None,
        online: Callable[[], bool] | None = None,
    ) -> None:
        self.cfg = cfg
        self.lookup = lookup
        self.claim = claim
        self.reserves = claim is not None
        self.ahead_max = cfg.link.claim_ahead
        self._online = online or (lambda: True)  # whether a claim would reach central now
        self._ahead: dict[AheadKey, asyncio.Task[p.Claimed | None]] = {}
        self._running: set[asyncio.Task[p.Claimed | None]] = set()  # the loop keeps weak refs
        self.journal = JournalBook(cfg.station.id, StationPaths.of(cfg).journal)
        self._clock = store_clock(cfg.station.timezone)
        passed = set(cfg.verify.lab_passed_states)
        self._passed = frozenset(passed)
        self._not_required = frozenset(cfg.verify.lab_not_required_categories)

    def judge(self, scan: Scan, verdict: ScanVerdict) -> ScanVerdict:
        book = self.journal.current()
        try:
            return judge(verdict, scan.order, self.lookup, book, self._rules(scan.at))
        except Exception:  # a package central served oddly must not take the station down
            LOG.exception("availability check failed", extra={"raw": scan.raw})
            return verdict

    def committed(self, events: Sequence[CommittedEvent]) -> None:
        self.journal.committed(events)

    def _rules(self, at: str) -> Rules:
        return Rules(
            today=store_today(self.cfg, datetime.fromisoformat(at)),
            lab_passed=self._passed,
            not_required_categories=self._not_required,
            local_time=self._clock,
        )

    # -- when an order is loaded: reserve the packages it names at central ----------------------

    def opened(self, order: Order) -> None:
        """Send the claims of the packages `order` names now (see the module docstring); the
        answers of the order before are dropped (its holds end with it at central)."""
        self._ahead = {}
        if self.claim is None or self.ahead_max == 0 or not self._online():
            return  # offline: each scan's claim finds out at once (no lookups for nothing)
        loop = asyncio.get_running_loop()
        at = _now()
        for line in order.lines:
            if len(self._ahead) >= self.ahead_max:
                break
            if line.uid is None:
                continue  # a SKU line: the package is known at its scan
            pkg = self.lookup(line.uid)
            if pkg is None:
                continue  # not in stock: its scan is refused anyway
            key = (order.order_id, line.uid, line_wants(line, pkg))
            if key not in self._ahead:
                request = _claim(order.order_id, line.uid, key[2], None, at)
                task = loop.create_task(self._ask(request))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
                self._ahead[key] = task

    async def _ask(self, request: p.Claim) -> p.Claimed | None:
        assert self.claim is not None
        try:
            return await self.claim(request)
        except Exception:  # a claim ahead that fails is asked again at the scan
            LOG.exception("claim ahead failed", extra={"uid": request.uid})
            return None

    async def _answered_ahead(self, key: AheadKey) -> p.Claimed | None:
        """The answer to the claim sent ahead for `key`, waited for if still out; None if none
        was sent or it got none."""
        task = self._ahead.get(key)
        return None if task is None else await asyncio.shield(task)

    # -- before the workflow steps: reserve the package at central -------------------------------

    async def reserve(self, scan: Scan, given: ScanVerdict, verdict: ScanVerdict) -> ScanVerdict:
        """Reserve a package that would be accepted at central (CLAIM), so that of two
        stations taking the last unit exactly one gets it; `given` is the verdict before this
        stage. Offline, or without an answer in `[link] claim_timeout_ms`, the local verdict
        stands."""
        if self.claim is None:
            return verdict
        order, at = scan.order, scan.at
        # A hold seen in the last copy of central's inventory may be over by now (sealed, or
        # cancelled): central, asked, has the last word on it.
        ask = verdict.accepted or (verdict.verdict == "held" and given.accepted)
        if not ask or verdict.uid is None:
            return verdict
        amount = wanted(verdict, order, self.lookup(verdict.uid))
        answer = None
        if verdict.unit is None:  # a Retail ID unit's claim names the unit: never sent ahead
            answer = await self._answered_ahead((order.order_id, verdict.uid, amount))
        if answer is None or not answer.ok:
            answer = await self.claim(_claim(order.order_id, verdict.uid, amount, verdict.unit, at))
        if answer is not None and answer.ok:
            return given if not verdict.accepted else verdict
        if answer is not None:
            return refused_by_central(
                verdict,
                answer.verdict,
                answer.order_id,
                answer.station,
                answer.at,
                answer.reason,
                self._rules(at),
            )
        return verdict


def _claim(order_id: str, uid: str, amount: int, unit: int | None, at: str) -> p.Claim:
    return p.Claim(
        claim_id=uuid.uuid4().hex, order_id=order_id, uid=uid, amount=amount, unit=unit, at=at
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
