"""Central's notifications ([notify]): who is told when something needs a person.

Sources (`NotifyTail`): halts of the chosen codes (`halt_kinds`) and quarantines from the stored
events, a station not heard from for `station_offline_min` minutes, state-system reports that
failed and the bridge's open alerts (central/statesys/). Each notification is queued once per
target in central's webhook outbox (the table central/webhook.py drains for the POS; rows
`notify:<target>:<kind>`), in the same transaction as the tail's position, and delivered by
`NotifySender` until the target accepts it (webhook: a 2xx; e-mail: the SMTP server's 250),
retried with backoff, so a central restart loses none. `packstation central notifications`
lists them with their delivery state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable

from central.notify.config import NotifySection
from central.notify.sender import NotifySender
from central.notify.tail import NotifyTail
from central.statesys.store import ReportStore
from central.store.base import SqlStore

LOG = logging.getLogger(__name__)
__all__ = ["Notifications", "NotifySection"]


class Notifications:
    """The tail and the sender, run in central's loop (central/service.py)."""

    def __init__(
        self,
        section: NotifySection,
        store: SqlStore,
        last_contact: dict[str, float],
        stations: Callable[[], Iterable[str]] = tuple,
    ) -> None:
        self.reports = ReportStore(store)
        self.tail = NotifyTail(section, self.reports, last_contact, time.time(), stations)
        self.sender = NotifySender(section, self.reports)
        self.poll_s = section.poll_ms / 1000

    @classmethod
    def from_config(
        cls,
        section: NotifySection,
        store: SqlStore,
        last_contact: dict[str, float],
        stations: Callable[[], Iterable[str]] = tuple,
    ) -> Notifications | None:
        return cls(section, store, last_contact, stations) if section.targets else None

    async def run(self) -> None:
        sender = asyncio.create_task(self.sender.run(self.poll_s))
        try:
            while True:
                try:
                    await asyncio.to_thread(self.tail.poll_once)
                except Exception:
                    LOG.exception("notification tail failed")
                await asyncio.sleep(self.poll_s)
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
