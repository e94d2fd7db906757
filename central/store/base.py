"""Central's event store: one schema and one set of rules over SQLite (default) or PostgreSQL.

Rules (docs/protocol.md, "Central's rules"), all inside one transaction per batch:
- an event is taken only at seq == last committed + 1 for its station (cursor row `stations`);
  seq <= last is a duplicate (ignored; a different hash is an integrity alarm and is quarantined);
  seq > last + 1 is a gap: nothing stored, the station is told to go back;
- its hash is recomputed (edge.common.chain) and its prev_hash must equal the previous row's hash;
  a failing event is stored in `quarantine` and still advances the cursor, so there is no hole;
- accepted events get a global sequence number `gseq` from the `counters` row, whose row lock (on
  PostgreSQL) also orders commits, so "everything after gseq N" never skips a late commit;
- the caller acknowledges only after `commit_batch` returns (after COMMIT).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from central import stock
from central.store import chain_check
from edge.common.chain import chain_hash
from edge.common.events import BodyError, decode_body
from edge.common.protocol import EVENT_TYPE_RE, MAX_BODY_BYTES, Event, FeedItem, Published

QUARANTINE_RAW_MAX = 64 * 1024  # a quarantined frame keeps its first 64 KiB


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass
class Rejected:
    """Something to quarantine: a malformed message (seq None) or a failing event."""

    station_id: str
    reason: str
    raw: bytes
    seq: int | None = None
    event_id: str | None = None


@dataclass
class BatchResult:
    """What one commit did: per-station cumulative ack, stations with a gap, counts."""

    acks: dict[str, int] = field(default_factory=dict)
    gaps: set[str] = field(default_factory=set)
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    integrity_alarms: list[str] = field(default_factory=list)
    # "station:seq" where a station's chain forked from central's copy (a stored seq sent with
    # another hash, or a row whose prev_hash is not the stored hash before it): central holds it
    forks: list[str] = field(default_factory=list)


@dataclass
class Snapshot:
    qseq: int
    items: list[FeedItem]


def check_event(
    station_id: str, ev: Event, prev_hash: bytes, digest: bytes | None = None
) -> str | None:
    """Why `ev` cannot be accepted after a row hashed `prev_hash`, or None when it is sound.

    `digest`: its hash as the core recomputed it (central/store/chain_check.py), which also
    says its event_id is a UUID; None to check both here."""
    if len(ev.body) > MAX_BODY_BYTES:
        return f"body larger than {MAX_BODY_BYTES} bytes"
    if digest is None:
        try:
            uuid.UUID(ev.event_id)
        except ValueError:
            return "event_id is not a UUID"
    if not EVENT_TYPE_RE.match(ev.type):
        return "type is not a token of a-z, 0-9 and _ (it names the PUB topic)"
    if ev.prev_hash != prev_hash:
        return "prev_hash does not match the stored hash of seq-1 (chain broken)"
    if digest is None:
        digest = chain_hash(ev.prev_hash, ev.seq, ev.event_id, ev.type, ev.at, ev.body)
    if digest != ev.hash:
        return "hash does not match the event's contents"
    try:  # sound, but does it say what its type says? (edge/common/events.py; unknown types too)
        decode_body(ev.type, ev.body)
    except BodyError as exc:
        return str(exc)
    del station_id
    return None


def _group(events: Sequence[tuple[str, Event]]) -> dict[str, list[Event]]:
    groups: dict[str, list[Event]] = {}
    for station, ev in events:
        groups.setdefault(station, []).append(ev)
    return groups


class SqlStore:
    """The rules of this module over a DB-API connection; subclasses supply the dialect."""

    PARAM = "?"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.conn: Any = None

    # -- dialect hooks ----------------------------------------------------------------------
    def _q(self, sql: str) -> str:
        return sql if self.PARAM == "?" else sql.replace("?", self.PARAM)

    def _begin(self) -> None:
        raise NotImplementedError

    def _commit(self) -> None:
        self.conn.execute("COMMIT")

    def _rollback(self) -> None:
        self.conn.execute("ROLLBACK")

    def _lock_stations(self, stations: list[str]) -> dict[str, tuple[int, bytes]]:
        raise NotImplementedError

    def _x(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(self._q(sql), params)

    def _xmany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self.conn.executemany(self._q(sql), rows)

    def _bump(self, name: str, n: int) -> int:
        """Advance a counter by n; return its new value (the row stays locked until COMMIT)."""
        (value,) = self._x(
            "UPDATE counters SET value = value + ? WHERE name = ? RETURNING value", (n, name)
        ).fetchone()
        return int(value)

    # -- events -----------------------------------------------------------------------------
    def commit_batch(
        self, events: Sequence[tuple[str, Event]], rejected: Sequence[Rejected]
    ) -> BatchResult:
        """Store a batch in one transaction; return what to acknowledge (after COMMIT)."""
        with self._lock:
            self._begin()
            try:
                result = self._apply(events, list(rejected))
            except BaseException:
                self._rollback()
                raise
            self._commit()
            return result

    def _apply(self, events: Sequence[tuple[str, Event]], rejected: list[Rejected]) -> BatchResult:
        result = BatchResult()
        groups = _group(events)
        cursors = self._lock_stations(sorted(groups))
        accepted: list[tuple[str, Event]] = []
        moved: list[tuple[int, bytes, str, str]] = []
        for station, evs in groups.items():
            last, last_hash = cursors[station]
            stored = self._stored_hashes(station, [ev.seq for ev in evs if ev.seq <= last])
            last, last_hash = self._walk(
                station, evs, last, last_hash, accepted, rejected, result, stored
            )
            if last != cursors[station][0]:
                moved.append((last, last_hash, now(), station))
            result.acks[station] = last
        # every cursor in one statement (one round trip on PostgreSQL, pipelined by psycopg)
        self._xmany(
            "UPDATE stations SET last_seq = ?, last_hash = ?, updated_at = ? WHERE station_id = ?",
            moved,
        )
        accepted = self._drop_reused_ids(accepted, rejected)
        self._insert_events(accepted)
        stock.fold(self, accepted)  # sales, holds, quarantines: central/stock.py
        self._xmany(
            "INSERT INTO quarantine (station_id, seq, event_id, reason, received_at, raw)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (r.station_id, r.seq, r.event_id, r.reason, now(), r.raw[:QUARANTINE_RAW_MAX])
                for r in rejected
            ],
        )
        result.accepted, result.quarantined = len(accepted), len(rejected)
        return result

    def _walk(
        self,
        station: str,
        evs: list[Event],
        last: int,
        last_hash: bytes,
        accepted: list[tuple[str, Event]],
        rejected: list[Rejected],
        result: BatchResult,
        stored: dict[int, bytes],
    ) -> tuple[int, bytes]:
        forked = False
        digests = chain_check.recompute(evs)  # the whole run at once, GIL released
        for ev, digest in zip(evs, digests, strict=True):
            if ev.seq <= last:
                forked = self._duplicate(station, ev, rejected, result, stored) or forked
                continue
            if ev.seq > last + 1:
                result.gaps.add(station)
                continue
            problem = check_event(station, ev, last_hash, digest)
            if problem is None and forked:
                problem = "follows a forked row (station held)"
            if problem is not None and problem.startswith("prev_hash does not match"):
                forked = True
                result.forks.append(f"{station}:{ev.seq}")
            if problem is None:
                accepted.append((station, ev))
            else:
                rejected.append(_reject(station, ev, problem))
            last, last_hash = ev.seq, ev.hash
        return last, last_hash

    def _stored_hashes(self, station: str, seqs: list[int]) -> dict[int, bytes]:
        """seq -> hash of the rows stored for `station` among `seqs` (a resent run's
        duplicates, looked up 500 at a time instead of one query per event)."""
        found: dict[int, bytes] = {}
        wanted = sorted(set(seqs))
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._x(
                f"SELECT seq, hash FROM events WHERE station_id = ? AND seq IN ({marks})",
                [station, *chunk],
            ).fetchall()
            found.update((int(seq), bytes(digest)) for seq, digest in rows)
        return found

    def _duplicate(
        self,
        station: str,
        ev: Event,
        rejected: list[Rejected],
        result: BatchResult,
        stored: dict[int, bytes],
    ) -> bool:
        """Account a seq already stored (its hash in `stored`, when central kept the row);
        True when its hash differs (a fork)."""
        digest = stored.get(ev.seq)
        if digest is not None and digest != ev.hash:
            reason = "duplicate seq with a different hash (integrity alarm)"
            rejected.append(_reject(station, ev, reason))
            result.integrity_alarms.append(f"{station}:{ev.seq}")
            result.forks.append(f"{station}:{ev.seq}")
            return True
        result.duplicates += 1
        return False

    def _drop_reused_ids(
        self, accepted: list[tuple[str, Event]], rejected: list[Rejected]
    ) -> list[tuple[str, Event]]:
        """An event_id already stored (or twice in the batch) goes to quarantine, never lost."""
        ids = [ev.event_id for _, ev in accepted]
        taken: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            taken.update(
                r[0]
                for r in self._x(
                    f"SELECT event_id FROM events WHERE event_id IN ({marks})", chunk
                ).fetchall()
            )
        kept: list[tuple[str, Event]] = []
        for station, ev in accepted:
            if ev.event_id in taken:
                rejected.append(_reject(station, ev, "event_id already stored"))
            else:
                taken.add(ev.event_id)
                kept.append((station, ev))
        return kept

    def _insert_events(self, accepted: list[tuple[str, Event]]) -> None:
        if not accepted:
            return
        top = self._bump("gseq", len(accepted))
        first = top - len(accepted) + 1
        received = now()
        self._xmany(
            "INSERT INTO events (station_id, seq, event_id, at, type, body, prev_hash, hash,"
            " gseq, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    s,
                    e.seq,
                    e.event_id,
                    e.at,
                    e.type,
                    e.body,
                    e.prev_hash,
                    e.hash,
                    first + i,
                    received,
                )
                for i, (s, e) in enumerate(accepted)
            ],
        )

    def last_committed(self, station_id: str) -> int:
        with self._lock:
            row = self._x(
                "SELECT last_seq FROM stations WHERE station_id = ?", (station_id,)
            ).fetchone()
            self._end_read()
        return int(row[0]) if row else 0

    def _end_read(self) -> None:
        """Close the implicit read transaction (PostgreSQL); nothing for SQLite autocommit."""

    def events_after(self, gseq: int, limit: int) -> list[Published]:
        """Stored events with gseq > `gseq`, in order."""
        with self._lock:
            rows = self._x(
                "SELECT gseq, station_id, seq, event_id, at, type, body, hash FROM events"
                " WHERE gseq > ? ORDER BY gseq LIMIT ?",
                (gseq, limit),
            ).fetchall()
            self._end_read()
        return [
            Published(
                gseq=r[0],
                station_id=r[1],
                seq=r[2],
                event_id=r[3],
                at=r[4],
                type=r[5],
                body=bytes(r[6]),
                hash=bytes(r[7]),
            )
            for r in rows
        ]

    def station_chain(self, station_id: str) -> list[tuple[int, bytes]]:
        """(seq, hash) of every event stored for one station, in seq order: its copy of the
        station's journal, to compare with the journal itself."""
        with self._lock:
            rows = self._x(
                "SELECT seq, hash FROM events WHERE station_id = ? ORDER BY seq", (station_id,)
            ).fetchall()
            self._end_read()
        return [(int(seq), bytes(digest)) for seq, digest in rows]

    def station_events(self, station_id: str, after: int, limit: int) -> list[Event]:
        """Central's copy of one station's rows seq > `after`, contiguous: it stops before a
        missing seq (a row central quarantined), so the station can adopt them as they are."""
        with self._lock:
            rows = self._x(
                "SELECT seq, event_id, at, type, body, prev_hash, hash FROM events"
                " WHERE station_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (station_id, after, limit),
            ).fetchall()
            self._end_read()
        out: list[Event] = []
        for seq, event_id, at, type_, body, prev_hash, digest in rows:
            if seq != after + 1 + len(out):
                break
            out.append(
                Event(
                    seq=seq,
                    event_id=event_id,
                    at=at,
                    type=type_,
                    body=bytes(body),
                    prev_hash=bytes(prev_hash),
                    hash=bytes(digest),
                )
            )
        return out

    def head(self) -> int:
        """The newest committed gseq."""
        with self._lock:
            (value,) = self._x("SELECT value FROM counters WHERE name = 'gseq'").fetchone()
            self._end_read()
        return int(value)

    def counts(self) -> dict[str, int]:
        with self._lock:
            (events,) = self._x("SELECT COUNT(*) FROM events").fetchone()
            (quarantined,) = self._x("SELECT COUNT(*) FROM quarantine").fetchone()
            self._end_read()
        return {"events": int(events), "quarantined": int(quarantined)}

    # -- holds: stations refused after their chain forked, until a supervisor releases them ----
    # A fork: a seq central stores, sent again with a different hash. Central keeps its row,
    # quarantines the other and holds the station (ERROR `held`), so what it journals meanwhile
    # stays at the station. Table `station_holds`, created here when missing; shared by every
    # central instance on the store. `packstation central release STATION` lifts a hold.
    _HOLDS_DDL = (
        "CREATE TABLE IF NOT EXISTS station_holds ("
        " station_id TEXT PRIMARY KEY, reason TEXT NOT NULL, since TEXT NOT NULL)"
    )

    def holds(self) -> dict[str, str]:
        """station id -> why it is held."""
        with self._lock:
            self._begin()
            try:
                self._x(self._HOLDS_DDL)
                rows = self._x("SELECT station_id, reason FROM station_holds").fetchall()
            except BaseException:
                self._rollback()
                raise
            self._commit()
        return {str(station): str(reason) for station, reason in rows}

    def hold(self, station_id: str, reason: str) -> None:
        with self._lock:
            self._begin()
            try:
                self._x(self._HOLDS_DDL)
                self._x("DELETE FROM station_holds WHERE station_id = ?", (station_id,))
                self._x("INSERT INTO station_holds VALUES (?, ?, ?)", (station_id, reason, now()))
            except BaseException:
                self._rollback()
                raise
            self._commit()

    def release(self, station_id: str) -> bool:
        """Lift the hold; False when the station was not held."""
        with self._lock:
            self._begin()
            try:
                self._x(self._HOLDS_DDL)
                cur = self._x("DELETE FROM station_holds WHERE station_id = ?", (station_id,))
            except BaseException:
                self._rollback()
                raise
            self._commit()
        return bool(cur.rowcount)

    def quarantine_bytes(self) -> dict[str, int]:
        """Bytes of raw frames held in quarantine, per station (for its quota)."""
        with self._lock:
            rows = self._x(
                "SELECT station_id, SUM(LENGTH(raw)) FROM quarantine GROUP BY station_id"
            ).fetchall()
            self._end_read()
        return {str(station): int(size or 0) for station, size in rows}

    def quarantined(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._x(
                "SELECT id, station_id, seq, event_id, reason, received_at, raw FROM quarantine"
                " ORDER BY id"
            ).fetchall()
            self._end_read()
        keys = ("id", "station_id", "seq", "event_id", "reason", "received_at", "raw")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    # -- central -> station feed -------------------------------------------------------------
    def feed_put(self, changes: Iterable[tuple[FeedItem, str | None]]) -> int:
        """Record changes (item, station or None for all) with new qseqs; return the last qseq."""
        with self._lock:
            self._begin()
            try:
                top = self._feed_apply(list(changes))
            except BaseException:
                self._rollback()
                raise
            self._commit()
            return top

    def _feed_apply(self, changes: list[tuple[FeedItem, str | None]], served: bool = False) -> int:
        if not served:  # an import: packages are served with central's sales (central/stock.py)
            changes = stock.intake(self, changes)
        rows: list[tuple[int, str, str, str | None, bytes | None, str]] = []
        expanded = list(self._expand_moves(changes))
        if not expanded:
            return self._bump("qseq", 0)
        top = self._bump("qseq", len(expanded))
        stamp = now()
        for i, (item, station) in enumerate(expanded):
            qseq = top - len(expanded) + 1 + i
            rows.append((qseq, item.kind, item.key, station, item.body, stamp))
            if item.body is None:
                self._x("DELETE FROM feed_state WHERE kind = ? AND key = ?", (item.kind, item.key))
            else:
                self._upsert_state(item, station, qseq)
        self._xmany(
            "INSERT INTO feed (qseq, kind, key, station, body, at) VALUES (?, ?, ?, ?, ?, ?)", rows
        )
        return top

    def _upsert_state(self, item: FeedItem, station: str | None, qseq: int) -> None:
        self._x(
            "INSERT INTO feed_state (kind, key, station, body, qseq) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (kind, key) DO UPDATE SET station = excluded.station,"
            " body = excluded.body, qseq = excluded.qseq",
            (item.kind, item.key, station, item.body, qseq),
        )

    def _expand_moves(
        self, changes: list[tuple[FeedItem, str | None]]
    ) -> Iterator[tuple[FeedItem, str | None]]:
        """A key that moves to another station (or is deleted) is first deleted where it was."""
        for item, station in changes:
            row = self._x(
                "SELECT station, body FROM feed_state WHERE kind = ? AND key = ?",
                (item.kind, item.key),
            ).fetchone()
            if row is None and item.body is None:
                continue  # deleting what never existed
            old = row[0] if row else None
            if row is not None and old == station and item.body == bytes(row[1]):
                continue  # unchanged (a full inventory re-sent): nothing for the stations
            if row is not None and (item.body is None or old != station):
                yield FeedItem(kind=item.kind, key=item.key, body=None), old
            if item.body is not None:
                yield item, station

    def feed_after(self, station_id: str, qseq: int, limit: int) -> list[tuple[int, FeedItem]]:
        """This station's feed changes after `qseq` (its own and everyone's), in order."""
        with self._lock:
            rows = self._x(
                "SELECT qseq, kind, key, body FROM feed WHERE qseq > ?"
                " AND (station IS NULL OR station = ?) ORDER BY qseq LIMIT ?",
                (qseq, station_id, limit),
            ).fetchall()
            self._end_read()
        return [
            (r[0], FeedItem(kind=r[1], key=r[2], body=None if r[3] is None else bytes(r[3])))
            for r in rows
        ]

    def feed_snapshot(self, station_id: str) -> Snapshot:
        """Every live key for this station, and the qseq it is consistent with."""
        with self._lock:
            self._begin_snapshot()
            try:
                (qseq,) = self._x("SELECT value FROM counters WHERE name = 'qseq'").fetchone()
                rows = self._x(
                    "SELECT kind, key, body FROM feed_state"
                    " WHERE station IS NULL OR station = ? ORDER BY kind, key",
                    (station_id,),
                ).fetchall()
            finally:
                self._rollback()
        items = [FeedItem(kind=r[0], key=r[1], body=bytes(r[2])) for r in rows]
        return Snapshot(qseq=int(qseq), items=items)

    def _begin_snapshot(self) -> None:
        self._begin()

    def feed_keys(self, kind: str) -> set[str]:
        """The live keys of one kind (to turn a full inventory or badge list into deletes)."""
        with self._lock:
            rows = self._x("SELECT key FROM feed_state WHERE kind = ?", (kind,)).fetchall()
            self._end_read()
        return {r[0] for r in rows}

    def prune_feed(self, keep: int) -> int:
        """Forget feed changes older than the newest `keep`; stations further behind get a
        snapshot instead (feed_floor). Returns the number of rows removed."""
        with self._lock:
            self._begin()
            try:
                cur = self._x(
                    "DELETE FROM feed WHERE qseq <= (SELECT value FROM counters WHERE name = 'qseq') - ?",
                    (keep,),
                )
                removed = int(cur.rowcount or 0)
            except BaseException:
                self._rollback()
                raise
            self._commit()
        return removed

    def feed_floor(self) -> tuple[int, int]:
        """(oldest retained qseq - 1, newest qseq): a station between them can take deltas."""
        with self._lock:
            (low,) = self._x("SELECT MIN(qseq) FROM feed").fetchone()
            (high,) = self._x("SELECT value FROM counters WHERE name = 'qseq'").fetchone()
            self._end_read()
        return (int(low) - 1 if low is not None else int(high)), int(high)

    def close(self) -> None:
        with self._lock:
            self.conn.close()


def _reject(station: str, ev: Event, reason: str) -> Rejected:
    return Rejected(
        station_id=station,
        reason=reason,
        raw=msgspec.msgpack.encode(ev),
        seq=ev.seq,
        event_id=ev.event_id,
    )
