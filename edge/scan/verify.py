"""Scan checking, Python side: configuration of the Rust core, GS1 parsing (biip), typed verdicts.

The core (`edge._core`) recognises scans and judges them against an order and the vault inventory.
GS1 element strings are parsed here with biip (shared/domain.md (c) [G1]): a GS1 product barcode
names a product, never a package, so it is `unknown` when it parses and `malformed` when it
does not. The station daemon and `packstation verify` both go through `verify_scan`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from edge._core import Inventory, OrderCheck, Recogniser, TagPatternError, Verdict
from edge.common.errors import ConfigError
from edge.scan.config import ScanSettings

if TYPE_CHECKING:
    from biip.gs1_messages import GS1Message

# Normalising (symbology identifier, trimming) does not depend on the tag patterns.
_NORMALISER = Recogniser()


class Gs1Data(msgspec.Struct, frozen=True, kw_only=True):
    """What a GS1 barcode says: AI -> value, plus the usual fields spelled out."""

    elements: dict[str, str]
    gtin: str | None = None
    batch: str | None = None
    expiry: str | None = None  # ISO date
    serial: str | None = None


class Gs1Error(ValueError):
    """A scan shaped like GS1 that biip cannot parse (bad check digit, unknown AI...)."""


class ScanVerdict(msgspec.Struct, frozen=True, kw_only=True):
    """One scan's verdict, as printed by `packstation verify` and journalled by the station."""

    scan: str
    verdict: str
    line: int | None
    reason: str
    candidates: list[str]
    kind: str
    tag: str | None = None
    unit: int | None = None
    accepted: bool = False
    gs1: Gs1Data | None = None


def parse_gs1(text: str, symbology: str | None = None) -> Gs1Data:
    """Parse a GS1 element string (GS-separated, or the HRI `(01)...` form); Gs1Error if invalid."""
    # biip (~24 MB resident) is imported only when a scan looks like GS1, a rare path.
    import biip
    from biip.gs1_messages import GS1Message

    message: GS1Message | None
    try:
        if text.startswith("("):
            message = GS1Message.parse_hri(text)
        else:
            result = biip.parse((symbology or "") + text)
            message = result.gs1_message
            if message is None:
                if result.gtin is not None:
                    return Gs1Data(elements={"01": result.gtin.value}, gtin=result.gtin.value)
                raise Gs1Error(result.gs1_message_error or result.gtin_error or "not GS1 data")
    except biip.ParseError as exc:
        raise Gs1Error(str(exc)) from exc
    elements: dict[str, str] = {}
    expiry: str | None = None
    for element in message.element_strings:
        error = element.gtin_error or element.sscc_error or element.gln_error
        if error:
            raise Gs1Error(error)
        elements[element.ai.ai] = element.value
        if element.ai.ai == "17" and element.date is not None:
            expiry = element.date.isoformat()
    return Gs1Data(
        elements=elements,
        gtin=elements.get("01"),
        batch=elements.get("10"),
        expiry=expiry,
        serial=elements.get("21"),
    )


def recogniser_for(config: ScanSettings, source: str = "<defaults>") -> Recogniser:
    """The core's recogniser for `[scan] tag_patterns`; ConfigError names a pattern that is bad
    (tag patterns use the Rust `regex` syntax, which is Python's without look-around)."""
    try:
        return Recogniser(list(config.scan.tag_patterns))
    except TagPatternError as exc:
        raise ConfigError([f"{source}: [scan] tag_patterns: {exc}"]) from exc


def store_today(config: ScanSettings, now: dt.datetime | None = None) -> str:
    """Today's date for expiry checks: in the store's `[station] timezone`, or UTC per `[verify]`."""
    moment = now or dt.datetime.now(dt.UTC)
    if config.verify.date_basis == "utc":
        return moment.astimezone(dt.UTC).date().isoformat()
    try:
        zone = ZoneInfo(config.station.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            [f"[station] timezone: unknown time zone {config.station.timezone!r}"]
        ) from exc
    return moment.astimezone(zone).date().isoformat()


def open_order_check(
    order_json: bytes,
    inventory: Inventory,
    config: ScanSettings,
    *,
    today: str | None = None,
    recogniser: Recogniser | None = None,
) -> OrderCheck:
    """A verification session for ORDER.json with the station's `[scan]`/`[verify]` settings.

    Raises edge._core.OrderFormatError for a bad order and RestoreError for bad `picked` UIDs.
    """
    verify = config.verify
    return OrderCheck(
        order_json,
        inventory,
        today or store_today(config),
        recogniser=recogniser or recogniser_for(config),
        fifo=verify.fifo,
        near_distance=verify.near_miss_distance,
        candidates=verify.near_miss_candidates,
        lab_passed=list(verify.lab_passed_states),
    )


def verify_scan(check: OrderCheck, raw: str, symbology_hint: str | None = None) -> ScanVerdict:
    """Judge one scan against the order (state kept in `check`); GS1 codes are parsed by biip."""
    v = check.scan(raw)
    if v.kind != "gs1":
        return _typed(v)
    recognised = _NORMALISER.recognise(raw)
    try:
        data = parse_gs1(recognised.text, recognised.symbology or symbology_hint)
    except Gs1Error as exc:
        reason = f"Unreadable GS1 barcode ({exc}): scan the METRC tag on the package."
        return _typed(v, verdict="malformed", reason=reason)
    what = ", ".join(
        f"{name} {value}"
        for name, value in (("GTIN", data.gtin), ("batch", data.batch), ("expiry", data.expiry))
        if value
    )
    reason = f"A GS1 product barcode ({what or 'no GTIN'}), not a package UID: scan the METRC tag."
    return _typed(v, reason=reason, gs1=data)


def _typed(v: Verdict, **override: Any) -> ScanVerdict:
    fields: dict[str, Any] = {
        "scan": v.scan,
        "verdict": v.verdict,
        "line": v.line,
        "reason": v.reason,
        "candidates": list(v.candidates),
        "kind": v.kind,
        "tag": v.tag,
        "unit": v.unit,
        "accepted": v.accepted,
    }
    fields.update(override)
    return ScanVerdict(**fields)
