"""The daemon's ports: the devices it drives, the services it runs and what they may tell it.

The daemon (edge/station/daemon.py) owns the *device* ports (LabelPrinter, Indicator, Scale,
ScanDecoder, EventSink) and runs them off the workflow's effects; a `Service` runs on its loop and
talks back through `StationHandle`. `StationPorts` bundles them with the workflow's decision ports
(edge/workflow/ports.py): real implementations come from edge/station/wiring, tests plug in small
stand-ins.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from edge.journal import JournalEvent
from edge.workflow.counting import Counter
from edge.workflow.ports import (
    CentralState,
    LimitChecker,
    PrintJob,
    PrintOutcome,
    ScaleReading,
    Signal,
    Verifier,
    WeighRule,
)
from edge.workflow.state import Input

# -- device ports: driven by the daemon ----------------------------------------------------------


class LabelPrinter(Protocol):
    async def submit(self, job: PrintJob) -> PrintOutcome:
        """Print one job to completion (or failure) and report it; paper-out, cover open or no
        answer are an outcome with ok=False and a reason, not an exception. For a LabelJob the
        outcome's `seal_code` is the code in the printed label's QR (`seal_code_for(label)`):
        the workflow seals the order only when that exact code is scanned."""
        ...


class Indicator(Protocol):
    def signal(self, signal: Signal, detail: str = "") -> None:
        """Show a signal; must return at once (the driver animates it in the background)."""
        ...


class Scale(Protocol):
    async def weigh(self) -> ScaleReading:
        """One stable net reading; raises edge.common.errors.DeviceError on no reading."""
        ...


class ScanDecoder(Protocol):
    """Turns injected text into scans through the real scanner decoder (the inject channel)."""

    def decode(self, text: str, device: str) -> list[tuple[str, str | None]]:
        """The (text, AIM id) of each whole scan the decoder made of `text` typed on `device`;
        ValueError when it cannot be typed or the decoder discarded it."""
        ...


class EventSink(Protocol):
    def wake(self, committed: Sequence[JournalEvent]) -> None:
        """These journal rows (in seq order) are committed: send them (the central link)."""
        ...


class FeedResult(msgspec.Struct, frozen=True, kw_only=True):
    """What one input did, once committed: the last seq, the phase, the events and signals."""

    seq: int
    phase: str
    events: list[str]
    signals: list[tuple[str, str]]


class StationHandle(Protocol):
    """What a service may tell the daemon; each input returns once it is committed."""

    async def feed(self, event: Input) -> FeedResult:
        """Any workflow input (a weight, a tick, ...): step, commit, then perform its effects."""
        ...

    async def feed_scan(self, raw: str, device: str = "", aim_id: str | None = None) -> FeedResult:
        """A decoded scan from a scanner (classified by the [scan] patterns)."""
        ...

    async def inject_scan(self, text: str, device: str) -> list[FeedResult]:
        """Text typed through the scanner decoder (`StationPorts.scan_decoder`, when there is one)
        on `device`: one result per whole scan decoded. ValueError when the decoder cannot take
        the text."""
        ...

    async def device_state(self, device: str, ok: bool, detail: str = "") -> FeedResult:
        """A device (scanner, scale, printer, indicator) or central went away or came back."""
        ...

    async def next_order(self) -> FeedResult:
        """Take the next order central assigned to this station."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """The workflow state as last committed, as plain JSON-able data (no input)."""
        ...


class Service(Protocol):
    """A long-running part of the station on its loop: a scanner reader, the central link, the
    inject channel."""

    async def run(self, station: StationHandle) -> None:
        """Run until cancelled (at shutdown). Started before READY; must not block the loop."""
        ...


@dataclass(frozen=True, kw_only=True)
class StationPorts:
    """Everything the daemon wires in. `scale` None: weights arrive by injection only."""

    verifier: Verifier
    limits: LimitChecker
    weigh_rule: WeighRule
    central: CentralState
    printer: LabelPrinter
    indicator: Indicator
    sink: EventSink
    scale: Scale | None = None
    services: list[Service] = field(default_factory=list)
    scan_decoder: ScanDecoder | None = None  # None: injected scans skip the key decoder
    # Run at start before the daemon journals anything: adopt central's copy of journal rows
    # this station lacks (edge.journal.anchor); returns "" or why the journal could not be
    # anchored (offline is "", start-up stays offline-tolerant).
    anchor: Callable[[], Awaitable[str]] | None = None
    # Devices down from the start until their service reports them up: the central link is
    # "connecting" until its first session, so READY never shows a station that was never
    # connected as connected (a restart restores the last state, which may say connected).
    down_at_start: tuple[tuple[str, str], ...] = ()
    counter: Counter | None = None  # cycle counts (edge/workflow/counting.py); None: no counts
    # The label profile's privacy rule in force at an ISO time (edge.workflow.privacy): what of
    # the customer the workflow keeps and journals. None keeps the customer as given.
    privacy: Callable[[str], str] | None = None
