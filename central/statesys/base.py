"""The interface every state seed-to-sale back-end implements (METRC, BioTrack), and its errors.

The bridge (central/statesys/bridge.py) decides what to do from the error class alone:

- `Transient` (HTTP 5xx, a timeout, a dropped connection): the request may or may not have landed;
  the job stays `sent` and the next try reads back first. Backoff with jitter.
- `RateLimited` (HTTP 429): nothing landed; wait `retry_after` seconds (METRC sends `Retry-After`,
  https://www.thcompliance.com/metrc/).
- `AuthFailed` (HTTP 401/403): a bad or revoked key. Nothing landed; stop everything and alert, no
  retry is spent (a wrong key would fail every job).
- `Rejected` (other 4xx, e.g. METRC's 400 validation list): the state system refused the request;
  `messages` maps row index -> METRC's message. The job goes `failed` and waits for a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol


class StateError(Exception):
    """Any failure talking to the state system."""


class Transient(StateError):
    """May have landed; read back before retrying."""


class RateLimited(StateError):
    def __init__(self, retry_after: float, detail: str = "") -> None:
        super().__init__(f"rate limited (Retry-After {retry_after:g} s) {detail}".strip())
        self.retry_after = retry_after


class AuthFailed(StateError):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status


class Rejected(StateError):
    def __init__(self, status: int, messages: dict[int | None, str]) -> None:
        text = "; ".join(m if r is None else f"row {r}: {m}" for r, m in messages.items())
        super().__init__(f"HTTP {status}: {text}")
        self.status = status
        self.messages = messages

    def for_row(self, row: int) -> str | None:
        """METRC's message for one object of the body, or the whole-request message."""
        return self.messages.get(row, self.messages.get(None))


@dataclass
class Sale:
    """One sealed order as a sales receipt (METRC shape; BioTrack maps it)."""

    external: str  # ExternalReceiptNumber = "<station>-<order_id>"
    receipt: dict[str, Any]  # the METRC receipt object, Decimals for quantities and money
    channel: str = "pickup"


@dataclass
class Remote:
    """What a read-back found: the state system's id, and whether it is archived."""

    id: str
    archived: bool = False
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class StatePackage:
    """One package as the state system reports it (for the pull)."""

    label: str
    quantity: Decimal
    unit: str
    last_modified: str
    flags: dict[str, Any]
    active: bool = True


class StateSystem(Protocol):
    """What the bridge needs from a back-end. Every call raises one of the errors above."""

    name: str
    max_batch: int

    async def post_sales(self, sales: list[Sale]) -> list[str]:
        """Record receipts (at most max_batch); the new ids in the same order."""
        ...

    async def find_sale(self, external: str) -> Remote | None:
        """Read back by our ExternalReceiptNumber (or the nonce); None when it never landed."""
        ...

    async def archive_sale(self, remote_id: str, external: str) -> None: ...

    async def post_deliveries(self, sales: list[Sale]) -> list[str]:
        """Record sales deliveries (METRC `POST /sales/v2/deliveries`); ids in order."""
        ...

    async def find_delivery(self, sale: Sale) -> Remote | None: ...

    async def archive_delivery(self, remote_id: str, external: str) -> None: ...

    async def create_child(self, body: dict[str, Any]) -> str: ...

    async def find_child(self, tag: str, source: str) -> Remote | None: ...

    async def move_location(self, label: str, location: str, note: str) -> None: ...

    async def adjust(self, body: dict[str, Any]) -> None: ...

    async def create_transfer(
        self, template: dict[str, Any], manifest: dict[str, Any] | None = None
    ) -> str:
        """A wholesale order's transfer (central/manifest.py): METRC's outgoing transfer template,
        or BioTrack's `inventory_manifest` (`manifest`: the fields METRC's template lacks)."""
        ...

    async def find_transfer(self, name: str) -> Remote | None:
        """Read back a transfer by its manifest id (or nonce); None when it never landed."""
        ...

    async def package_id(self, label: str) -> str | None:
        """The state system's id of a package (the lab-results call takes it)."""
        ...

    async def lab_results(self, package_id: str) -> list[dict[str, Any]]:
        """Every lab test row of a package, in METRC's `/labtests/v2/results` shape."""
        ...

    async def packages(self, since: str | None) -> list[StatePackage]: ...

    async def facility(self) -> dict[str, Any]:
        """The facility's own record (capability flags); also the cheap key probe."""
        ...

    async def close(self) -> None: ...
