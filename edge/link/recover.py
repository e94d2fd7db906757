"""`packstation journal recover --from-central`: replace a diverged journal by central's copy.

A station whose journal fell behind central (a restored card) and then journalled events of its
own before it reached central holds a history that forks from central's: the daemon refuses to
start on it (edge.journal.anchor.Diverged). A supervisor decides; this is the recovery:

1. central's copy of every row is fetched (PSS/1 HELLO + FETCH with the station's own CURVE key,
   as `journal verify --against-central`) into a new journal next to the old one, each row
   hash-checked as it is adopted (edge.journal.anchor.adopt); a gap in central's copy (a row it
   quarantined) stops the recovery and changes nothing;
2. the old journal is copied aside whole (SQLite backup, fsync'd) as
   `<journal>.diverged-<UTC time>`, every row in it kept, including those central never had;
3. the new journal takes the old one's place, its acked cursor at central's last row and its
   chain head signed with the station's key.

Nothing of the set-aside rows is journalled again: which of them stand is the supervisor's
decision (compare `packstation journal export` of the set-aside file with `packstation central
export`; docs/journal.md "A journal behind central").
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import zmq

from edge import __version__
from edge.common import protocol as p
from edge.common.errors import PackstationError
from edge.journal import Journal, JournalEvent, anchor
from edge.link.compare import Unreachable, _request, against_central


class RecoveryRefused(PackstationError):
    """Central's copy cannot replace this journal (a gap in it); nothing was changed."""


class Recovered(msgspec.Struct, frozen=True, kw_only=True):
    """What `recover` did (empty `aside`: nothing to recover, nothing changed)."""

    journal: str
    aside: str = ""
    fork_seq: int = 0  # the first seq where this journal and central's copy differ
    central_rows: int = 0  # rows in the new journal (central's copy)
    set_aside_rows: int = 0  # rows of the old journal
    not_at_central: int = 0  # of them, rows from fork_seq on: central never had them


def _fetch_all(
    target: Journal, station_id: str, endpoint: str, keys: tuple[bytes, bytes, bytes], t: float
) -> int:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = keys
    try:
        sock.connect(endpoint)
        hello = p.Hello(
            station_id=station_id,
            boot_id=uuid.uuid4().hex,
            last_written_seq=0,
            last_qseq=0,
            sw_version=f"{__version__} recover",
        )
        welcome = _request(sock, p.HELLO, hello, p.Welcome, t)
        assert isinstance(welcome, p.Welcome)
        position = 0
        while position < welcome.last_committed_seq:
            fetched = _request(sock, p.FETCH, p.Fetch(after=position), p.Fetched, t)
            assert isinstance(fetched, p.Fetched)
            if not fetched.events:
                raise RecoveryRefused(
                    f"central's copy has no row {position + 1} (quarantined there: this "
                    "station's own rows from there, after its chain forked): it cannot replace "
                    "this journal; nothing was changed. `packstation central release STATION` "
                    "lets the station carry on on its own journal"
                )
            rows = [JournalEvent(**msgspec.structs.asdict(ev)) for ev in fetched.events]
            try:
                position = anchor.adopt(target, position, rows)
            except anchor.Diverged as exc:
                raise RecoveryRefused(f"{exc}; nothing was changed") from exc
        return position
    finally:
        sock.close(0)
        ctx.term()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def recover(
    path: Path,
    station_id: str,
    endpoint: str,
    keys: tuple[bytes, bytes, bytes],
    timeout_s: float = 10.0,
) -> Recovered:
    """Replace the journal at `path` by central's copy when the two differ (module docstring).
    Raise Unreachable when central does not answer, RecoveryRefused when its copy has a gap."""
    local = Journal(path, readonly=True)
    try:
        verdict = against_central(local, station_id, endpoint, keys, timeout_s)
        local_last = local.last_seq()
    finally:
        local.close()
    if verdict.ok:  # every row central holds is here, identical: nothing to recover
        return Recovered(journal=str(path), set_aside_rows=0, central_rows=0)
    fork = verdict.first_bad_seq or local_last + 1
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    fresh = path.with_name(f"{path.name}.recovering")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{fresh}{suffix}").unlink(missing_ok=True)
    target = Journal(fresh)
    try:
        central_last = _fetch_all(target, station_id, endpoint, keys, timeout_s)
        target.mark_acked(central_last)
        anchor.sign_head(target, keys[1])
    except BaseException:
        target.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{fresh}{suffix}").unlink(missing_ok=True)
        raise
    target.close()
    aside = path.with_name(f"{path.name}.diverged-{stamp}")
    with sqlite3.connect(path) as src, sqlite3.connect(aside) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    _fsync(aside)
    for suffix in ("-wal", "-shm", ""):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    os.replace(fresh, path)
    for suffix in ("-wal", "-shm"):
        Path(f"{fresh}{suffix}").unlink(missing_ok=True)
    _fsync(path.parent)
    return Recovered(
        journal=str(path),
        aside=str(aside),
        fork_seq=fork,
        central_rows=central_last,
        set_aside_rows=local_last,
        not_at_central=max(0, local_last - fork + 1),
    )


__all__ = ["Recovered", "RecoveryRefused", "Unreachable", "recover"]
