"""kill -9 of central (repeatedly) and of a station during a stream: lost 0, duplicated 0, gaps 0."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.central import CentralProcess, delivery_report, make_setup, start_sender

pytestmark = pytest.mark.slow  # kill -9 of central and station subprocesses

STATIONS = ["station-01", "station-02"]
TOTAL = 2500  # events per station
RATE = 500  # events per second per station while generating


def _journal_cursor(path: Path) -> tuple[int, int]:
    """(last_seq, acked_seq) read straight from a station's journal file."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return 0, 0
    try:
        (last,) = conn.execute("SELECT IFNULL(MAX(seq), 0) FROM events").fetchone()
        (acked,) = conn.execute("SELECT value FROM cursor WHERE name = 'acked_seq'").fetchone()
        return int(last), int(acked)
    except sqlite3.OperationalError:
        return 0, 0
    finally:
        conn.close()


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


@pytest.mark.timeout(240)
def test_kill9_central_and_station_during_a_stream(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, STATIONS)
    central = CentralProcess(setup)
    logs = {s: tmp_path / f"{s}.log" for s in STATIONS}
    journals = {s: tmp_path / s / "journal.sqlite3" for s in STATIONS}
    senders: dict[str, subprocess.Popen[bytes]] = {}
    try:
        central.start()
        for s in STATIONS:
            senders[s] = start_sender(setup, s, TOTAL, RATE, logs[s])
        for round_ in range(4):  # kill -9 central four times mid-stream, ~1 s down each time
            time.sleep(1.0 + 0.3 * round_)
            central.kill9()
            if round_ in (1, 2):  # and kill -9 a station (power loss) while central is down
                victim = STATIONS[round_ % 2]
                _kill(senders[victim])
                senders[victim] = start_sender(setup, victim, TOTAL, RATE, logs[victim])
            time.sleep(0.7)
            central.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            cursors = [_journal_cursor(journals[s]) for s in STATIONS]
            if all(last == TOTAL and acked == TOTAL for last, acked in cursors):
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"not drained: {[_journal_cursor(journals[s]) for s in STATIONS]}")
    finally:
        for proc in senders.values():
            _kill(proc)
        central.kill9()
    for s in STATIONS:
        report = delivery_report(setup.store, s, journals[s])
        assert report == {
            "journal": TOTAL,
            "central": TOTAL,
            "lost": 0,
            "duplicated": 0,
            "gaps": 0,
            "chain_breaks": 0,
            "quarantined": 0,
        }, (s, report)
    assert central.log.read_text().count("central ready") == 5
