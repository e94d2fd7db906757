"""Sold-once at central: every sale, hold and quarantine folded into the inventory it serves.

Inside the transaction that stores a batch of station events (central/store/base.py calls
`fold`), central folds:

- `verdict` accepted (a pick) -> a hold of the order on the package (1 unit, or the line's
  labelled mg for a weighed line); `weight` ok -> the hold becomes the net mg weighed;
- `order_status` ready_for_pickup / out_for_delivery (sealed) -> the order's holds become sales;
  `cancelled` -> its holds are released;
- `quarantine` -> the package is quarantined at every station (`package_quarantined` event),
  until `packstation central quarantine release TAG --by BADGE` or an import with
  `"Quarantine": "released"` (`package_released` event).

Each package it touches is served again (a feed change to every station) with its remaining
`Quantity` and the `Packstation` block (edge.common.stock.StockBlock).

Inventory imports and sales are ordered by time: an imported package's `Quantity` is taken as
of its METRC `LastModified` (the time METRC last changed the package, a reported sale included;
a time without offset is UTC). Sales sealed after it are subtracted from it; sales sealed at or
before it are taken as already in it. A package without `LastModified` is taken as knowing none
of central's sales: all are subtracted, so a stale import never resurrects a sold unit.

Central's own events (`package_quarantined`, `package_released`) are stored in the event store
as station `@central`, hash-chained like a station's, and published downstream with the rest.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import msgspec

from edge.common.chain import canonical_json, chain_hash
from edge.common.protocol import Claim, Claimed, Event, FeedItem
from edge.common.stock import (
    BLOCK,
    SEALED_STATUSES,
    QuarantineMark,
    StockBlock,
    StockError,
    Take,
    amount_of,
    basis_of,
    quantity_text,
    small_int,
)

# The store (central.store.base.SqlStore) calls in here from inside its transactions; its type is
# not imported, so that the store and this module form no import circle.
SqlStore = Any
LOG = logging.getLogger(__name__)
CENTRAL = "@central"  # the station id of central's own events
NO_UNIT = -1
_ENCODE = msgspec.json.Encoder(decimal_format="number", order="sorted")

SCHEMA = [
    (
        "CREATE TABLE IF NOT EXISTS stock_import (label TEXT PRIMARY KEY, body TEXT NOT NULL,"
        " as_of TEXT NOT NULL, imported_at TEXT NOT NULL)"
    ),
    (
        "CREATE TABLE IF NOT EXISTS stock_takes (station_id TEXT NOT NULL, order_id TEXT NOT NULL,"
        " label TEXT NOT NULL, unit INTEGER NOT NULL, amount INTEGER NOT NULL, state TEXT NOT NULL,"
        " at TEXT NOT NULL, confirmed INTEGER NOT NULL DEFAULT 1,"
        " PRIMARY KEY (station_id, order_id, label, unit))"
    ),
    "CREATE INDEX IF NOT EXISTS stock_takes_label ON stock_takes (label)",
    (
        "CREATE TABLE IF NOT EXISTS stock_quarantine (qkey TEXT PRIMARY KEY, label TEXT NOT NULL,"
        " station_id TEXT NOT NULL, order_id TEXT NOT NULL, code TEXT NOT NULL, reason TEXT NOT NULL,"
        " at TEXT NOT NULL, released_by TEXT, released_at TEXT)"
    ),
    "CREATE INDEX IF NOT EXISTS stock_quarantine_label ON stock_quarantine (label)",
]


def ensure_schema(store: SqlStore) -> None:
    """Create the stock tables if missing (idempotent; inside the caller's transaction)."""
    if getattr(store, "_stock_ready", False):
        return
    for sql in SCHEMA:
        store._x(sql)
    store._stock_ready = True


def _stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _when(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _loads(body: bytes | str) -> dict[str, Any]:
    value = json.loads(body, parse_float=Decimal)
    return value if isinstance(value, dict) else {}


# -- imports: the store's _feed_apply hands every package change here first -----------------------


def intake(
    store: SqlStore, changes: list[tuple[FeedItem, str | None]]
) -> list[tuple[FeedItem, str | None]]:
    """Package changes from an import: keep the imported body, serve it with central's sales."""
    if not any(item.kind == "package" for item, _ in changes):
        return changes
    ensure_schema(store)
    busy = _labels_with_history(store)
    out: list[tuple[FeedItem, str | None]] = []
    rows: list[tuple[str, str, str, str]] = []
    stamp = _stamp()
    for item, station in changes:
        if item.kind != "package":
            out.append((item, station))
            continue
        if item.body is None:
            store._x("DELETE FROM stock_import WHERE label = ?", (item.key,))
            out.append((item, station))
            continue
        raw = _loads(item.body)
        released = raw.pop("Quarantine", None) == "released"
        raw.pop(BLOCK, None)
        as_of = raw.get("LastModified")
        text = _ENCODE.encode(raw).decode()
        rows.append((item.key, text, as_of if isinstance(as_of, str) else "", stamp))
        if item.key in busy or released:
            _keep_imports(store, rows)  # served() below reads it
        if released:
            _release(store, item.key, "import")
        if item.key in busy or released:
            body = served(store, item.key)
        else:  # nothing sold, held or quarantined: served as imported (no per-package queries)
            body = _encode_served(raw, raw.get("LastModified"), [], [], None, [])
        out.append((FeedItem(kind="package", key=item.key, body=body), station))
    _keep_imports(store, rows)
    return out


def _keep_imports(store: SqlStore, rows: list[tuple[str, str, str, str]]) -> None:
    store._xmany(
        "INSERT INTO stock_import (label, body, as_of, imported_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (label) DO UPDATE SET body = excluded.body, as_of = excluded.as_of,"
        " imported_at = excluded.imported_at",
        rows,
    )
    rows.clear()


def _labels_with_history(store: SqlStore) -> set[str]:
    """Labels with a sale, hold or quarantine: the only ones an import must look up."""
    rows = store._x(
        "SELECT label FROM stock_takes UNION SELECT label FROM stock_quarantine"
    ).fetchall()
    return {str(r[0]) for r in rows}


# -- the served package -------------------------------------------------------------------------


def _imported(store: SqlStore, label: str) -> tuple[dict[str, Any], str] | None:
    row = store._x("SELECT body, as_of FROM stock_import WHERE label = ?", (label,)).fetchone()
    if row is not None:
        return _loads(row[0]), str(row[1])
    row = store._x(
        "SELECT body FROM feed_state WHERE kind = 'package' AND key = ?", (label,)
    ).fetchone()
    if row is None:
        return None  # imported before this store kept imports: its served body is the import
    raw = _loads(bytes(row[0]))
    raw.pop(BLOCK, None)
    as_of = raw.get("LastModified")
    return raw, as_of if isinstance(as_of, str) else ""


def _takes(store: SqlStore, label: str) -> tuple[list[Take], list[Take]]:
    rows = store._x(
        "SELECT station_id, order_id, unit, amount, state, at FROM stock_takes WHERE label = ?"
        " ORDER BY at, station_id, order_id, unit",
        (label,),
    ).fetchall()
    sold: list[Take] = []
    held: list[Take] = []
    for station, order_id, unit, amount, state, at in rows:
        take = Take(
            station=station,
            order_id=order_id,
            amount=int(amount),
            at=at,
            unit=None if int(unit) == NO_UNIT else int(unit),
        )
        (sold if state == "sold" else held).append(take)
    return sold, held


def _quarantine(store: SqlStore, label: str) -> tuple[QuarantineMark | None, list[str]]:
    rows = store._x(
        "SELECT qkey, station_id, order_id, code, reason, at, released_at FROM stock_quarantine"
        " WHERE label = ? ORDER BY at",
        (label,),
    ).fetchall()
    active = None
    for qkey, station, order_id, code, reason, at, released_at in rows:
        if released_at is None:
            active = QuarantineMark(
                station=station, order_id=order_id, code=code, reason=reason, at=at, key=qkey
            )
    return active, sorted(str(r[0]) for r in rows)


def _after(at: str, since: datetime) -> bool:
    moment = _when(at)
    return moment is None or moment > since  # a sale of unknown time counts as after


def remaining(raw: dict[str, Any], as_of: str, sold: Sequence[Take]) -> Fraction | None:
    """The package's amount left: the import's Quantity minus the sales sealed after `as_of`."""
    try:
        start = amount_of(raw, raw.get("Quantity"))
    except StockError:
        return None
    if start is None:
        start = Fraction(1)
    since = _when(as_of) if as_of else None
    later = [t for t in sold if since is None or _after(t.at, since)]
    return start - sum(t.amount for t in later)


def served(store: SqlStore, label: str) -> bytes | None:
    """The package body central serves now (None when the package is not in the inventory)."""
    found = _imported(store, label)
    if found is None:
        return None
    raw, as_of = found
    sold, held = _takes(store, label)
    mark, seen = _quarantine(store, label)
    return _encode_served(raw, as_of, sold, held, mark, seen)


def _encode_served(
    raw: dict[str, Any],
    as_of: Any,
    sold: list[Take],
    held: list[Take],
    mark: QuarantineMark | None,
    seen: list[str],
) -> bytes:
    as_of = as_of if isinstance(as_of, str) else ""
    left = remaining(raw, as_of, sold)
    body = dict(raw)
    if left is not None and (sold or "Quantity" in raw):
        body["Quantity"] = quantity_text(raw, max(left, Fraction(0)))
    block = StockBlock(
        imported=None if raw.get("Quantity") is None else str(raw.get("Quantity")),
        as_of=as_of,
        sold=sold,
        held=held,
        quarantine=mark,
        seen=seen,
    )
    body[BLOCK] = msgspec.to_builtins(block)
    return _ENCODE.encode(body)


def _serve(store: SqlStore, labels: Iterable[str]) -> None:
    changes: list[tuple[FeedItem, str | None]] = [
        (FeedItem(kind="package", key=label, body=served(store, label)), None)
        for label in sorted(set(labels))
    ]
    changes = [(item, st) for item, st in changes if item.body is not None]
    if changes:
        store._feed_apply(changes, served=True)


# -- folding station events ---------------------------------------------------------------------


def _weigh_portion(store: SqlStore, order_id: str, line: Any) -> int:
    row = store._x(
        "SELECT body FROM feed_state WHERE kind = 'order' AND key = ?", (order_id,)
    ).fetchone()
    if row is None:
        return 1
    order = _loads(bytes(row[0]))
    for spec in order.get("lines", []):
        if isinstance(spec, dict) and spec.get("line") == line:
            return small_int(spec.get("labelled_weight_mg"), 1) or 1
    return 1


def _basis(store: SqlStore, label: str) -> str:
    found = _imported(store, label)
    return basis_of(found[0]) if found else "each"


def fold(store: SqlStore, accepted: Sequence[tuple[str, Event]]) -> None:
    """Fold a batch's accepted station events (in gseq order) into sales, holds, quarantines.

    Under a savepoint: should folding fail, the events are still stored (and acknowledged)
    without it, so a station's journal is never held up by what it said about a package."""
    interesting = {"verdict", "weight", "order_status", "quarantine"}
    todo = [(s, e) for s, e in accepted if e.type in interesting and s != CENTRAL]
    if not todo:
        return
    store._x("SAVEPOINT stock_fold")
    try:
        _fold(store, todo)
    except Exception:
        LOG.exception("stock fold failed: events stored without it", extra={"events": len(todo)})
        store._x("ROLLBACK TO SAVEPOINT stock_fold")
    store._x("RELEASE SAVEPOINT stock_fold")


def _fold(store: SqlStore, todo: Sequence[tuple[str, Event]]) -> None:
    ensure_schema(store)
    touched: set[str] = set()
    notices: list[tuple[str, dict[str, Any], str]] = []
    for station, ev in todo:
        try:
            body = _loads(ev.body)
        except ValueError:
            continue
        touched |= _fold_one(store, station, ev, body, notices)
    for type_, body, at in notices:
        _central_event(store, type_, body, at)
    _serve(store, touched)


def _fold_one(
    store: SqlStore,
    station: str,
    ev: Event,
    body: dict[str, Any],
    notices: list[tuple[str, dict[str, Any], str]],
) -> set[str]:
    order_id = str(body.get("order_id") or "")[:128]
    uid = body.get("uid")
    if not isinstance(uid, str) or not 0 < len(uid) <= 128:
        uid = None  # no package named (or not one a store may key on): nothing to fold
    if ev.type == "verdict" and str(body.get("outcome", "")).startswith("accepted") and uid:
        unit = small_int(body.get("unit"), 0, 2**31)
        unit = NO_UNIT if unit is None else unit
        portion = 1
        if _basis(store, uid) == "mg":
            portion = _weigh_portion(store, order_id, body.get("line"))
        store._x(
            "INSERT INTO stock_takes VALUES (?, ?, ?, ?, ?, 'held', ?, 1)"
            " ON CONFLICT (station_id, order_id, label, unit) DO UPDATE SET confirmed = 1",
            (station, order_id, uid, unit, portion, ev.at),
        )
        _warn_if_over(store, uid, station, order_id)
        return {uid}
    if ev.type == "weight" and body.get("ok") and uid:
        if _basis(store, uid) != "mg":
            return set()  # a unit weighed to check it: still one unit
        net = small_int(body.get("net_mg"))
        if net is None:
            return set()
        store._x(
            "UPDATE stock_takes SET amount = ? WHERE station_id = ? AND order_id = ?"
            " AND label = ? AND state = 'held'",
            (net, station, order_id, uid),
        )
        return {uid}
    if ev.type == "order_status":
        rows = store._x(
            "SELECT DISTINCT label FROM stock_takes WHERE station_id = ? AND order_id = ?"
            " AND state = 'held'",
            (station, order_id),
        ).fetchall()
        if str(body.get("status")) in SEALED_STATUSES:
            store._x(  # a claim no accepted scan followed was never in the bag
                "DELETE FROM stock_takes WHERE station_id = ? AND order_id = ? AND state = 'held'"
                " AND confirmed = 0",
                (station, order_id),
            )
            store._x(
                "UPDATE stock_takes SET state = 'sold', at = ? WHERE station_id = ?"
                " AND order_id = ? AND state = 'held'",
                (ev.at, station, order_id),
            )
        elif body.get("status") == "cancelled":
            store._x(
                "DELETE FROM stock_takes WHERE station_id = ? AND order_id = ? AND state = 'held'",
                (station, order_id),
            )
        return {str(r[0]) for r in rows}
    if ev.type == "quarantine" and uid:
        qkey = f"{station}:{ev.seq}"
        code, reason = str(body.get("code") or ""), str(body.get("reason") or "")
        store._x(
            "INSERT INTO stock_quarantine (qkey, label, station_id, order_id, code, reason, at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (qkey) DO NOTHING",
            (qkey, uid, station, order_id, code, reason, ev.at),
        )
        notices.append(
            (
                "package_quarantined",
                {
                    "uid": uid,
                    "by_station": station,
                    "order_id": order_id,
                    "code": code,
                    "reason": reason,
                    "quarantined_at": ev.at,
                },
                ev.at,
            )
        )
        return {uid}
    return set()


def _warn_if_over(store: SqlStore, label: str, station: str, order_id: str) -> None:
    found = _imported(store, label)
    if found is None:
        return
    sold, held = _takes(store, label)
    left = remaining(found[0], found[1], sold)
    if left is not None and left - sum(t.amount for t in held) < 0:
        LOG.warning(
            "package over-committed: more held than left (a station judged it offline)",
            extra={"uid": label, "station": station, "order_id": order_id},
        )


# -- claims: a station reserves a package before accepting a scan -------------------------------


def claim(store: SqlStore, station: str, req: Claim) -> Claimed:
    """Reserve `req.amount` of a package for a station's open order, atomically: refused when it
    is quarantined, sold out, or what is left is held by another order."""
    answer = claim_all(store, [(station, req)])[0]
    if answer is None:
        raise StockError(f"claim of {req.uid} failed: see the log")
    return answer


def claim_all(store: SqlStore, claims: Sequence[tuple[str, Claim]]) -> list[Claimed | None]:
    """`claim` for each (station, claim) in turn, in one transaction: each decided as if alone
    after the ones before it, one commit for all. A claim that fails is rolled back to its
    savepoint and answered None (that station judges on its own); the others stand."""
    answers: list[Claimed | None] = []
    with store._lock:
        store._begin()
        try:
            ensure_schema(store)
            for station, req in claims:
                store._x("SAVEPOINT stock_claim")
                try:
                    answers.append(_claim(store, station, req))
                except Exception:
                    LOG.exception("claim failed", extra={"station": station, "uid": req.uid})
                    store._x("ROLLBACK TO SAVEPOINT stock_claim")
                    answers.append(None)
                store._x("RELEASE SAVEPOINT stock_claim")
            held = [req.uid for (_, req), a in zip(claims, answers, strict=True) if a and a.ok]
            if held:
                _serve(store, list(dict.fromkeys(held)))
        except BaseException:
            store._rollback()
            raise
        store._commit()
    return answers


def _claim(store: SqlStore, station: str, req: Claim) -> Claimed:
    label, unit = req.uid, NO_UNIT if req.unit is None else req.unit
    refuse = Claimed(claim_id=req.claim_id, ok=False)
    mark, _ = _quarantine(store, label)
    if mark is not None:
        return msgspec.structs.replace(
            refuse,
            verdict="quarantined",
            order_id=mark.order_id,
            station=mark.station,
            at=mark.at,
            reason=f"{mark.code}: {mark.reason}" if mark.code else mark.reason,
        )
    sold, held = _takes(store, label)
    mine = [t for t in held if (t.station, t.order_id) == (station, req.order_id)]
    if any(t.unit == req.unit for t in mine):
        return Claimed(claim_id=req.claim_id, ok=True)  # asked again (a resend)
    if req.unit is not None:
        for take, verdict in [(t, "sold") for t in sold] + [(t, "held") for t in held]:
            if take.unit == req.unit:
                return _refused(refuse, verdict, take)
    found = _imported(store, label)
    if found is not None:
        left = remaining(found[0], found[1], sold)
        if left is not None:
            others = [t for t in held if (t.station, t.order_id) != (station, req.order_id)]
            if left < req.amount and sold:
                short = refuse
                if left > 0 and basis_of(found[0]) == "mg":
                    why = f"only {int(left)} mg are left, less than the {req.amount} mg portion"
                    short = msgspec.structs.replace(refuse, reason=why)
                return _refused(short, "sold", sold[-1])
            if left - sum(t.amount for t in others) - sum(t.amount for t in mine) < req.amount:
                if others:
                    return _refused(refuse, "held", others[-1])
                if sold:
                    return _refused(refuse, "sold", sold[-1])
    store._x(
        "INSERT INTO stock_takes VALUES (?, ?, ?, ?, ?, 'held', ?, 0)"
        " ON CONFLICT (station_id, order_id, label, unit) DO NOTHING",
        (station, req.order_id, label, unit, req.amount, req.at or _stamp()),
    )
    return Claimed(claim_id=req.claim_id, ok=True)


def _refused(refuse: Claimed, verdict: str, take: Take) -> Claimed:
    return msgspec.structs.replace(
        refuse, verdict=verdict, order_id=take.order_id, station=take.station, at=take.at
    )


# -- central's own events -----------------------------------------------------------------------


def _central_event(store: SqlStore, type_: str, body: dict[str, Any], at: str) -> None:
    """Store one event of central's own (station `@central`), chained like a station's."""
    cursors = store._lock_stations([CENTRAL])
    last, last_hash = cursors[CENTRAL]
    seq = last + 1
    event_id = str(uuid.uuid4())
    raw = canonical_json({**body, "station": CENTRAL})
    digest = chain_hash(last_hash, seq, event_id, type_, at, raw)
    ev = Event(
        seq=seq, event_id=event_id, at=at, type=type_, body=raw, prev_hash=last_hash, hash=digest
    )
    store._insert_events([(CENTRAL, ev)])
    store._x(
        "UPDATE stations SET last_seq = ?, last_hash = ?, updated_at = ? WHERE station_id = ?",
        (seq, digest, _stamp(), CENTRAL),
    )


# -- supervisors: list and release --------------------------------------------------------------


def quarantine_list(store: SqlStore) -> list[dict[str, Any]]:
    """Every package quarantined now, oldest first."""
    with store._lock:
        store._begin()
        try:
            ensure_schema(store)
            rows = store._x(
                "SELECT label, station_id, order_id, code, reason, at FROM stock_quarantine"
                " WHERE released_at IS NULL ORDER BY at, label"
            ).fetchall()
        finally:
            store._commit()
    keys = ("uid", "station", "order_id", "code", "reason", "at")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def _release(store: SqlStore, label: str, by: str) -> int:
    at = _stamp()
    cur = store._x(
        "UPDATE stock_quarantine SET released_by = ?, released_at = ? WHERE label = ?"
        " AND released_at IS NULL",
        (by, at, label),
    )
    count = int(cur.rowcount or 0)
    if count:
        _central_event(store, "package_released", {"uid": label, "by": by, "released_at": at}, at)
    return count


def release(store: SqlStore, label: str, by: str) -> int:
    """Release a package's quarantine (`by` = the supervisor's badge); how many were released.
    Every station is told at once through the feed, subscribers by `package_released`."""
    with store._lock:
        store._begin()
        try:
            ensure_schema(store)
            count = _release(store, label, by)
            if count:
                _serve(store, [label])
        except BaseException:
            store._rollback()
            raise
        store._commit()
    return count


def is_supervisor(store: SqlStore, badge: str) -> bool:
    """Whether `badge` is on central's badge allow-list as a supervisor's."""
    with store._lock:
        row = store._x(
            "SELECT body FROM feed_state WHERE kind = 'badge' AND key = ?", (badge,)
        ).fetchone()
        store._end_read()
    return row is not None and _loads(bytes(row[0])).get("supervisor") is True


def imported_bodies(store: SqlStore, labels: list[str]) -> dict[str, dict[str, Any]]:
    """The packages as imported (before central's sales), label -> body: what a change to a
    package's own data (the state system's flags, central/statesys/pull.py) must be applied to
    and put back as an import, so that sales are subtracted once, when it is served."""
    out: dict[str, dict[str, Any]] = {}
    with store._lock:
        store._begin()
        try:
            ensure_schema(store)
            for label in labels:
                found = _imported(store, label)
                if found is not None:
                    out[label] = found[0]
        finally:
            store._commit()
    return out


def sold_twice(store: SqlStore) -> dict[str, int]:
    """From the store: packages sold beyond what they held, and Retail ID units sold twice."""
    with store._lock:
        store._begin()
        try:
            ensure_schema(store)
            labels = [
                str(r[0])
                for r in store._x("SELECT DISTINCT label FROM stock_takes WHERE state = 'sold'")
            ]
            over = 0
            for label in labels:
                found = _imported(store, label)
                sold, _ = _takes(store, label)
                left = remaining(found[0], found[1], sold) if found else None
                if left is not None and left < 0:
                    over += 1
            (units,) = store._x(
                "SELECT COUNT(*) FROM (SELECT label, unit FROM stock_takes WHERE state = 'sold'"
                " AND unit <> ? GROUP BY label, unit HAVING COUNT(*) > 1) AS twice",
                (NO_UNIT,),
            ).fetchone()
            (sales,) = store._x("SELECT COUNT(*) FROM stock_takes WHERE state = 'sold'").fetchone()
        finally:
            store._commit()
    return {"packages_sold_twice": over + int(units), "sales": int(sales)}
