"""The daemon's mechanics (`python -m edge station`) with stand-in ports: notify, SIGTERM, a broken
chain, the disk guard, the watchdog, a failing port, services. The pack scenarios with the real
parts are in test_station_scenarios.py."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge.journal import Journal
from tests.support.station import FAULT_SCAN, REPO, Daemon, tag, write_station

pytestmark = pytest.mark.slow  # every test runs the daemon as a subprocess


def signals_of(tmp: Path) -> list[str]:
    return [line.split(" ")[0] for line in (tmp / "signals.log").read_text().splitlines()]


def events_of(tmp: Path) -> list[dict[str, object]]:
    journal = Journal(tmp / "journal.sqlite3", readonly=True)
    try:
        assert journal.verify().ok
        return [{"seq": e.seq, "type": e.type, **e.fields()} for e in journal.iter_events()]
    finally:
        journal.close()


def pack_1042(d: Daemon) -> None:
    for line in ("scan BADGE-ALICE", "scan ORD-1042", f"scan {tag(1)}", f"scan {tag(2)}"):
        assert d.send(line)["ok"]
    reply = d.send(f"scan {tag(6)}")
    assert reply["phase"] == "weighing"
    assert d.send("weight 3550")["phase"] == "label"


def test_happy_path_ready_then_sealed_then_clean_stop(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(tmp_path / "notify.sock"))
        notify.settimeout(10)
        config = write_station(tmp_path)
        with Daemon(config, env={"NOTIFY_SOCKET": str(tmp_path / "notify.sock")}) as d:
            messages = [notify.recv(4096).decode() for _ in range(2)]
            assert messages[-1] == "READY=1\nSTATUS=phase=idle", messages
            _pack_and_seal(d)
            assert d.send("scan BADGE-ALICE")["ok"]
            assert d.terminate() == 0
            rest = []
            notify.settimeout(0.5)
            with contextlib.suppress(TimeoutError):
                while True:
                    rest.append(notify.recv(4096).decode())
            assert "STATUS=phase=ready agent=BADGE-ALICE" in rest, rest
            assert rest[-1] == "STOPPING=1", rest
    label = json.loads((tmp_path / "printed/1042-label-1.json").read_text())
    assert [p["uid"] for p in label["picks"]] == [tag(1), tag(2), tag(6)]
    types = [e["type"] for e in events_of(tmp_path)]
    assert types.count("order_status") == 1 and "label_printed" in types
    status = next(e for e in events_of(tmp_path) if e["type"] == "order_status")
    assert status["status"] == "ready_for_pickup" and status["station"] == "station-01"
    assert "sealed" in signals_of(tmp_path)


def _pack_and_seal(d: Daemon) -> None:
    pack_1042(d)
    seal = d.wait_phase("seal")["order"]["seal_code"]
    reply = d.send(f"scan {seal}")
    assert reply["phase"] == "ready" and reply["signals"][0][0] == "sealed"


def test_bad_inject_lines_get_reasons_and_the_daemon_lives(tmp_path: Path) -> None:
    with Daemon(write_station(tmp_path)) as d:
        assert "unknown command" in d.send("frobnicate")["error"]
        assert "integer milligrams" in d.send("weight 3.5g")["error"]
        assert "expected" in d.send("device scale maybe")["error"]
        assert d.send("scan \x00\x01garbage")["ok"]  # a garbled scan is still journalled
        assert d.send("scan BADGE-ALICE")["phase"] == "ready"


def test_sigterm_stops_cleanly_and_restart_resumes(tmp_path: Path) -> None:
    config = write_station(tmp_path)
    with Daemon(config) as d:
        d.send("scan BADGE-ALICE")
        d.send("scan ORD-1042")
        d.send(f"scan {tag(1)}")
        assert d.proc is not None
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(10) == 0
    with Daemon(config) as d:
        state = d.state()
        assert state["phase"] == "picking"
        assert [p["uid"] for p in state["order"]["picks"]] == [tag(1)]
    assert "station stopped" in d.log()


def test_broken_chain_refuses_to_start_with_exit_5(tmp_path: Path) -> None:
    import sqlite3

    config = write_station(tmp_path)
    with Daemon(config) as d:
        d.send("scan BADGE-ALICE")
        d.terminate()
    conn = sqlite3.connect(tmp_path / "journal.sqlite3")
    conn.execute("DROP TRIGGER events_append_only_u")
    conn.execute("UPDATE events SET at = 'x' WHERE seq = 2")
    conn.commit()
    conn.close()
    run = subprocess.run(
        [sys.executable, "-m", "edge", "station", "--config", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert run.returncode == 5
    assert "chain broken at seq 2" in run.stderr


def test_disk_guard_refuses_new_orders_and_says_why(tmp_path: Path) -> None:
    with Daemon(write_station(tmp_path, min_free_mb=10**12)) as d:
        d.send("scan BADGE-ALICE")
        reply = d.send("scan ORD-1042")
        assert reply["events"] == ["scan", "order_refused"] and reply["phase"] == "ready"
        assert reply["signals"][0][0] == "device_error"
        assert "disk space low" in reply["signals"][0][1]
    refused = next(e for e in events_of(tmp_path) if e["type"] == "order_refused")
    assert "new orders refused" in str(refused["reason"])


def test_watchdog_pings_at_half_the_interval(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(tmp_path / "notify.sock"))
        notify.settimeout(5)
        env = {"NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "200000"}
        with Daemon(write_station(tmp_path), env=env):
            pings, start = 0, time.monotonic()
            while pings < 8:
                if notify.recv(4096) == b"WATCHDOG=1":
                    pings += 1
            elapsed = time.monotonic() - start
        assert 0.3 < elapsed < 3, elapsed  # ~0.1 s apart, not a busy loop


def test_a_failing_port_commits_nothing_and_the_daemon_lives(tmp_path: Path) -> None:
    with Daemon(write_station(tmp_path)) as d:
        d.send("scan BADGE-ALICE")
        d.send("scan ORD-1042")
        before = d.state()
        reply = d.send(f"scan {FAULT_SCAN}")
        assert not reply["ok"] and "verifier fault" in reply["error"]
        assert d.state() == before
        assert d.send(f"scan {tag(1)}")["signals"] == [["scan_ok", ""]]
    assert all(e.get("raw") != FAULT_SCAN for e in events_of(tmp_path))
    assert "device_error" in signals_of(tmp_path)


def test_scale_reading_is_taken_when_a_weighed_line_is_scanned(tmp_path: Path) -> None:
    with Daemon(write_station(tmp_path, scale=True)) as d:
        d.send("scan BADGE-ALICE")
        d.send("scan ORD-1042")
        d.send(f"scan {tag(1)}")
        d.send(f"scan {tag(2)}")
        assert d.send(f"scan {tag(6)}")["phase"] == "weighing"  # no reading: scale fault
        for _ in range(500):
            if d.state()["devices_down"]:
                break
            time.sleep(0.01)
        assert "no stable reading" in d.state()["devices_down"]["scale"]
        (tmp_path / "scale_mg").write_text("3550")
        assert d.send(f"scan {tag(6)}")["events"] == ["scan", "weigh_requested"]  # weigh again
        d.wait_phase("seal")
    weight = next(e for e in events_of(tmp_path) if e["type"] == "weight")
    assert weight["net_mg"] == 3550 and weight["ok"] is True
    states = [(e["device"], e["ok"]) for e in events_of(tmp_path) if e["type"] == "device_state"]
    assert states == [("scale", False), ("scale", True)]


def test_services_run_on_the_loop_and_feed_the_workflow(tmp_path: Path) -> None:
    with Daemon(write_station(tmp_path, link_offline=True)) as d:
        for _ in range(500):
            if d.state()["devices_down"]:
                break
            time.sleep(0.01)
        assert d.state()["devices_down"] == {"central": "no answer from tcp://127.0.0.1:5560"}
        assert d.send("scan BADGE-ALICE")["phase"] == "ready"  # packing goes on offline
    assert "central_offline" in signals_of(tmp_path)
