"""The discrepancy slip table: per halt code, what happened, what to do and who clears it.

A technician has no screen: they do what the slip says, so every slip says only what the
station accepts (edge/workflow/machine.py): while an order is halted the station takes nothing
but a supervisor badge; the supervisor badges once (the station enters the override), then
either badges again to clear the halt (the order goes on where it stopped) or scans the order
ticket to cancel the order. An over-limit halt cannot be cleared, only cancelled. A label the
station refuses to print (a required field missing) is not a halt: the order waits at the label
step, where scanning the order ticket prints it again and a supervisor may cancel.

`RESOLUTION` says which of those each slip tells the reader to do; tests/label/test_label_slip_workflow.py
walks every code through the real workflow and checks that it works. A new code is one entry in
`SLIPS` (and one in `RESOLUTION`). Templates may use {product}, {location}, {uid}, {line},
{reason}, {want_batch}, {want_location}, {candidates} and {field}; a fact that is not known is
written so the sentence still reads ("the package", "its vault location").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from edge.workflow.ports import HaltInfo

Resolution = Literal["clear", "cancel", "reprint"]

SUPERVISOR_CLEARS = (
    "A supervisor clears it: badge once, then badge again to continue "
    "(or scan the order ticket to cancel the order)."
)
SUPERVISOR_CANCELS = (
    "Only a supervisor can end this: badge once, then scan the order ticket to cancel the "
    "order. It cannot be cleared."
)
_CALL = "Call a supervisor. The station takes no scan until a supervisor badges."
_AFTER_CLEAR = "After the supervisor has cleared it: "


@dataclass(frozen=True)
class SlipContext:
    """What the station knows about the halt beyond HaltInfo (from the inventory)."""

    product: str = ""  # the scanned package's product name
    location: str = ""  # its vault location
    want_batch: str = ""  # the batch the order line asks for
    want_location: str = ""  # where a package of that batch is
    field: str = ""  # the missing label field (label_missing_field)
    candidates: tuple[str, ...] = ()


@dataclass(frozen=True)
class SlipEntry:
    happened: str
    steps: tuple[str, ...]
    clears: str = SUPERVISOR_CLEARS


@dataclass(frozen=True)
class SlipText:
    what_happened: str
    what_to_do: tuple[str, ...]
    clears: str


def _aside(kind: str) -> SlipEntry:
    """A package the inventory says may not be sold (on hold, expired, sold, ...)."""
    return SlipEntry(
        happened="{product} ({uid}) " + kind + " It may not go in the bag. {reason}",
        steps=(
            (
                "Take {product} out of the bag and put it in the supervisor's hold tray; do not "
                "put it back on the shelf."
            ),
            _CALL,
            _AFTER_CLEAR + "pick another package of the same product for line {line} and scan it.",
        ),
    )


def _weigh_again(action: str) -> SlipEntry:
    return SlipEntry(
        happened="Line {line}: {reason}",
        steps=(
            action,
            _CALL,
            (
                "After the supervisor has cleared it the scale weighs again: leave the container "
                "on the scale until it is steady."
            ),
        ),
    )


SLIPS: dict[str, SlipEntry] = {
    "wrong_batch": SlipEntry(
        happened="{product} ({uid}) is the wrong batch for line {line}: the line needs batch "
        "{want_batch}. {reason}",
        steps=(
            "Put {product} back at {location}.",
            _CALL,
            _AFTER_CLEAR + "pick batch {want_batch} from location {want_location} and scan it.",
        ),
    ),
    "not_in_order": SlipEntry(
        happened="{product} ({uid}) is not in this order. {reason}",
        steps=(
            "Put {product} back at {location}.",
            _CALL,
            _AFTER_CLEAR + "scan only the packages the order ticket lists.",
        ),
    ),
    "duplicate": SlipEntry(
        happened="{product} ({uid}) was already scanned for this order. {reason}",
        steps=(
            "Keep one {product} in the bag; if you picked a second one, put it back at {location}.",
            _CALL,
            _AFTER_CLEAR + "go on with the next package of the order.",
        ),
    ),
    "unknown": SlipEntry(
        happened="The scanned code is not a package in the vault inventory. {reason}",
        steps=(
            "Set the package aside; do not put it in the bag.",
            _CALL,
            _AFTER_CLEAR + "scan the package the order ticket lists for the line.",
        ),
    ),
    "near_miss": SlipEntry(
        happened="The scan is close to a package tag but matches none (a misread or a mistyped "
        "tag). {reason}",
        steps=(
            "Check the tag on the package: it may be {candidates}.",
            _CALL,
            _AFTER_CLEAR + "scan the tag again with the scanner, slowly and straight on.",
        ),
    ),
    "malformed": SlipEntry(
        happened="The scan could not be read as a package tag. {reason}",
        steps=(
            "Check that you scanned the package tag, not another barcode.",
            _CALL,
            _AFTER_CLEAR + "scan the package tag again.",
        ),
    ),
    "fifo": SlipEntry(
        happened="{product} ({uid}) is not the oldest package of its product: the older one "
        "must be sold first. {reason}",
        steps=(
            "Put {product} back at {location}.",
            _CALL,
            _AFTER_CLEAR + "pick the older package ({candidates}) and scan it.",
        ),
    ),
    "on_hold": _aside("is on hold in the inventory."),
    "expired": _aside("is past its expiration date."),
    "not_tested": _aside("has not passed lab testing."),
    "lab_result": _aside("has a lab result that failed, was revoked or expired."),
    # verdicts of the inventory status (issue 15): one entry each
    "sold": _aside("is recorded as already sold."),
    "held": _aside("is held by the state system or the store."),
    "quarantined": _aside("is in quarantine."),
    "not_sellable": _aside("is not sellable."),
    "over_limit": SlipEntry(
        happened="The customer would go over the purchase limit with this order: {reason}",
        steps=(
            "Do not seal the bag and do not take anything out to make it fit.",
            "Leave the whole bag on the station for the supervisor.",
        ),
        clears=SUPERVISOR_CANCELS,
    ),
    "short_weight": _weigh_again("Add product to the container on the scale."),
    "over_weight": _weigh_again("Take product out of the container on the scale."),
    "coarse_scale": _weigh_again(
        "The scale reads in steps too coarse for this weight: the supervisor must connect a "
        "finer scale."
    ),
    "no_label_weight": SlipEntry(
        happened="Line {line} must be weighed out but the order gives no labelled weight. {reason}",
        steps=(
            "Put the bulk package back at {location}.",
            "Leave the bag for the supervisor: the order must be corrected and sent again.",
        ),
        clears=SUPERVISOR_CANCELS,
    ),
    "seal_mismatch": SlipEntry(
        happened="The label QR code scanned is not the label printed for this order. {reason}",
        steps=(
            "Find the label printed for this order and stick it on this bag.",
            _CALL,
            _AFTER_CLEAR + "scan the QR code of this order's label.",
        ),
    ),
    "wrong_location": SlipEntry(
        happened="The bag was scanned at the wrong kind of staging location. {reason}",
        steps=(
            "Take the bag back from that location; do not leave it there.",
            _CALL,
            _AFTER_CLEAR + "put the bag on a location of the order's kind (pickup shelf or "
            "delivery bin) and scan that location's label.",
        ),
    ),
    "count_discrepancy": SlipEntry(
        happened="{reason}",
        steps=(
            "Leave the shelf as it is; put nothing back and take nothing away.",
            (
                "Hand this slip to the supervisor: their badge approves the inventory "
                "adjustments, or scanning the count ticket again closes the count without them."
            ),
        ),
        clears="The supervisor decides: badge to approve the adjustments, or scan the ticket.",
    ),
    "count_ok": SlipEntry(
        happened="{reason}",
        steps=("File this slip with the day's counts.",),
        clears="Nothing to clear: the count matched the inventory.",
    ),
    "label_missing_field": SlipEntry(
        happened="The exit label was not printed: it would lack {field}, which the state "
        "requires. {reason}",
        steps=(
            "Keep the bag open on the station.",
            (
                "Ask the supervisor to have {field} entered for {product} in the inventory (a "
                "COA value or link: in central's lab results)."
            ),
            "When it is entered, scan the order ticket: the label prints again.",
        ),
        clears="A supervisor may cancel instead: badge once, then scan the order ticket.",
    ),
}

# What the slip tells the reader to do, for the workflow test: "clear" (supervisor badges
# twice, the order resumes), "cancel" (supervisor badges, scans the ticket), "reprint" (the
# technician scans the ticket to print the label again).
RESOLUTION: dict[str, Resolution] = {
    code: (
        "cancel"
        if entry.clears == SUPERVISOR_CANCELS
        else "reprint"
        if code == "label_missing_field"
        else "clear"
    )
    for code, entry in SLIPS.items()
}

GENERIC = SlipEntry(
    happened="{reason}",
    steps=("Set the package aside; do not put it in the bag.", _CALL),
)


def slip_text(halt: HaltInfo, ctx: SlipContext) -> SlipText:
    """The slip's text for `halt` (the table entry for its code, else a generic one)."""
    entry = SLIPS.get(halt.code, GENERIC)
    candidates = ctx.candidates or tuple(halt.candidates[:5])
    facts = {
        "product": ctx.product or "the package",
        "location": ctx.location or "its vault location",
        "uid": halt.uid or halt.raw or "no tag",
        "line": str(halt.line) if halt.line is not None else "?",
        "reason": halt.reason.strip(),
        "want_batch": ctx.want_batch or "the batch on the order ticket",
        "want_location": ctx.want_location or "the vault (ask the supervisor where)",
        "candidates": ", ".join(candidates) if candidates else "a tag in the order",
        "field": ctx.field or "a required field",
    }

    def fill(template: str) -> str:
        return " ".join(template.format_map(facts).split())

    return SlipText(
        what_happened=fill(entry.happened),
        what_to_do=tuple(fill(s) for s in entry.steps),
        clears=entry.clears,
    )
