"""How scans are classified ([scan]) and judged ([verify]): their sections of config/station.toml."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Literal, Protocol

import msgspec

from edge.common.feed import Channel


class ScanConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How scans are classified ([scan])."""

    # Accepted package-tag patterns: real METRC tags are 1A4 + 21 hex digits, but METRC's own
    # examples use other ids (ABCDEF012345670000010331), so the list is configurable.
    tag_patterns: list[str] = msgspec.field(
        default_factory=lambda: [r"^1A4[0-9A-F]{21}$", r"^[0-9A-Z]{24}$"]
    )
    badge_pattern: str = r"^BADGE-[A-Z0-9]{4,16}$"
    ticket_pattern: str = r"^ORD-[0-9]{1,12}$"
    # Exit-label seal codes: SEAL-<order id>-<16 hex digest> (edge/label/content.py seal_code_for).
    seal_pattern: str = r"^SEAL-[0-9A-Za-z._-]{1,40}-[0-9A-F]{16}$"
    # Characters a scanner may be set to send instead of the GS1 separator GS (0x1D); each is read
    # as GS inside GS1 data (as Odoo's nomenclature field `gs1_separator_fnc1` does).
    gs_substitutes: list[str] = msgspec.field(default_factory=list)

    def problems(self) -> Iterator[tuple[str, str]]:
        """Patterns must compile; a GS substitute is one character that no GS1 field can hold."""
        for key in ("badge_pattern", "ticket_pattern", "seal_pattern"):
            yield from _regex_problem(key, getattr(self, key))
        for pattern in self.tag_patterns:
            yield from _regex_problem("tag_patterns", pattern)
        for sub in self.gs_substitutes:
            if len(sub) != 1 or sub.isalnum() or sub.isspace():
                yield "gs_substitutes", f"expected single non-alphanumeric characters, got {sub!r}"


def _regex_problem(key: str, pattern: str) -> Iterator[tuple[str, str]]:
    try:
        re.compile(pattern)
    except re.error as exc:
        yield key, f"invalid regular expression {pattern!r}: {exc}"


class VerifySection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How scans are judged against an order ([verify])."""

    fifo: Literal["warn", "refuse", "off"] = "warn"
    near_miss_distance: Annotated[int, msgspec.Meta(ge=0, le=2)] = 2
    near_miss_candidates: Annotated[int, msgspec.Meta(ge=1, le=20)] = 5
    lab_passed_states: list[str] = msgspec.field(
        default_factory=lambda: ["TestPassed", "RetestPassed"]
    )
    date_basis: Literal["store", "utc"] = "store"
    # METRC item categories (Item.ProductCategoryName) whose packages need no lab test, so that
    # LabTestingState "NotRequired" passes for them (edge.scan.availability); empty = never.
    lab_not_required_categories: list[str] = msgspec.field(default_factory=list)
    # edge/scan/batchlock.py: on these channels a SKU line's first package fixes its batch
    batch_lock: list[Channel] = msgspec.field(default_factory=lambda: ["wholesale"])


class _Where(Protocol):
    @property
    def timezone(self) -> str: ...


class ScanSettings(Protocol):
    """What scan checking reads of the station's configuration (edge.station.config.StationConfig
    has it): `[scan]`, `[verify]` and the store's `[station] timezone`."""

    @property
    def scan(self) -> ScanConfig: ...

    @property
    def verify(self) -> VerifySection: ...

    @property
    def station(self) -> _Where: ...
