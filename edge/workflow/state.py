"""The pack workflow's vocabulary: its persisted state, the inputs it reacts to, the effects it asks for.

The state is a msgspec struct stored in the journal's `state` table (key "workflow") in the same
transaction as the events of the step that produced it, so a restart resumes at the same step.
Inputs and effects are plain values: the workflow never performs I/O itself.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

import msgspec

from edge.workflow.ports import HaltInfo, LabelJob, Order, Pick, Signal, SlipJob

STATE_VERSION = 1


class Phase(StrEnum):
    IDLE = "idle"  # nobody logged in
    READY = "ready"  # agent logged in, no order loaded
    PICKING = "picking"  # scanning the order's packages
    WEIGHING = "weighing"  # waiting for the scale reading of a weighed-out line
    LABEL = "label"  # exit label printing (or failed and waiting for the printer)
    SEAL = "seal"  # label printed: waiting for its QR scan on the sealed bag
    STAGE = "stage"  # sealed: waiting for the staging location label ([staging] on)
    COUNT = "count"  # a cycle count is open: scanning every package of its scope
    COUNT_REVIEW = "count_review"  # a count closed with discrepancies: supervisor to approve
    HALTED = "halted"  # a refusal stopped the order: supervisor needed
    OVERRIDE = "override"  # a supervisor badged in: badge again = clear/resume, ticket = cancel


class Session(msgspec.Struct, kw_only=True):
    agent: str
    name: str = ""
    supervisor: bool = False
    last_activity_ms: int = 0


class Halt(msgspec.Struct, kw_only=True):
    info: HaltInfo
    resume_phase: Phase  # where a supervisor's clear returns to
    at: str


class OrderProgress(msgspec.Struct, kw_only=True):
    order: Order
    source: str  # "ticket" or "queue"
    picks: list[Pick] = msgspec.field(default_factory=list)
    weighing: Pick | None = None  # matched package whose line awaits its weight
    label_attempt: int = 0
    label_at: str = ""  # first print request: reprints carry the same time and agent, so the
    label_agent: str = ""  # printer spool sees the same label and never prints it twice
    label_job: str | None = None
    label_failed: str = ""  # last print failure reason, "" when none
    seal_code: str | None = None
    halt: Halt | None = None
    halts: int = 0  # halts so far (numbers the slips)
    quarantined: list[str] = msgspec.field(default_factory=list)
    override_by: str | None = None  # supervisor badge while in OVERRIDE
    override_from: Phase | None = None


class Bag(msgspec.Struct, kw_only=True):
    """A staged bag (edge/workflow/staging.py), by order id in `WorkflowState.bags`."""

    channel: str
    seal_code: str
    location: str
    staged_at: str
    released: bool = False


class Release(msgspec.Struct, kw_only=True):
    """A release in progress: the location scanned, then the order waiting for its driver."""

    location: str | None = None
    order_id: str = ""


class CountProgress(msgspec.Struct, kw_only=True):
    """A cycle count (edge/workflow/counting.py)."""

    count_id: str
    ticket: str  # the COUNT-... ticket scanned
    scope: str  # the location or SKU counted
    kind: Literal["location", "sku"]
    supervisor: str = ""  # who opened it ("" = waiting for a supervisor badge)
    counted: list[str] = msgspec.field(default_factory=list)
    missing: list[str] = msgspec.field(default_factory=list)  # after the close


class WorkflowState(msgspec.Struct, kw_only=True):
    version: int = STATE_VERSION
    phase: Phase = Phase.IDLE
    session: Session | None = None
    order: OrderProgress | None = None
    disk_block: str = ""  # "" = ok; else why new orders are refused
    devices_down: dict[str, str] = msgspec.field(default_factory=dict)
    bags: dict[str, Bag] = msgspec.field(default_factory=dict)  # staged bags by order id
    release: Release | None = None
    count: CountProgress | None = None


def encode_state(state: WorkflowState) -> bytes:
    return msgspec.json.encode(state)


def decode_state(data: bytes) -> WorkflowState:
    return msgspec.json.decode(data, type=WorkflowState)


def copy_state(state: WorkflowState) -> WorkflowState:
    """A copy a step may mutate without touching `state`: every mutable struct, list and dict
    of the state is new; the frozen values (the order, picks, halt infos) are shared. Equal to
    `decode_state(encode_state(state))`, without the JSON."""
    replace = msgspec.structs.replace
    order = state.order
    if order is not None:
        halt = order.halt
        order = replace(
            order,
            picks=list(order.picks),
            quarantined=list(order.quarantined),
            halt=None if halt is None else replace(halt),
        )
    session, release, count = state.session, state.release, state.count
    if count is not None:
        count = replace(count, counted=list(count.counted), missing=list(count.missing))
    return replace(
        state,
        session=None if session is None else replace(session),
        order=order,
        devices_down=dict(state.devices_down),
        bags={key: replace(bag) for key, bag in state.bags.items()},
        release=None if release is None else replace(release),
        count=count,
    )


# -- inputs ---------------------------------------------------------------------------------------


class BadgeScanned(msgspec.Struct, frozen=True, tag="badge"):
    code: str
    device: str = ""


class TicketScanned(msgspec.Struct, frozen=True, tag="ticket"):
    order_id: str
    raw: str
    device: str = ""


class PackageScanned(msgspec.Struct, frozen=True, tag="package"):
    """A scan for the Verifier: `raw` is the text as the scanner driver decoded it, `aim_id` the
    AIM symbology identifier it split off (None: none sent, or an injected raw scan)."""

    raw: str
    device: str = ""
    aim_id: str | None = None


class SealScanned(msgspec.Struct, frozen=True, tag="seal"):
    code: str
    device: str = ""


class NextOrderRequested(msgspec.Struct, frozen=True, tag="next_order"):
    pass


class WeightCaptured(msgspec.Struct, frozen=True, tag="weight"):
    """A stable net reading; `for_uid` names the package it was requested for (None = current),
    so a late reading can never be booked to the next package on the scale."""

    net_mg: int
    for_uid: str | None = None
    division_mg: int = 0  # the scale's division; 0 = not known (an injected reading)


class PrintFinished(msgspec.Struct, frozen=True, tag="print_finished"):
    job_id: str
    seal_code: str | None = None


class PrintFailed(msgspec.Struct, frozen=True, tag="print_failed"):
    job_id: str
    reason: str


class DeviceStateChanged(msgspec.Struct, frozen=True, tag="device"):
    device: str  # "scanner", "scale", "printer", "indicator", "central"
    ok: bool
    detail: str = ""


class DiskStateChanged(msgspec.Struct, frozen=True, tag="disk"):
    ok: bool
    detail: str = ""


class Tick(msgspec.Struct, frozen=True, tag="tick"):
    pass


class Resumed(msgspec.Struct, frozen=True, tag="resumed"):
    """The daemon (re)started with this state: re-issue whatever the current step was waiting on."""

    boot: str = ""


Input = (
    BadgeScanned
    | TicketScanned
    | PackageScanned
    | SealScanned
    | NextOrderRequested
    | WeightCaptured
    | PrintFinished
    | PrintFailed
    | DeviceStateChanged
    | DiskStateChanged
    | Tick
    | Resumed
)
SCAN_INPUTS = (BadgeScanned, TicketScanned, PackageScanned, SealScanned)

# -- effects --------------------------------------------------------------------------------------


class Record(msgspec.Struct, frozen=True):
    """Append this journal event in the step's transaction."""

    type: str
    body: dict[str, Any]


class Indicate(msgspec.Struct, frozen=True):
    signal: Signal
    detail: str = ""


class PrintLabel(msgspec.Struct, frozen=True):
    job: LabelJob


class PrintSlip(msgspec.Struct, frozen=True):
    job: SlipJob


class RequestWeight(msgspec.Struct, frozen=True):
    order_id: str
    line: int
    uid: str


class OrderStatus(msgspec.Struct, frozen=True):
    """The order reached a status central must learn (also journalled as `order_status`)."""

    order_id: str
    status: str  # ready_for_pickup, out_for_delivery, ready_to_ship, cancelled


Effect = Record | Indicate | PrintLabel | PrintSlip | RequestWeight | OrderStatus


class Step(msgspec.Struct, frozen=True):
    state: WorkflowState
    effects: list[Effect]

    def records(self) -> list[Record]:
        return [e for e in self.effects if isinstance(e, Record)]
