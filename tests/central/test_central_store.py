"""The store's rules, identical on SQLite and PostgreSQL: dedupe key, chain check, quarantine,
gap handling, global sequence, feed."""

from __future__ import annotations

import msgspec

from central.store import Rejected, SqlStore
from edge.common.chain import GENESIS, chain_hash
from edge.common.protocol import Event, FeedItem
from tests.support.central import chain_events


def _evs(station: str, events: list[object]) -> list[tuple[str, Event]]:
    return [(station, e) for e in events]  # type: ignore[misc]


def test_accepts_in_order_and_acks_the_last(store: SqlStore) -> None:
    events = chain_events(10)
    result = store.commit_batch(_evs("s1", events), [])
    assert (result.acks, result.accepted, result.gaps) == ({"s1": 10}, 10, set())
    assert [e.gseq for e in store.events_after(0, 100)] == list(range(1, 11))
    assert store.last_committed("s1") == 10 and store.head() == 10


def test_duplicates_are_ignored_by_station_and_seq(store: SqlStore) -> None:
    events = chain_events(10)
    store.commit_batch(_evs("s1", events[:6]), [])
    result = store.commit_batch(_evs("s1", events), [])  # 1..6 again, then 7..10
    assert (result.acks["s1"], result.accepted, result.duplicates) == (10, 4, 6)
    assert store.counts() == {"events": 10, "quarantined": 0}


def test_station_chain_is_one_stations_seqs_and_hashes_in_order(store: SqlStore) -> None:
    s1: list[Event] = chain_events(4)  # type: ignore[assignment]
    s2: list[Event] = chain_events(2)  # type: ignore[assignment]
    store.commit_batch(_evs("s2", s2[:1]) + _evs("s1", s1[:2]), [])
    store.commit_batch(_evs("s1", s1[2:3]) + _evs("s2", s2[1:]) + _evs("s1", s1[3:]), [])
    assert store.station_chain("s1") == [(e.seq, e.hash) for e in s1]
    assert store.station_chain("s2") == [(e.seq, e.hash) for e in s2]
    assert store.station_chain("nobody") == []


def test_same_seq_of_another_station_is_not_a_duplicate(store: SqlStore) -> None:
    store.commit_batch(_evs("s1", chain_events(3)) + _evs("s2", chain_events(3)), [])
    assert store.counts()["events"] == 6
    assert {e.station_id for e in store.events_after(0, 10)} == {"s1", "s2"}


def test_gap_stores_nothing_beyond_it(store: SqlStore) -> None:
    events = chain_events(5)
    result = store.commit_batch(_evs("s1", [events[0], events[3], events[4]]), [])
    assert (result.acks["s1"], result.gaps) == (1, {"s1"})
    assert store.counts()["events"] == 1


def test_broken_chain_is_quarantined_and_covered(store: SqlStore) -> None:
    events = chain_events(4)
    foreign = chain_events(1, start_seq=2)[0]  # seq 2 whose prev_hash is not seq 1's hash
    result = store.commit_batch(_evs("s1", [events[0], foreign]), [])
    assert (result.acks["s1"], result.quarantined) == (2, 1)
    (q,) = store.quarantined()
    assert "chain broken" in q["reason"] and q["seq"] == 2
    # the station's own seq 3 chains to the hash it sent for seq 2: accepted, no hole
    nxt = chain_events(1, start_seq=3, prev=foreign.hash)[0]
    assert store.commit_batch(_evs("s1", [nxt]), []).accepted == 1


def test_reused_event_id_is_quarantined_not_lost(store: SqlStore) -> None:
    a = chain_events(1)[0]
    store.commit_batch(_evs("s1", [a]), [])
    b = chain_events(1)[0]
    digest = chain_hash(GENESIS, 1, a.event_id, b.type, b.at, b.body)  # a sound event, reused id
    clash = msgspec.structs.replace(b, event_id=a.event_id, hash=digest)
    result = store.commit_batch(_evs("s2", [clash]), [])
    assert (result.acks["s2"], result.quarantined) == (1, 1)
    assert "event_id already stored" in store.quarantined()[0]["reason"]


def test_malformed_messages_are_kept_in_quarantine(store: SqlStore) -> None:
    junk = Rejected(station_id="s1", reason="malformed: body", raw=b"\xff" * 100_000)
    store.commit_batch([], [junk])
    (q,) = store.quarantined()
    assert q["seq"] is None and len(bytes(q["raw"])) == 64 * 1024


def test_feed_snapshot_and_deltas_per_station(store: SqlStore) -> None:
    o1 = FeedItem(kind="order", key="1", body=b'{"order_id":"1"}')
    o2 = FeedItem(kind="order", key="2", body=b'{"order_id":"2"}')
    top = store.feed_put([(o1, None), (o2, "s2")])
    assert top == 2
    assert [i.key for i in store.feed_snapshot("s1").items] == ["1"]
    assert store.feed_snapshot("s2").qseq == 2
    store.feed_put([(FeedItem(kind="order", key="2", body=o2.body), "s1")])  # moves to s1
    s2_changes = store.feed_after("s2", 2, 100)
    assert [(q, i.key, i.body) for q, i in s2_changes] == [(3, "2", None)]
    assert [(q, i.key) for q, i in store.feed_after("s1", 2, 100)] == [(4, "2")]
    assert store.feed_keys("order") == {"1", "2"}
    assert store.feed_floor() == (0, 4)


def test_feed_skips_unchanged_items_and_prunes_old_changes(store: SqlStore) -> None:
    pkg = FeedItem(kind="package", key="P1", body=b'{"Label":"P1"}')
    assert store.feed_put([(pkg, None)]) == 1
    assert store.feed_put([(pkg, None)]) == 1  # the same inventory again: no new change
    for i in range(5):
        store.feed_put([(FeedItem(kind="order", key=str(i), body=b"{}"), None)])
    assert store.feed_floor() == (0, 6)
    assert store.prune_feed(keep=2) == 4
    assert store.feed_floor() == (4, 6)  # a station at qseq < 4 must take a snapshot
    assert len(store.feed_snapshot("s1").items) == 6  # the current state is all still there
