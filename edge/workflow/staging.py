"""Staging after the seal and hand-off at release ([staging]).

A sealed bag is staged before it leaves the station's hands: the technician scans the label of a
staging location (`LOC-...`, patterns per channel: shelves for in-store pickup, bins for delivery
driver collection). A location of the wrong kind for the order's channel halts the order with a
slip (code `wrong_location`); the right kind journals `order_staged`, and only then does the order
get its status (ready for pickup / out for delivery).

At release the releasing agent, logged in with their badge, scans the location the bag is taken
from, then the bag's seal QR; a delivery also needs the driver's badge. The bag goes to
`picked_up` / `departed`. A bag released twice, taken from another location than the one it was
staged at, or whose seal is not the one printed for its order is refused (`release_refused`).

With no pattern configured ([staging] pickup = [] and delivery = []), staging is off and the seal
finishes the order as before. The state lives in the workflow state (journalled with each step).
"""

from __future__ import annotations

import re
from typing import Literal, Protocol

import msgspec

from edge.workflow.ports import Badge, HaltInfo, Signal
from edge.workflow.run import STATUS_BY_CHANNEL, Run
from edge.workflow.state import Bag, Phase, Release


class Host(Protocol):
    """What staging uses of the workflow (edge/workflow/machine.py `Workflow`)."""

    def _refuse(self, run: Run, raw: str, reason: str) -> None: ...
    def _halt(self, run: Run, info: HaltInfo, resume: Phase) -> None: ...
    def _finish(self, run: Run, status: str) -> None: ...


Kind = Literal["pickup", "delivery"]

# The kind of staging location each channel's bags go to: a wholesale order leaves on a transport
# vehicle, so it waits on a delivery bin and is released to its driver like a delivery.
LOCATION_KIND: dict[str, Kind] = {
    "pickup": "pickup",
    "delivery": "delivery",
    "wholesale": "delivery",
}
SEAL_ORDER = re.compile(r"^SEAL-(?P<order>.+)-[0-9A-F]{16}$")
KEEP_BAGS = 2000  # bags remembered (released or not) to refuse a second release


class StagingSection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Staging locations ([staging]): regular expressions of the location labels per channel."""

    pickup: list[str] = msgspec.field(default_factory=list)  # in-store pickup shelves
    delivery: list[str] = msgspec.field(default_factory=list)  # delivery driver bins

    def problems(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for key in ("pickup", "delivery"):
            for pattern in getattr(self, key):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    out.append((key, f"invalid regular expression {pattern!r}: {exc}"))
        return out


class Staging:
    """The staging and release rules; `enabled` when any location pattern is configured."""

    def __init__(self, section: StagingSection | None = None) -> None:
        section = section or StagingSection()
        self._kinds: tuple[tuple[re.Pattern[str], Kind], ...] = tuple(
            [(re.compile(p), "pickup") for p in section.pickup]
            + [(re.compile(p), "delivery") for p in section.delivery]
        )
        self.enabled = bool(self._kinds)

    def kind_of(self, raw: str) -> Kind | None:
        """The kind of staging location `raw` labels, or None: not a location label."""
        for pattern, kind in self._kinds:
            if pattern.fullmatch(raw):
                return kind
        return None

    # -- staging -------------------------------------------------------------------------------

    def after_seal(self, run: Run) -> None:
        """The seal matched: wait for the staging location."""
        run.s.phase = Phase.STAGE
        run.signal(Signal.SEALED, "order sealed: scan the staging location label")

    def on_location(self, wf: Host, run: Run, raw: str, kind: Kind) -> None:
        phase = run.s.phase
        if phase == Phase.STAGE:
            self._stage(wf, run, raw, kind)
        elif phase == Phase.READY:
            run.s.release = Release(location=raw)
            run.signal(Signal.SCAN_OK, f"release from {raw}: scan the bag's seal QR")
        else:
            wf._refuse(run, raw, "no bag is waiting to be staged")

    def _stage(self, wf: Host, run: Run, raw: str, kind: Kind) -> None:
        order = run.order
        channel = order.order.channel
        if kind != LOCATION_KIND[channel]:
            want = "a pickup shelf" if LOCATION_KIND[channel] == "pickup" else "a delivery bin"
            reason = f"{raw} is a {kind} location: a {channel} order goes on {want}"
            wf._halt(run, HaltInfo(code="wrong_location", reason=reason, raw=raw), Phase.STAGE)
            return
        seal = order.seal_code or ""
        agent = run.s.session.agent if run.s.session else ""
        run.record(
            "order_staged", location=raw, kind=kind, channel=channel, seal_code=seal, agent=agent
        )
        bags = run.s.bags
        bags[order.order.order_id] = Bag(
            channel=channel, seal_code=seal, location=raw, staged_at=run.at
        )
        while len(bags) > KEEP_BAGS:
            bags.pop(next(iter(bags)))
        wf._finish(run, STATUS_BY_CHANNEL[channel])
        run.signal(Signal.READY, f"staged at {raw}")

    # -- release -------------------------------------------------------------------------------

    def on_seal(self, run: Run, code: str) -> None:
        """A seal QR scanned while no order is loaded: a release."""
        release = run.s.release
        match = SEAL_ORDER.fullmatch(code)
        order_id = match.group("order") if match else ""
        bag = run.s.bags.get(order_id)
        if bag is None:
            bag_id = next((k for k, b in run.s.bags.items() if b.seal_code == code), None)
            if bag_id is not None:
                order_id, bag = bag_id, run.s.bags[bag_id]
        if bag is None:
            self._refuse(run, "not_staged", code, order_id, "this bag was never staged here")
        elif bag.seal_code != code:
            self._refuse(
                run,
                "seal_mismatch",
                code,
                order_id,
                f"seal {code} is not the label printed for order {order_id}",
            )
        elif bag.released:
            self._refuse(
                run, "already_released", code, order_id, f"order {order_id} was already released"
            )
        elif release is None or release.location is None:
            self._refuse(
                run, "no_location", code, order_id, "scan the location the bag is taken from first"
            )
        elif release.location != bag.location:
            self._refuse(
                run,
                "wrong_location",
                code,
                order_id,
                f"order {order_id} was staged at {bag.location}, not at {release.location}",
            )
        elif LOCATION_KIND.get(bag.channel) == "delivery":  # it leaves with a driver
            release.order_id = order_id
            run.signal(Signal.SCAN_OK, f"order {order_id}: driver, scan your badge")
        else:
            self._released(run, order_id, bag, None)

    def awaiting_driver(self, run: Run) -> bool:
        return (
            run.s.phase == Phase.READY
            and run.s.release is not None
            and bool(run.s.release.order_id)
        )

    def on_driver(self, run: Run, badge: Badge) -> None:
        release = run.s.release
        assert release is not None and release.order_id
        agent = run.s.session.agent if run.s.session else ""
        bag = run.s.bags[release.order_id]
        if badge.code == agent:
            run.signal(Signal.HALT, "the driver scans their own badge, not the releasing agent")
            return
        self._released(run, release.order_id, bag, badge.code)

    def _released(self, run: Run, order_id: str, bag: Bag, driver: str | None) -> None:
        agent = run.s.session.agent if run.s.session else ""
        where = {"location": bag.location, "seal_code": bag.seal_code, "agent": agent}
        if driver is None:
            run.record("picked_up", order_id=order_id, **where)
        else:
            run.record("departed", order_id=order_id, driver=driver, **where)
        bag.released = True
        run.s.release = None
        run.signal(Signal.SEALED, f"order {order_id} released")

    def _refuse(self, run: Run, code: str, raw: str, order_id: str, reason: str) -> None:
        run.record("release_refused", code=code, raw=raw, order_id=order_id or None, reason=reason)
        run.s.release = None
        run.signal(Signal.HALT, reason)
