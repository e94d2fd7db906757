"""Availability, the last stage of the daemon's verifier pipeline: whether the package may be sold.

`Availability` (an edge/scan/pipeline.py stage, after the core's verdict, the batch lock and the
lab gate) asks edge.scan.availability with the package as central serves it (its remaining
`Quantity` and central's `Packstation` block: other stations' sales, holds and quarantines) and
the station's own book (`JournalBook`: the sales, holds and quarantines of this station, at once
and offline). The book is read from the journal file once, then folded from the rows the daemon
commits (`committed`), so a scan reads no journal. Before the workflow steps it reserves an
accepted package at central (`reserve`, CLAIM).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

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
from edge.scan.pipeline import CommittedEvent, Scan, Stage
from edge.scan.verify import store_today
from edge.station.config import StationConfig, StationPaths
from edge.workflow.ports import ScanVerdict

LOG = logging.getLogger(__name__)
Lookup = Callable[[str], dict[str, Any] | None]
Claimer = Callable[[p.Claim], Awaitable[p.Claimed | None]]


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
    ) -> None:
        self.cfg = cfg
        self.lookup = lookup
        self.claim = claim
        self.reserves = claim is not None
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
