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
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from edge.journal import Journal, JournalError
from edge.scan.availability import LocalBook, Rules, judge, store_clock
from edge.scan.verify import store_today
from edge.station.config import StationConfig, StationPaths
from edge.station.wiring.verifier import CoreVerifier
from edge.workflow.ports import Order, Pick, ScanVerdict

LOG = logging.getLogger(__name__)
Lookup = Callable[[str], dict[str, Any] | None]


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


class AvailabilityVerifier:
    """edge.workflow.ports.Verifier: the core's verdict, refused for a package not to be sold."""

    def __init__(self, cfg: StationConfig, core: CoreVerifier, lookup: Lookup) -> None:
        self.cfg = cfg
        self.core = core
        self.lookup = lookup
        self.journal = JournalBook(cfg.station.id, StationPaths.of(cfg).journal)
        self._clock = store_clock(cfg.station.timezone)
        passed = set(cfg.verify.lab_passed_states)
        self._passed = frozenset(passed)
        self._not_required = frozenset(cfg.verify.lab_not_required_categories)

    def check(
        self, order: Order, accepted: Sequence[Pick], raw: str, at: str, aim_id: str | None = None
    ) -> ScanVerdict:
        verdict = self.core.check(order, accepted, raw, at, aim_id)
        book = self.journal.catch_up()
        rules = Rules(
            today=store_today(self.cfg, datetime.fromisoformat(at)),
            lab_passed=self._passed,
            not_required_categories=self._not_required,
            local_time=self._clock,
        )
        try:
            out = judge(verdict, order, self.lookup, book, rules)
        except Exception:  # a package central served oddly must not take the station down
            LOG.exception("availability check failed", extra={"raw": raw})
            return verdict
        if verdict.accepted and not out.accepted:
            self.core.forget()
        return out
