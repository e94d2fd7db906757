"""Hostile inputs, without processes: deep nesting, spoofed topics, feed records a station cannot
use, malformed endpoints. Each goes through the real decoder, store or replica."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from central.downstream import normalize_topic
from central.store import open_store
from edge.cli import run
from edge.common import bounded
from edge.common import protocol as p
from edge.common.chain import GENESIS, chain_hash
from edge.common.errors import ExitCode
from edge.link.replica import Replica
from tests.support.central import chain_events
from tests.support.core_scan import dump, order

DEEP = b"[" * 2000 + b"]" * 2000


def _event(type_: str, body: bytes, seq: int = 1, prev: bytes = GENESIS) -> p.Event:
    event_id, at = str(uuid.uuid4()), "2026-11-22T12:00:00+00:00"
    digest = chain_hash(prev, seq, event_id, type_, at, body)
    return p.Event(
        seq=seq, event_id=event_id, at=at, type=type_, body=body, prev_hash=prev, hash=digest
    )


def test_nesting_depth_is_measured_without_recursion() -> None:
    assert bounded.nesting_depth(DEEP) == 2000
    assert bounded.nesting_depth(b'{"a": "[[[[", "b": [1, {"c": []}]}') == 4
    assert bounded.nesting_depth('a = "[[["  # [[[\n[t]\nb = [[1], {x = 2}]\n', "toml") == 2
    with pytest.raises(bounded.InputTooComplex, match="nested 2000 levels deep"):
        bounded.loads_json(DEEP, "body", 1 << 20)
    with pytest.raises(bounded.InputTooComplex, match="more than the 10 accepted"):
        bounded.loads_json(b"[1, 2, 3, 4, 5]", "body", 10)


def test_a_deeply_nested_event_is_quarantined_and_the_batch_commits(tmp_path: Path) -> None:
    """4 KB nested 2,000 deep used to raise RecursionError out of every commit: the station was
    wedged. Now it is quarantined (and acknowledged), and the events after it are stored."""
    store = open_store(f"sqlite://{tmp_path / 'c.sqlite3'}")
    bad = _event("scan", b'{"x":' + DEEP + b"}")
    rest = [e for e in chain_events(3, start_seq=2, prev=bad.hash) if isinstance(e, p.Event)]
    result = store.commit_batch([("station-01", bad), *(("station-01", e) for e in rest)], [])
    assert result.acks["station-01"] == 4
    assert (result.accepted, result.quarantined) == (3, 1)
    assert "nested" in store.quarantined()[0]["reason"]
    store.close()


def test_an_event_type_with_a_slash_is_quarantined_never_published(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path / 'c.sqlite3'}")
    bad = _event("pick_verified/station-02", b"{}")
    result = store.commit_batch([("station-01", bad)], [])
    assert (result.accepted, result.quarantined, result.acks["station-01"]) == (0, 1, 1)
    assert "token" in store.quarantined()[0]["reason"]
    store.close()
    with pytest.raises(ValueError, match="not a topic token"):
        p.topic("pick_verified/station-02", "station-01")


def test_topics_are_terminated_so_a_station_prefix_matches_no_other_station() -> None:
    mine = p.topic("pick_verified", "station-02")
    other = p.topic("pick_verified", "station-021")
    assert mine == b"event/pick_verified/station-02/"
    assert not other.startswith(mine)
    assert not other.startswith(normalize_topic("event/pick_verified/station-02").encode())
    assert normalize_topic("event/pick_verified/") == "event/pick_verified/"


def _package(label: str, **extra: object) -> bytes:
    pkg: dict[str, object] = {
        "Label": label,
        "Item": {"Name": "Blue Dream 3.5g"},
        "Sku": "FLW",
        "Batch": "B-1",
    }
    pkg.update(extra)
    return json.dumps(pkg).encode()


def test_a_feed_record_the_station_cannot_use_is_skipped_alone(tmp_path: Path) -> None:
    """A 200-character order id and a package with a fractional weight: each skipped and noted;
    every other record of the snapshot is kept and no new snapshot is needed."""
    replica = Replica(tmp_path / "r.sqlite3")
    good_pkg = "1A4060300002C9B000000001"
    items = [
        p.FeedItem(kind="order", key="O" * 200, body=json.dumps({"order_id": "O" * 200}).encode()),
        p.FeedItem(kind="order", key="1001", body=dump(order({"sku": "FLW"}, order_id="1001"))),
        p.FeedItem(kind="package", key=good_pkg, body=_package(good_pkg)),
        p.FeedItem(
            kind="package",
            key="1A4060300002C9B000000002",
            body=_package("1A4060300002C9B000000002", NetWeightMg=3500.5),
        ),
    ]
    # the wire accepts the long key, so the message carrying it still decodes
    raw = p.encode(p.SNAP, p.Snap(snap_id="s", qseq=7, part=0, last=True, items=items))
    _, snap = p.decode(raw)
    assert isinstance(snap, p.Snap)
    assert replica.apply_snapshot_part(snap)
    assert replica.last_qseq() == 7  # applied: no snapshot loop
    assert [o["order_id"] for o in replica.orders()] == ["1001"]
    assert [pkg["Label"] for pkg in replica.inventory()] == [good_pkg]
    skipped = replica.take_skipped()
    assert [(kind, key[:5]) for kind, key, _ in skipped] == [
        ("order", "OOOOO"),
        ("package", "1A406"),
    ]
    assert "128" in skipped[0][2]
    # the replica judges by the intake's own rules (edge.common.feed): what the station would
    # refuse when it takes the record is skipped and reported here, every usable record kept
    refused = {
        "line with uid and sku": order({"uid": good_pkg, "sku": "FLW"}, order_id="2001"),
        "no customer": {**order({"sku": "FLW"}, order_id="2002"), "customer": None},
        "no lines": {**order({"sku": "FLW"}, order_id="2003"), "lines": []},
        "line numbered twice": order(
            {"sku": "A", "line": 1}, {"sku": "B", "line": 1}, order_id="2004"
        ),
        "unknown channel": {**order({"sku": "FLW"}, order_id="2005"), "channel": "drone"},
    }
    more = [p.FeedItem(kind="order", key=o["order_id"], body=dump(o)) for o in refused.values()]
    more += [
        p.FeedItem(kind="badge", key="B-OK", body=b'{"badge":"B-OK","name":"Alice"}'),
        p.FeedItem(
            kind="badge", key="B-BAD", body=b'{"badge":"B-BAD","name":"X","expires_at":"soon"}'
        ),
        p.FeedItem(kind="badge", key="B-NONAME", body=b'{"badge":"B-NONAME"}'),
        p.FeedItem(
            kind="package",
            key="1A4060300002C9B000000003",
            body=_package("1A4060300002C9B000000003", PackagedDate="2026-02-30"),
        ),
    ]
    for qseq, item in enumerate(more, start=8):
        assert replica.apply_update(p.QueueUpdate(qseq=qseq, prev_qseq=qseq - 1, item=item))
    assert [o["order_id"] for o in replica.orders()] == ["1001"]
    assert replica.counts().get("badge") == 1
    assert [pkg["Label"] for pkg in replica.inventory()] == [good_pkg]
    reported = replica.take_skipped()
    assert [key for _, key, _ in reported] == [
        *(o["order_id"] for o in refused.values()),
        "B-BAD",
        "B-NONAME",
        "1A4060300002C9B000000003",
    ]
    assert all(reason for _, _, reason in reported)
    print(
        "\nfeed records skipped and reported:", *(f"{k}: {r}" for _, k, r in reported), sep="\n  "
    )
    qseq = 8 + len(more)
    # an update that makes a kept record unusable removes it; the feed position still moves
    bad = p.FeedItem(kind="package", key=good_pkg, body=_package(good_pkg, NetWeightMg=-1))
    assert replica.apply_update(p.QueueUpdate(qseq=qseq, prev_qseq=qseq - 1, item=bad))
    assert replica.inventory() == [] and replica.last_qseq() == qseq
    assert len(replica.take_skipped()) == 1
    replica.close()


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("link", "endpoint", "tcp://127.0.0.1"),
        ("link", "endpoint", "tcp://central host:5560"),
        ("link", "endpoint", "http://127.0.0.1:5560"),
        ("link", "endpoint", "tcp://127.0.0.1:70000"),
    ],
)
def test_config_check_refuses_an_unusable_endpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], section: str, key: str, value: str
) -> None:
    bad = tmp_path / "station.toml"
    bad.write_text(f'[{section}]\n{key} = "{value}"\n')
    assert run(["config", "check", str(bad)]) == ExitCode.CONFIG
    assert f"[{section}] {key}: expected" in capsys.readouterr().err


def test_a_deeply_nested_config_is_a_config_error_exit_78(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "station.toml"
    bad.write_text("x = " + "[" * 3000 + "]" * 3000 + "\n")
    assert run(["config", "check", str(bad)]) == ExitCode.CONFIG
    assert "nested 3000 levels deep" in capsys.readouterr().err


def test_a_sealed_order_never_reloads_even_without_the_finished_file(tmp_path: Path) -> None:
    """The journal's order_status event is the record: the ticket of an order that left the
    station finds nothing, after a restart and with the cache file lost."""
    from edge.journal import Journal
    from edge.station.config import StationConfig, StationPaths, StationSection
    from edge.station.wiring.seed import SeedCentral
    from tests.support.station import write_seed

    write_seed(tmp_path / "seed")
    cfg = StationConfig(
        station=StationSection(state_dir=str(tmp_path), seed_dir=str(tmp_path / "seed"))
    )
    paths = StationPaths.of(cfg)
    assert SeedCentral.from_config(cfg).order("2001") is not None
    journal = Journal(paths.journal)
    journal.append("order_status", {"order_id": "2001", "status": "out_for_delivery"})
    journal.close()
    paths.seed_finished.unlink(missing_ok=True)
    central = SeedCentral.from_config(cfg)
    assert central.order("2001") is None and central.order("1042") is not None
    assert central.next_order() is None or central.next_order().order_id != "2001"  # type: ignore[union-attr]
