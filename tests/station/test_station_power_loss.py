"""`kill -9` the real daemon between and during scans, restart it, and check nothing was lost,
nothing duplicated, the chain holds and the order resumes at the same step with the same scans."""

from __future__ import annotations

import random
import socket
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from edge.journal import Journal
from tests.support.station import Daemon, tag, write_station

pytestmark = pytest.mark.slow  # kill -9 of the real daemon, again and again

PACKAGES_1042 = [tag(1), tag(2), tag(6)]
PACKAGES_2001 = [tag(4)]


def next_command(state: dict[str, Any], rng: random.Random) -> str | None:
    """What a technician does next at this step (sometimes a wrong scan, to exercise halts)."""
    phase, order = state["phase"], state["order"]
    if phase in ("halted", "override"):
        return "scan BADGE-BOSS"
    if state["session"] is None:
        return "scan BADGE-ALICE"
    if phase == "ready":
        return rng.choice(["scan ORD-1042", "scan ORD-1042", "scan ORD-2001"])
    if phase == "weighing":
        return "weight 3550"
    if phase == "label":
        return None  # the print job is in flight: wait
    if phase == "seal":
        return f"scan {order['seal_code']}"
    if rng.random() < 0.1:
        return f"scan {tag(3)}"  # wrong batch: halt, slip, quarantine
    picked = {p["uid"] for p in order["picks"]}
    wanted = PACKAGES_1042 if order["order"]["order_id"] == "1042" else PACKAGES_2001
    return f"scan {next(uid for uid in wanted if uid not in picked)}"


def journal_events(path: Path) -> list[dict[str, Any]]:
    journal = Journal(path, readonly=True)
    try:
        result = journal.verify()
        assert result.ok, result
        events = [{"seq": e.seq, "type": e.type, **e.fields()} for e in journal.iter_events()]
    finally:
        journal.close()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    return events


def picks_from_journal(events: list[dict[str, Any]]) -> list[str]:
    """The open order's picks, rebuilt from the events alone."""
    picks: list[str] = []
    weighed_lines: dict[int, bool] = {}
    for e in events:
        if e["type"] == "order_loaded":
            picks = []
            weighed_lines = {ln["line"]: ln.get("weigh", False) for ln in e["order"]["lines"]}
        elif e["type"] == "order_status":
            picks = []
        elif _adds_pick(e, weighed_lines):
            picks.append(e["uid"])
    return picks


def _adds_pick(event: dict[str, Any], weighed_lines: dict[int, bool]) -> bool:
    if event["type"] == "verdict":
        return bool(event["outcome"] != "halt" and not weighed_lines[event["line"]])
    return bool(event["type"] == "weight" and event["ok"])


def test_kill_9_at_random_points_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    rng = random.Random(20261122)
    config = write_station(tmp_path)
    acked: Counter[str] = Counter()  # scan device tags the daemon confirmed
    sent: set[str] = set()
    weights_acked = weights_sent = 0
    n = 0
    last_state: dict[str, Any] | None = None
    for _round in range(20):
        d = Daemon(config)
        d.start()
        try:
            _check_resumed(last_state, d.state())
            in_flight = False
            for _ in range(rng.randint(2, 10)):
                command = next_command(d.state(), rng)
                if command is None:
                    d.wait_phase("seal")
                    continue
                n += 1
                if command.startswith("scan "):
                    command = f"scan --device k{n} {command[5:]}"
                    sent.add(f"k{n}")
                else:
                    weights_sent += 1
                if rng.random() < 0.25:  # kill while the command is being processed
                    assert d.conn is not None
                    d.conn.sendall(command.encode() + b"\n")
                    time.sleep(
                        rng.choice([0, 0, 0.0003, 0.0008, 0.002])
                    )  # before, during or after its commit
                    in_flight = True
                    break
                reply = d.send(command)
                assert reply["ok"], reply
                if command.startswith("scan"):
                    acked[f"k{n}"] += 1
                else:
                    weights_acked += 1
            last_state = None if in_flight else d.state()
        finally:
            d.kill9()
        events = journal_events(tmp_path / "journal.sqlite3")
        seen = Counter(e["device"] for e in events if e["type"] == "scan")
        assert all(seen[device] == 1 for device in acked), "an acknowledged scan was lost"
        assert all(count == 1 and device in sent for device, count in seen.items()), (
            "a scan was duplicated or invented"
        )
        weights = sum(1 for e in events if e["type"] == "weight")
        assert weights_acked <= weights <= weights_sent

    d = Daemon(config)
    with d:
        state = d.state()
        order_picks = [p["uid"] for p in state["order"]["picks"]] if state["order"] else []
        assert order_picks == picks_from_journal(journal_events(tmp_path / "journal.sqlite3"))
        assert d.terminate() == 0


def _check_resumed(last: dict[str, Any] | None, now: dict[str, Any]) -> None:
    """After a kill between commands, the order is at the same step with the same picks."""
    if last is None:
        return  # killed mid-command: either outcome is allowed, the journal checks cover it
    same_phase = now["phase"] == last["phase"] or (last["phase"], now["phase"]) == ("label", "seal")
    assert same_phase, (last["phase"], now["phase"])
    if last["order"] is None:
        assert now["order"] is None
        return
    assert now["order"]["order"]["order_id"] == last["order"]["order"]["order_id"]
    assert now["order"]["picks"] == last["order"]["picks"]
    assert now["order"]["halt"] == last["order"]["halt"]


def test_unreachable_inject_socket_is_removed_on_restart(tmp_path: Path) -> None:
    """A socket file left by a killed daemon does not stop the next one from listening."""
    config = write_station(tmp_path)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(tmp_path / "inject.sock"))
    stale.close()
    with Daemon(config) as d:
        assert d.send("scan BADGE-ALICE")["ok"]
