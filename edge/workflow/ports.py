"""What the pack workflow needs from the outside world: the value types and the decision ports.

The workflow (edge/workflow/machine.py) is pure: it calls only the *decision* ports (Verifier, LimitChecker,
WeighRule, CentralState lookups), which must be deterministic and free of I/O from its point of view.
The daemon's *device* ports (LabelPrinter, Indicator, Scale, EventSink, ...) and `StationPorts`, through
which real implementations (the Rust core, the drivers, the central link) or test stand-ins plug in,
are in edge/station/ports.py.

All weights are integer milligrams; times are ISO 8601 strings with an offset.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Protocol

import msgspec

# Semantic indicator signals: one definition, the driver's (it maps them to LEDs and beeps).
from drivers.indicator.base import Signal as Signal  # noqa: PLC0414 (re-export for mypy)
from edge.common import events, feed

# -- value types that cross the ports (docs/formats.md ORDER.json) ------------------------------
# The one order model: the workflow packs it, the Verifier encodes it for the Rust core
# (edge.scan.verify.order_json) and the exit label prints it (edge.label, `packstation label`).
# Fields the station does not use are ignored, so a full POS order drops in.

NonNegative = Annotated[int, msgspec.Meta(ge=0)]
Positive = Annotated[int, msgspec.Meta(ge=1)]


class Customer(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    id: str
    name: str = ""
    class_: str = msgspec.field(default="adult", name="class")


class OrderLine(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    line: Positive
    uid: str | None = None
    sku: str | None = None
    batch: str | None = None
    quantity: Positive = 1
    weigh: bool = False
    labelled_weight_mg: NonNegative | None = None
    picked: list[str] | None = None  # the UIDs verified for the line (set once packed)
    gross: bool = False  # weighed gross for a wholesale manifest: recorded, never judged


class Order(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    """One order to pack, as central (or the POS) gives it: docs/formats.md ORDER.json."""

    order_id: feed.OrderId  # the rules central's intake checks too (edge/common/feed.py)
    channel: feed.Channel
    customer: Customer
    lines: Annotated[list[OrderLine], msgspec.Meta(min_length=1)]
    placed_at: str = ""
    prior: list[dict[str, object]] = msgspec.field(default_factory=list)
    station: str | None = None
    # a wholesale order's buyer, ship date and central's license check (docs/wholesale.md),
    # journalled with the order for the manifest
    buyer: feed.Buyer | None = None
    ship_date: str | None = None
    license_check: feed.LicenseCheck | None = None
    manifest_id: str | None = None  # central's, set at release: printed on the box label

    def line_of(self, number: int) -> OrderLine | None:
        return next((ln for ln in self.lines if ln.line == number), None)

    def with_picks(self, picks: Sequence[Pick]) -> Order:
        """This order with each line's `picked` set to the UIDs of `picks` for that line."""
        lines = [
            msgspec.structs.replace(ln, picked=[p.uid for p in picks if p.line == ln.line])
            for ln in self.lines
        ]
        return msgspec.structs.replace(self, lines=lines)


class Pick(msgspec.Struct, frozen=True, kw_only=True):
    """A package accepted into the bag for an order line (net_mg once weighed; gross_mg: the
    gross reading of a wholesale package, for its box label and manifest)."""

    line: int
    uid: str
    raw: str
    net_mg: int | None = None
    gross_mg: int | None = None


# The one list of verdict names, shared with the event schemas (edge/common/events.py).
VerdictName = events.VerdictName


class Gs1Element(msgspec.Struct, frozen=True, omit_defaults=True):
    """One GS1 element string: application identifier, value, biip's title, and the ISO date
    of a date field such as (17) expiry."""

    ai: str
    value: str
    title: str = ""
    date: str | None = None


class Gs1Data(msgspec.Struct, frozen=True, tag="gs1"):
    """What a GS1 barcode says (edge.scan.gs1 reads it): its element strings, or the lone GTIN
    of an EAN/UPC barcode. A GS1 product barcode names a product, never a package."""

    text: str  # as scanned, with the separator as GS
    elements: tuple[Gs1Element, ...]
    gtin: str | None = None
    aim_id: str | None = None

    def get(self, ai: str) -> str | None:
        """The value of application identifier `ai`, if present."""
        return next((e.value for e in self.elements if e.ai == ai), None)

    @property
    def batch(self) -> str | None:
        return self.get("10")

    @property
    def serial(self) -> str | None:
        return self.get("21")

    @property
    def expiry(self) -> str | None:
        """The (17) expiry date, ISO."""
        return next((e.date for e in self.elements if e.ai == "17"), None)


class ScanVerdict(msgspec.Struct, frozen=True, kw_only=True):
    """The Rust core's answer for one package scan against an order.

    `line` is the order line the package fills (for `match` and `fifo`); `uid` the package the scan
    identified (None when it names none: `unknown`, `malformed`, `near_miss`); `reason` one sentence
    for the technician's slip; `candidates` the UIDs a near miss may have meant. `kind` is how the
    core recognised the scan (`metrc_tag`, `retail_id`, `gs1`, ...; "" when no core judged it),
    `unit` a Retail ID's unit, `gs1` what a GS1 barcode said, `accepted` whether the core's
    session now counts the scan toward `line` (match; fifo under `[verify] fifo = "warn"`).
    """

    verdict: VerdictName
    reason: str
    line: int | None = None
    uid: str | None = None
    candidates: list[str] = msgspec.field(default_factory=list)
    kind: str = ""
    unit: int | None = None
    gs1: Gs1Data | None = None
    accepted: bool = False


class LimitBucket(msgspec.Struct, frozen=True, kw_only=True):
    """One limit bucket: what the cart (plus prior purchases) uses against the allowance.

    `used` and `limit` are rounded down to whole `unit`s for display; the `*_exact` fields are
    the exact values as `str(fractions.Fraction)` ("351/100") in `unit`, what the decision was
    made on ("" when the checker does not give them).
    """

    name: str
    used: int
    limit: int
    unit: str  # the rule's unit: "g", "oz", "mg", "mg_thc", "ml", "each"...
    used_exact: str = ""  # prior_exact + cart_exact
    limit_exact: str = ""
    prior_exact: str = ""
    cart_exact: str = ""


class LimitResult(msgspec.Struct, frozen=True, kw_only=True):
    """`jurisdiction`, `rule_version` (the effective date of the rule version applied) and
    `customer_class` say which rule decided ("" when the checker does not give them)."""

    allowed: bool
    reason: str = ""
    buckets: list[LimitBucket] = msgspec.field(default_factory=list)
    jurisdiction: str = ""
    rule_version: str = ""
    customer_class: str = ""

    def rule_fields(self) -> dict[str, str]:
        """The rule fields the checker gave, for the journalled `limits` event."""
        fields = {
            "jurisdiction": self.jurisdiction,
            "rule_version": self.rule_version,
            "customer_class": self.customer_class,
        }
        return {k: v for k, v in fields.items() if v}


class WeighResult(msgspec.Struct, frozen=True, kw_only=True):
    """`code` names a refusal that is neither short nor over weight (e.g. `coarse_scale`)."""

    ok: bool
    reason: str
    min_mg: int
    max_mg: int
    code: str = ""


class ScaleReading(msgspec.Struct, frozen=True, kw_only=True):
    """A captured stable net weight and the scale division it was read with (mg)."""

    net_mg: int
    division_mg: int = 0


class Badge(msgspec.Struct, frozen=True, kw_only=True):
    """A badge central allows on this station; `expires_at` None = no expiry."""

    code: str
    name: str = ""  # display name: what labels print as the agent
    supervisor: bool = False
    expires_at: str | None = None
    staff_number: str = ""  # printed as the agent when the record has no display name


class HaltInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Why an order stopped; printed on the discrepancy slip and journalled with the halt."""

    code: str  # a verdict name, or over_limit / short_weight / over_weight / seal_mismatch
    reason: str
    raw: str = ""
    uid: str | None = None
    line: int | None = None
    candidates: list[str] = msgspec.field(default_factory=list)


class LabelJob(msgspec.Struct, frozen=True, kw_only=True):
    """The exit label of a packed order."""

    job_id: str
    order: Order
    picks: list[Pick]
    agent: str
    at: str = ""  # when the order was first sent to print: every reprint is the same label


class SlipJob(msgspec.Struct, frozen=True, kw_only=True):
    """A discrepancy slip for a halted order."""

    job_id: str
    order_id: str
    agent: str
    halt: HaltInfo
    at: str = ""  # when the order halted


PrintJob = LabelJob | SlipJob


class PrintOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """How a print job ended; `seal_code` is the QR code on an exit label (None for slips)."""

    job_id: str
    ok: bool
    reason: str = ""
    seal_code: str | None = None


# -- decision ports: called by the pure workflow -------------------------------------------------


class Verifier(Protocol):
    """Order + scan -> verdict (the Rust core's order session).

    Stateless as seen from the workflow: `accepted` is every pick accepted so far, so an
    implementation that keeps a per-order session restores it from `accepted` after a restart.
    """

    def check(
        self, order: Order, accepted: Sequence[Pick], raw: str, at: str, aim_id: str | None = None
    ) -> ScanVerdict:
        """The verdict for scanning `raw` (with the AIM identifier `aim_id` the scanner sent
        before it, if any) at time `at` while packing `order`."""
        ...


class LimitChecker(Protocol):
    def check(self, order: Order, picks: Sequence[Pick], at: str) -> LimitResult:
        """Whether the customer may buy `picks` (plus `order.prior`) at `at`."""
        ...


class WeighRule(Protocol):
    def judge(self, line: OrderLine, net_mg: int, division_mg: int = 0) -> WeighResult:
        """Whether a weighed-out line's net weight, read on a scale of `division_mg` steps
        (0 = not known), is acceptable against its labelled weight."""
        ...


class CentralState(Protocol):
    """Central's view as last synchronised: who may log in, and which orders to pack."""

    def badge(self, code: str) -> Badge | None:
        """The allowed badge with this code, or None when central does not allow it."""
        ...

    def order(self, order_id: str) -> Order | None:
        """An order known to this station (from its queue or central's order book)."""
        ...

    def next_order(self) -> Order | None:
        """The next order central assigned to this station that is not yet packed."""
        ...

    def order_finished(self, order_id: str, status: str) -> None:
        """The order left this station (sealed or cancelled): drop it from the local queue.

        Called by the daemon after the `order_status` event is committed; the central link
        learns the status itself from that event."""
        ...

    def inventory_snapshot(self) -> bytes:
        """The vault inventory snapshot (INVENTORY.json bytes) the Verifier checks against."""
        ...
