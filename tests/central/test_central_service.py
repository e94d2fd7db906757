"""The central process: start-up order, systemd notify, graceful stop, configuration errors."""

from __future__ import annotations

import contextlib
import itertools
import signal
import socket
import time
from pathlib import Path

import pytest

from central.config import load_central_config
from edge.cli import run
from edge.common.errors import ExitCode
from tests.support.central import CentralProcess, RawStation, make_setup


@pytest.mark.slow
def test_starts_after_self_test_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01"])
    central = CentralProcess(setup)
    central.start()
    assert central.proc is not None
    central.proc.send_signal(signal.SIGTERM)
    assert central.proc.wait(15) == 0
    log = central.log.read_text()
    # the self-test's refused handshake is logged before "central ready"
    assert log.index("connection refused: unknown key") < log.index("central ready")


def test_notifies_systemd_ready_status_watchdog_and_stopping(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01"])
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(tmp_path / "notify.sock"))
        notify.settimeout(30)
        env = {"NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "1000000"}
        central = CentralProcess(setup, env=env)
        central.start(wait=False)
        assert central.proc is not None
        try:
            ready = notify.recv(4096).decode()
            status = "serving stations={} accepted=0 quarantined=0"
            assert ready == f"READY=1\nSTATUS={status.format(0)}", ready
            notify.settimeout(5)
            pings: list[float] = []
            while len(pings) < 3:
                if notify.recv(4096) == b"WATCHDOG=1":
                    pings.append(time.monotonic())
            gaps = [b - a for a, b in itertools.pairwise(pings)]
            # half of WatchdogSec (1 s) apart: well inside the watchdog, and not a busy loop
            assert all(0.3 < gap < 1.0 for gap in gaps), gaps
            station = RawStation(setup, "station-01")
            try:
                station.hello()
                while (line := notify.recv(4096).decode()) == "WATCHDOG=1":
                    pass
                assert line == f"STATUS={status.format(1)}", line
            finally:
                station.close()
            central.proc.send_signal(signal.SIGTERM)
            assert central.proc.wait(15) == 0
        finally:
            central.stop()
        rest = []
        notify.settimeout(0.5)
        with contextlib.suppress(TimeoutError):
            while True:
                rest.append(notify.recv(4096).decode())
    assert rest and rest[-1] == "STOPPING=1", rest


def test_shipped_central_config_is_valid_and_complete() -> None:
    cfg = load_central_config(Path(__file__).resolve().parents[2] / "config/central.toml")
    assert cfg == load_central_config(None)


def test_bad_store_url_is_a_config_error(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "central.toml"
    bad.write_text('[central]\nstore = "mysql://x"\n')
    assert run(["config", "check", str(bad)]) == ExitCode.CONFIG
    assert 'store: expected "sqlite:///PATH" or a "postgresql://" URL' in capsys.readouterr().err


def test_missing_intake_token_is_a_config_error(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    setup = make_setup(tmp_path, ["station-01"])
    (tmp_path / "intake.token").unlink()
    assert run(["central", "--config", str(setup.config)]) == ExitCode.CONFIG
    assert "[intake] token_file: cannot read" in capsys.readouterr().err
