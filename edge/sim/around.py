"""The day around the pack (docs/staging.md): a cycle count at the start of the shift with one
discrepancy, staging of every sealed bag, the release of every bag (one wrong-location attempt
caught first), and the day's reconciliation report at central."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from edge.sim.data import AGENT_BADGE, SUPERVISOR_BADGE
from edge.sim.procs import SimError, cli


class Technician(Protocol):
    """What these steps use of edge/sim/technician.py's Technician."""

    def scan(self, text: str) -> dict[str, Any]: ...
    def ensure_login(self) -> None: ...


DRIVER_BADGE = "BADGE-DRVR0001"
STAGING = {"pickup": ["^LOC-SHELF-[0-9]{2}$"], "delivery": ["^LOC-BIN-[0-9]{2}$"]}


@dataclass
class Bag:
    order_id: str
    channel: str
    seal: str
    location: str


@dataclass
class Around:
    bags: list[Bag] = field(default_factory=list)

    def stage(self, tech: Technician, order_id: str, channel: str, seal: str) -> None:
        """Put the sealed bag on a pickup shelf or in a delivery bin and scan its label."""
        n = len(self.bags) % 20 + 1
        location = f"LOC-SHELF-{n:02d}" if channel == "pickup" else f"LOC-BIN-{n:02d}"
        reply = tech.scan(location)
        if reply["phase"] != "ready":
            raise SimError(f"order {order_id}: staging at {location} not accepted: {reply}")
        self.bags.append(Bag(order_id, channel, seal, location))

    def release_all(self, tech: Technician) -> None:
        """Front of house and drivers take every bag; the first is looked for at the wrong
        place first (the station refuses it)."""
        tech.ensure_login()
        for i, bag in enumerate(self.bags):
            if i == 0:
                wrong = "LOC-SHELF-99" if bag.channel == "pickup" else "LOC-BIN-99"
                tech.scan(wrong)
                if tech.scan(bag.seal)["signals"][-1][0] != "halt":
                    raise SimError(f"order {bag.order_id}: released from the wrong location")
            tech.scan(bag.location)
            reply = tech.scan(bag.seal)
            if bag.channel in ("delivery", "wholesale"):  # leaves with a driver
                reply = tech.scan(DRIVER_BADGE)
            if reply["signals"][-1][0] != "sealed":
                raise SimError(f"order {bag.order_id}: release not accepted: {reply}")


def cycle_count(tech: Technician, vault: list[dict[str, Any]]) -> str:
    """The shift's spot-check: the supervisor opens a count of the first product's SKU, the
    technician scans every package of it but the one on hold (left in the supervisor's tray):
    one discrepancy; the supervisor closes the count without adjusting the state system."""
    sku = str(vault[0]["Sku"])
    ticket = f"COUNT-{sku}"
    reply = tech.scan(SUPERVISOR_BADGE)
    if reply["phase"] == "idle":
        raise SimError(f"supervisor login refused: {reply}")
    if tech.scan(ticket)["phase"] != "count":
        raise SimError(f"count {ticket} not opened")
    for p in vault:
        if p["Sku"] == sku and not p["IsOnHold"]:
            tech.scan(str(p["Label"]))
    if tech.scan(ticket)["phase"] != "count_review":
        raise SimError(f"count {ticket}: the package on hold was not found missing")
    if tech.scan(ticket)["phase"] != "ready":  # closed without adjustment
        raise SimError(f"count {ticket} not closed")
    tech.scan(AGENT_BADGE)  # the technician takes over the station
    return sku


def write_report(central_toml: Path, root: Path) -> dict[str, str]:
    """The day's reconciliation at central: report-<date>.pdf and .csv in the run directory."""
    day = datetime.now(UTC).date().isoformat()
    out: dict[str, str] = {}
    for fmt in ("pdf", "csv"):
        path = root / f"report-{day}.{fmt}"
        args = ["central", "report", "day", "--date", day, "--format", fmt]
        cli(*args, "--output", str(path), "--config", str(central_toml))
        out[f"report_{fmt}"] = str(path)
    return out
