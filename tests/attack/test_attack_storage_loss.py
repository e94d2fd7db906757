"""Storage loss at a station: a journal restored 50 rows behind central, a new empty card. The
link recovers central's copy before anything new is numbered: 0 events lost, 0 quarantined."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from central.store import open_store
from edge.cli import run
from edge.common.errors import ExitCode
from edge.journal import Journal
from tests.support.central import LinkRunner, Setup, make_setup, running_central, until
from tests.support.linked import link_to, linked_station_config

pytestmark = pytest.mark.slow


def _central_counts(setup: Setup, station: str) -> tuple[int, int]:
    store = open_store(setup.store)
    try:
        stored = sum(1 for e in store.events_after(0, 1_000_000) if e.station_id == station)
        return stored, store.counts()["quarantined"]
    finally:
        store.close()


async def _run(setup: Setup, root: Path, n: int, total: int) -> None:
    """Start the station's link, wait until it is anchored, journal n events, see total acked."""
    runner = LinkRunner(setup, "station-01", root)
    runner.start()
    await until(runner.link.anchored.is_set, 30)
    runner.append(n)
    await until(lambda: runner.journal.acked_seq() == total, 30)
    await runner.stop()


def _backup(src: Path, dst: Path) -> None:
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)


def _restored_behind(setup: Setup, tmp_path: Path, kept: int, total: int) -> Path:
    """station-01 journals `total` events through a live central, then its card is restored from
    an image taken after `kept` of them: central holds rows the journal no longer has."""
    journal = tmp_path / "station-01" / "journal.sqlite3"
    with running_central(setup):
        asyncio.run(_run(setup, tmp_path, kept, kept))
        _backup(journal, tmp_path / "old-image.sqlite3")
        asyncio.run(_run(setup, tmp_path, kept, total))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{journal}{suffix}").unlink(missing_ok=True)
    _backup(tmp_path / "old-image.sqlite3", journal)
    return journal


@pytest.mark.parametrize("loss", ["restored 50 rows behind", "new empty card"])
def test_a_station_that_lost_storage_recovers_from_central_and_loses_nothing(
    loss: str, tmp_path: Path
) -> None:
    setup = make_setup(tmp_path, ["station-01"])
    journal = tmp_path / "station-01" / "journal.sqlite3"
    with running_central(setup) as central:
        asyncio.run(_run(setup, tmp_path, 50, 50))
        _backup(journal, tmp_path / "old-image.sqlite3")
        asyncio.run(_run(setup, tmp_path, 50, 100))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{journal}{suffix}").unlink(missing_ok=True)
        if loss.startswith("restored"):
            _backup(tmp_path / "old-image.sqlite3", journal)
            assert Journal(journal, readonly=True).last_seq() == 50
        asyncio.run(_run(setup, tmp_path, 100, 200))
        log = central.log.read_text()
    assert "journal rows sent for recovery" in log
    stored, quarantined = _central_counts(setup, "station-01")
    lost = 200 - stored
    print(
        f"\n{loss}: lost {lost} of the 100 events journalled after the loss, dup/quarantined {quarantined}"
    )
    assert (lost, quarantined) == (0, 0)
    assert run(["journal", "verify", str(journal)]) == ExitCode.OK


def test_a_journal_behind_central_with_rows_of_its_own_is_held_not_sent(tmp_path: Path) -> None:
    """Restored behind, then events journalled offline: the histories differ. Nothing is sent
    (central would quarantine them as integrity alarms), every row stays in the journal."""
    setup = make_setup(tmp_path, ["station-01"])
    journal = _restored_behind(setup, tmp_path, 20, 40)
    offline = Journal(journal)
    for i in range(5):
        offline.append("pick_verified", {"offline": i})
    offline.close()

    async def scenario() -> None:
        runner = LinkRunner(setup, "station-01", tmp_path)
        runner.start()
        await until(lambda: bool(runner.link.diverged), 30)
        # The status's error is set when the session ends, just after `diverged`.
        await until(lambda: bool(runner.link.status().last_error), 10)
        assert "diverged" in runner.link.status().last_error
        assert runner.journal.last_seq() == 25 and runner.journal.acked_seq() == 20
        await runner.stop()

    with running_central(setup):
        asyncio.run(scenario())
    assert _central_counts(setup, "station-01") == (40, 0)


def _rehash_from(db: Path, seq: int, body: bytes) -> None:
    """Rewrite row `seq`'s body and recompute every hash after it: consistent, keyless."""
    from edge.common.chain import chain_hash

    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DROP TRIGGER events_append_only_u")
    conn.execute("UPDATE events SET body = ? WHERE seq = ?", (body, seq))
    (prev,) = conn.execute("SELECT hash FROM events WHERE seq = ?", (seq - 1,)).fetchone()
    rows = conn.execute(
        "SELECT seq, event_id, at, type, body FROM events WHERE seq >= ? ORDER BY seq", (seq,)
    ).fetchall()
    for s, event_id, at, type_, row_body in rows:
        digest = chain_hash(prev, s, event_id, type_, at, bytes(row_body))
        conn.execute("UPDATE events SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, s))
        prev = digest
    conn.close()


def _wipe_head(db: Path) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DELETE FROM state WHERE key = 'signed_head'")
    conn.execute("UPDATE cursor SET value = 0 WHERE name = 'acked_seq'")
    conn.close()


def _truncate_without_trace(db: Path, keep: int) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DROP TRIGGER events_append_only_d")
    conn.execute("DELETE FROM events WHERE seq > ?", (keep,))
    conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'events'", (keep,))
    conn.execute("UPDATE cursor SET value = ? WHERE name = 'acked_seq'", (keep,))
    conn.close()


def test_verify_against_central_detects_a_consistent_rewrite_and_a_traceless_truncation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup = make_setup(tmp_path, ["station-01"])
    secret, server = setup.station_keys("station-01")
    station_toml = tmp_path / "station.toml"
    station_toml.write_text(
        f'[station]\nid = "station-01"\nstate_dir = "{tmp_path / "state"}"\n'
        f'[link]\nendpoint = "{setup.endpoint}"\nsecret_key_file = "{secret}"\n'
        f'server_key_file = "{server}"\ntimeout_ms = 3000\n'
    )
    journal = tmp_path / "station-01" / "journal.sqlite3"
    verify = ["journal", "verify", "--against-central", "--config", str(station_toml)]
    with running_central(setup):
        asyncio.run(_run(setup, tmp_path, 10, 10))
        assert run([*verify, str(journal)]) == ExitCode.OK
        for name, tamper, seq in (
            ("rewrite", lambda db: _rehash_from(db, 5, b'{"n":99}'), 5),
            ("truncate", lambda db: _truncate_without_trace(db, 7), 8),
        ):
            copy = tmp_path / f"{name}.sqlite3"
            _backup(journal, copy)
            tamper(copy)
            assert run(["journal", "verify", str(copy)]) == ExitCode.OK  # locally consistent
            capsys.readouterr()
            # the station's signed chain head gives it away to anyone with the station's key
            head = ["journal", "verify", "--config", str(station_toml), str(copy)]
            assert run(head) == ExitCode.CHAIN_BROKEN
            assert "signed chain head" in capsys.readouterr().err
            # an attacker who also wipes the signed head and the cursor: central's copy shows it
            _wipe_head(copy)
            assert run(head) == ExitCode.OK
            assert run([*verify, str(copy)]) == ExitCode.CHAIN_BROKEN
            assert f"chain broken at seq {seq}" in capsys.readouterr().err
    assert run([*verify, str(journal)]) == ExitCode.DEVICE  # central down: nothing compared


def _daemon_config(setup: Setup, state: Path, printer: str) -> Path:
    # timeout_ms: the start-up session must reach a loaded central to learn of a fork or hold
    link = link_to(setup, "station-01", timeout_ms=8000)
    return linked_station_config(state, printer, link, station_id="station-01")


def test_a_daemon_on_a_diverged_journal_refuses_to_start_until_recovered_from_central(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Restored 20 rows behind, then events journalled offline by the real daemon (central down:
    it starts). Central back: the daemon refuses to start (exit 5) naming the recovery command;
    `journal recover --from-central` sets the journal aside whole and adopts central's copy; the
    daemon then starts and its new events reach central, none quarantined."""
    from drivers.printer.sim import SimPrinter
    from tests.support.station import Daemon

    setup = make_setup(tmp_path, ["station-01"])
    state = tmp_path / "station-01"
    journal = _restored_behind(setup, tmp_path, 20, 40)
    with SimPrinter() as printer:
        config = _daemon_config(setup, state, printer.target)
        with Daemon(config) as offline:  # central unreachable at start: the station starts
            assert offline.state()["phase"] == "idle"
            assert "central" in offline.state()["devices_down"]
        own = Journal(journal, readonly=True).last_seq()
        assert own > 20  # rows of its own after the point it fell behind
        with running_central(setup):
            refused = Daemon(config)
            with pytest.raises(RuntimeError, match="daemon exited 5"):
                refused.start()
            log = refused.log()
            assert "journal differs from central's copy" in log
            assert "packstation journal recover --from-central" in log
            assert Journal(journal, readonly=True).last_seq() == own  # nothing touched
            recover = ["journal", "recover", "--from-central", "--config", str(config)]
            capsys.readouterr()
            assert run(recover) == ExitCode.OK
            out = capsys.readouterr().out
            assert f"{own - 20} of them from seq 21 on never reached central" in out
            (aside,) = state.glob("journal.sqlite3.diverged-*")
            assert Journal(aside, readonly=True).last_seq() == own  # every row kept
            assert Journal(journal, readonly=True).last_seq() == 40
            against = ["journal", "verify", "--against-central", "--config", str(config)]
            assert run([*against, str(journal)]) == ExitCode.OK
            assert run(recover) == ExitCode.OK  # agrees now: nothing to do
            assert "nothing to recover" in capsys.readouterr().out
            with Daemon(config) as daemon:
                assert daemon.state()["phase"] == "idle"
                until_sync = time.monotonic() + 20
                while (
                    time.monotonic() < until_sync and _central_counts(setup, "station-01")[0] <= 40
                ):
                    time.sleep(0.1)
    stored, quarantined = _central_counts(setup, "station-01")
    print(
        f"\ndiverged journal: refused at start (exit 5), recovered; central {stored} rows, quarantined {quarantined}"
    )
    assert stored > 40 and quarantined == 0


def test_a_journal_forked_past_central_is_refused_at_the_next_start_until_released(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Restored 20 rows behind, then more rows journalled offline than central holds: the fork
    shows only when central checks the first batch and holds the station. The next start is
    refused (exit 5) naming central's hold and `central release`; `journal recover` says why it
    cannot apply (central's copy ends in its quarantine) and changes nothing; after the release
    the station starts and its new events are stored."""
    from drivers.printer.sim import SimPrinter
    from tests.support.station import Daemon

    setup = make_setup(tmp_path, ["station-01"])
    state = tmp_path / "station-01"
    journal = _restored_behind(setup, tmp_path, 20, 40)
    offline = Journal(journal)
    for i in range(25):
        offline.append("scan", {"kind": "package", "raw": f"X{i}", "station": "station-01"})
    offline.close()  # 45 rows, 21..45 not central's
    with SimPrinter() as printer, running_central(setup) as central:
        config = _daemon_config(setup, state, printer.target)
        with Daemon(config):
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and "station held" not in central.log.read_text():
                time.sleep(0.1)
        assert "station held: its chain forked" in central.log.read_text()
        refused = Daemon(config)
        with pytest.raises(RuntimeError, match="daemon exited 5"):
            refused.start()
        assert "central holds this station" in refused.log()
        assert "packstation central release STATION" in refused.log()
        release = ["central", "release", "station-01", "--config", str(setup.config)]
        assert run(release) == ExitCode.OK
        deadline = time.monotonic() + 20  # central re-reads its holds every keys_poll_ms
        while time.monotonic() < deadline and "released by a" not in central.log.read_text():
            time.sleep(0.1)
        mine = Journal(journal, readonly=True).last_seq()
        capsys.readouterr()
        recover = ["journal", "recover", "--from-central", "--config", str(config)]
        assert run(recover) == ExitCode.USAGE
        assert "quarantined there" in capsys.readouterr().err
        assert Journal(journal, readonly=True).last_seq() == mine  # nothing changed
        stored_before = _central_counts(setup, "station-01")[0]
        with Daemon(config) as daemon:
            assert daemon.state()["phase"] == "idle"
            deadline = time.monotonic() + 20
            while (
                time.monotonic() < deadline
                and _central_counts(setup, "station-01")[0] <= stored_before
            ):
                time.sleep(0.1)
    stored, _ = _central_counts(setup, "station-01")
    print(f"\nforked past central: held, refused at start, released; central {stored} rows")
    assert stored > stored_before
