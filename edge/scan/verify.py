"""Scan checking, Python side: configuration of the Rust core, the ORDER.json it reads, verdicts.

The core (`edge._core`) recognises scans and judges them against an order and the vault inventory;
`verify_scan` returns its answer as the workflow's `ScanVerdict`. A GS1 product barcode names a
product, never a package: it is `unknown` when edge.scan.gs1 reads it and `malformed` when it
cannot. The station daemon and `packstation verify` both go through `verify_scan`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from edge._core import Inventory, OrderCheck, Recogniser, TagPatternError
from edge.common.errors import ConfigError
from edge.scan.config import ScanSettings
from edge.scan.gs1 import Gs1Error, Gs1Reader
from edge.workflow.ports import Order, ScanVerdict

# Normalising (symbology identifier, trimming) does not depend on the tag patterns.
_NORMALISER = Recogniser()
_DEFAULT_GS1 = Gs1Reader()


def order_json(order: Order) -> bytes:
    """ORDER.json bytes of an Order for the core (absent fields left out, as docs/formats.md
    allows; each line's `picked` UIDs are restored as earlier matches)."""
    lines = []
    for line in order.lines:
        obj: dict[str, object] = {"line": line.line, "quantity": line.quantity}
        for key in ("uid", "sku", "batch", "labelled_weight_mg"):
            value = getattr(line, key)
            if value is not None:
                obj[key] = value
        if line.weigh:
            obj["weigh"] = True
        if line.picked:
            obj["picked"] = line.picked
        lines.append(obj)
    customer = {"id": order.customer.id, "name": order.customer.name}
    customer["class"] = order.customer.class_
    body = {"order_id": order.order_id, "channel": order.channel, "customer": customer}
    return msgspec.json.encode({**body, "lines": lines})


def tag_recogniser(tag_patterns: Sequence[str], source: str | None = None) -> Recogniser:
    """The core's recogniser for `[scan] tag_patterns`; ConfigError names a pattern that is bad
    (tag patterns use the Rust `regex` syntax, which is Python's without look-around), prefixed
    with `source` (the config file) when given."""
    try:
        return Recogniser(list(tag_patterns))
    except TagPatternError as exc:
        where = f"{source}: " if source else ""
        raise ConfigError([f"{where}[scan] tag_patterns: {exc}"]) from exc


def recogniser_for(config: ScanSettings, source: str = "<defaults>") -> Recogniser:
    """`tag_recogniser` for a station configuration's `[scan]` section."""
    return tag_recogniser(config.scan.tag_patterns, source)


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


def lab_states(config: ScanSettings) -> list[str]:
    """The LabTestingStates the core lets pass: `[verify] lab_passed_states`, plus NotRequired
    when `lab_not_required_categories` names categories (edge.scan.availability then refuses
    NotRequired for every other category)."""
    states = list(config.verify.lab_passed_states)
    if config.verify.lab_not_required_categories and "NotRequired" not in states:
        states.append("NotRequired")
    return states


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
        lab_passed=lab_states(config),
    )


def verify_scan(
    check: OrderCheck, text: str, aim_id: str | None = None, gs1: Gs1Reader = _DEFAULT_GS1
) -> ScanVerdict:
    """Judge one scan against the order (state kept in `check`). `aim_id` is the AIM identifier
    the scanner driver split off (None: `text` is a raw scan, the core splits one off itself);
    GS1 data is read by `gs1` (with the station's `[scan] gs_substitutes`)."""
    name, reason, line, uid, candidates, kind, unit, accepted = check.scan_parts(text, aim_id)
    verdict = ScanVerdict(
        verdict=name,
        reason=reason,
        line=line,
        uid=uid,
        candidates=candidates,
        kind=kind,
        unit=unit,
        accepted=accepted,
    )
    if kind != "gs1":
        return verdict
    recognised = _NORMALISER.recognise(text, aim_id)
    try:
        data = gs1.read(recognised.text, recognised.symbology)
    except Gs1Error as exc:
        reason = f"Unreadable GS1 barcode ({exc.detail}): scan the METRC tag on the package."
        return msgspec.structs.replace(verdict, verdict="malformed", reason=reason)
    what = ", ".join(
        f"{name} {value}"
        for name, value in (("GTIN", data.gtin), ("batch", data.batch), ("expiry", data.expiry))
        if value
    )
    reason = f"A GS1 product barcode ({what or 'no GTIN'}), not a package UID: scan the METRC tag."
    return msgspec.structs.replace(verdict, reason=reason, gs1=data)
