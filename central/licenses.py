"""Buyer license verification: dated snapshots of the state's published license list.

Metrc has no call to check another licensee's standing (`GET /facilities/v2/` lists only the
facilities the user may access: https://api-ca.metrc.com/Documentation/#Facilities), so the check
is against the regulator's own published list, imported as a snapshot:

    packstation central import licenses FILE [--source TEXT] [--date YYYY-MM-DD]

FILE is CSV (a header row) or JSON (an array of objects, or `{"source", "date", "licenses": [...]}`)
with, per license, its number, the licensee's name, its status and its expiration date. Header
names are matched without case, spaces or underscores ("License Number", `license_number`,
"License Status", "Expiration Date"...), so a regulator's export loads as published; dates are
YYYY-MM-DD or the US MM/DD/YYYY. California's DCC license search, for one, is "updated every 24
hours" (https://cannabis.ca.gov/resources/search-for-licensed-business/): a daily snapshot.

Each snapshot keeps its source, its date (the day the regulator's list was taken) and the SHA-256
of the file; a wholesale order is checked against the newest one (central/wholesale.py), and the
order records that hash. Snapshots are kept in their own table, `wholesale_license_snapshots`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import msgspec

from central.store.base import SqlStore, now
from edge.common.errors import BadInput

TABLE = """CREATE TABLE IF NOT EXISTS wholesale_license_snapshots (
    hash TEXT PRIMARY KEY, source TEXT NOT NULL, snapshot_date TEXT NOT NULL,
    imported_at TEXT NOT NULL, licenses TEXT NOT NULL)"""

_COLUMNS = {
    "number": ("licensenumber", "license", "licenseno", "licenseid", "number"),
    "name": ("businesslegalname", "legalname", "businessname", "name", "businessdbaname", "dba"),
    "status": ("licensestatus", "status"),
    "expires": ("licenseexpirationdate", "expirationdate", "expiration", "expires", "expiry"),
}
ACTIVE = ("active",)


class License(msgspec.Struct, kw_only=True, frozen=True):
    number: str
    name: str
    status: str  # lower case, as published ("active", "suspended", "expired", "revoked"...)
    expires: str | None  # YYYY-MM-DD


@dataclass(frozen=True)
class Snapshot:
    hash: str
    source: str
    date: str  # YYYY-MM-DD
    licenses: dict[str, License]  # by number, upper case

    def find(self, number: str) -> License | None:
        return self.licenses.get(number.strip().upper())


def _fold(header: str) -> str:
    return "".join(ch for ch in header.lower() if ch.isalnum())


def _pick(row: dict[str, Any], field: str) -> str:
    folded = {_fold(k): v for k, v in row.items() if isinstance(k, str)}
    for name in _COLUMNS[field]:
        value = folded.get(name)
        if value not in (None, ""):
            return str(value).strip()
    return ""


def _day(text: str, where: str) -> str | None:
    if not text:
        return None
    head = text[:10]
    try:
        return date.fromisoformat(head).isoformat()
    except ValueError:
        pass
    try:  # US exports print MM/DD/YYYY
        month, day, year = (int(x) for x in text.split(maxsplit=1)[0].split("/"))
        return date(year, month, day).isoformat()
    except ValueError:
        raise BadInput(f"{where}: not a date: {text!r}") from None


def parse(raw: bytes, name: str) -> tuple[list[License], dict[str, str]]:
    """The licenses of a CSV or JSON file, and the `source`/`date` a JSON wrapper names."""
    text = raw.decode("utf-8-sig", errors="strict")
    meta: dict[str, str] = {}
    rows: list[dict[str, Any]]
    if text.lstrip().startswith(("[", "{")):
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise BadInput(f"{name}: invalid JSON: {exc}") from None
        if isinstance(doc, dict):
            meta = {k: str(doc[k]) for k in ("source", "date") if k in doc}
            doc = doc.get("licenses")
        if not isinstance(doc, list) or not all(isinstance(r, dict) for r in doc):
            raise BadInput(f'{name}: expected an array of licenses or {{"licenses": [...]}}')
        rows = doc
        where = "$[{i}]"
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
        where = "line {line}"
    out: list[License] = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        at = f"{name}: " + where.format(i=i, line=i + 2)
        number = _pick(row, "number").upper()
        if not number:
            raise BadInput(f"{at}: no license number (a column such as 'License Number')")
        if number in seen:
            raise BadInput(f"{at}: license {number} is listed twice")
        seen.add(number)
        status = _pick(row, "status").lower()
        if not status:
            raise BadInput(f"{at}: license {number} has no status")
        out.append(
            License(
                number=number,
                name=_pick(row, "name"),
                status=status,
                expires=_day(_pick(row, "expires"), at),
            )
        )
    if not out:
        raise BadInput(f"{name}: no licenses in the file")
    return out, meta


def _ensure(store: SqlStore) -> None:
    if getattr(store, "_wholesale_licenses", False):
        return
    with store._lock:
        store._begin()
        try:
            store._x(TABLE)
        except BaseException:
            store._rollback()
            raise
        store._commit()
    store._wholesale_licenses = True  # type: ignore[attr-defined]


def import_licenses(
    store: SqlStore, path: Path, source: str | None = None, day: str | None = None
) -> Snapshot:
    """`central import licenses FILE`: the whole file checked, then stored as one snapshot."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc}") from exc
    licenses, meta = parse(raw, str(path))
    source = source or meta.get("source") or ""
    if not source:
        raise BadInput(f'{path}: name the list\'s source (--source, or "source" in the JSON)')
    when = _day(day or meta.get("date") or "", f"{path}: date")
    if when is None:
        raise BadInput(f'{path}: give the day the list was taken (--date, or "date" in the JSON)')
    digest = hashlib.sha256(raw).hexdigest()
    body = json.dumps([msgspec.to_builtins(x) for x in licenses], sort_keys=True)
    _ensure(store)
    with store._lock:
        store._begin()
        try:
            store._x("DELETE FROM wholesale_license_snapshots WHERE hash = ?", (digest,))
            store._x(
                "INSERT INTO wholesale_license_snapshots"
                " (hash, source, snapshot_date, imported_at, licenses) VALUES (?, ?, ?, ?, ?)",
                (digest, source, when, now(), body),
            )
        except BaseException:
            store._rollback()
            raise
        store._commit()
    return Snapshot(digest, source, when, {x.number: x for x in licenses})


def latest(store: SqlStore) -> Snapshot | None:
    """The newest snapshot (by the list's date, then by import time), or None."""
    _ensure(store)
    with store._lock:
        try:
            row = store._x(
                "SELECT hash, source, snapshot_date, licenses FROM wholesale_license_snapshots"
                " ORDER BY snapshot_date DESC, imported_at DESC LIMIT 1"
            ).fetchone()
        finally:
            store._end_read()
    if row is None:
        return None
    items = msgspec.json.decode(str(row[3]).encode(), type=list[License])
    return Snapshot(str(row[0]), str(row[1]), str(row[2]), {x.number: x for x in items})


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str
    license: License | None
    warnings: tuple[str, ...]


def verify(snapshot: Snapshot | None, number: str, today: date, max_age_days: int) -> Verdict:
    """The buyer's standing in the snapshot on the snapshot's date; a warning when the snapshot
    is more than `max_age_days` older than `today`."""
    if snapshot is None:
        return Verdict(
            False, "no license list imported (packstation central import licenses)", None, ()
        )
    warnings: tuple[str, ...] = ()
    age = (today - date.fromisoformat(snapshot.date)).days
    if age > max_age_days:
        old = f"the license list ({snapshot.source}, {snapshot.date}) is {age} days old"
        warnings = (f"{old}, more than {max_age_days}: import a current one",)
    found = snapshot.find(number)
    where = f"in the license list of {snapshot.date} ({snapshot.source})"
    if found is None:
        return Verdict(False, f"buyer license {number} is not {where}", None, warnings)
    if found.status not in ACTIVE:
        return Verdict(False, f"buyer license {number} is {found.status} {where}", found, warnings)
    if found.expires is not None and found.expires < snapshot.date:
        why = f"buyer license {number} expired on {found.expires} {where}"
        return Verdict(False, why, found, warnings)
    return Verdict(True, "", found, warnings)
