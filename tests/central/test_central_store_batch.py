"""One commit, many stations and resent runs: every cursor moves in one statement, a resent run's
duplicates are looked up together (500 at a time) and a stored seq sent with another hash is still
caught as a fork, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import msgspec

from central.store import SqlStore
from edge.common.protocol import Event
from tests.support.central import chain_events


def _chain(n: int) -> list[Event]:
    return chain_events(n)  # type: ignore[return-value]


def test_fifty_stations_in_one_commit_each_get_their_cursor(store: SqlStore) -> None:
    runs = {f"st-{i:02d}": _chain(i % 7 + 1) for i in range(50)}
    result = store.commit_batch([(s, ev) for s, evs in runs.items() for ev in evs], [])
    assert result.acks == {s: len(evs) for s, evs in runs.items()}
    assert {s: store.last_committed(s) for s in runs} == result.acks
    # the next commit goes on from each stored cursor (its hash too): seq+1 of three stations
    more = {s: chain_events(1, start_seq=len(evs) + 1, prev=evs[-1].hash) for s, evs in list(runs.items())[:3]}  # fmt: skip
    again = store.commit_batch([(s, ev) for s, evs in more.items() for ev in evs], [])  # type: ignore[misc]
    assert (again.accepted, again.quarantined) == (3, 0)
    assert again.acks == {s: len(runs[s]) + 1 for s in more}


def test_a_resent_run_is_counted_duplicate_in_one_lookup_per_500(store: SqlStore) -> None:
    events = _chain(1200)
    store.commit_batch([("s1", ev) for ev in events[:1100]], [])
    # go-back-N: the station resends 1..1200 twice in the same commit
    result = store.commit_batch([("s1", ev) for ev in events + events], [])
    assert (result.acks, result.accepted, result.duplicates) == ({"s1": 1200}, 100, 2300)
    assert (result.forks, result.quarantined) == ([], 0)
    assert store.counts() == {"events": 1200, "quarantined": 0}


def test_a_stored_seq_sent_with_another_hash_is_a_fork(store: SqlStore) -> None:
    events = _chain(600)
    store.commit_batch([("s1", ev) for ev in events], [])
    rewritten = msgspec.structs.replace(events[549], hash=bytes(32))  # seq 550, another hash
    resent = [*events[:549], rewritten, *events[550:]]
    result = store.commit_batch([("s1", ev) for ev in resent], [])
    assert (result.acks, result.accepted, result.duplicates) == ({"s1": 600}, 0, 599)
    assert result.forks == result.integrity_alarms == ["s1:550"]
    (q,) = store.quarantined()
    assert (q["seq"], q["reason"]) == (550, "duplicate seq with a different hash (integrity alarm)")
    assert store.station_chain("s1") == [(ev.seq, ev.hash) for ev in events]  # central's row kept
