"""The METRC lab-result pull: the results of every package central holds, fed to every station.

Every `[state_system] lab_pull_interval_s` (0 = off), for each package central holds (in its
inventory with a quantity left and not on hold, and every exact package of a wholesale order in
the feed), central asks `GET /labtests/v2/results?packageId=&licenseNumber=` (Metrc API v2,
LabTests "GetResults", https://api-ca.metrc.com/Documentation/#LabTests.get_labtests_v2_results;
the request as in github.com/thunkier/ThunkMetrc `specs/generated/bruno/LabTests/GetResults.bru`),
every page (`pageNumber`, `pageSize` <= 20). The call takes METRC's numeric package `Id`: the
package pull (central/statesys/pull.py) records it for every package it sees
(`statesys_lab_ids`), else it is read once with `GET /packages/v2/{label}`.

Each row becomes a `LabResult` through `edge.common.labs.from_metrc` with `PackageLabel` = the tag
it was fetched for; rows of one `LabTestResultId` (one row per test) are one result with every
test's level (`test:<TestTypeName>`). They are merged into the package's `lab` feed item
(central/labs.py) only when something changed, so a result the lab revoked since the last pull
reaches the stations as one feed change and the next scan of the package is refused
(`lab_result`).

Failures follow the bridge's discipline (central/statesys/base.py): HTTP 429 waits `Retry-After`
and asks again; a timeout or 5xx backs off with jitter (`Bridge.backoff`) and is retried a few
times, then the package waits for the next pull; 401/403 ends the pull (the bridge raises the
alert); a refused row (a 4xx, or a row that does not read) is logged and skipped, never fatal.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from functools import partial
from typing import Any

import msgspec

from central import labs as central_labs
from central.statesys.base import (
    AuthFailed,
    RateLimited,
    Rejected,
    StateError,
    StatePackage,
    StateSystem,
)
from central.statesys.store import ReportStore
from central.store.base import SqlStore
from edge.common import labs
from edge.common.feed import RecordError
from edge.common.protocol import FeedItem

LOG = logging.getLogger(__name__)
TRIES = 4  # per package and pull, for timeouts and 5xx

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS statesys_lab_ids ("
    " label TEXT PRIMARY KEY, package_id TEXT NOT NULL, seen_at TEXT NOT NULL)"
)


@dataclass
class LabPullStats:
    packages: int = 0
    rows: int = 0
    changed: int = 0  # feed items changed
    rate_limited: int = 0
    transient: int = 0
    skipped: list[str] = field(default_factory=list)  # labels left for the next pull, and why


def _ensure(reports: ReportStore) -> None:
    if getattr(reports.store, "_lab_ids_schema", False):
        return
    with reports._txn():
        reports._x(SCHEMA)
    reports.store._lab_ids_schema = True  # type: ignore[attr-defined]


def remember_ids(reports: ReportStore, pulled: Iterable[StatePackage]) -> int:
    """The package pull's hook: METRC's numeric Id of every package it listed."""
    rows = [
        (p.label.upper(), str(p.flags["Id"]))
        for p in pulled
        if p.label and isinstance(p.flags.get("Id"), int | str)
    ]
    if not rows:
        return 0
    _ensure(reports)
    at = datetime.now(UTC).isoformat(timespec="seconds")
    with reports._txn():
        for label, pid in rows:
            reports._x(
                "INSERT INTO statesys_lab_ids (label, package_id, seen_at) VALUES (?, ?, ?)"
                " ON CONFLICT (label) DO UPDATE SET package_id = excluded.package_id,"
                " seen_at = excluded.seen_at",
                (label, pid, at),
            )
    return len(rows)


def known_ids(reports: ReportStore) -> dict[str, str]:
    _ensure(reports)
    with reports._read():
        rows = reports._x("SELECT label, package_id FROM statesys_lab_ids").fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def _rows(store: SqlStore, kind: str) -> list[dict[str, Any]]:
    with store._lock:
        try:
            rows = store._x("SELECT body FROM feed_state WHERE kind = ?", (kind,)).fetchall()
        finally:
            store._end_read()
    out = []
    for (body,) in rows:
        try:
            obj = json.loads(bytes(body))
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def _left(pkg: dict[str, Any]) -> bool:
    try:
        return Fraction(str(pkg.get("Quantity", 1))) > 0
    except (ValueError, ZeroDivisionError):
        return True  # unreadable: ask rather than miss a revocation


def targets(store: SqlStore) -> list[str]:
    """The packages central holds: sellable ones of its inventory, and the exact packages of
    the wholesale orders in its feed (on hold or not), sorted."""
    labels = {
        str(p["Label"]).upper()
        for p in _rows(store, "package")
        if p.get("Label") and not p.get("IsOnHold") and _left(p)
    }
    for order in _rows(store, "order"):
        if order.get("channel") != "wholesale":
            continue
        for line in order.get("lines") or []:
            if isinstance(line, dict) and line.get("uid"):
                labels.add(str(line["uid"]).upper())
    return sorted(labels)


def results_of(label: str, rows: list[dict[str, Any]]) -> tuple[list[labs.LabResult], list[str]]:
    """METRC rows of one package -> its results (rows of one LabTestResultId combined), and the
    problems of the rows that did not read."""
    by_id: dict[str, list[labs.LabResult]] = {}
    problems: list[str] = []
    for i, row in enumerate(rows):
        path = f"{label}[{i}]"
        try:
            parsed = msgspec.convert(
                {**row, "PackageLabel": label, "Batch": None}, labs.MetrcLabRow
            )
            result = labs.from_metrc(parsed, path)
        except msgspec.ValidationError as exc:
            problems.append(f"{path}: {exc}")
            continue
        except RecordError as exc:
            problems.append(f"{exc.path}: {exc.message}")
            continue
        by_id.setdefault(result.id, []).append(result)
    return [combine(rs) for _, rs in sorted(by_id.items())], problems


def combine(rows: list[labs.LabResult]) -> labs.LabResult:
    """One result from its per-test rows: revoked if any row is, its tests' levels together."""
    first = rows[0]
    if len(rows) == 1:
        return first
    revoked = max((r.revoked for r in rows if r.revoked), default=None)
    expires = min((r.expires for r in rows if r.expires), default=None)
    tests = sorted({r.test for r in rows if r.test})
    values: dict[str, str] = {}
    for r in rows:
        values.update(r.values)
    return labs.LabResult(
        id=first.id,
        source=first.source,
        package=first.package,
        batch=first.batch,
        lab=first.lab,
        tested=max(r.tested for r in rows),
        passed=all(r.passed for r in rows),
        revoked=revoked,
        expires=expires,
        document=next((r.document for r in rows if r.document), None),
        test=tests[0] if len(tests) == 1 else "",
        values=values,
        lab_license=first.lab_license,
        sample=first.sample,
    )


def ingest_changed(store: SqlStore, label: str, results: list[labs.LabResult]) -> int:
    """Merge into `package:<label>` only when that changes the item; 1 when it did."""
    key = labs.feed_key(label, None)
    old = central_labs.current(store, key)
    merged = labs.merge(old, results)
    if labs.encode_set(merged) == labs.encode_set(old):
        return 0
    store.feed_put([(FeedItem(kind="lab", key=key, body=labs.encode_set(merged)), None)])
    return 1


async def _ask(
    call: Callable[[], Awaitable[Any]], backoff: Callable[[int], float], stats: LabPullStats
) -> Any:
    """One state-system read with the bridge's discipline; StateError after TRIES transients."""
    attempts = 0
    while True:
        try:
            return await call()
        except RateLimited as exc:
            stats.rate_limited += 1
            await asyncio.sleep(exc.retry_after)
        except (AuthFailed, Rejected):
            raise
        except StateError:
            stats.transient += 1
            attempts += 1
            if attempts >= TRIES:
                raise
            await asyncio.sleep(backoff(attempts))


async def pull_labs(
    reports: ReportStore, system: StateSystem, backoff: Callable[[int], float]
) -> LabPullStats:
    """One lab-result pull over every package central holds. AuthFailed ends it."""
    stats = LabPullStats()
    store = reports.store
    wanted = await asyncio.to_thread(targets, store)
    ids = await asyncio.to_thread(known_ids, reports)
    for label in wanted:
        try:
            pid = ids.get(label)
            if pid is None:
                pid = await _ask(partial(system.package_id, label), backoff, stats)
                if pid is None:
                    stats.skipped.append(f"{label}: not at the state system")
                    continue
                seen = StatePackage(label, Decimal(0), "", "", {"Id": pid})
                await asyncio.to_thread(remember_ids, reports, [seen])
            rows = await _ask(partial(system.lab_results, pid), backoff, stats)
        except AuthFailed:
            raise
        except StateError as exc:
            stats.skipped.append(f"{label}: {exc}")
            continue
        stats.packages += 1
        stats.rows += len(rows)
        results, problems = results_of(label, rows)
        for problem in problems:
            LOG.warning("unreadable METRC lab row skipped", extra={"problem": problem})
        if results:
            stats.changed += await asyncio.to_thread(ingest_changed, store, label, results)
    if stats.changed or stats.skipped:
        LOG.info(
            "lab results pulled",
            extra={
                "packages": stats.packages,
                "changed": stats.changed,
                "skipped": stats.skipped[:5],
            },
        )
    return stats
